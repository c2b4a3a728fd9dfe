"""The compiled BG/NBD likelihood against pymc-marketing's BetaGeoNBD graph and its autodiff."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import assert_same_posterior

from clvmodels.examples.simulate import simulate_orders
from clvmodels.models._pymc import fit as pymc_fit
from clvmodels.models._pymc import graphs
from clvmodels.models.inputs import collapse_rfm
from clvmodels.models.kernels.bgnbd_likelihood import BGNBDTuples, loglike_and_grad
from clvmodels.summaries.rfm import rfm_summary

PARAMS = ("r", "alpha", "a", "b")


@pytest.fixture(scope="module")
def cdnow_tuples(cdnow_rfm: pd.DataFrame) -> pd.DataFrame:
    return collapse_rfm(cdnow_rfm).tuples


@pytest.fixture(scope="module")
def heavy_tuples() -> pd.DataFrame:
    """Simulated buyers with high rates (x up to ~100) and a < 1 (some alive for long)."""
    orders, _ = simulate_orders(3_000, seed=7, bgnbd={"r": 2.0, "alpha": 3.0, "a": 0.6, "b": 0.9})
    return collapse_rfm(rfm_summary(orders)).tuples


def reference_logp_and_grad(
    tuples: pd.DataFrame, point: dict[str, float]
) -> tuple[float, np.ndarray]:
    """pymc-marketing's weighted log-likelihood and PyTensor's gradient of it."""
    import pymc as pm
    import pytensor
    import pytensor.tensor as pt
    from pymc_marketing.clv.distributions import BetaGeoNBD

    variables = {name: pt.dscalar(name) for name in PARAMS}
    dist = BetaGeoNBD.dist(T=tuples["T"].to_numpy(dtype="float64"), **variables)
    value = tuples[["recency", "frequency"]].to_numpy(dtype="float64")
    total = pt.sum(tuples["n_customers"].to_numpy(dtype="float64") * pm.logp(dist, value))
    inputs = [variables[name] for name in PARAMS]
    fn = pytensor.function(inputs, [total, *pt.grad(total, inputs)])
    out = fn(*(point[name] for name in PARAMS))
    return float(out[0]), np.array([float(v) for v in out[1:]])


def compiled(tuples: pd.DataFrame, point: dict[str, float]) -> tuple[float, np.ndarray]:
    data = BGNBDTuples.from_arrays(
        tuples["frequency"], tuples["recency"], tuples["T"], tuples["n_customers"]
    )
    return loglike_and_grad(*(point[name] for name in PARAMS), *data.arrays())


POINTS = [
    {"r": 0.2426, "alpha": 4.414, "a": 0.793, "b": 2.426},  # CDNOW's MLE
    {"r": 1.7, "alpha": 0.3, "a": 3.0, "b": 0.4},
    {"r": 0.05, "alpha": 40.0, "a": 0.1, "b": 12.0},
    {"r": 8.0, "alpha": 2.0, "a": 1.0, "b": 1.0},
]


@pytest.mark.parametrize("point", POINTS)
@pytest.mark.parametrize("data", ["cdnow_tuples", "heavy_tuples"])
def test_loglike_and_gradient_equal_pymc_marketing(data: str, point, request) -> None:
    tuples = request.getfixturevalue(data)
    ours, our_grad = compiled(tuples, point)
    theirs, their_grad = reference_logp_and_grad(tuples, point)
    assert ours == pytest.approx(theirs, rel=1e-10)
    np.testing.assert_allclose(
        our_grad, their_grad, rtol=1e-7, atol=1e-7 * np.abs(their_grad).max()
    )


def test_only_zero_frequency_customers(cdnow_tuples: pd.DataFrame) -> None:
    zeros = cdnow_tuples[cdnow_tuples["frequency"] == 0]
    ours, our_grad = compiled(zeros, POINTS[0])
    theirs, their_grad = reference_logp_and_grad(zeros, POINTS[0])
    assert ours == pytest.approx(theirs, rel=1e-10)
    np.testing.assert_allclose(our_grad, their_grad, rtol=1e-8)


@pytest.mark.parametrize("bad", [0.0, -1.0, np.nan, np.inf])
def test_outside_the_parameter_space_is_minus_infinity(cdnow_tuples, bad: float) -> None:
    for name in PARAMS:
        point = dict(POINTS[0], **{name: bad})
        loglike, grad = compiled(cdnow_tuples, point)
        assert loglike == -np.inf, name
        assert np.all(grad == 0), name


def test_fractional_frequency_is_refused() -> None:
    with pytest.raises(ValueError, match="whole numbers"):
        BGNBDTuples.from_arrays([1.5], [1.0], [2.0], [1.0])


def test_op_gives_the_model_the_same_logp_and_gradient(cdnow_tuples: pd.DataFrame) -> None:
    """The Op inside a PyMC model (default priors, transforms) against pymc-marketing's graph."""
    args = [cdnow_tuples[c].to_numpy() for c in ("frequency", "recency", "T", "n_customers")]
    ours = graphs.transaction_graph("bgnbd", *args, "default", "compiled")
    theirs = graphs.transaction_graph("bgnbd", *args, "default", "pymc-marketing")
    rng = np.random.default_rng(3)
    f_ours = ours.logp_dlogp_function(ravel_inputs=True)
    f_theirs = theirs.logp_dlogp_function(ravel_inputs=True)
    f_ours.set_extra_values({})
    f_theirs.set_extra_values({})
    size = sum(int(np.size(v)) for v in ours.initial_point().values())
    for _ in range(5):
        x = rng.normal(scale=0.5, size=size)
        lp_ours, grad_ours = f_ours(x)
        lp_theirs, grad_theirs = f_theirs(x)
        assert float(lp_ours) == pytest.approx(float(lp_theirs), rel=1e-10)
        np.testing.assert_allclose(grad_ours, grad_theirs, rtol=1e-7, atol=1e-6)


@pytest.mark.parametrize("priors", ["flat", "default"])
def test_compiled_and_pymc_marketing_likelihoods_give_the_same_map(cdnow_tuples, priors) -> None:
    args = [cdnow_tuples[c].to_numpy() for c in ("frequency", "recency", "T", "n_customers")]
    fits = {
        likelihood: pymc_fit.fit_transaction_model(
            "bgnbd", *args, priors=priors, method="map", seed=1, likelihood=likelihood
        )
        for likelihood in ("compiled", "pymc-marketing")
    }
    for name in PARAMS:
        ours = float(fits["compiled"].posterior[name].item())
        theirs = float(fits["pymc-marketing"].posterior[name].item())
        assert ours == pytest.approx(theirs, rel=1e-4), name
    assert fits["compiled"].report["log_posterior"] == pytest.approx(
        fits["pymc-marketing"].report["log_posterior"], abs=1e-4
    )


@pytest.mark.slow
def test_nuts_on_the_compiled_likelihood_matches_pymc_marketing_graph() -> None:
    """Same posterior from nutpie on both likelihoods: means within 0.1 sd, sds within 10%."""
    orders, _ = simulate_orders(5_000, seed=11)
    tuples = collapse_rfm(rfm_summary(orders)).tuples
    args = [tuples[c].to_numpy() for c in ("frequency", "recency", "T", "n_customers")]
    fits = {
        likelihood: pymc_fit.fit_transaction_model(
            "bgnbd", *args, method="mcmc", chains=4, draws=1000, tune=1000, seed=2,
            likelihood=likelihood,
        )
        for likelihood in ("compiled", "pymc-marketing")
    }  # fmt: skip
    assert_same_posterior(fits, PARAMS)
