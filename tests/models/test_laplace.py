"""The Laplace approximation against NUTS on a large base (slow; `make test` and CI run it)."""

from __future__ import annotations

import pytest

from clvmodels.examples.simulate import simulate_orders
from clvmodels.models.bgnbd import BetaGeoModel
from clvmodels.summaries.rfm import rfm_summary

pytestmark = pytest.mark.slow


def test_laplace_agrees_with_nuts_on_50k_customers():
    """Issue 6: posterior means within 0.1 sd and sds within 10% of NUTS on >= 50k customers.

    Default priors, as `clv fit` uses: pymc-marketing puts them on (phi, kappa) = (a / (a + b),
    a + b), where the posterior is close to Gaussian. With flat priors on (a, b) themselves the
    Laplace means of a and b sit about 0.13 sd below NUTS's on these data (measured with three
    seeds; 0.07-0.13 sd at 200k customers), so that variant would not pass this bar.
    """
    orders, truth = simulate_orders(n_customers=50_000, seed=8)
    rfm = rfm_summary(orders, time_unit="W", observation_end=truth.last_day.date())
    nuts = BetaGeoModel(
        method="mcmc", priors="default", chains=4, draws=1000, tune=1000, seed=1
    ).fit(rfm)
    assert nuts.fit_report_["converged"], nuts.fit_report_
    laplace = BetaGeoModel(method="laplace", priors="default", chains=4, draws=1000, seed=1).fit(
        rfm
    )
    reference, approx = nuts.summary(), laplace.summary()
    for name in ("r", "alpha", "a", "b"):
        shift = (approx.loc[name, "mean"] - reference.loc[name, "mean"]) / reference.loc[name, "sd"]
        assert abs(shift) < 0.1, (name, shift)
        assert approx.loc[name, "sd"] == pytest.approx(reference.loc[name, "sd"], rel=0.10), name
