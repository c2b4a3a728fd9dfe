"""The ``litt`` RFM column: the sum of log inter-occasion times, against pandas written here."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from clvmodels.data.contract import OrdersSource
from clvmodels.examples.simulate import simulate_orders
from clvmodels.summaries.rfm import rfm_summary

DAYS = {"D": 1.0, "W": 7.0, "M": 365.25 / 12.0}


def pandas_litt(orders: pd.DataFrame, calibration_end: str | None, days: float) -> pd.Series:
    """Sum of log(gap / days) over consecutive distinct order days up to the calibration end."""
    day = orders["timestamp"].dt.normalize()
    frame = pd.DataFrame({"customer_id": orders["customer_id"], "day": day})
    if calibration_end is not None:
        frame = frame[frame["day"] <= pd.Timestamp(calibration_end)]
    out = {}
    for cid, group in frame.groupby("customer_id"):
        unique_days = np.sort(group["day"].unique())
        gaps = np.diff(unique_days).astype("timedelta64[D]").astype(float)
        out[cid] = float(np.sum(np.log(gaps / days))) if len(gaps) else 0.0
    return pd.Series(out, name="litt").sort_index()


def small_orders() -> pd.DataFrame:
    rows = [
        (1, "2024-01-01 08:00"),
        (1, "2024-01-01 19:00"),  # same day: one occasion
        (1, "2024-01-08 12:00"),  # 7 days
        (1, "2024-01-22 00:00"),  # 14 days
        (1, "2024-03-01 00:00"),  # after the calibration end below
        (2, "2024-01-05 10:00"),  # one-time buyer
        (3, "2024-01-02 00:00"),
        (3, "2024-01-03 23:59"),  # 1 day: log(1/7) < 0 in weeks
        (3, "2024-01-03 01:00"),
        (4, "2024-02-20 00:00"),  # first order after the calibration end
        (4, "2024-03-01 00:00"),
    ]
    frame = pd.DataFrame(rows, columns=["customer_id", "timestamp"])
    frame["timestamp"] = pd.to_datetime(frame["timestamp"])
    frame["revenue"] = 10.0
    return frame


@pytest.mark.parametrize("unit", ["D", "W", "M"])
@pytest.mark.parametrize("calibration_end", [None, "2024-02-01"])
def test_litt_equals_pandas(unit, calibration_end):
    orders = small_orders()
    rfm = rfm_summary(orders, time_unit=unit, calibration_end=calibration_end)
    expected = pandas_litt(orders, calibration_end, DAYS[unit])
    got = rfm.set_index("customer_id")["litt"].sort_index()
    assert list(got.index) == list(expected.index)
    np.testing.assert_allclose(got.to_numpy(), expected.to_numpy(), rtol=1e-12, atol=1e-12)
    # written out for customer 1 (7 and 14 days) and 3 (1 day), in weeks
    if unit == "W" and calibration_end is not None:
        assert got[1] == pytest.approx(np.log(1.0) + np.log(2.0))
        assert got[2] == 0.0
        assert got[3] == pytest.approx(np.log(1 / 7))
    assert list(rfm.columns[:5]) == ["customer_id", "frequency", "recency", "T", "litt"]


def test_litt_of_simulated_orders_with_a_calibration_cut():
    orders, _ = simulate_orders(300, seed=5, start="2024-01-01")
    cal = "2024-06-30"
    rfm = rfm_summary(orders, time_unit="W", calibration_end=cal)
    expected = pandas_litt(orders, cal, 7.0)
    got = rfm.set_index("customer_id")["litt"].sort_index()
    np.testing.assert_allclose(got.to_numpy(), expected.loc[got.index].to_numpy(), atol=1e-9)
    assert (got[rfm.set_index("customer_id")["frequency"] == 0] == 0.0).all()
    assert (got != 0).sum() > 20  # the comparison covers many repeat buyers


def test_litt_without_revenue_column():
    orders = small_orders().drop(columns="revenue")
    rfm = rfm_summary(OrdersSource(orders, revenue_col=None), time_unit="W")
    assert "litt" in rfm.columns and "monetary_value" not in rfm.columns
