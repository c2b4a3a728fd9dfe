"""Payback and budget with a model fitted with covariates: each buyer at their own parameters.

The oracle is the covariate-free BG/NBD at each customer's parameters, written out here
(alpha_i = alpha exp(-g_p z_i), a_i = a exp(g_a z_i), b_i = b exp(g_b z_i), z_i = 1 for the
non-reference tier), and the closed form of a new customer's E[X(t)] (FHL05 eq. 9).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from click.testing import CliRunner
from conftest import BGNBD_PUBLISHED, GAMMA_GAMMA_PUBLISHED, fixed_posterior
from test_acquisition import HAND_END, HAND_MARGIN, cli_args, hand, hand_files, run_hand

from clvmodels.cli.acquisition import budget, payback
from clvmodels.errors import DataError
from clvmodels.marketing.budget import budget_recommendation, revenue_forecast
from clvmodels.marketing.sources import source_scales
from clvmodels.model import CLVModel
from clvmodels.models.bgnbd import BetaGeoModel, expected_purchases_new_customer
from clvmodels.models.covariates import fit_encoding
from clvmodels.models.gamma_gamma import GammaGammaModel
from clvmodels.persistence import save_model
from clvmodels.summaries.rfm import rfm_summary

__all__ = ["hand", "hand_files"]

N_DRAWS = 20
TIERS = {"u1": "gold", "u2": "basic", "u3": "gold", "u4": "basic", "u5": "gold", "u6": "basic"}
WEEKS_PER_MONTH = 365.25 / 12 / 7


def customers_table() -> pd.DataFrame:
    ids = [*TIERS, "u7"]
    return pd.DataFrame({"customer_id": ids, "tier": [*TIERS.values(), "basic"]})


def covariate_model(gamma: tuple[float, float, float] = (0.8, -0.5, 0.7)) -> CLVModel:
    """BG/NBD at the published parameters for the reference tier, tier effects ``gamma``."""
    encoding = fit_encoding(customers_table(), ["tier"], ["tier"])
    base = fixed_posterior(BGNBD_PUBLISHED, n_draws=N_DRAWS, seed=3)
    rng = np.random.default_rng(5)
    coefficients = {
        name: (("chain", "draw", "feature"), (g + rng.normal(0, 0.05, N_DRAWS)).reshape(1, -1, 1))
        for name, g in zip(
            ("purchase_coefficient_alpha", "dropout_coefficient_a", "dropout_coefficient_b"),
            gamma,
            strict=True,
        )
    }
    posterior = xr.merge([base, xr.Dataset(coefficients, coords=base.coords)])
    transaction = BetaGeoModel.from_posterior(posterior, method="mcmc", encoding=encoding)
    spend = GammaGammaModel.from_posterior(
        fixed_posterior(GAMMA_GAMMA_PUBLISHED, n_draws=N_DRAWS, seed=4), method="mcmc"
    )
    return CLVModel.from_posteriors(
        transaction, spend, time_unit="W", data_info={"calibration_end": HAND_END}
    )


def own_parameters(model: CLVModel, tier: str, factors: dict | None = None) -> dict:
    """Customer parameter draws of ``tier``, written out from the posterior."""
    tm = model.transaction_model_
    z = 0.0 if tier == tm.encoding_.column("tier").reference else 1.0
    f = factors or {}
    post = tm.posterior_
    draw = {k: post[k].values.reshape(-1) * f.get(k, 1.0) for k in ("r", "alpha", "a", "b")}
    g_p, g_a, g_b = (
        post[name].values.reshape(-1)
        for name in ("purchase_coefficient_alpha", "dropout_coefficient_a", "dropout_coefficient_b")
    )
    return {
        "r": draw["r"],
        "alpha": draw["alpha"] * np.exp(-g_p * z),
        "a": draw["a"] * np.exp(g_a * z),
        "b": draw["b"] * np.exp(g_b * z),
    }


def plain(params: dict) -> BetaGeoModel:
    return BetaGeoModel.from_posterior({k: v for k, v in params.items()}, method="mcmc")


def future_value(
    model: CLVModel, orders: pd.DataFrame, ids: list[str], weeks: float, tiers: dict | None = None
) -> np.ndarray:
    """Sum over ``ids`` of P(alive) N(t) E[spend | x, mx] per draw, each at own parameters."""
    tiers = tiers or TIERS
    rfm = rfm_summary(orders, time_unit="W", observation_end=HAND_END).set_index("customer_id")
    total = np.zeros(N_DRAWS)
    for customer in ids:
        one = rfm.loc[[customer]].reset_index()
        purchases = plain(own_parameters(model, tiers[customer])).expected_purchases(one, weeks)
        spend = model.spend_model_.expected_spend(one)
        total += (purchases * spend)[:, 0]
    return total


def test_each_buyer_is_predicted_at_their_own_covariates(hand):
    model = covariate_model()
    result = run_hand(
        hand, model=model, customers=customers_table(), source_adjustment=False, n_draws=None
    )
    weeks = (pd.Timestamp("2024-08-01") - pd.Timestamp("2024-05-01")).days / 7
    expected = (135.0 + HAND_MARGIN * future_value(model, hand[0], ["u1", "u2"], weeks)) / 2
    row = result.cells.loc[
        (result.cells["cohort"] == "2024-01-01") & (result.cells["source_id"] == "ads")
    ].iloc[0]
    assert row["predicted_ltv_6"] == pytest.approx(expected.mean(), rel=1e-9)
    assert row["predicted_ltv_6_low"] == pytest.approx(np.quantile(expected, 0.03), rel=1e-9)
    # not the reference customer's prediction for everyone
    reference = model.transaction_model_.encoding_.column("tier").reference
    everyone = dict.fromkeys(TIERS, reference)
    as_reference = 135.0 + HAND_MARGIN * future_value(model, hand[0], ["u1", "u2"], weeks, everyone)
    as_reference /= 2
    assert abs(row["predicted_ltv_6"] - as_reference.mean()) > 1e-3
    assert list(result.buyers["tier"]) == [TIERS[c] for c in result.buyers["customer_id"]]
    assert result.summary["model"]["covariates"] == ["tier"]


def test_source_factors_scale_each_buyers_own_parameters(hand):
    model = covariate_model()
    result = run_hand(hand, model=model, customers=customers_table(), n_draws=None)
    scales = pd.DataFrame(result.summary["model"]["source_scales"]).set_index("source_id")
    factors = {
        k.removeprefix("factor_"): float(v) for k, v in scales.loc["ads"].items() if "factor_" in k
    }
    weeks = (pd.Timestamp("2024-08-01") - pd.Timestamp("2024-05-01")).days / 7
    rfm = rfm_summary(hand[0], time_unit="W", observation_end=HAND_END).set_index("customer_id")
    total = np.zeros(N_DRAWS)
    gg = model.spend_model_.param_draws()
    for customer in ("u1", "u2"):
        one = rfm.loc[[customer]].reset_index()
        purchases = plain(own_parameters(model, TIERS[customer], factors)).expected_purchases(
            one, weeks
        )
        spend = GammaGammaModel.from_posterior(
            {k: v * factors[k] for k, v in gg.items()}, method="mcmc"
        ).expected_spend(one)
        total += (purchases * spend)[:, 0]
    expected = (135.0 + HAND_MARGIN * total) / 2
    row = result.cells.loc[
        (result.cells["cohort"] == "2024-01-01") & (result.cells["source_id"] == "ads")
    ].iloc[0]
    assert row["predicted_ltv_6"] == pytest.approx(expected.mean(), rel=1e-9)


def test_with_zero_coefficients_the_factors_are_the_covariate_free_ones(hand):
    zero = covariate_model((0.0, 0.0, 0.0))
    free = CLVModel.from_posteriors(
        BetaGeoModel.from_posterior(
            zero.transaction_model_.posterior_[["r", "alpha", "a", "b"]], method="mcmc"
        ),
        zero.spend_model_,
        time_unit="W",
    )
    rfm = rfm_summary(hand[0], time_unit="W", observation_end=HAND_END)
    rfm["tier"] = rfm["customer_id"].map(TIERS)
    # draws of the coefficients scatter around 0: set them to exactly 0
    tm = zero.transaction_model_
    for name in ("purchase_coefficient_alpha", "dropout_coefficient_a", "dropout_coefficient_b"):
        tm.posterior_[name] = tm.posterior_[name] * 0.0
    source = np.array(["a", "a", "b", "b", "a", "b"])
    with_cov = source_scales(zero, rfm, source)
    without = source_scales(
        free, rfm[["customer_id", "frequency", "recency", "T", "monetary_value"]], source
    )
    pd.testing.assert_frame_equal(with_cov, without, rtol=1e-6)


def test_budget_values_a_new_customer_over_the_sources_buyers_profiles(hand):
    model = covariate_model()
    result = run_hand(hand, model=model, customers=customers_table())
    table = budget_recommendation(
        model,
        result.cells,
        result.buyers,
        margin=HAND_MARGIN,
        source_adjustment=False,
        n_draws=None,
        annual_discount_rate=0.0,
        target_payback_months=6,
    ).set_index("source_id")
    gg = model.spend_model_.param_draws()
    spend = gg["p"] * gg["v"] / (gg["q"] - 1)
    weeks = 6 * WEEKS_PER_MONTH
    for source, members in (("ads", ["u1", "u2"]), ("mail", ["u4", "u6"]), ("seo", ["u3", "u5"])):
        values = []
        for customer in members:
            p = own_parameters(model, TIERS[customer])
            repeat = expected_purchases_new_customer(p["r"], p["alpha"], p["a"], p["b"], weeks)
            values.append(HAND_MARGIN * spend * (1 + repeat))
        assert table.loc[source, "value_at_target"] == pytest.approx(
            np.mean(values, axis=0).mean(), rel=1e-9
        ), source
    assert table.attrs["covariates"] == ["tier"]
    assert "average over the source's buyers" in table.attrs["new_customer_covariates"]
    forecast = revenue_forecast(
        model,
        result.buyers,
        observation_end=HAND_END,
        horizon_months=3,
        n_draws=None,
        source_adjustment=False,
    )
    t = 3 * 365.25 / 12 / 7
    assert forecast["cumulative_revenue"].iloc[-1] == pytest.approx(
        future_value(model, hand[0], list(TIERS), t).mean(), rel=1e-9
    )


def test_a_covariate_model_without_its_customers_table_is_refused(hand):
    model = covariate_model()
    with pytest.raises(DataError, match=r"fitted with covariates \(tier\).*customers"):
        run_hand(hand, model=model)
    unseen = customers_table().assign(
        tier=["gold", "basic", "silver", "basic", "gold", "basic", "x"]
    )
    with pytest.raises(DataError, match="levels not seen"):
        run_hand(hand, model=model, customers=unseen)
    short = customers_table().iloc[1:]
    with pytest.raises(DataError, match="not in the customers table"):
        run_hand(hand, model=model, customers=short)
    result = run_hand(hand, model=model, customers=customers_table())
    with pytest.raises(DataError, match="fitted with covariates"):
        budget_recommendation(model, result.cells, result.buyers.drop(columns="tier"))
    free = CLVModel.from_posteriors(
        BetaGeoModel.from_posterior(fixed_posterior(BGNBD_PUBLISHED, n_draws=5), method="mcmc"),
        model.spend_model_,
        time_unit="W",
    )
    with pytest.raises(DataError, match="fitted without covariates"):
        run_hand(hand, model=free, customers=customers_table())


def test_cli_payback_then_budget_with_covariates(hand_files, tmp_path):
    model_dir = save_model(covariate_model(), tmp_path / "model")
    customers = tmp_path / "customers.csv"
    customers_table().rename(columns={"customer_id": "client"}).to_csv(customers, index=False)
    out = tmp_path / "payback.parquet"
    runner = CliRunner()
    args = cli_args(hand_files, out, "--model", str(model_dir), "--no-plots")
    refused = runner.invoke(payback, args)
    assert refused.exit_code == 2 and "customers" in refused.output
    done = runner.invoke(
        payback, [*args, "--customers", str(customers), "--customer-key", "client"]
    )
    assert done.exit_code == 0, done.output
    assert "each buyer predicted at their own covariates (tier)" in done.output
    buyers = pd.read_parquet(tmp_path / "payback_buyers.parquet")
    assert set(buyers["tier"]) == {"gold", "basic"}
    summary = json.loads((tmp_path / "payback_summary.json").read_text())
    assert summary["model"]["covariates"] == ["tier"]
    target = tmp_path / "budget.csv"
    ran = runner.invoke(
        budget, ["--model", str(model_dir), "--payback", str(out), "-o", str(target), "--no-plots"]
    )
    assert ran.exit_code == 0, ran.output
    assert "With covariates (tier): a new customer's value is the average over" in ran.output
    assert len(pd.read_csv(target)) == 3
