"""``rfm_file``: the weekly RFM summary from the orders Parquet file.

clvmodels' call includes reading the file (DuckDB reads it itself); pymc-marketing's side is
the ``rfm`` job's: the file read into pandas (not timed), then ``rfm_summary``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from ..common import TIME_UNIT
from ..data import input_path
from ..job import Job
from . import rfm


def child_ours(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """From the Parquet file to the RFM table: DuckDB reads the file itself (timed).

    The pymc-marketing side of this job is the same as ``rfm``: the file read into pandas
    (not timed), then ``rfm_summary``.
    """
    from clvmodels.summaries.rfm import rfm_summary

    started = time.perf_counter()
    rfm_table = rfm_summary(input_path(args, out, "orders.parquet"), time_unit=TIME_UNIT)
    seconds = time.perf_counter() - started
    return {"call_seconds": seconds, "n_customers": len(rfm_table), "reads_file_in_call": True}


def notes(entry: dict[str, Any]) -> list[str]:
    """Where each side's call starts."""
    return [
        "clvmodels' call includes reading the Parquet file (DuckDB reads it itself); "
        "pymc-marketing's call starts from the file already read into pandas; the "
        "agreement of the two summaries is the rfm job's check"
    ]


JOB = Job(
    name="rfm_file",
    target=rfm.TARGET,
    sides={"ours": child_ours, "pymc": rfm.child_pymc},
    verdict=rfm.verdict,
    notes=notes,
)
