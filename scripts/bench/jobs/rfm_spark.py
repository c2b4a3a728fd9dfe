"""``rfm_spark``: the ``rfm_file`` RFM on Spark local[2] against clvmodels' DuckDB.

The Spark side runs ``read_orders_spark`` + ``rfm_summary_spark``, as ``clv rfm --engine
spark``; its peak memory is that of the Python process plus the JVM it starts.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from ..common import TIME_UNIT
from ..data import input_path
from ..job import Job
from ..memory import TreeMemory

TARGET = "none set (Spark local[2] against DuckDB on one machine)"
#: Spark job: the master and the agreement tolerance (ids and counts exact, values 1e-9).
SPARK_MASTER = "local[2]"
SPARK_RTOL = 1e-9


def child_duckdb(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """clvmodels' DuckDB RFM straight from the Parquet file (as the rfm_file job)."""
    from clvmodels.summaries.rfm import rfm_summary

    started = time.perf_counter()
    rfm = rfm_summary(input_path(args, out, "orders.parquet"), time_unit=TIME_UNIT)
    seconds = time.perf_counter() - started
    rfm.to_parquet(out / "rfm_spark_duckdb.parquet", index=False)
    return {"call_seconds": seconds, "n_customers": len(rfm), "reads_file_in_call": True}


def _spark_rfm(spark: Any, path: str) -> tuple[Any, int]:
    """What ``clv rfm ORDERS --engine spark`` computes: validated read, extent, RFM, sorted."""
    from clvmodels.spark.read import orders_extent_spark, read_orders_spark
    from clvmodels.spark.rfm import rfm_summary_spark

    table = read_orders_spark(spark, path)
    extent = orders_extent_spark(table)
    rfm: Any = rfm_summary_spark(table, time_unit=TIME_UNIT, extent=extent).toPandas()
    return rfm.sort_values("customer_id", ignore_index=True), extent.n_orders


def child_spark(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """The same RFM on Spark local[2]: session start, a first (cold) and a second run."""
    from clvmodels.spark.session import spark_session

    path = str(input_path(args, out, "orders.parquet"))
    with TreeMemory() as memory:
        started = time.perf_counter()
        spark = spark_session(SPARK_MASTER, app_name="clvmodels-bench")
        session_seconds = time.perf_counter() - started
        started = time.perf_counter()
        rfm, n_orders = _spark_rfm(spark, path)
        seconds = time.perf_counter() - started
        started = time.perf_counter()
        _spark_rfm(spark, path)
        warm_seconds = time.perf_counter() - started
    spark.stop()
    rfm.to_parquet(out / "rfm_spark_spark.parquet", index=False)
    return {
        "call_seconds": seconds,
        "warm_call_seconds": warm_seconds,
        "session_start_seconds": session_seconds,
        "n_customers": len(rfm),
        "n_orders": n_orders,
        "master": SPARK_MASTER,
        "memory": memory.report(),
    }


def child_check(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """Spark's RFM against DuckDB's: ids and frequencies exactly, values to 1e-9."""
    import numpy as np
    import pandas as pd

    a = pd.read_parquet(out / "rfm_spark_duckdb.parquet")
    b = pd.read_parquet(out / "rfm_spark_spark.parquet")
    same = bool(
        len(a) == len(b)
        and list(a.columns) == list(b.columns)
        and (a["customer_id"].to_numpy() == b["customer_id"].to_numpy()).all()
    )
    result: dict[str, Any] = {
        "customers": len(a),
        "same_customers_and_columns": same,
        "frequency_equal": bool(
            same and (a["frequency"].to_numpy() == b["frequency"].to_numpy()).all()
        ),
    }
    worst = float("inf")
    if same:
        for column in ("recency", "T", "monetary_value"):
            x, y = a[column].to_numpy("float64"), b[column].to_numpy("float64")
            # relative above 1, absolute below (recency and T are often 0)
            diff = float((np.abs(x - y) / np.maximum(np.abs(y), 1.0)).max()) if len(x) else 0.0
            result[f"{column}_max_diff"] = diff
        worst = max(result[f"{c}_max_diff"] for c in ("recency", "T", "monetary_value"))
    result["max_rel_diff"] = worst
    result["agree"] = bool(same and result["frequency_equal"] and worst <= SPARK_RTOL)
    return {"agreement": result}


def spark_missing(side: str) -> str | None:
    """Why the Spark side cannot run here (no pyspark, no java), or None."""
    import importlib.util
    import shutil

    if side != "pymc":
        return None
    if importlib.util.find_spec("pyspark") is None:
        return "pyspark is not installed (pip install 'clvmodels[spark]')"
    if shutil.which("java") is None:
        return "no java on PATH (Spark needs Java 17)"
    return None


def finish(
    args: argparse.Namespace, side: str, result: dict[str, Any], entry: dict[str, Any]
) -> dict[str, Any]:
    """Spark's peak memory: the JVM's included (TreeMemory), the Python process's kept apart.

    The JVM is a child of the job's process and outlives it: ru_maxrss of the process does
    not see it.
    """
    if side == "pymc" and result.get("ok"):
        result["peak_rss_mb_python"] = result["peak_rss_mb"]
        result["peak_rss_mb"] = result["memory"]["tree_hwm_sum_mb"]
    return result


def notes(entry: dict[str, Any]) -> list[str]:
    """What each side's call holds, how Spark's memory is counted, its cold and warm runs."""
    pymc = entry.get("pymc") or {}
    lines = [
        "both sides read the orders Parquet file in the call; the Spark call is the "
        "validated read, the orders' extent and rfm_summary_spark collected to pandas and "
        "sorted (what `clv rfm --engine spark` runs), after the session has started; the "
        "session start and a second (warm) run are in the details",
        "Spark's peak memory is the sum of the per-process peaks (VmHWM) of its Python "
        "process and every descendant (the JVM), read from /proc while it runs: an upper "
        "bound; the sampled peak of the summed RSS (a lower bound) and ru_maxrss of the "
        "Python process alone (peak_rss_mb_python) are in the details",
    ]
    if pymc.get("ok"):
        lines.append(
            f"Spark cold (session start + first run): "
            f"{pymc['session_start_seconds'] + pymc['call_seconds']:.1f} s; warm second "
            f"run {pymc['warm_call_seconds']:.1f} s"
        )
    return lines


JOB = Job(
    name="rfm_spark",
    target=TARGET,
    sides={"ours": child_duckdb, "pymc": child_spark},
    label="rfm_spark (DuckDB vs Spark local[2])",
    side_names={"ours": "clvmodels on DuckDB", "pymc": "clvmodels on Spark local[2]"},
    check=child_check,
    unavailable=spark_missing,
    finish=finish,
    notes=notes,
)
