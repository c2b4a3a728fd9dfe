"""The benchmark's orders: simulated once, written to OUT, read back by each job side."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from .common import BENCH_BGNBD, BENCH_GAMMA_GAMMA, SEED, TIME_UNIT, WARMUP_CUSTOMERS, log
from .runner import run_child


def input_path(args: argparse.Namespace, out: Path, default: str) -> Path:
    """The side's input file: ``--input`` (the warm-up's small table), else ``OUT/default``."""
    return Path(args.input) if args.input else out / default


def read_orders_frame(path: Path) -> Any:
    """Read the orders Parquet file into pandas with the least memory, for both sides.

    ``to_pandas(self_destruct=True)`` frees each Arrow column once converted and
    ``release_unused`` hands Arrow's freed pool back to the OS, so the job's peak memory is
    about the job rather than about reading its input (a plain ``pd.read_parquet`` leaves
    ~400 MB more resident at 10M orders).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    orders = pq.read_table(path).to_pandas(self_destruct=True, split_blocks=True)
    pa.default_memory_pool().release_unused()
    return orders


def _wanted(args: argparse.Namespace) -> dict[str, Any]:
    """What the data of this run are simulated from (``--reuse-data`` compares them)."""
    return {
        "customers": args.customers,
        "seed": SEED,
        "bgnbd": BENCH_BGNBD,
        "gamma_gamma": BENCH_GAMMA_GAMMA,
    }


def _reusable(args: argparse.Namespace, out: Path) -> dict[str, Any] | None:
    """The description of OUT's data when ``--reuse-data`` and they match this run."""
    meta_path = out / "data.json"
    if not (args.reuse_data and meta_path.exists()):
        return None
    meta: dict[str, Any] = json.loads(meta_path.read_text())
    wanted = _wanted(args)
    if all(meta.get(k) == v for k, v in wanted.items()) and (out / "rfm.parquet").exists():
        return meta
    return None


def child_prepare(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """Simulate the orders, write them and their clvmodels RFM summary (weeks) to OUT.

    Also writes the first customers' RFM rows for the untimed warm-up fits.
    """
    import pandas as pd

    if (meta := _reusable(args, out)) is not None:
        log(f"reusing {out / 'orders.parquet'} ({meta['n_orders']:,} orders)")
        return {"meta": meta}
    from clvmodels.examples.simulate import simulate_orders
    from clvmodels.summaries.rfm import rfm_summary

    log(f"simulating orders of {args.customers:,} customers (BG/NBD {BENCH_BGNBD}) ...")
    started = time.perf_counter()
    orders, truth = simulate_orders(
        n_customers=args.customers, seed=SEED, bgnbd=BENCH_BGNBD, gamma_gamma=BENCH_GAMMA_GAMMA
    )
    simulate_seconds = time.perf_counter() - started
    orders.to_parquet(out / "orders.parquet", index=False)
    days = orders["timestamp"].dt.normalize()
    n_purchase_days = int(
        pd.DataFrame({"c": orders["customer_id"], "d": days}).drop_duplicates().shape[0]
    )
    log(
        f"  {len(orders):,} orders ({len(orders) / args.customers:.1f} per customer, "
        f"{n_purchase_days / args.customers:.1f} purchase days) in {simulate_seconds:.1f} s; "
        f"written to {out / 'orders.parquet'}"
    )
    rfm = rfm_summary(orders, time_unit=TIME_UNIT)
    rfm.to_parquet(out / "rfm.parquet", index=False)
    rfm.iloc[:WARMUP_CUSTOMERS].to_parquet(out / "rfm_warmup.parquet", index=False)
    meta = {
        **_wanted(args),
        "n_orders": len(orders),
        "n_purchase_days": n_purchase_days,
        "orders_per_customer": len(orders) / args.customers,
        "first_day": str(days.min().date()),
        "last_day": str(days.max().date()),
        "repeat_customers": int((rfm["frequency"] > 0).sum()),
        "simulate_seconds": simulate_seconds,
        "orders_parquet_mb": (out / "orders.parquet").stat().st_size / 1e6,
    }
    del orders, truth, days, rfm
    (out / "data.json").write_text(json.dumps(meta, indent=2))
    return {"meta": meta}


def prepare_data(args: argparse.Namespace) -> dict[str, Any]:
    """Run :func:`child_prepare` in a subprocess and return the data's description."""
    extra = ["--customers", str(args.customers)] + (["--reuse-data"] if args.reuse_data else [])
    result = run_child(args, "prepare", "data", extra=extra)
    if not result.get("ok"):
        raise SystemExit("preparing the data failed; see the log above")
    return dict(result["meta"], prepare_peak_rss_mb=result["peak_rss_mb"])
