"""KPIs per period: a hand-worked fixture, and plain pandas on simulated orders."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from clvmodels.analytics.kpis import kpi_summary, kpi_table, seasonal_decomposition
from clvmodels.errors import DataError
from clvmodels.examples.simulate import simulate_orders

NAN = float("nan")


@pytest.fixture
def hand_orders() -> pd.DataFrame:
    """Four customers over four ISO weeks; 2024-01-01 is a Monday, the last order a Wednesday."""
    rows = [
        ("A", "2024-01-01 10:00", 10.0),
        ("B", "2024-01-02 23:59", 5.0),
        ("A", "2024-01-03 08:00", 20.0),
        ("C", "2024-01-10 09:00", 40.0),
        ("C", "2024-01-10 18:00", 10.0),
        ("A", "2024-01-15 12:00", 30.0),
        ("B", "2024-01-16 00:00", 15.0),
        ("D", "2024-01-24 16:30", 50.0),
    ]
    frame = pd.DataFrame(rows, columns=["customer_id", "timestamp", "revenue"])
    frame["timestamp"] = pd.to_datetime(frame["timestamp"])
    return frame


def assert_column(table: pd.DataFrame, column: str, expected: list[float]) -> None:
    np.testing.assert_allclose(table[column].to_numpy(float), expected, rtol=1e-12, equal_nan=True)


def test_weekly_by_hand(hand_orders):
    table = kpi_table(hand_orders, period="week")
    # weeks of Jan 1 (A 10+20, B 5), Jan 8 (C 40+10), Jan 15 (A 30, B 15), Jan 22 (D 50)
    assert list(table["period_start"].dt.strftime("%Y-%m-%d")) == [
        "2024-01-01",
        "2024-01-08",
        "2024-01-15",
        "2024-01-22",
    ]
    assert_column(table, "revenue", [35, 50, 45, 50])
    assert list(table["orders"]) == [3, 2, 2, 1]
    assert list(table["buyers"]) == [2, 1, 2, 1]
    assert list(table["new_buyers"]) == [2, 1, 0, 1]
    assert list(table["returning_buyers"]) == [0, 0, 2, 0]
    assert_column(table, "average_order_value", [35 / 3, 25, 22.5, 50])
    assert_column(table, "revenue_per_buyer", [17.5, 50, 22.5, 50])
    assert_column(table, "revenue_growth", [NAN, 50 / 35 - 1, 45 / 50 - 1, 50 / 45 - 1])
    assert_column(table, "buyers_growth", [NAN, -0.5, 1.0, -0.5])
    # weekly windows are 4 and 13 weeks: full only at the fourth week
    assert_column(table, "revenue_rolling_4", [NAN, NAN, NAN, (35 + 50 + 45 + 50) / 4])
    assert_column(table, "orders_rolling_4", [NAN, NAN, NAN, 2.0])
    assert table["revenue_rolling_13"].isna().all()
    # the observation end (the last order's day, Wednesday Jan 24) is inside the last week
    assert list(table["complete"]) == [True, True, True, False]
    assert table.attrs["customers"] == 4
    assert table.attrs["data_problems"] == {"after_observation_end": 0}


def test_daily_by_hand_with_empty_days_and_rolling_means(hand_orders):
    table = kpi_table(hand_orders, period="day")
    assert len(table) == 24  # Jan 1 to Jan 24, days without orders included
    by_day = {day: 0.0 for day in range(1, 25)}
    by_day.update({1: 10, 2: 5, 3: 20, 10: 50, 15: 30, 16: 15, 24: 50})
    assert_column(table, "revenue", list(by_day.values()))
    day = table.set_index(table["period_start"].dt.day)
    assert day.loc[5, "orders"] == 0 and day.loc[5, "buyers"] == 0
    assert math.isnan(day.loc[5, "average_order_value"])
    assert math.isnan(day.loc[5, "revenue_per_buyer"])
    assert day.loc[10, "orders"] == 2 and day.loc[10, "buyers"] == 1
    assert day.loc[10, "average_order_value"] == 25.0
    assert day.loc[2, "revenue_growth"] == pytest.approx(5 / 10 - 1)
    assert day.loc[4, "revenue_growth"] == pytest.approx(-1.0)  # 0 after 20
    assert math.isnan(day.loc[5, "revenue_growth"])  # 0 after 0
    assert day.loc[11, "revenue_growth"] == pytest.approx(-1.0)  # 0 after 50: -100%
    # 7-day trailing means: NaN on days 1-6, then the mean of the last seven days
    assert table["revenue_rolling_7"].iloc[:6].isna().all()
    assert day.loc[7, "revenue_rolling_7"] == pytest.approx((10 + 5 + 20) / 7)
    assert day.loc[10, "revenue_rolling_7"] == pytest.approx(50 / 7)  # Jan 4 to Jan 10
    assert day.loc[16, "revenue_rolling_7"] == pytest.approx((50 + 30 + 15) / 7)
    assert day.loc[16, "orders_rolling_7"] == pytest.approx(4 / 7)
    assert table["revenue_rolling_28"].isna().all()  # 24 days: never a full window
    assert table["complete"].all()  # a day is always complete
    assert list(day.loc[[1, 2, 10, 15, 16, 24], "new_buyers"]) == [1, 1, 1, 0, 0, 1]


def test_monthly_partial_and_observation_end(hand_orders):
    month = kpi_table(hand_orders, period="month")
    assert len(month) == 1
    assert month["revenue"].iloc[0] == 180.0
    assert (month["orders"].iloc[0], month["buyers"].iloc[0]) == (8, 4)
    assert not month["complete"].iloc[0]
    cut = kpi_table(hand_orders, period="week", observation_end="2024-01-16")
    assert len(cut) == 3  # D's order of Jan 24 is after the end
    assert cut.attrs["data_problems"] == {"after_observation_end": 1}
    assert cut.attrs["n_orders_used"] == 7
    assert list(cut["complete"]) == [True, True, False]  # Tuesday Jan 16 ends inside week 3
    full = kpi_table(hand_orders, period="week", observation_end="2024-01-28")
    assert full["complete"].all()  # Sunday Jan 28 ends the week
    summary = kpi_summary(cut, seasonal_decomposition(cut)[1])
    assert summary["last_complete_period"]["period_start"] == "2024-01-08"
    assert summary["last_complete_period"]["revenue"] == 50.0
    assert summary["seasonality"]["found"] is False
    assert "not enough data" in summary["seasonality"]["reason"]


def test_bad_input(hand_orders):
    with pytest.raises(DataError, match="before the first order"):
        kpi_table(hand_orders, observation_end="2023-12-31")
    with pytest.raises(ValueError, match="period must be"):
        kpi_table(hand_orders, period="quarter")
    with pytest.raises(DataError, match="revenue"):
        kpi_table(hand_orders.drop(columns="revenue"))


def pandas_kpis(orders: pd.DataFrame, period: str, windows: tuple[int, int]) -> pd.DataFrame:
    """The KPI table the plain pandas way (the oracle)."""
    day = orders["timestamp"].dt.normalize()
    if period == "day":
        start, freq = day, "D"
    elif period == "week":
        start, freq = day - pd.to_timedelta(day.dt.day_of_week, unit="D"), "W-MON"
    else:
        start, freq = day.dt.to_period("M").dt.start_time, "MS"
    frame = orders.assign(start=start)
    grouped = frame.groupby("start")
    table = pd.DataFrame(
        {
            "revenue": grouped["revenue"].sum(),
            "orders": grouped.size(),
            "buyers": grouped["customer_id"].nunique(),
            "new_buyers": frame.groupby("customer_id")["start"].min().value_counts(),
        }
    )
    table = table.reindex(pd.date_range(table.index.min(), table.index.max(), freq=freq))
    table = table.fillna(0)
    table["returning_buyers"] = table["buyers"] - table["new_buyers"]
    table["average_order_value"] = table["revenue"] / table["orders"].replace(0, np.nan)
    table["revenue_per_buyer"] = table["revenue"] / table["buyers"].replace(0, np.nan)
    table["revenue_growth"] = table["revenue"] / table["revenue"].shift().replace(0, np.nan) - 1
    table["buyers_growth"] = table["buyers"] / table["buyers"].shift().replace(0, np.nan) - 1
    for n in windows:
        for column in ("revenue", "orders"):
            table[f"{column}_rolling_{n}"] = table[column].rolling(n).mean()
    return table


@pytest.mark.parametrize(
    ("period", "windows"), [("day", (7, 28)), ("week", (4, 13)), ("month", (3, 12))]
)
def test_agrees_with_plain_pandas_on_simulated_orders(period, windows):
    orders, _ = simulate_orders(10_000, seed=11, observation_days=400)
    expected = pandas_kpis(orders, period, windows)
    table = kpi_table(orders, period=period)
    assert list(table["period_start"]) == list(expected.index)
    for column in ("orders", "buyers", "new_buyers", "returning_buyers"):
        assert table[column].tolist() == expected[column].astype(int).tolist(), column
    # sums of floats in another order: equal to the last bits
    for column in expected.columns.drop(["orders", "buyers", "new_buyers", "returning_buyers"]):
        np.testing.assert_allclose(
            table[column].to_numpy(float),
            expected[column].to_numpy(float),
            rtol=1e-10,
            equal_nan=True,
            err_msg=column,
        )
    assert table.attrs["customers"] == orders["customer_id"].nunique()
