"""``cli_rfm``: ``clv rfm OUT/orders.parquet -o ...`` (weeks) as a whole process.

Against a process that reads the same Parquet file into pandas and runs
``pymc_marketing.clv.rfm_summary(time_unit="W")``; each process is timed with ``os.wait4``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ..data import input_path
from ..job import Job, both_sides
from ..runner import clv_command, run_timed

TARGET = (
    "`clv rfm` process ≥ 10× faster than the pymc-marketing rfm_summary process, "
    "clv peak ≤ 1000 MB (judged at 1M customers)"
)
CLI_RFM_MIN_RATIO = 10.0
CLI_RFM_MAX_PEAK_MB = 1000.0
CLI_RFM_FULL_SIZE = 1_000_000

PYMC_RFM_CODE = """
import sys, time
import pandas as pd
from pymc_marketing.clv import rfm_summary
orders = pd.read_parquet(sys.argv[1])
started = time.perf_counter()
rfm = rfm_summary(orders, customer_id_col="customer_id", datetime_col="timestamp",
                  monetary_value_col="revenue", time_unit="W")
print("rfm_seconds", time.perf_counter() - started, len(rfm))
rfm.to_parquet(sys.argv[2], index=False)
"""


def child_cli_rfm(args: argparse.Namespace, out: Path, *, ours: bool) -> dict[str, Any]:
    """``clv rfm orders.parquet -o ...`` or the pymc-marketing process, on the same file."""
    import pyarrow.parquet as pq

    orders = input_path(args, out, "orders.parquet")
    target = out / f"cli_rfm_{'ours' if ours else 'pymc'}.parquet"
    if ours:
        cmd = [*clv_command(), "rfm", str(orders), "--time-unit", "W", "-o", str(target)]
    else:
        cmd = [sys.executable, "-c", PYMC_RFM_CODE, str(orders), str(target)]
    result = run_timed(cmd)
    return {
        "call_seconds": result["seconds"],
        "command_peak_rss_mb": result["peak_rss_mb"],
        "n_customers": pq.ParquetFile(target).metadata.num_rows,
        "measured_command": " ".join(cmd) if ours else "python -c <read_parquet, rfm_summary>",
        "output_tail": result["stdout"].strip().splitlines()[-3:],
    }


def child_ours(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """The `clv rfm` side."""
    return child_cli_rfm(args, out, ours=True)


def child_pymc(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """The pymc-marketing side."""
    return child_cli_rfm(args, out, ours=False)


def child_check(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """Both outputs hold the same customers (their weeks differ by definition: see rfm)."""
    import pyarrow.parquet as pq

    ids = [
        set(pq.read_table(out / f"cli_rfm_{side}.parquet", columns=["customer_id"])[0].to_pylist())
        for side in ("ours", "pymc")
    ]
    return {"agreement": {"customers": len(ids[0]), "agree": ids[0] == ids[1]}}


def verdict(args: argparse.Namespace, entry: dict[str, Any], row: dict[str, Any]) -> dict:
    """Met at 1M customers when ≥ 10× faster and `clv rfm` peaks at ≤ 1000 MB."""
    ours, pymc = both_sides(entry)
    if args.customers < CLI_RFM_FULL_SIZE:
        return {
            "met": None,
            "not_judged": f"fewer than the target's {CLI_RFM_FULL_SIZE:,} customers",
        }
    if pymc is None:
        return {"met": None}
    return {
        "met": bool(
            pymc["call_seconds"] / ours["call_seconds"] >= CLI_RFM_MIN_RATIO
            and ours["command_peak_rss_mb"] <= CLI_RFM_MAX_PEAK_MB
        )
    }


def notes(entry: dict[str, Any]) -> list[str]:
    """What both processes run."""
    if not (entry.get("ours") or {}).get("ok"):
        return []
    return [
        "both sides are whole processes on the same Parquet file: `clv rfm` (DuckDB, "
        "weeks of days / 7) against pandas read_parquet + pymc_marketing.clv.rfm_summary "
        "(calendar weeks); peak = the process's ru_maxrss"
    ]


JOB = Job(
    name="cli_rfm",
    target=TARGET,
    sides={"ours": child_ours, "pymc": child_pymc},
    check=child_check,
    verdict=verdict,
    notes=notes,
)
