"""Benchmark clvmodels against pymc-marketing 1.3.0, side by side, on simulated orders.

Run it with ``make bench`` (``.venv/bin/python scripts/bench.py``). In one run it:

1. simulates ~10M orders of ~1M customers (``clvmodels.datasets.simulate_orders``), writes them
   to ``OUT/orders.parquet`` and, with clvmodels, their weekly RFM summary to ``OUT/rfm.parquet``;
2. runs each job side (clvmodels = "ours", pymc-marketing = "pymc") in its own fresh
   subprocess (``scripts/bench.py --job NAME --side ours|pymc``) so that the peak memory is
   per job: the parent reads the child's rusage with ``os.wait4`` (``ru_maxrss`` is KiB on
   Linux). The child times the measured call with ``time.perf_counter`` and prints the
   result as one JSON line on stdout; the parent also times the whole process;
3. checks that the two sides agree, and writes a Markdown table and every raw number to
   ``OUT/bench.md`` and ``OUT/bench.json``.

Jobs:

* ``rfm``: ``clvmodels.rfm.rfm_summary(orders, time_unit="W")`` against
  ``pymc_marketing.clv.rfm_summary(orders, customer_id_col=..., datetime_col=...,
  monetary_value_col=..., time_unit="W")``.
* ``fit_map``: BG/NBD MAP with pymc-marketing's default priors:
  ``clvmodels.bgnbd.BetaGeoModel(method="map", priors="default").fit(rfm)`` against
  ``pymc_marketing.clv.BetaGeoModel().fit(data=rfm, method="map")``.
* ``score``: P(alive), expected purchases over 12 months and 12-month CLV (10% a year
  discount) for every customer, from the same fixed 100-draw posterior on both sides:
  ``clvmodels.scoring.score_customers`` against pymc-marketing's
  ``expected_probability_alive``, ``expected_purchases`` and
  ``GammaGammaModel.expected_customer_lifetime_value`` with the posterior injected as
  ``model.idata``.

Sizes are megabytes of 10**6 bytes; times are seconds.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

JOBS = ("rfm", "rfm_file", "fit_map", "score", "cohorts")
SIDES = ("ours", "pymc")
SIDE_NAMES = {"ours": "clvmodels", "pymc": "pymc-marketing"}

SEED = 2024
#: BG/NBD parameters (weeks) of the simulation: ~10.4 orders (~10.1 purchase days) per
#: customer over the default 730 days, found empirically at 100k customers. The
#: simulator's defaults (close to CDNOW) give ~1.6 orders per customer.
BENCH_BGNBD = {"r": 1.0, "alpha": 3.0, "a": 0.8, "b": 5.0}
#: Gamma-Gamma parameters of the simulation (the simulator's defaults, close to CDNOW).
BENCH_GAMMA_GAMMA = {"p": 6.0, "q": 4.0, "v": 15.0}

TIME_UNIT = "W"
HORIZON = "12M"
HORIZON_MONTHS = 12
ANNUAL_DISCOUNT_RATE = 0.1
#: Margin rate of the cohort LTV job (any value works; both sides use the same).
COHORT_MARGIN = 0.3
SCORE_DRAWS = 100
#: Relative sd of the multiplicative jitter of the fixed scoring posterior around the MAP.
POSTERIOR_JITTER = 0.02
#: Customers whose orders go into the exact day-level RFM agreement check.
RFM_CHECK_CUSTOMERS = 2_000
#: Customers of the pymc-marketing scoring fallback when the full size fails.
PYMC_SCORE_FALLBACK = 200_000
WARMUP_CUSTOMERS = 2_000

TARGETS = {
    "rfm": "≥ 8× faster, clvmodels peak ≤ 1000 MB",
    "rfm_file": "≥ 8× faster, clvmodels peak ≤ 1000 MB",
    "fit_map": "≥ 2× faster",
    "cohorts": "≥ 5× faster than the pandas notebook way, clvmodels peak ≤ 1000 MB",
    "score": "none set (DESIGN anchor: pymc-marketing 46 s, 5.4 GB)",
}

BG_PARAMS = ("r", "alpha", "a", "b")
GG_PARAMS = ("p", "q", "v")


def log(message: str) -> None:
    """A progress message on stderr."""
    stamp = dt.datetime.now().strftime("%H:%M:%S")
    print(f"[bench {stamp}] {message}", file=sys.stderr, flush=True)


# ======================================================================================
# children: one job side per process
# ======================================================================================
def child_main(args: argparse.Namespace) -> None:
    """Run one job side and print its result as a JSON line on stdout."""
    import warnings

    warnings.simplefilter("ignore")  # pymc/arviz chatter would drown the progress messages
    out = Path(args.out)
    runner = {
        ("prepare", "data"): child_prepare,
        ("posterior", "data"): child_posterior,
        ("check", "rfm"): child_check_rfm,
        ("check", "score"): child_check_score,
        ("check", "cohorts"): child_check_cohorts,
        ("cohorts", "ours"): child_cohorts_ours,
        ("cohorts", "pymc"): child_cohorts_pandas,
        ("rfm", "ours"): child_rfm_ours,
        ("rfm", "pymc"): child_rfm_pymc,
        ("rfm_file", "ours"): child_rfm_file_ours,
        ("rfm_file", "pymc"): child_rfm_pymc,
        ("fit_map", "ours"): child_fit_ours,
        ("fit_map", "pymc"): child_fit_pymc,
        ("score", "ours"): child_score_ours,
        ("score", "pymc"): child_score_pymc,
    }[(args.job, args.side)]
    result = runner(args, out)
    result.update(job=args.job, side=args.side, vm_hwm_mb=vm_hwm_mb())
    print(json.dumps(result), flush=True)


def vm_hwm_mb() -> float | None:
    """This process's own peak resident memory (VmHWM of /proc/self/status), in MB."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024 / 1e6
    except OSError:
        pass
    return None


def _input(args: argparse.Namespace, out: Path, default: str) -> Path:
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


def child_rfm_ours(args: argparse.Namespace, out: Path) -> dict[str, Any]:

    from clvmodels.rfm import rfm_summary

    orders = read_orders_frame(_input(args, out, "orders.parquet"))
    started = time.perf_counter()
    rfm = rfm_summary(orders, time_unit=TIME_UNIT)
    seconds = time.perf_counter() - started
    rfm.to_parquet(out / "rfm_ours.parquet")
    return {"call_seconds": seconds, "n_orders": len(orders), "n_customers": len(rfm)}


def child_cohorts_ours(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """clvmodels.cohorts.cohort_table on the orders DataFrame (DuckDB SQL)."""
    from clvmodels.cohorts import cohort_ltv_wide, cohort_table

    orders = read_orders_frame(_input(args, out, "orders.parquet"))
    started = time.perf_counter()
    table = cohort_table(orders, period="month", margin=COHORT_MARGIN)
    wide = cohort_ltv_wide(table)
    seconds = time.perf_counter() - started
    table.to_parquet(out / "cohorts_ours.parquet")
    return {"call_seconds": seconds, "n_cohorts": int(wide.shape[0]), "n_rows": len(table)}


def child_cohorts_pandas(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """The analyst's notebook way: group by cohort and order month, nunique, pivot, cumsum."""
    orders = read_orders_frame(_input(args, out, "orders.parquet"))
    started = time.perf_counter()
    month = orders["timestamp"].dt.to_period("M")
    first = month.groupby(orders["customer_id"]).min().rename("cohort")
    frame = orders.assign(order_month=month).join(first, on="customer_id")
    sizes = first.value_counts()
    report = (
        frame.groupby(["cohort", "order_month"])
        .agg(revenue=("revenue", "sum"), buyers=("customer_id", "nunique"))
        .reset_index()
    )
    report["age"] = (report["order_month"] - report["cohort"]).apply(lambda d: d.n)
    report["cohort_size"] = report["cohort"].map(sizes)
    report["ltv"] = report["revenue"] * COHORT_MARGIN / report["cohort_size"]
    pivot = report.pivot_table(index="cohort", columns="age", values="ltv", aggfunc="sum")
    cumulative = pivot.fillna(0).cumsum(axis=1).where(pivot.notna().cumsum(axis=1) > 0)
    seconds = time.perf_counter() - started
    cumulative.columns = [str(c) for c in cumulative.columns]
    cumulative.index = cumulative.index.to_timestamp()
    cumulative.to_parquet(out / "cohorts_pandas.parquet")
    return {"call_seconds": seconds, "n_cohorts": int(cumulative.shape[0])}


def child_check_cohorts(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """Cumulative LTV by cohort and age: clvmodels' table against the pandas pivot."""
    import numpy as np
    import pandas as pd

    from clvmodels.cohorts import cohort_ltv_wide

    ours = cohort_ltv_wide(pd.read_parquet(out / "cohorts_ours.parquet"))
    theirs = pd.read_parquet(out / "cohorts_pandas.parquet")
    ours.columns = [str(c) for c in ours.columns]
    common = [c for c in theirs.columns if c in ours.columns]
    a = ours.loc[theirs.index, common].to_numpy(dtype=float)
    b = theirs[common].to_numpy(dtype=float)
    both = np.isfinite(a) & np.isfinite(b)
    rel = np.abs(a[both] - b[both]) / np.maximum(np.abs(b[both]), 1e-12)
    result = {"cells_compared": int(both.sum()), "max_rel_diff": float(rel.max())}
    result["agree"] = bool(result["max_rel_diff"] < 1e-9)
    return {"agreement": result}


def child_rfm_file_ours(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """From the Parquet file to the RFM table: DuckDB reads the file itself (timed).

    The pymc-marketing side of this job is the same as ``rfm``: the file read into pandas
    (not timed), then ``rfm_summary``.
    """
    from clvmodels.rfm import rfm_summary

    started = time.perf_counter()
    rfm = rfm_summary(_input(args, out, "orders.parquet"), time_unit=TIME_UNIT)
    seconds = time.perf_counter() - started
    return {"call_seconds": seconds, "n_customers": len(rfm), "reads_file_in_call": True}


def child_rfm_pymc(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    from pymc_marketing.clv import rfm_summary

    orders = read_orders_frame(_input(args, out, "orders.parquet"))
    started = time.perf_counter()
    rfm = rfm_summary(
        orders,
        customer_id_col="customer_id",
        datetime_col="timestamp",
        monetary_value_col="revenue",
        time_unit=TIME_UNIT,
    )
    seconds = time.perf_counter() - started
    rfm.to_parquet(out / "rfm_pymc.parquet")
    return {"call_seconds": seconds, "n_orders": len(orders), "n_customers": len(rfm)}


def child_fit_ours(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    import pandas as pd

    from clvmodels.bgnbd import BetaGeoModel

    # clvmodels imports PyMC lazily, inside fit; import it before the timer as the
    # pymc-marketing side does, so that both calls time the fit alone (the whole-process
    # time still counts the imports of both)
    import_started = time.perf_counter()
    import pymc  # noqa: F401
    import pymc_marketing.clv  # noqa: F401

    import_seconds = time.perf_counter() - import_started
    rfm = pd.read_parquet(_input(args, out, "rfm.parquet"))
    started = time.perf_counter()
    model = BetaGeoModel(method="map", priors="default").fit(rfm)
    seconds = time.perf_counter() - started
    return {
        "call_seconds": seconds,
        "n_customers": len(rfm),
        "params": dict(model.params_),
        "n_tuples": int(model.n_tuples_),
        "find_map_seconds": model.fit_report_.get("seconds"),
        "pre_import_seconds": import_seconds,
        "converged": bool(model.fit_report_.get("converged", True)),
    }


def child_fit_pymc(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    import pandas as pd
    from pymc_marketing.clv import BetaGeoModel

    rfm = pd.read_parquet(_input(args, out, "rfm.parquet"))
    data = rfm[["customer_id", "frequency", "recency", "T"]]
    started = time.perf_counter()
    model = BetaGeoModel()
    model.fit(data=data, method="map", progressbar=False)
    seconds = time.perf_counter() - started
    posterior = model.fit_result
    return {
        "call_seconds": seconds,
        "n_customers": len(rfm),
        "params": {name: float(posterior[name].values.item()) for name in BG_PARAMS},
    }


def _score_posterior(out: Path) -> Any:
    import xarray as xr

    with xr.open_dataset(out / "score_posterior.nc", engine="h5netcdf") as ds:
        return ds.load()


def child_score_ours(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    import pandas as pd

    from clvmodels.bgnbd import BetaGeoModel
    from clvmodels.gamma_gamma import GammaGammaModel
    from clvmodels.scoring import score_customers

    rfm = pd.read_parquet(_input(args, out, "rfm.parquet"))
    posterior = _score_posterior(out)
    started = time.perf_counter()
    bg = BetaGeoModel.from_posterior(posterior)
    gg = GammaGammaModel.from_posterior(posterior)
    scores = score_customers(
        rfm,
        bg,  # type: ignore[arg-type]
        gg,  # type: ignore[arg-type]
        time_unit=TIME_UNIT,
        horizon=HORIZON,
        annual_discount_rate=ANNUAL_DISCOUNT_RATE,
        n_draws=SCORE_DRAWS,
    )
    seconds = time.perf_counter() - started
    scores[["customer_id", "p_alive", "expected_purchases", "clv"]].to_parquet(
        out / "score_ours.parquet"
    )
    return {"call_seconds": seconds, "n_customers": len(scores), "n_draws": SCORE_DRAWS}


def child_score_pymc(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    import pandas as pd
    import xarray as xr
    from pymc_marketing.clv import BetaGeoModel, GammaGammaModel

    rfm = pd.read_parquet(_input(args, out, "rfm.parquet"))
    if args.score_customers and args.score_customers < len(rfm):
        rfm = rfm.sample(n=args.score_customers, random_state=0).sort_values("customer_id")
    data = rfm[["customer_id", "frequency", "recency", "T", "monetary_value"]].reset_index(
        drop=True
    )
    posterior = _score_posterior(out)
    horizon_weeks = HORIZON_MONTHS * (365.25 / 12) / 7
    # pymc-marketing's discount_rate is monthly: (1 + d) ** month; this equals 10% a year
    monthly_rate = (1 + ANNUAL_DISCOUNT_RATE) ** (1 / 12) - 1

    started = time.perf_counter()
    # a fitted model as pymc-marketing's own tests make one: build on the data, then set
    # idata to a DataTree whose posterior group holds the draws
    bg = BetaGeoModel()
    bg.build_model(data[["customer_id", "frequency", "recency", "T"]])
    bg.idata = xr.DataTree.from_dict({"posterior": posterior[list(BG_PARAMS)]})
    gg = GammaGammaModel()
    gg.idata = xr.DataTree.from_dict({"posterior": posterior[list(GG_PARAMS)]})
    setup_seconds = time.perf_counter() - started

    t0 = time.perf_counter()
    p_alive = bg.expected_probability_alive(data).mean(("chain", "draw"))
    t1 = time.perf_counter()
    purchases = bg.expected_purchases(data, future_t=horizon_weeks).mean(("chain", "draw"))
    t2 = time.perf_counter()
    clv = gg.expected_customer_lifetime_value(
        transaction_model=bg,
        data=data,
        future_t=HORIZON_MONTHS,
        discount_rate=monthly_rate,
        time_unit=TIME_UNIT,
    ).mean(("chain", "draw"))
    t3 = time.perf_counter()

    frames = [
        arr.to_series().rename(name)
        for name, arr in (("p_alive", p_alive), ("expected_purchases", purchases), ("clv", clv))
    ]
    table = pd.concat(frames, axis=1)
    table.index.name = "customer_id"
    table.reset_index().to_parquet(out / "score_pymc.parquet")
    return {
        "call_seconds": t3 - t0,
        "n_customers": len(data),
        "n_draws": int(posterior.sizes["chain"] * posterior.sizes["draw"]),
        "setup_seconds": setup_seconds,
        "breakdown_seconds": {
            "expected_probability_alive": t1 - t0,
            "expected_purchases": t2 - t1,
            "expected_customer_lifetime_value": t3 - t2,
        },
        "call_note": "prediction calls only; building the model and injecting the posterior "
        "(setup_seconds) is not counted",
    }


# ======================================================================================
# parent: data, subprocesses, agreement checks, report
# ======================================================================================
def run_child(
    args: argparse.Namespace, job: str, side: str, *, tag: str = "", extra: list[str] | None = None
) -> dict[str, Any]:
    """Run one job side in a fresh process; return its JSON result plus rusage numbers."""
    out = Path(args.out)
    logs = out / "logs"
    logs.mkdir(exist_ok=True)
    name = f"{job}-{side}{tag}"
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--job",
        job,
        "--side",
        side,
        "--out",
        str(out),
        *(extra or []),
    ]
    stdout_path, stderr_path = logs / f"{name}.out", logs / f"{name}.err"
    load_before = [round(v, 2) for v in os.getloadavg()]
    started = time.perf_counter()
    with open(stdout_path, "wb") as stdout, open(stderr_path, "wb") as stderr:
        proc = subprocess.Popen(cmd, stdout=stdout, stderr=stderr)
        deadline = started + args.timeout
        timed_out = False
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline and not timed_out:
                proc.kill()
                timed_out = True
            time.sleep(0.05)
    process_seconds = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)  # we reaped it, tell Popen
    rusage = {
        "exit_code": proc.returncode,
        "timed_out": timed_out,
        "process_seconds": process_seconds,
        "peak_rss_mb": usage.ru_maxrss * 1024 / 1e6,
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
        "command": " ".join(cmd[1:]),
        "load_average_before": load_before,
    }
    result: dict[str, Any] | None = None
    for line in reversed(stdout_path.read_text(errors="replace").splitlines()):
        if line.startswith("{"):
            try:
                parsed = json.loads(line)
            except json.JSONDecodeError:
                continue
            if parsed.get("job") == job:
                result = parsed
                break
    if proc.returncode != 0 or result is None:
        tail = stderr_path.read_text(errors="replace").splitlines()[-15:]
        why = "timed out" if timed_out else f"exit code {proc.returncode}"
        log(f"  {name} FAILED ({why}); last stderr lines:\n    " + "\n    ".join(tail))
        return {"ok": False, **rusage, "stderr_tail": tail}
    return {"ok": True, **result, **rusage}


def machine_info() -> dict[str, Any]:
    """CPU, memory, Python and library versions of this machine."""
    cpu_model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    total_ram_gib = float("nan")
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                total_ram_gib = int(line.split()[1]) * 1024 / 2**30
                break
    except OSError:
        pass
    versions = {}
    for package in (
        "clvmodels",
        "pymc-marketing",
        "pymc",
        "pytensor",
        "numpy",
        "scipy",
        "pandas",
        "duckdb",
        "pyarrow",
        "xarray",
        "arviz",
    ):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            cwd=Path(__file__).resolve().parent,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "total_ram_gib": round(total_ram_gib, 1),
        "cpu_model": cpu_model,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average_at_start": [round(v, 2) for v in os.getloadavg()],
        "versions": versions,
        "git_commit": commit or "unknown",
        "date": dt.datetime.now().isoformat(timespec="seconds"),
    }


def child_prepare(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """Simulate the orders, write them and their clvmodels RFM summary (weeks) to OUT.

    Also writes the first customers' RFM rows for the untimed warm-up fits.
    """
    import pandas as pd

    meta_path = out / "data.json"
    wanted = {
        "customers": args.customers,
        "seed": SEED,
        "bgnbd": BENCH_BGNBD,
        "gamma_gamma": BENCH_GAMMA_GAMMA,
    }
    if args.reuse_data and meta_path.exists():
        meta = json.loads(meta_path.read_text())
        if all(meta.get(k) == v for k, v in wanted.items()) and (out / "rfm.parquet").exists():
            log(f"reusing {out / 'orders.parquet'} ({meta['n_orders']:,} orders)")
            return {"meta": meta}
    from clvmodels.datasets import simulate_orders
    from clvmodels.rfm import rfm_summary

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
    last_day = str(days.max().date())
    log(
        f"  {len(orders):,} orders ({len(orders) / args.customers:.1f} per customer, "
        f"{n_purchase_days / args.customers:.1f} purchase days) in {simulate_seconds:.1f} s; "
        f"written to {out / 'orders.parquet'}"
    )
    rfm = rfm_summary(orders, time_unit=TIME_UNIT)
    rfm.to_parquet(out / "rfm.parquet", index=False)
    rfm.iloc[:WARMUP_CUSTOMERS].to_parquet(out / "rfm_warmup.parquet", index=False)
    meta = {
        **wanted,
        "n_orders": len(orders),
        "n_purchase_days": n_purchase_days,
        "orders_per_customer": len(orders) / args.customers,
        "first_day": str(days.min().date()),
        "last_day": last_day,
        "repeat_customers": int((rfm["frequency"] > 0).sum()),
        "simulate_seconds": simulate_seconds,
        "orders_parquet_mb": (out / "orders.parquet").stat().st_size / 1e6,
    }
    del orders, truth, days, rfm
    meta_path.write_text(json.dumps(meta, indent=2))
    return {"meta": meta}


def prepare_data(args: argparse.Namespace) -> dict[str, Any]:
    """Run :func:`child_prepare` in a subprocess and return the data's description."""
    extra = ["--customers", str(args.customers)] + (["--reuse-data"] if args.reuse_data else [])
    result = run_child(args, "prepare", "data", extra=extra)
    if not result.get("ok"):
        raise SystemExit("preparing the data failed; see the log above")
    return dict(result["meta"], prepare_peak_rss_mb=result["peak_rss_mb"])


def warm_up(args: argparse.Namespace, sides: list[str]) -> None:
    """Fit both sides once on a few customers so PyTensor's compile cache is warm."""
    path = Path(args.out) / "rfm_warmup.parquet"
    n = min(WARMUP_CUSTOMERS, args.customers)
    log(f"warm-up: BG/NBD MAP on {n:,} customers per side (PyTensor compile cache)")
    for side in sides:
        run_child(args, "fit_map", side, tag="-warmup", extra=["--input", str(path)])


def build_score_posterior(args: argparse.Namespace, map_params: dict[str, float] | None) -> dict:
    """Write the fixed 100-draw posterior (in a subprocess); return its description."""
    path = Path(args.out) / "map_params.json"
    path.unlink(missing_ok=True)
    if map_params is not None:
        path.write_text(json.dumps(map_params))
    result = run_child(args, "posterior", "data")
    if not result.get("ok"):
        raise SystemExit("building the scoring posterior failed; see the log above")
    return result["posterior"]


def child_posterior(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """Draws around the BG/NBD MAP (and the true Gamma-Gamma values) with a small jitter."""
    import numpy as np
    import pandas as pd
    import xarray as xr

    source = "MAP of the fit_map job (clvmodels, default priors)"
    map_path = out / "map_params.json"
    map_params = json.loads(map_path.read_text()) if map_path.exists() else None
    if map_params is None:
        from clvmodels.bgnbd import BetaGeoModel

        log("  no fit_map result: fitting the BG/NBD MAP for the scoring posterior ...")
        model = BetaGeoModel(method="map", priors="default").fit(
            pd.read_parquet(out / "rfm.parquet")
        )
        map_params = dict(model.params_)
        source = "MAP fitted for the purpose (clvmodels, default priors)"
    centre = {**map_params, **BENCH_GAMMA_GAMMA}
    rng = np.random.default_rng(SEED)
    variables = {
        name: (
            ("chain", "draw"),
            (value * np.exp(POSTERIOR_JITTER * rng.standard_normal(SCORE_DRAWS)))[None, :],
        )
        for name, value in centre.items()
    }
    posterior = xr.Dataset(variables, coords={"chain": [0], "draw": np.arange(SCORE_DRAWS)})
    posterior.to_netcdf(out / "score_posterior.nc", engine="h5netcdf")
    return {
        "posterior": {
            "draws": SCORE_DRAWS,
            "bgnbd_centre": map_params,
            "bgnbd_centre_source": source,
            "gamma_gamma_centre": BENCH_GAMMA_GAMMA,
            "gamma_gamma_centre_source": "the simulation's true p, q, v",
            "jitter": f"each draw = centre × exp({POSTERIOR_JITTER} × N(0, 1)), seed {SEED}",
            "means": {name: float(posterior[name].mean()) for name in centre},
        }
    }


def child_check_rfm(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """Compare the two RFM outputs: in weeks over all customers, in days exactly on a sample."""
    import numpy as np
    import pandas as pd

    meta = json.loads((out / "data.json").read_text())
    ours = pd.read_parquet(out / "rfm_ours.parquet").set_index("customer_id").sort_index()
    pymc = pd.read_parquet(out / "rfm_pymc.parquet").set_index("customer_id").sort_index()
    same_ids = bool(ours.index.equals(pymc.index))
    joined = ours.merge(pymc, left_index=True, right_index=True, suffixes=("_ours", "_pymc"))
    weeks = {
        "same_customers": same_ids,
        "frequency_equal_share": float(
            (joined["frequency_ours"] == joined["frequency_pymc"]).mean()
        ),
        "recency_max_abs_diff_weeks": float(
            (joined["recency_ours"] - joined["recency_pymc"]).abs().max()
        ),
        "T_max_abs_diff_weeks": float((joined["T_ours"] - joined["T_pymc"]).abs().max()),
        "note": "pymc-marketing's time_unit='W' counts calendar weeks (purchases in one week "
        "are one occasion, recency and T are whole weeks); clvmodels counts purchase days "
        "and measures recency and T in days / 7, so these differ by definition",
    }
    # the exact check: both at day resolution on a sample of customers, same observation end
    from pymc_marketing.clv import rfm_summary as pymc_rfm

    from clvmodels.rfm import rfm_summary as ours_rfm

    rng = np.random.default_rng(SEED)
    ids = np.sort(
        rng.choice(ours.index.to_numpy(), min(RFM_CHECK_CUSTOMERS, len(ours)), replace=False)
    )
    orders = pd.read_parquet(out / "orders.parquet", filters=[("customer_id", "in", ids)])
    a = ours_rfm(orders, time_unit="D", observation_end=meta["last_day"]).set_index("customer_id")
    b = (
        pymc_rfm(
            orders,
            customer_id_col="customer_id",
            datetime_col="timestamp",
            monetary_value_col="revenue",
            time_unit="D",
            observation_period_end=meta["last_day"],
        )
        .set_index("customer_id")
        .sort_index()
    )
    a = a.sort_index()
    days = {
        "customers": len(ids),
        "same_customers": bool(a.index.equals(b.index)),
        "frequency_equal": bool((a["frequency"].to_numpy() == b["frequency"].to_numpy()).all()),
        "recency_max_abs_diff_days": float(np.abs(a["recency"] - b["recency"]).max()),
        "T_max_abs_diff_days": float(np.abs(a["T"] - b["T"]).max()),
        "monetary_value_max_rel_diff": float(
            (
                np.abs(a["monetary_value"] - b["monetary_value"])
                / np.maximum(np.abs(b["monetary_value"]), 1e-12)
            ).max()
        ),
    }
    days["agree"] = bool(
        days["same_customers"]
        and days["frequency_equal"]
        and days["recency_max_abs_diff_days"] < 1e-9
        and days["T_max_abs_diff_days"] < 1e-9
        and days["monetary_value_max_rel_diff"] < 1e-9
    )
    return {
        "agreement": {"weeks_all_customers": weeks, "days_sample": days, "agree": days["agree"]}
    }


def check_fit(ours: dict[str, Any], pymc: dict[str, Any]) -> dict[str, Any]:
    """Relative differences of the two MAP estimates."""
    rel = {
        name: abs(ours["params"][name] - pymc["params"][name]) / abs(pymc["params"][name])
        for name in BG_PARAMS
    }
    worst = max(rel.values())
    return {"rel_diff": rel, "max_rel_diff": worst, "agree": bool(worst < 1e-3)}


def child_check_score(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """Relative differences of the posterior-mean scores on the customers both sides scored."""
    import numpy as np
    import pandas as pd

    ours = pd.read_parquet(out / "score_ours.parquet").set_index("customer_id")
    pymc = pd.read_parquet(out / "score_pymc.parquet").set_index("customer_id")
    joined = ours.merge(pymc, left_index=True, right_index=True, suffixes=("_ours", "_pymc"))
    result: dict[str, Any] = {"customers_compared": len(joined)}
    for name in ("p_alive", "expected_purchases", "clv"):
        a, b = joined[f"{name}_ours"].to_numpy(), joined[f"{name}_pymc"].to_numpy()
        rel = np.abs(a - b) / np.maximum(np.abs(b), 1e-12)
        result[name] = {
            "max_rel_diff": float(np.nanmax(rel)) if len(rel) else float("nan"),
            "median_rel_diff": float(np.nanmedian(rel)) if len(rel) else float("nan"),
            "pymc_non_finite": int((~np.isfinite(b)).sum()),
        }
    result["agree"] = bool(
        result["p_alive"]["max_rel_diff"] < 1e-6
        and result["expected_purchases"]["max_rel_diff"] < 1e-6
    )
    result["clv_note"] = (
        "CLV differs slightly by construction: pymc-marketing multiplies each draw's purchases "
        "by the posterior-MEAN spend, clvmodels by each draw's own spend"
    )
    return {"agreement": result}


def summarise(job: str, ours: dict | None, pymc: dict | None) -> dict[str, Any]:
    """Ratios and target verdict of one job."""
    row: dict[str, Any] = {"target": TARGETS[job]}
    have_both = bool(ours and ours.get("ok") and pymc and pymc.get("ok"))
    if have_both:
        assert ours is not None and pymc is not None
        pymc_call = pymc.get("call_seconds_extrapolated", pymc["call_seconds"])
        pymc_process = pymc.get("process_seconds_extrapolated", pymc["process_seconds"])
        row["ratio_call"] = pymc_call / ours["call_seconds"]
        row["ratio_process"] = pymc_process / ours["process_seconds"]
        row["ratio_peak_rss"] = pymc["peak_rss_mb"] / ours["peak_rss_mb"]
    if job in {"rfm", "rfm_file"} and have_both:
        row["met"] = bool(row["ratio_call"] >= 8 and ours["peak_rss_mb"] <= 1000)  # type: ignore[index]
    elif job == "fit_map" and have_both:
        row["met"] = bool(row["ratio_call"] >= 2)
    elif job == "cohorts" and have_both:
        row["met"] = bool(row["ratio_call"] >= 5 and ours["peak_rss_mb"] <= 1000)  # type: ignore[index]
    else:
        row["met"] = None
    return row


def fmt(value: Any, digits: int = 2) -> str:
    """Format a number for the table (— when missing)."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    return f"{value:,.{digits}f}"


def markdown(report: dict[str, Any]) -> str:
    """The Markdown report: machine, data, the results table and per-job details."""
    m = report["machine"]
    data = report["data"]
    lines = [
        "# clvmodels vs pymc-marketing benchmark",
        "",
        f"Machine: {m['nproc']} cores ({m['cpu_model']}), {m['total_ram_gib']} GiB RAM, "
        f"Python {m['python']}, load average at start {m['load_average_at_start']}; "
        + ", ".join(f"{k} {v}" for k, v in m["versions"].items())
        + f"; commit {m['git_commit']}; {m['date']}.",
        "",
        f"Data: {data['customers']:,} simulated customers, {data['n_orders']:,} orders "
        f"({data['orders_per_customer']:.1f} per customer), {data['first_day']} to "
        f"{data['last_day']}; BG/NBD {data['bgnbd']}, Gamma-Gamma {data['gamma_gamma']}, "
        f"seed {data['seed']}.",
        "",
        "Seconds are the measured call (perf_counter inside a fresh subprocess); ratio = "
        "pymc-marketing s / clvmodels s; peak = ru_maxrss of that job's whole process "
        "(MB = 10^6 bytes).",
        "",
        "| job | clvmodels s | pymc-marketing s | ratio | clvmodels peak MB "
        "| pymc-marketing peak MB | target | met? |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- | --- |",
    ]
    for job, entry in report["jobs"].items():
        ours, pymc, summary = entry.get("ours") or {}, entry.get("pymc") or {}, entry["summary"]
        pymc_s = fmt(pymc.get("call_seconds_extrapolated", pymc.get("call_seconds")))
        pymc_peak = fmt(pymc.get("peak_rss_mb"), 0)
        if pymc.get("extrapolated_from"):
            pymc_s += f" (extrapolated from {pymc['extrapolated_from']:,})"
            pymc_peak += f" (at {pymc['extrapolated_from']:,})"
        ratio = fmt(summary.get("ratio_call"), 1)
        met = {True: "yes", False: "NO", None: "—"}[summary["met"]]
        lines.append(
            f"| {job} | {fmt(ours.get('call_seconds'))} | {pymc_s} | "
            f"{ratio + '×' if ratio != '—' else ratio} | {fmt(ours.get('peak_rss_mb'), 0)} | "
            f"{pymc_peak} | {summary['target']} | {met} |"
        )
    lines += ["", "## Details", ""]
    for job, entry in report["jobs"].items():
        lines.append(f"### {job}")
        for side in SIDES:
            r = entry.get(side)
            if not r:
                continue
            if not r.get("ok"):
                lines.append(f"- {SIDE_NAMES[side]}: FAILED (exit code {r.get('exit_code')})")
                continue
            lines.append(
                f"- {SIDE_NAMES[side]}: call {r['call_seconds']:.2f} s, whole process "
                f"{r['process_seconds']:.2f} s, CPU {r['cpu_seconds']:.1f} s, "
                f"peak {r['peak_rss_mb']:.0f} MB (ru_maxrss; the child's own VmHWM "
                f"{fmt(r.get('vm_hwm_mb'), 0)} MB), {r.get('n_customers', 0):,} customers"
            )
            if r.get("extrapolated_from"):
                lines.append(
                    f"  - measured on {r['extrapolated_from']:,} customers and extrapolated "
                    f"linearly: call {r['call_seconds_extrapolated']:.1f} s, process "
                    f"{r['process_seconds_extrapolated']:.1f} s ({r['extrapolation_reason']})"
                )
            for key in (
                "params",
                "n_tuples",
                "pre_import_seconds",
                "find_map_seconds",
                "setup_seconds",
                "breakdown_seconds",
            ):
                if key in r:
                    lines.append(f"  - {key}: {_short(r[key])}")
        summary = entry["summary"]
        if "ratio_process" in summary:
            lines.append(
                f"- ratios: call {summary['ratio_call']:.2f}×, whole process "
                f"{summary['ratio_process']:.2f}×, peak memory {summary['ratio_peak_rss']:.2f}×"
            )
        if "agreement" in entry:
            lines.append(f"- agreement: {_short(entry['agreement'])}")
        for note in entry.get("notes", []):
            lines.append(f"- note: {note}")
        lines.append("")
    if "score_posterior" in report:
        lines.append(f"Scoring posterior: {_short(report['score_posterior'])}")
        lines.append("")
    return "\n".join(lines)


def _short(value: Any) -> str:
    def clean(v: Any) -> Any:
        if isinstance(v, float):
            return float(f"{v:.6g}")
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items()}
        if isinstance(v, list):
            return [clean(x) for x in v]
        return v

    return json.dumps(clean(value), ensure_ascii=False)


def parent_main(args: argparse.Namespace) -> int:
    """Run the whole benchmark; return the exit code."""
    jobs = [j.strip() for j in args.jobs.split(",") if j.strip()]
    unknown = set(jobs) - set(JOBS)
    if unknown:
        raise SystemExit(f"unknown job(s) {sorted(unknown)}; choose from {', '.join(JOBS)}")
    sides = ["ours"] if args.skip_pymc else list(SIDES)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    report: dict[str, Any] = {"machine": machine_info()}
    log(
        f"machine: {report['machine']['nproc']} cores, {report['machine']['total_ram_gib']} GiB, "
        f"{report['machine']['cpu_model']}; load {report['machine']['load_average_at_start']}"
    )
    log(f"data: simulating {args.customers:,} customers' orders (BG/NBD {BENCH_BGNBD}) ...")
    report["data"] = prepare_data(args)
    data = report["data"]
    log(
        f"  {data['n_orders']:,} orders ({data['orders_per_customer']:.1f} per customer, "
        f"{data['n_purchase_days'] / args.customers:.1f} purchase days), "
        f"{data['repeat_customers']:,} repeat customers; in {out}"
    )
    report["config"] = {
        "jobs": jobs,
        "sides": sides,
        "time_unit": TIME_UNIT,
        "horizon": HORIZON,
        "annual_discount_rate": ANNUAL_DISCOUNT_RATE,
        "score_draws": SCORE_DRAWS,
        "pymc_score_customers": args.pymc_score_customers,
        "warmup": not args.no_warmup,
    }
    report["jobs"] = {}
    failed = False

    if "fit_map" in jobs and not args.no_warmup:
        warm_up(args, sides)

    map_params = None
    for job in jobs:
        entry: dict[str, Any] = {"notes": []}
        report["jobs"][job] = entry
        if job == "score":
            log("score: building the fixed 100-draw posterior")
            report["score_posterior"] = build_score_posterior(args, map_params)
        for side in sides:
            log(f"{job}: {SIDE_NAMES[side]} ...")
            extra: list[str] = []
            if job == "score" and side == "pymc":
                n_pymc = args.pymc_score_customers or args.customers
                extra = ["--score-customers", str(n_pymc)]
            result = run_child(args, job, side, extra=extra)
            if job == "score" and side == "pymc":
                result = _score_pymc_fallback(args, result, extra, entry)
            entry[side] = result
            if result.get("ok"):
                log(
                    f"  {SIDE_NAMES[side]}: call {result['call_seconds']:.2f} s, process "
                    f"{result['process_seconds']:.2f} s, peak {result['peak_rss_mb']:.0f} MB"
                )
            else:
                failed = True
        if job == "fit_map" and entry.get("ours", {}).get("ok"):
            map_params = entry["ours"]["params"]
        both = all(entry.get(s, {}).get("ok") for s in SIDES)
        if job == "cohorts":
            entry["notes"].append(
                "the comparison side of this job is not pymc-marketing (it has no cohort tables) "
                "but the pandas group-by / nunique / pivot_table / cumsum of the analyst's "
                "notebook, on the same DataFrame"
            )
        if job == "rfm_file":
            entry["notes"].append(
                "clvmodels' call includes reading the Parquet file (DuckDB reads it itself); "
                "pymc-marketing's call starts from the file already read into pandas; the "
                "agreement of the two summaries is the rfm job's check"
            )
        elif both:
            try:
                if job == "fit_map":
                    entry["agreement"] = check_fit(entry["ours"], entry["pymc"])
                else:
                    checked = run_child(args, "check", job)
                    if not checked.get("ok"):
                        raise RuntimeError(f"the {job} agreement check failed")
                    entry["agreement"] = checked["agreement"]
                log(
                    f"  agreement: {'yes' if entry['agreement']['agree'] else 'NO'} "
                    f"{_short(_agreement_digest(job, entry['agreement']))}"
                )
            except Exception as exc:  # report the check's failure, keep the timings
                entry["agreement"] = {"agree": False, "error": repr(exc)}
                log(f"  agreement check failed: {exc!r}")
                failed = True
        entry["summary"] = summarise(job, entry.get("ours"), entry.get("pymc"))
        if job == "fit_map" and both:
            entry["notes"].append(
                f"clvmodels fits {entry['ours'].get('n_tuples', 0):,} distinct (x, t_x, T) "
                f"tuples for {entry['ours']['n_customers']:,} customers"
            )

    report["total_seconds"] = time.perf_counter() - started
    text = markdown(report)
    (out / "bench.md").write_text(text + "\n")
    (out / "bench.json").write_text(json.dumps(report, indent=2, default=str) + "\n")
    print(text)
    log(
        f"done in {report['total_seconds']:.0f} s; wrote {out / 'bench.md'} and "
        f"{out / 'bench.json'}"
    )
    return 1 if failed else 0


def _agreement_digest(job: str, agreement: dict[str, Any]) -> dict[str, Any]:
    if job == "rfm":
        return {
            "days": agreement["days_sample"],
            "weeks_frequency_equal_share": agreement["weeks_all_customers"][
                "frequency_equal_share"
            ],
        }
    if job in {"fit_map", "cohorts"}:
        return {"max_rel_diff": agreement["max_rel_diff"]}
    return {k: agreement[k]["max_rel_diff"] for k in ("p_alive", "expected_purchases", "clv")}


def _score_pymc_fallback(
    args: argparse.Namespace, result: dict[str, Any], extra: list[str], entry: dict[str, Any]
) -> dict[str, Any]:
    """Rerun pymc-marketing's scoring smaller if the full size failed; extrapolate linearly."""
    n_requested = int(extra[1])
    if not result.get("ok") and n_requested > PYMC_SCORE_FALLBACK:
        reason = "timed out" if result.get("timed_out") else f"exit code {result['exit_code']}"
        log(
            f"  pymc-marketing scoring of {n_requested:,} customers failed ({reason}); "
            f"retrying with {PYMC_SCORE_FALLBACK:,} and extrapolating"
        )
        entry["notes"].append(
            f"pymc-marketing scoring of {n_requested:,} customers failed ({reason}, peak "
            f"{result['peak_rss_mb']:.0f} MB); rerun with {PYMC_SCORE_FALLBACK:,}"
        )
        entry["pymc_full_size_attempt"] = result
        result = run_child(
            args,
            "score",
            "pymc",
            tag="-fallback",
            extra=["--score-customers", str(PYMC_SCORE_FALLBACK)],
        )
        result["extrapolation_reason"] = f"the full size failed ({reason})"
    elif result.get("ok") and result["n_customers"] < args.customers:
        result["extrapolation_reason"] = "--pymc-score-customers"
    if result.get("ok") and result["n_customers"] < args.customers:
        scale = args.customers / result["n_customers"]
        result["extrapolated_from"] = result["n_customers"]
        result["call_seconds_extrapolated"] = result["call_seconds"] * scale
        result["process_seconds_extrapolated"] = (
            result["process_seconds"] - result["call_seconds"] + result["call_seconds"] * scale
        )
        entry["notes"].append(
            f"pymc-marketing scored {result['n_customers']:,} customers; its seconds are "
            f"extrapolated linearly to {args.customers:,} (x{scale:.2f}); its peak memory is "
            "as measured at the smaller size"
        )
    return result


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options (``--job`` and ``--side`` run one job side: internal)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--customers",
        type=int,
        default=1_000_000,
        help="simulated customers (default 1,000,000: ~10M orders)",
    )
    parser.add_argument(
        "--jobs", default=",".join(JOBS), help=f"comma-separated jobs (default {','.join(JOBS)})"
    )
    parser.add_argument("--out", default="bench-output", help="work folder (default bench-output)")
    parser.add_argument("--skip-pymc", action="store_true", help="run clvmodels only")
    parser.add_argument(
        "--pymc-score-customers",
        type=int,
        default=None,
        help="customers pymc-marketing scores (default all); its time is "
        "extrapolated linearly to --customers",
    )
    parser.add_argument(
        "--reuse-data",
        action="store_true",
        help="reuse OUT/orders.parquet and OUT/rfm.parquet when they match",
    )
    parser.add_argument(
        "--no-warmup",
        action="store_true",
        help="skip the small untimed fits that warm PyTensor's compile cache",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=3600.0,
        help="seconds after which a job side is killed (default 3600)",
    )
    # internal: one job side in this process
    parser.add_argument(
        "--job", choices=(*JOBS, "prepare", "posterior", "check"), help=argparse.SUPPRESS
    )
    parser.add_argument("--side", help=argparse.SUPPRESS)
    parser.add_argument("--input", help=argparse.SUPPRESS)
    parser.add_argument("--score-customers", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.customers < 100:
        parser.error("--customers must be at least 100")
    return args


def main(argv: list[str] | None = None) -> int:
    """Entry point: the parent benchmark, or one job side when ``--job`` is given."""
    args = parse_args(argv)
    if args.job:
        if not args.side:
            raise SystemExit("--job needs --side ours|pymc")
        child_main(args)
        return 0
    return parent_main(args)


if __name__ == "__main__":
    sys.exit(main())
