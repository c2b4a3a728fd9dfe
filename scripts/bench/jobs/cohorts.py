"""``cohorts``: cumulative LTV by monthly cohort and age, against the pandas notebook way.

``clvmodels.summaries.cohorts.cohort_table`` (DuckDB SQL) against the analyst's pandas
group-by / nunique / pivot_table / cumsum on the same DataFrame (pymc-marketing has no
cohort tables).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from ..data import input_path, read_orders_frame
from ..job import Job, both_sides

TARGET = "≥ 5× faster than the pandas notebook way, clvmodels peak ≤ 1000 MB"
#: Margin rate of the cohort LTV job (any value works; both sides use the same).
COHORT_MARGIN = 0.3


def child_ours(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """clvmodels.summaries.cohorts.cohort_table on the orders DataFrame (DuckDB SQL)."""
    from clvmodels.summaries.cohorts import cohort_ltv_wide, cohort_table

    orders = read_orders_frame(input_path(args, out, "orders.parquet"))
    started = time.perf_counter()
    table = cohort_table(orders, period="month", margin=COHORT_MARGIN)
    wide = cohort_ltv_wide(table)
    seconds = time.perf_counter() - started
    table.to_parquet(out / "cohorts_ours.parquet")
    return {"call_seconds": seconds, "n_cohorts": int(wide.shape[0]), "n_rows": len(table)}


def _notebook_ltv(orders: Any) -> Any:
    """The analyst's notebook way: group by cohort and order month, nunique, pivot, cumsum."""
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
    return pivot.fillna(0).cumsum(axis=1).where(pivot.notna().cumsum(axis=1) > 0)


def child_pandas(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """The analyst's notebook way on the same DataFrame (timed)."""
    orders = read_orders_frame(input_path(args, out, "orders.parquet"))
    started = time.perf_counter()
    cumulative = _notebook_ltv(orders)
    seconds = time.perf_counter() - started
    cumulative.columns = [str(c) for c in cumulative.columns]
    cumulative.index = cumulative.index.to_timestamp()
    cumulative.to_parquet(out / "cohorts_pandas.parquet")
    return {"call_seconds": seconds, "n_cohorts": int(cumulative.shape[0])}


def child_check(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """Cumulative LTV by cohort and age: clvmodels' table against the pandas pivot."""
    import numpy as np
    import pandas as pd

    from clvmodels.summaries.cohorts import cohort_ltv_wide

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


def verdict(args: argparse.Namespace, entry: dict[str, Any], row: dict[str, Any]) -> dict:
    """Met when clvmodels is ≥ 5× faster and peaks at ≤ 1000 MB."""
    ours, pandas = both_sides(entry)
    if pandas is None:
        return {}
    return {"met": bool(row["ratio_call"] >= 5 and ours["peak_rss_mb"] <= 1000)}


def notes(entry: dict[str, Any]) -> list[str]:
    """Who the comparison side is."""
    return [
        "the comparison side of this job is not pymc-marketing (it has no cohort tables) "
        "but the pandas group-by / nunique / pivot_table / cumsum of the analyst's "
        "notebook, on the same DataFrame"
    ]


JOB = Job(
    name="cohorts",
    target=TARGET,
    sides={"ours": child_ours, "pymc": child_pandas},
    label="cohorts (vs pandas)",
    side_names={"pymc": "pandas notebook way"},
    check=child_check,
    verdict=verdict,
    notes=notes,
)
