"""simulate_subscriptions: its truth is exactly true and recovered.

The simulator draws each company's churn period from S(t|x) = S_plan(t)^HR(x). The tests
check, on 20,000 companies (seeded):

* the per-plan sBG survival on reference companies (size 1-10, normal activity) with an
  estimator written here: among companies observed for at least t + 1 renewals, the share
  still in their first spell after period t is Binomial(m, S_plan(t));
* the size-band and low-activity hazard ratios recovered by ``cox`` (stratified by plan)
  within 3 standard errors, with the true activity state, and with the state measured in
  the 3-period baseline window (a landmark: only time after period 3 is used);
* the billing table against the per-company truth with pandas' own month arithmetic.

The durations come from the truth's SUBS fields (first_spell_periods, T,
first_spell_churned), which follow the brief's billing rules.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.special import betaln

from clvmodels.examples.subscriptions import BILLING_COLUMNS, simulate_subscriptions
from clvmodels.subscriptions.covariates import activity_baseline, company_covariates
from clvmodels.subscriptions.survival import cox, survival_durations

Z94 = stats.norm.ppf(0.97)


@pytest.fixture(scope="module")
def tables():
    return simulate_subscriptions(20_000, seed=0)


@pytest.fixture(scope="module")
def customers(tables):
    return tables.truth["customers"].assign(billing_period="month")


def _within_3_se(table: pd.DataFrame, truth: dict[str, float]) -> None:
    table = table.set_index("covariate")
    for name, hr in truth.items():
        row = table.loc[name]
        se = (np.log(row["hr_high"]) - np.log(row["hr_low"])) / (2 * Z94)
        assert abs(row["coefficient"] - np.log(hr)) < 3 * se, (name, row["hazard_ratio"], hr)


def _size_truth(truth: dict) -> dict[str, float]:
    ref = truth["reference"]["size_band"]
    return {
        f"size_band={band} (vs {ref})": hr
        for band, hr in truth["hazard_ratios"]["size_band"].items()
        if band != ref
    }


def test_reference_companies_follow_the_plan_sbg(customers, tables) -> None:
    ref = customers[(customers["size_band"] == "1-10") & ~customers["low_activity"]]
    for plan, spec in tables.truth["plans"].items():
        mine = ref[ref["plan"] == plan]
        for t in (1, 3, 6, 12, 24):
            seen = mine[mine["T"] >= t + 2]
            survived = ~seen["first_spell_churned"] | (seen["first_spell_periods"] > t)
            s_t = np.exp(
                betaln(spec["alpha"], spec["beta"] + t) - betaln(spec["alpha"], spec["beta"])
            )
            se = np.sqrt(s_t * (1 - s_t) / len(seen))
            assert abs(survived.mean() - s_t) < 3 * se, (plan, t, survived.mean(), s_t)


def test_cox_recovers_size_and_low_activity_hazard_ratios(customers, tables) -> None:
    duration, event = survival_durations(
        customers["first_spell_periods"], customers["T"], customers["first_spell_churned"]
    )
    x = customers[["size_band", "low_activity", "industry"]]
    table = cox(duration, event, x, strata=customers["plan"])
    truth = tables.truth
    _within_3_se(
        table,
        {
            **_size_truth(truth),
            "low_activity=True (vs False)": truth["hazard_ratios"]["low_activity"],
        },
    )
    industry = table[table["covariate"].str.startswith("industry=")]
    assert len(industry) == 4 and (industry["p_value"] > 0.001).all()  # no effect


def test_baseline_activity_recovers_the_low_activity_hazard_ratio(customers, tables) -> None:
    base = activity_baseline(customers, tables.activities, baseline_periods=3)
    reached = ~customers["first_spell_churned"] & (customers["T"] - 1 > 3)
    reached |= customers["first_spell_churned"] & (customers["first_spell_periods"] > 3)
    assert len(base) == reached.sum() and base.attrs["excluded"] == (~reached).sum()
    assert (base["duration"] > 3).all() and (base["entry"] == 3).all()
    state = customers.set_index("customer_id").loc[base["customer_id"]]
    # Poisson(2) vs Poisson(30) invoices a month: the window separates the two states.
    measured_low = base["log2(1+invoices)"].to_numpy() < np.log2(1 + 10)
    assert (measured_low == state["low_activity"].to_numpy()).mean() > 0.999
    companies = company_covariates(base["customer_id"], tables.companies, columns=["size_band"])
    x = pd.DataFrame({"size_band": companies["size_band"], "low_activity": measured_low})
    table = cox(
        base["duration"], base["event"], x, entry=base["entry"], strata=state["plan"].to_numpy()
    )
    truth = tables.truth
    _within_3_se(
        table,
        {
            **_size_truth(truth),
            "low_activity=True (vs False)": truth["hazard_ratios"]["low_activity"],
        },
    )


def test_billing_table_matches_the_truth(tables, customers) -> None:
    billing = tables.billing
    assert tuple(billing.columns) == BILLING_COLUMNS
    assert tuple(tables.companies.columns) == (
        "id", "industry", "size_band", "created_at", "current_plan", "payment_expired",
    )  # fmt: skip
    assert tuple(tables.activities.columns) == (
        "company_id", "month", "invoices", "warehouses", "backups", "projects",
        "counterparties", "material_orders",
    )  # fmt: skip
    assert tuple(tables.people.columns) == (
        "company_id",
        "user_id",
        "role",
        "created_at",
        "deleted_at",
    )
    assert (billing["status"] == "failed").sum() > 0
    assert billing.duplicated().sum() > 0
    refunds = billing[billing["comment"] == "refund"]
    assert (
        len(refunds) > 0
        and (refunds["amount"] < 0).all()
        and (refunds["status"] == "success").all()
    )
    assert (customers["reactivations"] > 0).sum() > 0 and customers["annual_prepay"].sum() > 0
    assert tables.people["deleted_at"].notna().sum() > 0
    assert (customers["plan_last"] != customers["plan"]).sum() > 0  # upgrades
    paid_rows = billing[(billing["status"] == "success") & (billing["amount"] > 0)]
    ordered = paid_rows.drop_duplicates().sort_values(["company_id", "payment_date"])
    before = ordered.groupby("company_id")["paid_until"].shift()
    assert (ordered["payment_date"] < before).sum() > 0  # renewals paid early: overlaps
    paid = billing[(billing["status"] == "success") & (billing["amount"] > 0)]
    obs_end = paid["payment_date"].max()
    assert obs_end == tables.truth["observation_end"]
    one = customers.set_index("customer_id")
    first = paid.groupby("company_id")["payment_date"].min()
    assert (first.loc[one.index] == one["first_payment"]).all()
    # T: whole months from the first payment to the observation end, plus one.
    months = (obs_end.year - first.dt.year) * 12 + obs_end.month - first.dt.month
    months = months - (obs_end.day < first.dt.day)
    assert (months.loc[one.index] + 1 == one["T"]).all()
    # A company without reactivation paid until first_payment + first_spell_periods months.
    single = one[one["reactivations"] == 0].iloc[:3000]
    until = paid.groupby("company_id")["paid_until"].max().loc[single.index]
    expected = [
        d + pd.DateOffset(months=int(k))
        for d, k in zip(single["first_payment"], single["first_spell_periods"], strict=True)
    ]
    assert (until.to_numpy() == np.array(expected, dtype="datetime64[s]")).all()
    assert (single["first_spell_churned"] == (until < obs_end)).all()
    # Revenue: paid amounts minus refunds, exact duplicates dropped.
    success = billing[billing["status"] == "success"]
    keys = ["company_id", "payment_date", "paid_until", "amount"]
    revenue = success.drop_duplicates(keys).groupby("company_id")["amount"].sum()
    np.testing.assert_allclose(revenue.loc[one.index], one["revenue"])


def test_simulation_is_deterministic() -> None:
    a, b = simulate_subscriptions(300, seed=5), simulate_subscriptions(300, seed=5)
    for name in ("billing", "companies", "activities", "people"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name))
    assert not simulate_subscriptions(300, seed=6).billing.equals(a.billing)
