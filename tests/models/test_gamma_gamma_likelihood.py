"""The Gamma-Gamma likelihood grouped by frequency against pymc-marketing's own graph."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import assert_same_posterior

from clvmodels.examples.simulate import simulate_orders
from clvmodels.models._pymc import fit as pymc_fit
from clvmodels.models._pymc import graphs
from clvmodels.summaries.rfm import rfm_summary

PARAMS = ("p", "q", "v")


@pytest.fixture(scope="module")
def repeat(cdnow_rfm: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    rows = cdnow_rfm[cdnow_rfm["frequency"] > 0]
    return rows["frequency"].to_numpy(), rows["monetary_value"].to_numpy()


@pytest.mark.parametrize("priors", ["flat", "default"])
def test_grouped_graph_has_pymc_marketing_logp_and_gradient(repeat, priors) -> None:
    ours = graphs.gamma_gamma_graph(*repeat, priors, "compiled")
    theirs = graphs.gamma_gamma_graph(*repeat, priors, "pymc-marketing")
    f_ours = ours.logp_dlogp_function(ravel_inputs=True)
    f_theirs = theirs.logp_dlogp_function(ravel_inputs=True)
    f_ours.set_extra_values({})
    f_theirs.set_extra_values({})
    rng = np.random.default_rng(5)
    for _ in range(6):
        point = rng.normal(scale=1.5, size=3)
        lp_ours, grad_ours = f_ours(point)
        lp_theirs, grad_theirs = f_theirs(point)
        assert float(lp_ours) == pytest.approx(float(lp_theirs), rel=1e-10)
        np.testing.assert_allclose(grad_ours, grad_theirs, rtol=1e-7, atol=1e-6)


def test_grouped_and_pymc_marketing_graphs_give_the_same_map(repeat) -> None:
    fits = {
        likelihood: pymc_fit.fit_gamma_gamma(
            *repeat, priors="flat", method="map", seed=1, likelihood=likelihood
        )
        for likelihood in ("compiled", "pymc-marketing")
    }
    for name in PARAMS:
        ours = float(fits["compiled"].posterior[name].item())
        theirs = float(fits["pymc-marketing"].posterior[name].item())
        assert ours == pytest.approx(theirs, rel=1e-4), name


@pytest.mark.slow
def test_nuts_on_the_grouped_graph_matches_pymc_marketing_graph() -> None:
    """Same posterior from nutpie on both graphs: means within 0.1 sd, sds within 10%."""
    orders, _ = simulate_orders(6_000, seed=12)
    rfm = rfm_summary(orders)
    rows = rfm[rfm["frequency"] > 0]
    args = (rows["frequency"].to_numpy(), rows["monetary_value"].to_numpy())
    fits = {
        likelihood: pymc_fit.fit_gamma_gamma(
            *args, method="mcmc", chains=4, draws=1000, tune=1000, seed=3, likelihood=likelihood
        )
        for likelihood in ("compiled", "pymc-marketing")
    }
    assert_same_posterior(fits, PARAMS)
