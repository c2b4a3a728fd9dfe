"""Gamma-Gamma against Fader & Hardie's published CDNOW values and lifetimes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import GAMMA_GAMMA_PUBLISHED

from clvmodels.errors import DataError
from clvmodels.models import gamma_gamma
from clvmodels.models.gamma_gamma import GammaGammaModel


def test_flat_map_reproduces_published_parameters(cdnow_flat_model):
    model = cdnow_flat_model.spend_model_
    assert model.n_customers_ == 946
    for name, published in GAMMA_GAMMA_PUBLISHED.items():
        assert model.params_[name] == pytest.approx(published, rel=0.005), name
    assert model.fit_report_["converged"]


def test_default_prior_pulls_p_down(cdnow_rfm):
    # docs/definitions.md: pymc-marketing's default prior pulls p from 6.25 to 4.29 on CDNOW.
    model = GammaGammaModel(priors="default").fit(cdnow_rfm)
    assert model.params_["p"] == pytest.approx(4.29, abs=0.02)


def test_expected_spend_equals_lifetimes(cdnow_flat_model, cdnow_rfm):
    from lifetimes import GammaGammaFitter

    model = cdnow_flat_model.spend_model_
    reference = GammaGammaFitter()
    reference.params_ = pd.Series(model.params_)
    expected = reference.conditional_expected_average_profit(
        cdnow_rfm["frequency"], cdnow_rfm["monetary_value"]
    )
    np.testing.assert_allclose(model.expected_spend(cdnow_rfm)[0], expected, rtol=1e-9)


def test_log_likelihood_sums_to_the_optimum(cdnow_flat_model, cdnow_rfm):
    model = cdnow_flat_model.spend_model_
    repeat = cdnow_rfm[cdnow_rfm["frequency"] > 0]
    p = model.params_
    total = gamma_gamma.log_likelihood(
        p["p"], p["q"], p["v"], repeat["frequency"], repeat["monetary_value"]
    ).sum()
    # the optimiser's log posterior under flat priors is the log-likelihood
    assert total == pytest.approx(model.fit_report_["log_posterior"], abs=1e-6)
    for name in ("p", "q", "v"):
        for factor in (0.98, 1.02):
            moved = dict(p, **{name: p[name] * factor})
            assert (
                gamma_gamma.log_likelihood(
                    moved["p"],
                    moved["q"],
                    moved["v"],
                    repeat["frequency"],
                    repeat["monetary_value"],
                ).sum()
                < total
            )


def test_repeat_customers_with_zero_mean_value_are_left_out_and_counted(cdnow_rfm):
    # zero-value orders (free items, vouchers): a mean repeat value of 0 cannot enter the
    # likelihood (log z); those customers are left out of the fit, counted, not refused
    from lifetimes import GammaGammaFitter

    data = cdnow_rfm.copy()
    zero_ids = data.loc[data["frequency"] > 0, "customer_id"].iloc[[3, 10]].tolist()
    data.loc[data["customer_id"].isin(zero_ids), "monetary_value"] = 0.0
    model = GammaGammaModel(priors="flat").fit(data)
    assert model.n_customers_ == 944
    excluded = model.fit_report_["zero_value_exclusions"]
    assert excluded["n_customers"] == 2
    assert excluded["examples"] == zero_ids
    assert excluded["spend_used"] == "the population mean spend p v / (q - 1), per draw"
    p, q, v = (model.params_[k] for k in ("p", "q", "v"))
    assert excluded["population_mean_spend"] == pytest.approx(p * v / (q - 1), rel=1e-12)
    # the oracle: lifetimes' maximum-likelihood fit on the 944 positive repeat customers
    positive = data[(data["frequency"] > 0) & (data["monetary_value"] > 0)]
    reference = GammaGammaFitter().fit(positive["frequency"], positive["monetary_value"])
    for name in ("p", "q", "v"):
        assert model.params_[name] == pytest.approx(reference.params_[name], rel=2e-3), name


def test_zero_value_customers_get_the_population_mean_spend(cdnow_flat_model, cdnow_rfm):
    model = cdnow_flat_model.spend_model_
    data = cdnow_rfm.copy()
    repeat = data.index[data["frequency"] > 0][:3]
    data.loc[repeat, "monetary_value"] = 0.0
    p, q, v = (model.params_[k] for k in ("p", "q", "v"))
    spend = model.expected_spend(data)[0]
    np.testing.assert_allclose(spend[repeat], p * v / (q - 1), rtol=1e-12)
    others = data.index.difference(repeat)
    x, z = data.loc[others, "frequency"], data.loc[others, "monetary_value"]
    eq5 = np.where(x > 0, p * (v + x * z) / (p * x + q - 1), p * v / (q - 1))  # [FH13GG] eq. 5
    np.testing.assert_allclose(spend[others], eq5, rtol=1e-12)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (-5.0, "column 'monetary_value': negative monetary_value (2 rows, e.g. customer"),
        (np.nan, "column 'monetary_value': missing (NaN) or non-numeric values (2 rows"),
    ],
)
def test_negative_or_missing_spend_is_rejected(cdnow_rfm, value, message):
    broken = cdnow_rfm.copy()
    repeat = broken.index[broken["frequency"] > 0][:2]
    broken.loc[repeat, "monetary_value"] = value
    with pytest.raises(DataError) as info:
        GammaGammaModel().fit(broken)
    assert str(info.value).startswith(message)
