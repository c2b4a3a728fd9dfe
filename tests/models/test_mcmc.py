"""Real NUTS sampling (slow; `make test` and CI run it): convergence, agreement with MAP."""

from __future__ import annotations

import numpy as np
import pytest

from clvmodels.model import CLVModel

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def mcmc_model(cdnow_rfm):
    return CLVModel(
        time_unit="W", method="mcmc", priors="flat", chains=4, draws=1000, tune=1000, seed=11
    ).fit(cdnow_rfm)


def test_nuts_converges(mcmc_model):
    for sub in (mcmc_model.transaction_model_, mcmc_model.spend_model_):
        report = sub.fit_report_
        assert report["method"] == "mcmc"
        assert report["max_r_hat"] <= 1.01, report
        assert report["min_ess_bulk"] >= 400, report
        assert report["divergences"] == 0
        assert report["converged"]
        assert sub.posterior_.sizes == {"chain": 4, "draw": 1000}


def test_nuts_agrees_with_map(mcmc_model, cdnow_flat_model):
    """Flat priors: the MAP is the posterior mode, so it sits inside the posterior's bulk."""
    for sub, mode in (
        (mcmc_model.transaction_model_, cdnow_flat_model.transaction_model_),
        (mcmc_model.spend_model_, cdnow_flat_model.spend_model_),
    ):
        table = sub.summary()
        for name, value in mode.params_.items():
            row = table.loc[name]
            assert row["low_94"] < value < row["high_94"], (name, value, row.to_dict())
            assert abs(row["mean"] - value) < 1.5 * row["sd"], (name, value, row.to_dict())


def test_nuts_scores_have_intervals(mcmc_model, cdnow_rfm):
    scores = mcmc_model.score(cdnow_rfm, horizon="39W", n_draws=400)
    width = scores["clv_high"] - scores["clv_low"]
    assert (width > 0).all()
    # published point prediction for x=2, t_x=30.43, T=38.86 inside the posterior interval
    customer = scores.set_index("customer_id").loc[1]
    assert customer["expected_purchases_low"] < 1.226 < customer["expected_purchases_high"]
    assert np.isfinite(scores["clv"]).all()
