"""RFM summaries: the published CDNOW summary, an independent pandas computation, invariants."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clvmodels.errors import DataError
from clvmodels.models.inputs import collapse_rfm
from clvmodels.summaries.rfm import rfm_summary


def test_cdnow_equals_published_summary(cdnow_rfm, cdnow_summary):
    assert len(cdnow_rfm) == len(cdnow_summary) == 2357
    merged = cdnow_rfm.merge(
        cdnow_summary,
        left_on="customer_id",
        right_on="ID",
        suffixes=("", "_ref"),
        validate="one_to_one",
    )
    assert len(merged) == 2357
    assert (merged["frequency"] == merged["frequency_ref"]).all()
    # the published file is rounded to 2 decimals
    np.testing.assert_allclose(merged["recency"], merged["recency_ref"], atol=0.005)
    np.testing.assert_allclose(merged["T"], merged["T_ref"], atol=0.005)


def pandas_rfm(
    orders: pd.DataFrame, calibration_end: str, observation_end: str, days_per_unit: float
) -> pd.DataFrame:
    """An independent, deliberately plain implementation of docs/definitions.md's definitions."""
    cal, obs = pd.Timestamp(calibration_end), pd.Timestamp(observation_end)
    day = orders.assign(day=orders["timestamp"].dt.normalize())
    occ = day[day["day"] <= obs].groupby(["customer_id", "day"], as_index=False)["revenue"].sum()
    rows = []
    for cid, group in occ.groupby("customer_id"):
        group = group.sort_values("day")
        cal_part = group[group["day"] <= cal]
        if cal_part.empty:
            continue
        hold = group[group["day"] > cal]
        x = len(cal_part) - 1
        gaps = cal_part["day"].diff().dt.days.iloc[1:] / days_per_unit
        rows.append(
            {
                "customer_id": cid,
                "frequency": x,
                "recency": (cal_part["day"].max() - cal_part["day"].min()).days / days_per_unit,
                "T": (cal - cal_part["day"].min()).days / days_per_unit,
                "litt": float(np.log(gaps).sum()),
                "monetary_value": cal_part["revenue"].iloc[1:].mean() if x else 0.0,
                "frequency_holdout": len(hold),
                "monetary_value_holdout": hold["revenue"].mean() if len(hold) else 0.0,
                "duration_holdout": (obs - cal).days / days_per_unit,
            }
        )
    return pd.DataFrame(rows)


def test_holdout_columns_equal_independent_pandas(cdnow_orders, cdnow_rfm):
    expected = pandas_rfm(cdnow_orders, "1997-09-30", "1998-06-30", 7.0)
    pd.testing.assert_frame_equal(
        cdnow_rfm.reset_index(drop=True), expected, check_dtype=False, atol=1e-9, rtol=0
    )


def test_orders_after_observation_end_are_not_used(cdnow_orders):
    early = rfm_summary(cdnow_orders, time_unit="D", observation_end="1997-03-31")
    assert early["T"].max() == (pd.Timestamp("1997-03-31") - pd.Timestamp("1997-01-01")).days
    assert early.attrs["calibration_end"] == "1997-03-31"
    truncated = cdnow_orders[cdnow_orders["timestamp"] <= "1997-03-31"]
    pd.testing.assert_frame_equal(early, rfm_summary(truncated, time_unit="D"))


def test_units_are_days_weeks_and_months(cdnow_orders):
    days = rfm_summary(cdnow_orders, time_unit="D", observation_end="1997-09-30")
    weeks = rfm_summary(cdnow_orders, time_unit="W", observation_end="1997-09-30")
    months = rfm_summary(cdnow_orders, time_unit="M", observation_end="1997-09-30")
    np.testing.assert_allclose(weeks["T"], days["T"] / 7)
    np.testing.assert_allclose(months["recency"], days["recency"] / (365.25 / 12))


def test_calibration_end_after_observation_end_is_an_error(cdnow_orders):
    with pytest.raises(DataError, match="after the observation end"):
        rfm_summary(cdnow_orders, calibration_end="1998-01-01", observation_end="1997-06-01")
    with pytest.raises(DataError, match="before the first order"):
        rfm_summary(cdnow_orders, observation_end="1990-01-01")


def test_collapse_restores_rows(cdnow_rfm):
    collapsed = collapse_rfm(cdnow_rfm)
    assert collapsed.tuples["n_customers"].sum() == len(cdnow_rfm)
    restored = collapsed.tuples.iloc[collapsed.inverse][["frequency", "recency", "T"]]
    np.testing.assert_array_equal(
        restored.to_numpy(), cdnow_rfm[["frequency", "recency", "T"]].to_numpy()
    )


orders_strategy = st.lists(
    st.tuples(st.integers(1, 6), st.integers(0, 400), st.floats(0.01, 500)),
    min_size=1,
    max_size=40,
)


@settings(max_examples=60, deadline=None)
@given(rows=orders_strategy, unit=st.sampled_from(["D", "W", "M"]))
def test_rfm_invariants(rows, unit):
    start = pd.Timestamp("2024-01-01")
    orders = pd.DataFrame(
        {
            "customer_id": [r[0] for r in rows],
            "timestamp": [start + pd.Timedelta(hours=r[1] * 7) for r in rows],
            "revenue": [r[2] for r in rows],
        }
    )
    rfm = rfm_summary(orders, time_unit=unit)
    assert (rfm["recency"] >= 0).all() and (rfm["recency"] <= rfm["T"] + 1e-12).all()
    assert (rfm["frequency"] >= 0).all() and rfm["frequency"].dtype == np.int64
    assert (rfm.loc[rfm["frequency"] == 0, "monetary_value"] == 0).all()
    assert (rfm.loc[rfm["frequency"] > 0, "monetary_value"] > 0).all()
    assert set(rfm["customer_id"]) == set(orders["customer_id"])


def test_parquet_and_csv_files_give_the_same_summary(cdnow_orders, cdnow_rfm, tmp_path):
    """The lean path: DuckDB reads the file itself, without pandas in between."""
    parquet, csv = tmp_path / "orders.parquet", tmp_path / "orders.csv"
    cdnow_orders.to_parquet(parquet)
    cdnow_orders.to_csv(csv, index=False)
    for source in (parquet, csv):
        from_file = rfm_summary(
            source, time_unit="W", calibration_end="1997-09-30", observation_end="1998-06-30"
        )
        pd.testing.assert_frame_equal(from_file, cdnow_rfm)
        assert from_file.attrs == cdnow_rfm.attrs


def test_file_route_checks_columns_and_values(cdnow_orders, tmp_path):
    renamed = tmp_path / "renamed.parquet"
    cdnow_orders.rename(columns={"revenue": "amount"}).to_parquet(renamed)
    with pytest.raises(DataError, match="no column 'revenue'"):
        rfm_summary(renamed)
    negative = tmp_path / "negative.parquet"
    cdnow_orders.assign(revenue=cdnow_orders["revenue"] - 20).to_parquet(negative)
    with pytest.raises(DataError, match=r"column 'revenue': negative revenue \(refunds\)"):
        rfm_summary(negative)


def test_nanosecond_timestamps_count_on_their_own_day():
    """DuckDB rounds TIMESTAMP_NS to microseconds when casting to DATE; we floor, as pandas does."""
    stamps = ["2024-01-01 10:00:00", "2024-01-01 23:59:59.9999996", "2024-01-03 00:00:00"]
    orders = pd.DataFrame(
        {
            "customer_id": [1, 1, 2],
            "timestamp": pd.to_datetime(stamps, format="ISO8601"),
            "revenue": [1.0, 2.0, 3.0],
        }
    )
    rfm = rfm_summary(orders, time_unit="D").set_index("customer_id")
    days = orders["timestamp"].dt.floor("D")  # pandas' own day of each order: the oracle
    assert days.iloc[0] == days.iloc[1]
    assert rfm.loc[1, "frequency"] == 0  # both orders on 2024-01-01
    assert rfm.loc[1, "T"] == (days.max() - days.iloc[0]).days
