"""Gamma-Gamma against Fader & Hardie's published CDNOW values and lifetimes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import GAMMA_GAMMA_PUBLISHED

from clvmodels import gamma_gamma
from clvmodels.errors import DataError
from clvmodels.gamma_gamma import GammaGammaModel


def test_flat_map_reproduces_published_parameters(cdnow_flat_model):
    model = cdnow_flat_model.spend_model_
    assert model.n_customers_ == 946
    for name, published in GAMMA_GAMMA_PUBLISHED.items():
        assert model.params_[name] == pytest.approx(published, rel=0.005), name
    assert model.fit_report_["converged"]


def test_default_prior_pulls_p_down(cdnow_rfm):
    # DESIGN.md: pymc-marketing's default prior pulls p from 6.25 to 4.29 on CDNOW.
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


def test_non_positive_spend_of_repeat_customers_is_rejected(cdnow_rfm):
    broken = cdnow_rfm.copy()
    repeat = broken.index[broken["frequency"] > 0][:2]
    broken.loc[repeat, "monetary_value"] = 0.0
    with pytest.raises(DataError, match=r"monetary_value.*2 rows"):
        GammaGammaModel().fit(broken)
