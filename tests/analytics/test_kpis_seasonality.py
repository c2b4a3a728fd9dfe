"""STL of revenue: a known weekly pattern is recovered, and it is statsmodels' own STL."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from statsmodels.tsa.seasonal import MSTL, STL

from clvmodels.analytics.kpis import seasonal_decomposition

#: Monday to Sunday, summing to 0.
PATTERN = np.array([10.0, -5.0, 0.0, 3.0, -8.0, 6.0, -6.0])


def daily_table(values: np.ndarray, *, last_complete: bool = True) -> pd.DataFrame:
    """A kpi_table-shaped frame of daily revenue starting on Monday 2024-01-01."""
    table = pd.DataFrame(
        {
            "period_start": pd.date_range("2024-01-01", periods=len(values), freq="D"),
            "revenue": values,
            "complete": True,
        }
    )
    table.loc[len(table) - 1, "complete"] = last_complete
    table.attrs["period"] = "day"
    return table


def weekly_series(n_days: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n_days)
    return 100.0 + 0.5 * t + PATTERN[t % 7] + rng.normal(0.0, 0.3, n_days)


def test_weekly_pattern_is_recovered_and_is_statsmodels_stl():
    values = weekly_series(140)  # 20 weeks
    result, info = seasonal_decomposition(daily_table(values))
    assert info["found"] and info["method"] == "STL" and info["periods"] == [7]
    assert list(result.columns) == ["period_start", "observed", "trend", "seasonal_7", "resid"]
    # the seasonal component, averaged by weekday over the middle weeks, is the pattern
    # within 0.5 (noise sd 0.3; STL's seasonal smoother shrinks a little at the ends)
    middle = result.iloc[28:112]
    by_weekday = middle.groupby(middle["period_start"].dt.day_of_week)["seasonal_7"].mean()
    np.testing.assert_allclose(by_weekday.to_numpy(), PATTERN, atol=0.5)
    assert info["strength"]["7"] > 0.9
    assert info["cycles"] == {"7": 20}
    direct = STL(values, period=7).fit()
    np.testing.assert_array_equal(result["seasonal_7"], direct.seasonal)
    np.testing.assert_array_equal(result["trend"], direct.trend)
    np.testing.assert_array_equal(result["resid"], direct.resid)
    np.testing.assert_allclose(result[["trend", "seasonal_7", "resid"]].sum(axis=1), values)


def test_partial_last_period_is_left_out():
    values = weekly_series(141)
    result, info = seasonal_decomposition(daily_table(values, last_complete=False))
    assert len(result) == 140 and info["n_periods"] == 140
    direct = STL(values[:140], period=7).fit()
    np.testing.assert_array_equal(result["seasonal_7"], direct.seasonal)


def test_not_enough_data():
    result, info = seasonal_decomposition(daily_table(weekly_series(13)))
    assert not info["found"] and info["method"] is None
    assert info["reason"] == "not enough data: 13 complete days, period 7 needs at least 14"
    assert len(result) == 0
    weekly = daily_table(np.ones(103))
    weekly.attrs["period"] = "week"
    assert "period 52 needs at least 104" in seasonal_decomposition(weekly)[1]["reason"]


@pytest.mark.parametrize(("n_days", "periods"), [(730, [7]), (731, [7, 365])])
def test_yearly_with_more_than_two_years_is_mstl(n_days, periods):
    t = np.arange(n_days)
    values = weekly_series(n_days) + 20.0 * np.sin(2 * np.pi * t / 365.0)
    result, info = seasonal_decomposition(daily_table(values))
    assert info["periods"] == periods
    if len(periods) == 1:
        return
    assert info["method"] == "MSTL"
    direct = MSTL(values, periods=(7, 365)).fit()
    np.testing.assert_array_equal(result["seasonal_7"], direct.seasonal[:, 0])
    np.testing.assert_array_equal(result["seasonal_365"], direct.seasonal[:, 1])
    np.testing.assert_array_equal(result["resid"], direct.resid)
    # the yearly wave (amplitude 20) is found, away from the ends
    inner = slice(60, n_days - 60)
    wave = 20.0 * np.sin(2 * np.pi * t / 365.0)
    assert np.max(np.abs(result["seasonal_365"].to_numpy()[inner] - wave[inner])) < 5.0


def test_two_cycles_are_stable_under_tiny_changes():
    """With two cycles each seasonal sub-series has two points; the fit stays continuous."""
    rng = np.random.default_rng(5)
    values = 1000.0 + rng.normal(0.0, 50.0, 104)
    weekly = daily_table(values)
    weekly.attrs["period"] = "week"
    _, info = seasonal_decomposition(weekly)
    nudged = weekly.assign(revenue=values * (1 + 1e-12 * rng.standard_normal(104)))
    _, again = seasonal_decomposition(nudged)
    assert info["periods"] == [52] and info["cycles"] == {"52": 2}
    assert again["strength"]["52"] == pytest.approx(info["strength"]["52"], abs=1e-6)
