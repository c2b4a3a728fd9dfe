"""The Laplace approximation's covariance: the inverse Hessian at the mode, not an estimate.

Pareto/NBD's log-likelihood has hyp2f1, which PyTensor cannot differentiate twice, so its
Hessian comes from differences of the exact gradient; the oracle is a Hessian written here,
by second differences of lifetimes' own Pareto/NBD log-likelihood (flat priors, log scale).
"""

from __future__ import annotations

import numpy as np
import pytest
from lifetimes.fitters.pareto_nbd_fitter import ParetoNBDFitter

from clvmodels.examples.simulate import simulate_orders
from clvmodels.models.bgnbd import BetaGeoModel
from clvmodels.models.pareto_nbd import ParetoNBDModel
from clvmodels.summaries.rfm import rfm_summary

NAMES = ("r", "alpha", "s", "beta")


@pytest.fixture(scope="module")
def rfm():
    orders, truth = simulate_orders(n_customers=2_000, seed=3)
    return rfm_summary(orders, time_unit="W", observation_end=truth.last_day.date())


def _lifetimes_log_sd(rfm, mode: np.ndarray) -> np.ndarray:
    """sd of the log parameters from second differences of lifetimes' log-likelihood."""
    x, tx, T = (rfm[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T"))

    def loglik(log_params: np.ndarray) -> float:
        params = np.exp(log_params)
        return float(ParetoNBDFitter._conditional_log_likelihood(params, x, tx, T).sum())

    z0, h = np.log(mode), 1e-4
    n = len(z0)
    hessian = np.empty((n, n))
    for i in range(n):
        for j in range(n):
            ei, ej = np.eye(n)[i] * h, np.eye(n)[j] * h
            hessian[i, j] = (
                loglik(z0 + ei + ej)
                - loglik(z0 + ei - ej)
                - loglik(z0 - ei + ej)
                + loglik(z0 - ei - ej)
            ) / (4 * h * h)
    return np.sqrt(np.diag(np.linalg.inv(-hessian)))


def test_pareto_laplace_covariance_is_the_inverse_hessian(rfm):
    model = ParetoNBDModel(method="laplace", priors="flat", chains=2, draws=2000, seed=0).fit(rfm)
    assert "central differences" in model.fit_report_["covariance"]
    mode = np.array([model.fit_report_["map"][name] for name in NAMES])
    expected = _lifetimes_log_sd(rfm, mode)
    log_draws = np.log(np.stack([model.posterior_[n].values.ravel() for n in NAMES]))
    np.testing.assert_allclose(log_draws.std(axis=1), expected, rtol=0.05)
    np.testing.assert_allclose(log_draws.mean(axis=1), np.log(mode), atol=0.1 * expected.max())


def test_bgnbd_laplace_uses_the_exact_hessian(rfm):
    model = BetaGeoModel(method="laplace", priors="flat", chains=2, draws=500, seed=0).fit(rfm)
    assert model.fit_report_["covariance"].startswith("inverse of the exact Hessian")
    # not the identity the optimiser's running estimate would start from: sd 1 on the log scale
    for name in ("r", "alpha", "a", "b"):
        assert np.log(model.posterior_[name].values).std() < 0.5, name
