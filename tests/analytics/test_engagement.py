"""Engagement tables: a fixture worked by hand, and plain pandas on 10k simulated users."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from clvmodels.analytics.engagement import Engagement, engagement, engagement_summary
from clvmodels.data.marketing import read_visits
from clvmodels.errors import DataError
from clvmodels.examples.traffic import simulate_visits

COLUMNS = ["uid", "device", "start_ts", "end_ts", "source_id"]
# Window: Sun 2026-02-01 .. Sun 2026-03-08 (observation end) = 28 + 8 = 36 days.
# Complete ISO weeks: Feb 2, 9, 16, 23 and Mar 2 (5 weeks); the week of Jan 26 holds only
# Feb 1. Complete months: February only (March is cut at the 8th).
HAND_ROWS = [
    ("A", "desktop", "2026-02-01 10:00:00", "2026-02-01 10:01:00", 1),  # 60 s
    ("A", "desktop", "2026-02-02 10:00:00", "2026-02-02 10:02:00", 1),  # 120 s
    ("A", "touch", "2026-02-02 18:00:00", "2026-02-02 18:01:30", 2),  # 90 s
    ("A", "desktop", "2026-03-08 09:00:00", "2026-03-08 09:00:30", 1),  # 30 s
    ("B", "touch", "2026-02-02 11:00:00", "2026-02-02 11:02:00", 2),  # 120 s
    ("B", "touch", "2026-02-10 12:00:00", "2026-02-10 11:59:50", 2),  # ends before start
    ("B", "touch", "2026-03-03 08:00:00", None, 2),  # no end
    ("C", "touch", "2026-02-16 23:59:59", "2026-02-17 00:00:01.5", 3),  # 2.5 s, on Feb 16
    ("D", "desktop", "2026-03-02 08:00:00", "2026-03-02 08:05:00", 3),  # 300 s
    ("D", "desktop", "2026-03-02 09:00:00", "2026-03-02 09:05:00.9", 3),  # 300.9 s
    ("E", "desktop", "2026-03-09 09:00:00", "2026-03-09 09:05:00", 3),  # after the end
]


def _hand() -> pd.DataFrame:
    return read_visits(pd.DataFrame(HAND_ROWS, columns=COLUMNS), problems="report")


@pytest.fixture(scope="module")
def hand() -> Engagement:
    return engagement(_hand(), observation_end="2026-03-08")


def test_hand_worked_summary(hand: Engagement) -> None:
    result = hand
    s = result.summary
    # users per day: Feb 1 {A}, Feb 2 {A, B}, Feb 10 {B}, Feb 16 {C}, Mar 2 {D}, Mar 3 {B},
    # Mar 8 {A}: 1 + 2 + 1 + 1 + 1 + 1 + 1 = 8 user-days over 36 days
    assert s["dau"] == pytest.approx(8 / 36, abs=1e-15)
    # weeks: Feb 2 {A, B} 2, Feb 9 {B} 1, Feb 16 {C} 1, Feb 23 {} 0, Mar 2 {D, B, A} 3 -> 7 / 5
    assert s["wau"] == pytest.approx(1.4, abs=1e-15)
    # February {A, B, C} = 3 (March is incomplete)
    assert s["mau"] == 3
    assert s["sticky_wau"] == pytest.approx((8 / 36) / 1.4, abs=1e-15)
    assert s["sticky_mau"] == pytest.approx((8 / 36) / 3, abs=1e-15)
    # 10 sessions (E's is after the end) over 8 user-days
    assert s["sessions"] == 10
    assert s["users"] == 4
    assert s["sessions_per_user_per_day"] == 1.25
    # lengths: 2.5, 30, 60, 90, 120, 120, 300, 300.9 (B's two sessions have none):
    # median (90 + 120) / 2 = 105; whole seconds 2, 30, 60, 90, 120 x2, 300 x2: the tie of
    # 120 and 300 goes to the smaller
    assert s["session_seconds_median"] == 105
    assert s["session_seconds_mode"] == 120
    assert result.data_problems["after_observation_end"] == 1
    assert result.data_problems["negative_length"] == 1
    assert result.data_problems["missing_end"] == 1


def test_hand_worked_tables(hand: Engagement) -> None:
    result = hand
    daily = result.daily
    assert len(daily) == 36
    assert daily["dau"].sum() == 8
    feb2 = daily.loc[daily["date"] == "2026-02-02"].iloc[0]
    # A (120 s, 90 s) and B (120 s): 2 users, 3 sessions, median 120
    assert (feb2["dau"], feb2["sessions"], feb2["session_seconds_median"]) == (2, 3, 120)
    assert feb2["sessions_per_user"] == 1.5
    feb3 = daily.loc[daily["date"] == "2026-02-03"].iloc[0]
    assert feb3["dau"] == 0 and feb3["sessions"] == 0 and np.isnan(feb3["sessions_per_user"])
    weekly = result.weekly
    assert weekly["period_start"].dt.strftime("%m-%d").tolist() == [
        "01-26", "02-02", "02-09", "02-16", "02-23", "03-02"
    ]  # fmt: skip
    assert weekly["wau"].tolist() == [1, 2, 1, 1, 0, 3]
    assert weekly["complete"].tolist() == [False, True, True, True, True, True]
    # week of Mar 2: 30 s (A), 300 s and 300.9 s (D), B's without length -> median 300
    assert weekly["session_seconds_median"].iloc[-1] == 300
    assert np.isnan(weekly["session_seconds_median"].iloc[2])  # only B's backwards session
    monthly = result.monthly
    assert monthly["mau"].tolist() == [3, 3]  # Feb {A, B, C}, Mar {A, B, D}
    assert monthly["sessions"].tolist() == [6, 4]
    assert monthly["complete"].tolist() == [True, False]
    # Feb lengths 60, 120, 90, 120, 2.5 -> 90
    assert monthly["session_seconds_median"].iloc[0] == 90


def test_hand_worked_groups_and_retention(hand: Engagement) -> None:
    result = hand
    device = result.by_device.set_index("device")
    # desktop: A on Feb 1, Feb 2, Mar 8 and D on Mar 2: 4 user-days / 36, 5 sessions
    assert device.loc["desktop", "dau"] == pytest.approx(4 / 36, abs=1e-15)
    assert device.loc["desktop", "sessions"] == 5
    # desktop weeks: Feb 2 {A}, Mar 2 {D, A} -> 3 / 5; February {A} -> MAU 1
    assert device.loc["desktop", "wau"] == pytest.approx(0.6, abs=1e-15)
    assert device.loc["desktop", "mau"] == 1
    # desktop lengths 30, 60, 120, 300, 300.9 -> median 120; whole seconds 300 twice -> 300
    assert device.loc["desktop", "session_seconds_median"] == 120
    assert device.loc["desktop", "session_seconds_mode"] == 300
    # touch: 90, 120, 2.5 (and B's two without length) -> median 90; all once -> smallest 2
    assert device.loc["touch", "session_seconds_median"] == 90
    assert device.loc["touch", "session_seconds_mode"] == 2
    source = result.by_source.set_index("source_id")
    assert source.loc["3", "users"] == 2  # C and D (E is after the end)
    retention = result.retention
    # cohorts: February {A, B, C}, March {D}; March is the last, partly observed month
    assert retention["cohort"].dt.strftime("%Y-%m").tolist() == ["2026-02", "2026-02", "2026-03"]
    assert retention["age"].tolist() == [0, 1, 0]
    assert retention["cohort_size"].tolist() == [3, 3, 1]
    assert retention["active_users"].tolist() == [3, 2, 1]  # in March: A and B
    assert retention["retention"].tolist() == [1, 2 / 3, 1]
    assert retention["complete"].tolist() == [True, False, False]


def test_no_complete_week_or_month() -> None:
    visits = _hand()
    result = engagement(visits.iloc[:3], observation_end="2026-02-03")
    # Feb 1 .. Feb 3: no complete ISO week (Feb 2 .. 8 is cut), no complete month
    assert result.summary["wau"] is None and result.summary["mau"] is None
    assert result.summary["sticky_wau"] is None
    # Feb 1 {A}, Feb 2 {A}, Feb 3 {}: (1 + 1 + 0) / 3
    assert result.summary["dau"] == pytest.approx(2 / 3, abs=1e-15)
    assert result.weekly["complete"].tolist() == [False, False]


def test_everything_after_the_observation_end() -> None:
    with pytest.raises(DataError, match="observation end"):
        engagement(_hand(), observation_end="2026-01-15")


def test_default_observation_end_is_last_visit_day() -> None:
    result = engagement(_hand())
    assert result.window.last_day == dt.date(2026, 3, 9)
    assert result.data_problems["after_observation_end"] == 0
    assert result.summary["users"] == 5


# ---------------------------------------------------------------- plain pandas on 10k users
def _simulated() -> pd.DataFrame:
    rng = np.random.default_rng(14)
    start = pd.Timestamp("2025-01-01").value
    end = pd.Timestamp("2025-07-01").value
    n_buyers = 5_000
    first = start + np.sort(rng.integers(0, end - start, n_buyers))
    shares = np.array([0.5, 0.3, 0.2])
    visits = simulate_visits(
        rng,
        first,
        rng.choice(3, size=n_buyers, p=shares),
        shares,
        start_ns=start,
        end_ns=end,
        nonbuyers_per_buyer=1.0,
        cross_source_share=0.2,
        extra_visits_per_user=3.0,
    )
    visits["source_id"] = visits.pop("source_code").astype(str)
    visits = visits.loc[visits["start_ts"] >= pd.Timestamp(start)]
    return read_visits(visits, problems="report")


def _oracle(visits: pd.DataFrame, first: pd.Timestamp, last: pd.Timestamp) -> dict:
    day = visits["start_ts"].dt.normalize()
    v = visits.assign(day=day).loc[day <= last]
    length = v["end_ts"] - v["start_ts"]
    v = v.assign(
        ns=length.to_numpy().view("int64"), ok=v["end_ts"].notna() & (length >= pd.Timedelta(0))
    )
    days = pd.date_range(first, last, freq="D")
    dau = v.groupby("day")["uid"].nunique().reindex(days, fill_value=0)
    sessions = v.groupby("day").size().reindex(days, fill_value=0)
    med = v.loc[v["ok"]].groupby("day")["ns"].median().reindex(days) / 1e9
    week = v["day"] - pd.to_timedelta(v["day"].dt.day_of_week, unit="D")
    wau = v.groupby(week)["uid"].nunique()
    wau_full = wau[(wau.index >= first) & (wau.index + pd.Timedelta(days=6) <= last)]
    month = v["day"].dt.to_period("M").dt.start_time
    mau = v.groupby(month)["uid"].nunique()
    month_end = mau.index + pd.offsets.MonthEnd(0)
    mau_full = mau[(mau.index >= first) & (month_end <= last)]
    secs = v.loc[v["ok"], "ns"] // 10**9
    counts = secs.value_counts()
    mode = int(counts[counts == counts.max()].index.min())
    summary = {
        "users": v["uid"].nunique(),
        "sessions": len(v),
        "dau": dau.sum() / len(days),
        "wau": wau_full.mean(),
        "mau": mau_full.mean(),
        "sessions_per_user_per_day": len(v) / dau.sum(),
        "session_seconds_median": v.loc[v["ok"], "ns"].median() / 1e9,
        "session_seconds_mode": mode,
    }
    summary["sticky_wau"] = summary["dau"] / summary["wau"]
    summary["sticky_mau"] = summary["dau"] / summary["mau"]
    cohort = v.groupby("uid")["day"].min().dt.to_period("M")
    active = v.assign(p=v["day"].dt.to_period("M"))[["uid", "p"]].drop_duplicates()
    active["age"] = (active["p"] - active["uid"].map(cohort)).map(lambda off: off.n)
    active["cohort"] = active["uid"].map(cohort).dt.start_time
    retained = active.groupby(["cohort", "age"]).size()
    return {
        "dau": dau,
        "sessions": sessions,
        "median": med,
        "wau": wau,
        "mau": mau,
        "summary": summary,
        "retained": retained,
    }


@pytest.fixture(scope="module")
def simulated() -> tuple[pd.DataFrame, object, dict]:
    visits = _simulated()
    last = pd.Timestamp("2025-06-20")  # leaves later sessions out
    result = engagement(visits, observation_end=last.date())
    first = visits["start_ts"].min().normalize()
    return visits, result, _oracle(visits, first, last)


def test_simulated_summary_agrees_with_pandas(simulated: tuple) -> None:
    visits, result, oracle = simulated
    assert visits["uid"].nunique() == 10_000
    assert result.summary == oracle["summary"]
    n_after = int((visits["start_ts"].dt.normalize() > pd.Timestamp("2025-06-20")).sum())
    assert n_after > 0 and result.data_problems["after_observation_end"] == n_after


def test_simulated_tables_agree_with_pandas(simulated: tuple) -> None:
    _, result, oracle = simulated
    daily = result.daily.set_index("date")
    assert daily["dau"].tolist() == oracle["dau"].tolist()
    assert daily["sessions"].tolist() == oracle["sessions"].tolist()
    pd.testing.assert_series_equal(
        daily["session_seconds_median"], oracle["median"], check_names=False, check_freq=False
    )
    weekly = result.weekly.set_index("period_start")["wau"]
    assert weekly[weekly > 0].to_dict() == oracle["wau"].to_dict()
    assert result.monthly.set_index("period_start")["mau"].to_dict() == oracle["mau"].to_dict()
    retention = result.retention.set_index(["cohort", "age"])["active_users"]
    assert retention[retention > 0].to_dict() == oracle["retained"].to_dict()


def test_simulated_by_device_agrees_with_pandas(simulated: tuple) -> None:
    visits, result, _ = simulated
    first = visits["start_ts"].min().normalize()
    by_device = result.by_device.set_index("device")
    for device in ("desktop", "touch"):
        expected = _oracle(
            visits.loc[visits["device"] == device], first, pd.Timestamp("2025-06-20")
        )
        row = by_device.loc[device].to_dict()
        assert {k: row[k] for k in expected["summary"]} == expected["summary"]


def test_summary_function_matches_engagement() -> None:
    visits = _hand()
    one = engagement_summary(visits, observation_end="2026-03-08").to_dict("records")[0]
    assert one["dau"] == pytest.approx(8 / 36, abs=1e-15)
