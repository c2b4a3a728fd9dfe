"""Company covariates, the baseline-window landmark, episode splitting and the profile."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from clvmodels.errors import DataError, DataQualityWarning
from clvmodels.subscriptions.covariates import (
    activity_baseline,
    activity_episodes,
    company_covariates,
    profile,
)


def _subs() -> pd.DataFrame:
    """Four monthly customers (all first paid in January 2024 except 4)."""
    return pd.DataFrame(
        {
            "customer_id": [1, 2, 3, 4],
            "plan": ["a", "a", "b", "b"],
            "first_payment": pd.to_datetime(
                ["2024-01-10", "2024-01-05", "2024-01-20", "2024-03-01"]
            ),
            "T": [12, 12, 12, 10],
            "first_spell_periods": [2, 7, 12, 10],
            "first_spell_churned": [True, True, False, False],
            "churned": [True, True, False, False],
            "periods_paid": [2, 7, 12, 10],
            "revenue": [20.0, 70.0, 120.0, 100.0],
            "billing_period": "month",
        }
    )


def _activities() -> pd.DataFrame:
    month = pd.to_datetime
    return pd.DataFrame(
        {
            "company_id": [1, 1, 2, 2, 3, 3, 3, 3, 9],
            "month": month(
                [
                    "2024-01-01",
                    "2024-02-01",
                    "2024-01-01",
                    "2024-07-01",  # outside customer 2's 3-month window
                    "2024-01-01",
                    "2024-02-01",
                    "2024-03-01",
                    "2023-12-01",  # before the first payment
                    "2024-01-01",  # not a customer
                ]
            ),
            "invoices": [5, 5, 9, 100, 1, 2, 3, 50, 7],
        }
    )


def test_baseline_window_excludes_early_churners_and_counts_empty_months_as_zero() -> None:
    base = activity_baseline(_subs(), _activities(), measures=["invoices"], baseline_periods=3)
    # Customer 1 churned at period 2 (inside the 3-period window): not in the baseline Cox.
    assert base["customer_id"].tolist() == [2, 3, 4]
    assert base.attrs["excluded"] == 1
    assert (base["entry"] == 3).all()
    assert base["duration"].tolist() == [7, 11, 9]
    assert base["event"].tolist() == [1, 0, 0]
    # Customer 2: 9 in January, nothing in February and March -> mean 3; the July row is
    # after the window. Customer 3: (1 + 2 + 3) / 3; December 2023 is before it paid.
    # Customer 4 has no activity rows at all: 0.
    np.testing.assert_allclose(base["log2(1+invoices)"], np.log2(1 + np.array([3.0, 2.0, 0.0])))


def test_baseline_measures_default_to_the_numeric_columns() -> None:
    acts = _activities().assign(backups=1)
    base = activity_baseline(_subs(), acts, baseline_periods=1)
    assert [c for c in base.columns if c.startswith("log2")] == [
        "log2(1+invoices)",
        "log2(1+backups)",
    ]


def test_duplicate_activity_rows_are_an_error() -> None:
    acts = pd.concat([_activities(), _activities().iloc[:1]])
    with pytest.raises(DataError, match="more than one activity row"):
        activity_baseline(_subs(), acts)


def test_episodes_lag_the_activity_and_mark_only_the_last_churn_row() -> None:
    ep = activity_episodes(_subs(), _activities(), measures=["invoices"], lag_periods=1)
    one = ep[ep["customer_id"] == 1]
    # Duration 2 with lag 1: one row (1, 2], event 1, carrying period 1's activity (5).
    assert one[["period", "entry", "exit", "event"]].values.tolist() == [[2, 1, 2, 1]]
    assert one["log2(1+invoices)"].tolist() == [np.log2(6)]
    two = ep[ep["customer_id"] == 2]
    assert two["period"].tolist() == list(range(2, 8))
    assert two["event"].tolist() == [0, 0, 0, 0, 0, 1]
    # Row k reads period k - 1: January's 9 for k = 2, then empty months (0). Period 7
    # (July, its last paid month, 100 invoices) is never read.
    np.testing.assert_allclose(two["log2(1+invoices)"], np.log2([10, 1, 1, 1, 1, 1]))
    three = ep[ep["customer_id"] == 3]
    assert three["event"].sum() == 0 and len(three) == 10  # duration 11, rows 2..11
    np.testing.assert_allclose(three["log2(1+invoices)"].iloc[:2], np.log2([2, 3]))
    assert len(ep) == 1 + 6 + 10 + 8


def test_company_covariates_match_ids_exactly_and_count_missing() -> None:
    companies = pd.DataFrame(
        {"id": ["1", "2", "7"], "industry": ["x", "y", "z"], "size_band": ["1-10", "11-50", "1-10"]}
    )
    with pytest.warns(DataQualityWarning, match="2 customers have no row"):
        out = company_covariates([1, 2, 3, 4], companies)
    assert out["customer_id"].tolist() == [1, 2, 3, 4]
    assert out["industry"].tolist()[:2] == ["x", "y"]
    assert out["industry"].isna().tolist() == [False, False, True, True]
    assert out.attrs["missing_companies"] == 2
    with pytest.raises(DataError, match="no customer id matches"):
        company_covariates([8, 9], companies)
    with pytest.raises(DataError, match="duplicate ids"):
        company_covariates([1], pd.concat([companies, companies]))
    with pytest.raises(DataError, match="floats"):
        company_covariates([1.0, 2.0], companies)


def test_profile_per_group() -> None:
    companies = pd.DataFrame(
        {
            "id": [1, 2, 3],
            "industry": ["retail", "retail", "it"],
            "size_band": ["1-10", "11-50", "1-10"],
        }
    )
    people = pd.DataFrame(
        {
            "company_id": [1, 1, 1, 3],
            "user_id": [10, 11, 12, 13],
            "deleted_at": pd.to_datetime([None, None, "2024-05-01", None]),
        }
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = profile(_subs(), "plan", companies, people).set_index("plan")
    assert out.loc["a", "customers"] == 2 and out.loc["b", "customers"] == 2
    assert out.loc["a", "churned_share"] == 1.0 and out.loc["b", "churned_share"] == 0.0
    assert out.loc["a", "median_tenure_periods"] == 4.5
    assert out.loc["a", "mean_users"] == 1.0  # 2 active users and 0
    assert out.loc["b", "mean_users"] == 0.5  # 1 and none (company 4 has no people)
    assert out.loc["a", "share_1-10"] == 0.5 and out.loc["a", "share_11-50"] == 0.5
    assert out.loc["b", "share_it"] == 0.5 and out.loc["b", "share_industry_unknown"] == 0.5
    assert out.loc["b", "revenue_per_customer"] == 110.0
    assert profile(_subs())["group"].tolist() == ["all"]
