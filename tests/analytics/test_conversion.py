"""Conversion from the first visit to the first order: a hand-worked fixture, a pandas oracle."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from clvmodels.analytics.conversion import conversion_tables
from clvmodels.examples.marketing import simulate_marketing

VISIT_COLUMNS = ["uid", "device", "start_ts", "end_ts", "source_id"]
# (uid, device, start, source)
VISITS = [
    (1, "desktop", "2024-01-01 10:00", "a"),  # first visit of 1: a/desktop
    (1, "touch", "2024-01-03 09:00", "b"),
    (2, "touch", "2024-01-05 23:30", "b"),
    (3, "touch", "2024-01-08 10:00", "a"),  # 3 ordered the day before
    (5, "desktop", "2024-01-10 08:00", "a"),  # never buys
    (6, "desktop", "2024-01-15 12:00", "b"),
    (7, None, "2024-02-01 12:00", "a"),  # never buys, no device
    (8, "desktop", "2024-02-02 12:00", "c"),
]
# (customer, time, revenue)
ORDERS = [
    (1, "2024-01-01 12:00", 10.0),  # same day: conversion day 0
    (1, "2024-02-05 09:00", 30.0),  # month age 1
    (2, "2024-01-06 00:10", 20.0),  # 40 minutes later, but the next calendar day: day 1
    (3, "2024-01-07 09:00", 5.0),  # before the first visit
    (3, "2024-01-20 09:00", 5.0),
    (4, "2024-01-10 09:00", 40.0),  # never visited
    (6, "2024-01-25 09:00", 60.0),  # day 10
    (8, "2024-02-10 09:00", 80.0),  # day 8, the last order's day
]


def visits_frame(rows=VISITS) -> pd.DataFrame:
    start = pd.to_datetime([r[2] for r in rows])
    return pd.DataFrame(
        {
            "uid": [r[0] for r in rows],
            "device": pd.Series([r[1] for r in rows], dtype=object),
            "start_ts": start,
            "end_ts": start + pd.Timedelta(minutes=5),
            "source_id": [r[3] for r in rows],
        }
    )


def orders_frame(rows=ORDERS) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": [r[0] for r in rows],
            "timestamp": pd.to_datetime([r[1] for r in rows]),
            "revenue": [r[2] for r in rows],
        }
    )


def test_hand_worked_fixture() -> None:
    result = conversion_tables(visits_frame(), orders_frame())
    s = result.summary
    # visitors 1, 2, 5, 6, 7, 8 (3 ordered before visiting); buyers 1 (day 0), 2 (1), 6 (10), 8 (8)
    assert s["observation_end"] == "2024-02-10"
    assert (s["visitors"], s["buyers"]) == (6, 4)
    assert s["buyers_without_visit"] == 1  # customer 4
    assert s["buyers_ordering_before_first_visit"] == 1  # customer 3
    assert s["conversion_rate"] == 4 / 6
    assert (s["share_day_0"], s["share_day_1"], s["share_day_7"], s["share_day_30"]) == (
        1 / 4,
        2 / 4,
        2 / 4,
        4 / 4,
    )
    assert s["median_conversion_day"] == 4.5  # (1 + 8) / 2
    assert s["data_problems"]["orders"] == {"after_observation_end": 0, "by_users_never_seen": 1}

    buyers = result.buyers
    assert buyers["uid"].tolist() == [1, 2, 6, 8]
    assert buyers["conversion_day"].tolist() == [0, 1, 10, 8]
    assert buyers["source_id"].tolist() == ["a", "b", "b", "c"]
    assert buyers["device"].tolist() == ["desktop", "touch", "desktop", "desktop"]
    assert (
        buyers["first_order"].tolist()
        == pd.to_datetime(
            ["2024-01-01 12:00", "2024-01-06 00:10", "2024-01-25 09:00", "2024-02-10 09:00"]
        ).tolist()
    )
    assert list(buyers.columns) == [
        "uid", "first_visit", "first_order", "conversion_day", "source_id", "device"
    ]  # fmt: skip

    by_source = result.by_source.set_index("source_id")
    assert by_source["visitors"].to_dict() == {"a": 3, "b": 2, "c": 1}
    assert by_source["buyers"].to_dict() == {"a": 1, "b": 2, "c": 1}
    assert by_source["conversion_rate"].to_dict() == {"a": 1 / 3, "b": 1.0, "c": 1.0}
    assert by_source["median_conversion_day"].to_dict() == {"a": 0.0, "b": 5.5, "c": 8.0}

    by_device = result.by_device
    assert by_device["device"].tolist()[:2] == ["desktop", "touch"]
    assert pd.isna(by_device["device"].iloc[2])  # user 7: missing device, its own row
    assert by_device["visitors"].tolist() == [4, 1, 1]
    assert by_device["buyers"].tolist() == [3, 1, 0]
    assert by_device["conversion_rate"].tolist() == [0.75, 1.0, 0.0]
    assert by_device["median_conversion_day"].tolist()[:2] == [8.0, 1.0]

    by_cohort = result.by_cohort
    assert by_cohort["cohort"].tolist() == [dt.date(2024, 1, 1), dt.date(2024, 2, 1)]
    assert by_cohort["visitors"].tolist() == [4, 2]
    assert by_cohort["buyers"].tolist() == [3, 1]
    assert by_cohort["conversion_rate"].tolist() == [0.75, 0.5]
    assert by_cohort["median_conversion_day"].tolist() == [1.0, 8.0]

    obc = result.orders_by_cohort
    assert obc["cohort"].tolist() == [dt.date(2024, 1, 1)] * 2 + [dt.date(2024, 2, 1)]
    assert obc["age_months"].tolist() == [0, 1, 0]
    assert obc["cohort_buyers"].tolist() == [3, 3, 1]
    assert obc["ordering_buyers"].tolist() == [3, 1, 1]
    assert obc["orders"].tolist() == [3, 1, 1]  # customer 3's orders are left out
    assert obc["revenue"].tolist() == [90.0, 30.0, 80.0]
    assert obc["orders_per_buyer"].tolist() == [1.0, 1 / 3, 1.0]
    assert obc["average_order_value"].tolist() == [30.0, 30.0, 80.0]


def test_observation_end_counts_and_leaves_out_later_rows() -> None:
    result = conversion_tables(visits_frame(), orders_frame(), observation_end="2024-02-01")
    s = result.summary
    # visit of 8 (02-02) and orders of 1 (02-05) and 8 (02-10) are after the end
    assert s["data_problems"]["visits"]["after_observation_end"] == 1
    assert s["data_problems"]["orders"]["after_observation_end"] == 2
    assert (s["visitors"], s["buyers"]) == (5, 3)  # 1, 2, 5, 6, 7; buyers 1, 2, 6
    assert s["median_conversion_day"] == 1.0
    assert result.orders_by_cohort["orders"].tolist() == [3, 0]  # Feb: no orders by then
    assert np.isnan(result.orders_by_cohort["average_order_value"].iloc[1])


def test_text_and_integer_ids_match_only_as_written() -> None:
    visits = visits_frame(
        [("007", "touch", "2024-01-01 10:00", "a"), ("8", "touch", "2024-01-01 10:00", "a")]
    )
    orders = orders_frame([(7, "2024-01-02 10:00", 1.0), (8, "2024-01-02 10:00", 1.0)])
    result = conversion_tables(visits, orders)
    assert result.buyers["uid"].tolist() == ["8"]  # "007" is not 7
    assert result.summary["buyers_without_visit"] == 1
    assert (result.summary["visitors"], result.summary["buyers"]) == (2, 1)


def test_first_visit_ties_go_to_the_smallest_source_then_device() -> None:
    visits = visits_frame(
        [
            (1, "touch", "2024-01-02 10:00", "b"),
            (1, "tablet", "2024-01-02 10:00", "a"),  # same start: source "a" < "b"
            (1, "desktop", "2024-01-09 09:00", "0"),  # after the observation end: left out
            (2, "touch", "2024-01-03 10:00", "c"),
            (2, None, "2024-01-03 10:00", "c"),  # same start and source: missing device first
            (2, "desktop", "2024-01-04 10:00", "a"),  # later
        ]
    )
    orders = orders_frame([(1, "2024-01-05 10:00", 1.0), (2, "2024-01-05 10:00", 1.0)])
    result = conversion_tables(visits, orders, observation_end="2024-01-08")
    buyers = result.buyers.set_index("uid")
    assert buyers.loc[1, ["source_id", "device"]].tolist() == ["a", "tablet"]
    assert buyers.loc[2, "source_id"] == "c" and pd.isna(buyers.loc[2, "device"])
    assert buyers["first_visit"].tolist() == list(
        pd.to_datetime(["2024-01-02 10:00", "2024-01-03 10:00"])
    )
    assert result.summary["data_problems"]["visits"]["after_observation_end"] == 1


def test_visit_problems_are_passed_on() -> None:
    visits = visits_frame()
    visits.attrs["visit_problems"] = {"missing_uid": 2, "negative_length": 1}
    problems = conversion_tables(visits, orders_frame()).summary["data_problems"]["visits"]
    assert problems == {"missing_uid": 2, "negative_length": 1, "after_observation_end": 0}


# ----------------------------------------------------------------------- the pandas oracle
def month(days) -> pd.Index:
    """Calendar month number: year * 12 + month."""
    stamps = pd.DatetimeIndex(pd.to_datetime(days))
    return stamps.year * 12 + stamps.month


def _oracle(visits: pd.DataFrame, orders: pd.DataFrame, end: str) -> dict[str, pd.DataFrame]:
    """The tables in plain pandas, from the definitions in the module docstring."""
    last = pd.Timestamp(end)
    v = visits[visits["start_ts"].dt.normalize() <= last]
    o = orders[orders["timestamp"].dt.normalize() <= last]
    v = v.assign(dev=v["device"].fillna("")).sort_values(["start_ts", "source_id", "dev"])
    first = v.drop_duplicates("uid").set_index("uid")
    first_order = o.groupby("customer_id")["timestamp"].min().reindex(first.index)
    before = first_order < first["start_ts"]
    users = first.loc[~before].copy()
    users["first_order"] = first_order[~before]
    users["day"] = (users["first_order"].dt.normalize() - users["start_ts"].dt.normalize()).dt.days
    users["cohort"] = users["start_ts"].dt.to_period("M").dt.start_time.dt.date
    buyers = users[users["first_order"].notna()]

    def grouped(by: str) -> pd.DataFrame:
        g = users.groupby(by, dropna=False, sort=True)
        out = pd.DataFrame(
            {
                "visitors": g.size(),
                "buyers": g["first_order"].count(),
                "median_conversion_day": g["day"].median(),
            }
        )
        out.insert(2, "conversion_rate", out["buyers"] / out["visitors"])
        return out.reset_index()

    bo = o[o["customer_id"].isin(buyers.index)].copy()
    bo["cohort"] = buyers.loc[bo["customer_id"], "cohort"].to_numpy()
    bo["age_months"] = month(bo["timestamp"]) - month(bo["cohort"])
    cells = bo.groupby(["cohort", "age_months"]).agg(
        ordering_buyers=("customer_id", "nunique"), orders=("customer_id", "size"),
        revenue=("revenue", "sum"),
    )  # fmt: skip
    sizes = buyers.groupby("cohort").size()
    grid = pd.MultiIndex.from_tuples(
        [(c, a) for c in sizes.index for a in range(month([last])[0] - month([c])[0] + 1)],
        names=["cohort", "age_months"],
    )
    obc = cells.reindex(grid)
    obc.insert(0, "cohort_buyers", sizes.reindex(grid.get_level_values(0)).to_numpy())
    obc[["ordering_buyers", "orders"]] = obc[["ordering_buyers", "orders"]].fillna(0)
    aov = obc["revenue"] / obc["orders"]
    obc["revenue"] = obc["revenue"].fillna(0.0)
    obc["orders_per_buyer"] = obc["orders"] / obc["cohort_buyers"]
    obc["average_order_value"] = aov
    days = buyers["day"]
    summary = {
        "visitors": len(users),
        "buyers": len(buyers),
        "buyers_without_visit": int(
            (~o["customer_id"].isin(first.index)).groupby(o["customer_id"]).any().sum()
        ),
        "buyers_ordering_before_first_visit": int(before.sum()),
        "conversion_rate": len(buyers) / len(users),
        **{f"share_day_{k}": float((days <= k).sum() / len(days)) for k in (0, 1, 7, 30)},
        "median_conversion_day": float(days.median()),
    }
    return {
        "buyers": pd.DataFrame(
            {
                "uid": buyers.index.to_numpy(),
                "first_visit": buyers["start_ts"].to_numpy(),
                "first_order": buyers["first_order"].to_numpy(),
                "conversion_day": buyers["day"].astype("int64").to_numpy(),
                "source_id": buyers["source_id"].to_numpy(),
                "device": buyers["device"].to_numpy(),
            }
        ).sort_values(["first_visit", "uid"], ignore_index=True),
        "by_source": grouped("source_id"),
        "by_device": grouped("device"),
        "by_cohort": grouped("cohort"),
        "orders_by_cohort": obc.reset_index(),
        "summary": summary,
    }


@pytest.fixture(scope="module")
def simulated() -> tuple[pd.DataFrame, pd.DataFrame]:
    """10k users (5k buyers), then: 150 buyers lose their visits, 300 visit 20 days later,
    orders of 50 unseen ids; every fifth visit has no device."""
    visits, orders, _, _ = simulate_marketing(5_000, seed=7, observation_days=400)
    rng = np.random.default_rng(7)
    buyers = orders["customer_id"].unique()
    gone = rng.choice(buyers, 150, replace=False)
    late = rng.choice(np.setdiff1d(buyers, gone), 300, replace=False)
    visits = visits[~visits["uid"].isin(gone)].copy()
    visits.loc[visits["uid"].isin(late), "start_ts"] += pd.Timedelta(days=20)
    visits["device"] = visits["device"].astype(object)
    visits.loc[visits.index[::5], "device"] = None
    unseen = orders.sample(50, random_state=7).assign(customer_id=np.arange(10**6, 10**6 + 50))
    return visits.reset_index(drop=True), pd.concat([orders, unseen], ignore_index=True)


def test_simulated_tables_agree_with_plain_pandas(simulated) -> None:
    visits, orders = simulated
    end = "2024-12-15"
    result = conversion_tables(visits, orders, observation_end=end)
    expected = _oracle(visits, orders, end)
    assert result.summary["buyers_ordering_before_first_visit"] > 0
    assert result.summary["buyers_without_visit"] >= 150 + 50 - 10  # some beyond the end
    assert result.summary["data_problems"]["orders"]["after_observation_end"] > 0
    for key, value in expected["summary"].items():
        assert result.summary[key] == value, key
    for name in ("buyers", "by_source", "by_device", "by_cohort"):
        pd.testing.assert_frame_equal(
            getattr(result, name), expected[name], check_dtype=False, check_exact=True, obj=name
        )
    # revenue sums: DuckDB and pandas add in different orders, so the last bits may differ
    pd.testing.assert_frame_equal(
        result.orders_by_cohort, expected["orders_by_cohort"], check_dtype=False, rtol=1e-12
    )
    exact = [
        "cohort",
        "age_months",
        "cohort_buyers",
        "ordering_buyers",
        "orders",
        "orders_per_buyer",
    ]
    pd.testing.assert_frame_equal(
        result.orders_by_cohort[exact], expected["orders_by_cohort"][exact],
        check_dtype=False, check_exact=True,
    )  # fmt: skip
