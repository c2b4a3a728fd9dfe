"""The Laplace approximation's covariance: the inverse Hessian at the mode, not an estimate.

The oracle is a Hessian written here, by second differences of lifetimes' own log-likelihoods
(Pareto/NBD and BG/NBD; flat priors, so the log posterior is the log-likelihood; log scale).
clvmodels builds its Hessian from differences of PyTensor's exact gradient of pymc-marketing's
graph, so the two share no code.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from lifetimes.fitters.beta_geo_fitter import BetaGeoFitter
from lifetimes.fitters.pareto_nbd_fitter import ParetoNBDFitter

from clvmodels.examples.simulate import simulate_orders
from clvmodels.models.bgnbd import BetaGeoModel
from clvmodels.models.pareto_nbd import ParetoNBDModel
from clvmodels.summaries.rfm import rfm_summary


@pytest.fixture(scope="module")
def rfm():
    orders, truth = simulate_orders(n_customers=2_000, seed=3)
    return rfm_summary(orders, time_unit="W", observation_end=truth.last_day.date())


def _log_sd(loglik: Callable[[np.ndarray], float], mode: np.ndarray) -> np.ndarray:
    """sd of the log parameters from second differences of ``loglik`` (of log parameters)."""
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


def _check(model, names: tuple[str, ...], loglik: Callable[[np.ndarray], float]) -> None:
    assert "central differences of the exact gradient" in model.fit_report_["covariance"]
    mode = np.array([model.fit_report_["map"][name] for name in names])
    expected = _log_sd(loglik, mode)
    log_draws = np.log(np.stack([model.posterior_[n].values.ravel() for n in names]))
    np.testing.assert_allclose(log_draws.std(axis=1), expected, rtol=0.05)
    np.testing.assert_allclose(log_draws.mean(axis=1), np.log(mode), atol=0.1 * expected.max())
    # not the identity BFGS's running estimate starts from (sd 1 on the log scale)
    assert expected.max() < 0.5


def test_pareto_laplace_covariance_is_the_inverse_hessian(rfm):
    x, tx, T = (rfm[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T"))
    model = ParetoNBDModel(method="laplace", priors="flat", chains=2, draws=2000, seed=0).fit(rfm)
    _check(
        model,
        ("r", "alpha", "s", "beta"),
        lambda z: float(ParetoNBDFitter._conditional_log_likelihood(np.exp(z), x, tx, T).sum()),
    )


def test_bgnbd_laplace_covariance_is_the_inverse_hessian(rfm):
    x, tx, T = (rfm[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T"))
    weights = np.ones_like(x)
    model = BetaGeoModel(method="laplace", priors="flat", chains=2, draws=2000, seed=0).fit(rfm)
    _check(
        model,
        ("r", "alpha", "a", "b"),
        lambda z: (
            -len(x) * float(BetaGeoFitter._negative_log_likelihood(z, x, tx, T, weights, 0.0))
        ),
    )
