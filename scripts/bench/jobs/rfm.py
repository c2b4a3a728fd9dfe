"""``rfm``: the weekly RFM summary of the orders DataFrame.

``clvmodels.summaries.rfm.rfm_summary(orders, time_unit="W")`` against
``pymc_marketing.clv.rfm_summary(orders, customer_id_col=..., datetime_col=...,
monetary_value_col=..., time_unit="W")``; they agree exactly at day resolution on a sample.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from ..common import SEED, TIME_UNIT
from ..data import input_path, read_orders_frame
from ..job import Job, both_sides

TARGET = "≥ 8× faster, clvmodels peak ≤ 1000 MB"
#: Customers whose orders go into the exact day-level RFM agreement check.
RFM_CHECK_CUSTOMERS = 2_000


def child_ours(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """clvmodels' RFM summary of the orders DataFrame (DuckDB SQL)."""
    from clvmodels.summaries.rfm import rfm_summary

    orders = read_orders_frame(input_path(args, out, "orders.parquet"))
    started = time.perf_counter()
    rfm = rfm_summary(orders, time_unit=TIME_UNIT)
    seconds = time.perf_counter() - started
    rfm.to_parquet(out / "rfm_ours.parquet")
    return {"call_seconds": seconds, "n_orders": len(orders), "n_customers": len(rfm)}


def child_pymc(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """pymc-marketing's RFM summary of the same DataFrame (also the rfm_file job's side)."""
    from pymc_marketing.clv import rfm_summary

    orders = read_orders_frame(input_path(args, out, "orders.parquet"))
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


def _weeks(ours: Any, pymc: Any) -> dict[str, Any]:
    """How the two weekly summaries differ over all customers (by definition)."""
    joined = ours.merge(pymc, left_index=True, right_index=True, suffixes=("_ours", "_pymc"))
    return {
        "same_customers": bool(ours.index.equals(pymc.index)),
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


def _day_summaries(orders: Any, last_day: str) -> tuple[Any, Any]:
    """Both sides' day-level RFM of ``orders`` up to the data's last day, by customer."""
    from pymc_marketing.clv import rfm_summary as pymc_rfm

    from clvmodels.summaries.rfm import rfm_summary as ours_rfm

    a = ours_rfm(orders, time_unit="D", observation_end=last_day).set_index("customer_id")
    b = (
        pymc_rfm(
            orders,
            customer_id_col="customer_id",
            datetime_col="timestamp",
            monetary_value_col="revenue",
            time_unit="D",
            observation_period_end=last_day,
        )
        .set_index("customer_id")
        .sort_index()
    )
    return a.sort_index(), b


def _days(out: Path, ids: Any) -> dict[str, Any]:
    """The exact check: both sides at day resolution on a sample, same observation end."""
    import numpy as np
    import pandas as pd

    meta = json.loads((out / "data.json").read_text())
    orders = pd.read_parquet(out / "orders.parquet", filters=[("customer_id", "in", ids)])
    a, b = _day_summaries(orders, meta["last_day"])
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
    return days


def child_check(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """Compare the two RFM outputs: in weeks over all customers, in days exactly on a sample."""
    import numpy as np
    import pandas as pd

    ours = pd.read_parquet(out / "rfm_ours.parquet").set_index("customer_id").sort_index()
    pymc = pd.read_parquet(out / "rfm_pymc.parquet").set_index("customer_id").sort_index()
    weeks = _weeks(ours, pymc)
    rng = np.random.default_rng(SEED)
    ids = np.sort(
        rng.choice(ours.index.to_numpy(), min(RFM_CHECK_CUSTOMERS, len(ours)), replace=False)
    )
    days = _days(out, ids)
    return {
        "agreement": {"weeks_all_customers": weeks, "days_sample": days, "agree": days["agree"]}
    }


def verdict(args: argparse.Namespace, entry: dict[str, Any], row: dict[str, Any]) -> dict:
    """Met when clvmodels is ≥ 8× faster and peaks at ≤ 1000 MB (rfm and rfm_file)."""
    ours, pymc = both_sides(entry)
    if pymc is None:
        return {}
    return {"met": bool(row["ratio_call"] >= 8 and ours["peak_rss_mb"] <= 1000)}


def digest(agreement: dict[str, Any]) -> dict[str, Any]:
    """The exact day-level check and the share of equal weekly frequencies."""
    return {
        "days": agreement["days_sample"],
        "weeks_frequency_equal_share": agreement["weeks_all_customers"]["frequency_equal_share"],
    }


JOB = Job(
    name="rfm",
    target=TARGET,
    sides={"ours": child_ours, "pymc": child_pymc},
    check=child_check,
    verdict=verdict,
    digest=digest,
)
