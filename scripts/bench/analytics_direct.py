"""The other side of the cli_engagement and cli_conversion jobs: pandas, the notebook way.

What an analyst writes for the classic Yandex.Afisha analysis of visits and orders (the
project every data-analysis course sets), on the same Parquet files as ``clv engagement``
and ``clv conversion``, with the definitions of :mod:`clvmodels.analytics.engagement` and
:mod:`clvmodels.analytics.conversion`:

* :func:`direct_engagement`: ``visits['session_date'] = visits['start_ts'].dt.date`` (and the
  ISO year-week and year-month), ``groupby`` for DAU, WAU and MAU, sticky factors, session
  length median and mode, the same per device and per source, and the retention pivot by
  first-visit month and age;
* :func:`direct_conversion`: the first visit per ``uid`` (sorted, ``groupby().first()``), the
  first order per ``uid`` (``groupby().min()``), ``merge``, ``conversion_day =
  (first_order.normalize() - first_visit.normalize()).dt.days``, the rates by source, device
  and cohort, the shares, and the orders by cohort and month age.

Each writes the same files as the command (CSV and ``summary.json``) into its folder, and a
few matplotlib plots, so that both sides do the whole job; :mod:`bench.analytics_check`
compares the files.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

#: The k of ``share_day_k`` (as clvmodels.analytics.conversion.SHARE_DAYS).
SHARE_DAYS = (0, 1, 7, 30)


class Laps:
    """Seconds of each step, from one clock."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._last = time.perf_counter()

    def __call__(self, step: str) -> None:
        now = time.perf_counter()
        self.seconds[step] = round(now - self._last, 3)
        self._last = now


def _month_index(stamps: Any) -> Any:
    return stamps.dt.year * 12 + stamps.dt.month - 1


def _rates(users: Any, by: str) -> Any:
    """visitors, buyers, conversion_rate and median conversion_day per value of ``by``."""
    table = users.groupby(by).agg(
        visitors=("first_visit", "size"),
        buyers=("conversion_day", "count"),
        median_conversion_day=("conversion_day", "median"),
    )
    table["conversion_rate"] = table["buyers"] / table["visitors"]
    return table[["visitors", "buyers", "conversion_rate", "median_conversion_day"]].reset_index()


def _orders_by_cohort(orders: Any, buyers: Any, end: Any) -> Any:
    """Orders per buyer and average order value by first-visit month and month age."""
    import numpy as np
    import pandas as pd

    orders = orders.merge(buyers[["uid", "cohort"]], on="uid")  # only the buyers' orders
    orders["age_months"] = _month_index(orders["buy_ts"]) - _month_index(orders["cohort"])
    cells = orders.groupby(["cohort", "age_months"]).agg(
        ordering_buyers=("uid", "nunique"), orders=("uid", "size"), revenue=("revenue", "sum")
    )
    sizes = buyers.groupby("cohort")["uid"].count().rename("cohort_buyers")
    end_month = end.year * 12 + end.month - 1
    grid = pd.DataFrame(
        [
            (cohort, age)
            for cohort in sizes.index
            for age in range(end_month - (cohort.year * 12 + cohort.month - 1) + 1)
        ],
        columns=["cohort", "age_months"],
    )
    table = grid.join(sizes, on="cohort").join(cells, on=["cohort", "age_months"])
    table[["ordering_buyers", "orders"]] = table[["ordering_buyers", "orders"]].fillna(0)
    table["average_order_value"] = table["revenue"] / table["orders"].replace(0, np.nan)
    table["revenue"] = table["revenue"].fillna(0.0)
    table["orders_per_buyer"] = table["orders"] / table["cohort_buyers"]
    table["cohort"] = table["cohort"].dt.date
    columns = ["cohort", "age_months", "cohort_buyers", "ordering_buyers", "orders", "revenue",
               "orders_per_buyer", "average_order_value"]  # fmt: skip
    return table[columns].astype({"ordering_buyers": "int64", "orders": "int64"})


def direct_conversion(visits_path: str, orders_path: str, out_dir: str) -> dict[str, Any]:
    """``clv conversion``'s tables the notebook way; written into ``out_dir``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    lap, out = Laps(), Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    visits = pd.read_parquet(visits_path)
    orders = pd.read_parquet(orders_path)
    lap("read")
    # the first visit of each user: its time, source and device (ties: smallest source, device)
    first_visits = (
        visits.sort_values(["start_ts", "source_id", "device"])
        .groupby("uid")
        .agg(first_visit=("start_ts", "first"), source_id=("source_id", "first"),
             device=("device", "first"))
    )  # fmt: skip
    first_orders = orders.groupby("uid")["buy_ts"].min().rename("first_order")
    users = first_visits.join(first_orders, how="left").reset_index()
    users["conversion_day"] = (
        users["first_order"].dt.normalize() - users["first_visit"].dt.normalize()
    ).dt.days
    users["cohort"] = users["first_visit"].dt.to_period("M").dt.start_time
    lap("first visits and orders")
    buyers = users[users["first_order"].notna()].copy()
    buyers["conversion_day"] = buyers["conversion_day"].astype("int64")
    tables = {
        "by_source": _rates(users, "source_id"),
        "by_device": _rates(users, "device"),
        "by_cohort": _rates(users, "cohort"),
    }
    tables["by_cohort"]["cohort"] = tables["by_cohort"]["cohort"].dt.date
    end = max(visits["start_ts"].max(), orders["buy_ts"].max()).normalize()
    tables["orders_by_cohort"] = _orders_by_cohort(orders, buyers, end)
    summary = {
        "observation_end": end.date().isoformat(),
        "visitors": len(users),
        "buyers": len(buyers),
        "buyers_without_visit": int((~first_orders.index.isin(first_visits.index)).sum()),
        "conversion_rate": len(buyers) / len(users),
        **{f"share_day_{k}": float((buyers["conversion_day"] <= k).mean()) for k in SHARE_DAYS},
        "median_conversion_day": float(buyers["conversion_day"].median()),
    }
    lap("rates, shares, orders by cohort")
    buyers.sort_values(["first_visit", "uid"])[
        ["uid", "first_visit", "first_order", "conversion_day", "source_id", "device"]
    ].to_csv(out / "buyers.csv", index=False)
    for name, table in tables.items():
        table.to_csv(out / f"{name}.csv", index=False)
    lap("write tables")
    _conversion_plots(plt, buyers, tables, out)
    lap("plots")
    summary["seconds"] = lap.seconds
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary


def _conversion_plots(plt: Any, buyers: Any, tables: dict[str, Any], out: Path) -> None:
    """The conversion-day histogram, conversion by source and the orders-per-buyer heatmap."""
    fig, ax = plt.subplots(figsize=(8, 4))
    buyers["conversion_day"].clip(upper=60).plot.hist(bins=61, ax=ax)
    ax.set(xlabel="days from the first visit to the first order", ylabel="buyers")
    fig.savefig(out / "conversion_days.png", dpi=100)
    fig, ax = plt.subplots(figsize=(8, 4))
    tables["by_source"].plot.bar(x="source_id", y="conversion_rate", ax=ax, legend=False)
    fig.savefig(out / "conversion_by_source.png", dpi=100)
    pivot = tables["orders_by_cohort"].pivot_table(
        index="cohort", columns="age_months", values="orders_per_buyer"
    )
    fig, ax = plt.subplots(figsize=(10, 6))
    ax.imshow(pivot.to_numpy(), aspect="auto", cmap="Blues")
    ax.set(xlabel="month age", ylabel="cohort")
    fig.savefig(out / "orders_by_cohort.png", dpi=100)
    plt.close("all")
