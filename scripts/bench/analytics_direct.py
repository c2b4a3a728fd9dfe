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
    users = users[~(users["first_order"] < users["first_visit"])]  # counted apart, not here
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
    """The conversion-day histogram and the conversion rates by source and by device."""
    fig, ax = plt.subplots(figsize=(8, 4))
    buyers["conversion_day"].clip(upper=60).plot.hist(bins=61, ax=ax)
    ax.set(xlabel="days from the first visit to the first order", ylabel="buyers")
    fig.savefig(out / "conversion_days.png", dpi=100)
    fig, ax = plt.subplots(figsize=(8, 4))
    tables["by_source"].plot.bar(x="source_id", y="conversion_rate", ax=ax, legend=False)
    fig.savefig(out / "conversion_by_source.png", dpi=100)
    fig, ax = plt.subplots(figsize=(8, 4))
    tables["by_device"].plot.bar(x="device", y="conversion_rate", ax=ax, legend=False)
    fig.savefig(out / "conversion_by_device.png", dpi=100)
    plt.close("all")


def _complete_weeks(first: Any, last: Any) -> Any:
    """ISO (year, week) of the weeks lying fully inside [first, last], as a set."""
    import pandas as pd

    mondays = pd.date_range(first, last, freq="W-MON")
    iso = [m.isocalendar() for m in mondays if m + pd.Timedelta(days=6) <= last]
    return {(year, week) for year, week, _ in iso}


def _complete_months(first: Any, last: Any) -> Any:
    """The months (periods) lying fully inside [first, last]."""
    import pandas as pd

    months = pd.period_range(first, last, freq="M")
    return {m for m in months if m.start_time >= first and m.end_time.normalize() <= last}


def _engagement_summary(visits: Any, days: Any, weeks: Any, months: Any) -> dict[str, Any]:
    """The summary of a set of sessions over the window's days and complete periods."""
    import numpy as np

    daily_users = visits.groupby("session_date")["uid"].nunique()
    weekly_users = visits.groupby(["session_year", "session_week"])["uid"].nunique()
    weekly_users = weekly_users[[key in weeks for key in weekly_users.index]]
    monthly_users = visits.groupby("session_month")["uid"].nunique()
    monthly_users = monthly_users[[key in months for key in monthly_users.index]]
    dau = daily_users.sum() / len(days)  # days without visits count as 0
    wau = weekly_users.sum() / len(weeks) if weeks else np.nan
    mau = monthly_users.sum() / len(months) if months else np.nan
    lengths = visits["session_duration_sec"].dropna()
    modes = np.floor(lengths).mode()
    return {
        "users": int(visits["uid"].nunique()),
        "sessions": len(visits),
        "dau": float(dau),
        "wau": float(wau),
        "mau": float(mau),
        "sticky_wau": float(dau / wau),
        "sticky_mau": float(dau / mau),
        "sessions_per_user_per_day": len(visits) / int(daily_users.sum()),
        "session_seconds_median": float(lengths.median()),
        "session_seconds_mode": int(modes.iloc[0]) if len(modes) else None,
    }


def _activity(visits: Any, keys: list[str], name: str) -> Any:
    """Distinct users, sessions, sessions per user and median length per period."""
    table = visits.groupby(keys).agg(
        **{name: ("uid", "nunique")},
        sessions=("uid", "size"),
        session_seconds_median=("session_duration_sec", "median"),
    )
    table["sessions_per_user"] = table["sessions"] / table[name]
    return table[[name, "sessions", "sessions_per_user", "session_seconds_median"]]


def _engagement_tables(visits: Any, first: Any, last: Any) -> dict[str, Any]:
    """daily, weekly, monthly, by_device, by_source and retention."""
    import pandas as pd

    days = pd.date_range(first, last, freq="D").date
    weeks, months = _complete_weeks(first, last), _complete_months(first, last)
    daily = _activity(visits, ["session_date"], "dau").reindex(days)
    daily[["dau", "sessions"]] = daily[["dau", "sessions"]].fillna(0).astype("int64")
    daily = daily.rename_axis("date").reset_index()
    weekly = _activity(visits, ["session_year", "session_week"], "wau").reset_index()
    weekly.insert(0, "period_start", pd.to_datetime(
        weekly["session_year"].astype(str) + "-" + weekly["session_week"].astype(str) + "-1",
        format="%G-%V-%u",
    ))  # fmt: skip
    weekly["complete"] = [
        (y, w) in weeks for y, w in zip(weekly["session_year"], weekly["session_week"], strict=True)
    ]
    monthly = _activity(visits, ["session_month"], "mau").reset_index()
    monthly["complete"] = monthly["session_month"].isin(months)
    monthly.insert(0, "period_start", monthly.pop("session_month").dt.start_time)
    summary = _engagement_summary(visits, days, weeks, months)
    per_value = {
        by: pd.DataFrame(
            [
                {by: value, **_engagement_summary(group, days, weeks, months)}
                for value, group in visits.groupby(by)
            ]
        )
        for by in ("device", "source_id")
    }
    return {
        "summary": summary,
        "daily": daily,
        "weekly": weekly.drop(columns=["session_year", "session_week"]),
        "monthly": monthly,
        "by_device": per_value["device"],
        "by_source": per_value["source_id"],
        "retention": _retention(visits, last, months),
    }


def _retention(visits: Any, last: Any, months: Any) -> Any:
    """Visitor retention by first-visit month and month age (the classic cohort pivot)."""
    import pandas as pd

    first_month = visits.groupby("uid")["session_month"].min().rename("first_month")
    visits = visits.join(first_month, on="uid")
    visits["age"] = (
        visits["session_month"].dt.year * 12 + visits["session_month"].dt.month
        - visits["first_month"].dt.year * 12 - visits["first_month"].dt.month
    )  # fmt: skip
    cohorts = visits.groupby(["first_month", "age"])["uid"].nunique()
    pivot = cohorts.unstack("age")  # the notebook's retention pivot
    sizes = first_month.value_counts().sort_index()
    last_month = pd.Period(last, freq="M")
    last_complete = max(months) if months else None
    rows = []
    for cohort, size in sizes.items():
        for age in range((last_month - cohort).n + 1):
            active = pivot.at[cohort, age] if age in pivot.columns else float("nan")
            active = 0 if pd.isna(active) else int(active)
            complete = last_complete is not None and cohort + age <= last_complete
            rows.append((cohort.start_time, age, int(size), active, active / size, complete))
    columns = ["cohort", "age", "cohort_size", "active_users", "retention", "complete"]
    return pd.DataFrame(rows, columns=columns)


def direct_engagement(visits_path: str, orders_path: str, out_dir: str) -> dict[str, Any]:
    """``clv engagement``'s tables the notebook way; written into ``out_dir``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    lap, out = Laps(), Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    visits = pd.read_parquet(visits_path)
    lap("read")
    visits["session_date"] = visits["start_ts"].dt.date
    iso = visits["start_ts"].dt.isocalendar()
    visits["session_year"], visits["session_week"] = iso["year"], iso["week"]
    visits["session_month"] = visits["start_ts"].dt.to_period("M")
    length = (visits["end_ts"] - visits["start_ts"]).dt.total_seconds()
    visits["session_duration_sec"] = length.where(length >= 0)  # no end, or before its start
    lap("dates and lengths")
    first, last = (
        pd.Timestamp(visits["session_date"].min()),
        pd.Timestamp(visits["session_date"].max()),
    )
    tables = _engagement_tables(visits, first, last)
    lap("DAU, WAU, MAU, sticky, lengths, per device and source, retention")
    summary = tables.pop("summary")
    for name, table in tables.items():
        table.to_csv(out / f"{name}.csv", index=False)
    lap("write tables")
    _engagement_plots(plt, visits, tables, out)
    lap("plots")
    summary["seconds"] = lap.seconds
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary


def _engagement_plots(plt: Any, visits: Any, tables: dict[str, Any], out: Path) -> None:
    """DAU/WAU/MAU lines, the session-length histogram and the retention heatmap."""
    fig, ax = plt.subplots(figsize=(10, 4))
    ax.plot(tables["daily"]["date"], tables["daily"]["dau"], label="DAU")
    ax.step(tables["weekly"]["period_start"], tables["weekly"]["wau"], where="post", label="WAU")
    ax.step(tables["monthly"]["period_start"], tables["monthly"]["mau"], where="post", label="MAU")
    ax.legend()
    fig.savefig(out / "active_users.png", dpi=100)
    fig, ax = plt.subplots(figsize=(8, 4))
    visits["session_duration_sec"].clip(upper=3600).div(60).plot.hist(bins=60, ax=ax)
    ax.set(xlabel="session length, minutes", ylabel="sessions")
    fig.savefig(out / "session_lengths.png", dpi=100)
    pivot = tables["retention"].pivot_table(index="cohort", columns="age", values="retention")
    fig, ax = plt.subplots(figsize=(10, 6))
    ax.imshow(pivot.to_numpy(), aspect="auto", cmap="Blues")
    ax.set(xlabel="month age", ylabel="first-visit month")
    fig.savefig(out / "retention.png", dpi=100)
    plt.close("all")
