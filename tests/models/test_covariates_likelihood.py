"""Covariate likelihoods: pymc-marketing's own models, formulas written here, zero coefficients.

Oracles: pymc-marketing 1.3.0's ``BetaGeoModel``, ``ModifiedBetaGeoModel`` and
``ParetoNBDModel`` with ``purchase_covariate_cols`` / ``dropout_covariate_cols`` (one row per
customer), and the individual log-likelihoods of FHL05 eq. (6) (BG/NBD), Batislam, Denizel &
Filiztekin (2007) (MBG/NBD) and Fader & Hardie (2005) note 009 eq. (18) (Pareto/NBD), written
below in numpy/scipy with per-customer parameters as in Fader, Hardie & Lee (2007) note 019.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import gammaln, hyp2f1

from clvmodels.models._pymc.covariate_graphs import covariate_graph
from clvmodels.models._pymc.graphs import transaction_graph
from clvmodels.models.covariate_fit import collapse_with_covariates, customer_parameters

KINDS = ("bgnbd", "mbgnbd", "pareto")


def _customers(n: int = 80, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.poisson(1.5, n)
    T = rng.integers(8, 30, n).astype("float64")
    t_x = np.where(x > 0, np.round(rng.uniform(0, 1, n) * T), 0.0)
    frame = pd.DataFrame(
        {
            "customer_id": np.arange(n),
            "frequency": x,
            "recency": t_x,
            "T": T,
            "z1": rng.integers(0, 2, n).astype("float64"),
            "z2": np.round(rng.normal(size=n), 1),
        }
    )
    # repeated rows, so that the collapse merges customers
    return pd.concat([frame, frame.iloc[: n // 2]], ignore_index=True).assign(
        customer_id=lambda f: np.arange(len(f))
    )


def _pymc_marketing_model(kind: str, data: pd.DataFrame, priors: str):
    from pymc_extras.prior import Prior
    from pymc_marketing.clv import BetaGeoModel, ModifiedBetaGeoModel, ParetoNBDModel

    config: dict = {"purchase_covariate_cols": ["z1", "z2"], "dropout_covariate_cols": ["z2"]}
    if priors == "flat":
        flat = ("r", "alpha", "s", "beta") if kind == "pareto" else ("r", "alpha", "a", "b")
        config.update({name: Prior("HalfFlat") for name in flat})
        config.update(purchase_coefficient=Prior("Flat"), dropout_coefficient=Prior("Flat"))
    cls = {"bgnbd": BetaGeoModel, "mbgnbd": ModifiedBetaGeoModel, "pareto": ParetoNBDModel}[kind]
    model = cls(model_config=config)
    model.build_model(data)
    return model.model


def _ours(kind: str, data: pd.DataFrame, priors: str):
    purchase = data[["z1", "z2"]].to_numpy()
    dropout = data[["z2"]].to_numpy()
    collapsed = collapse_with_covariates(data, purchase, dropout)
    assert len(collapsed.tuples) < len(data)
    t = collapsed.tuples
    return covariate_graph(
        kind,
        t["frequency"].to_numpy(),
        t["recency"].to_numpy(),
        t["T"].to_numpy(),
        t["n_customers"].to_numpy(),
        collapsed.purchase,
        collapsed.dropout,
        ("z1", "z2"),
        ("z2",),
        priors,
    )


@pytest.mark.parametrize("kind", KINDS)
def test_weighted_graph_equals_pymc_marketing_per_customer(kind: str) -> None:
    """Priors included: the same variables, transforms and log density at random points."""
    data = _customers()
    rng = np.random.default_rng(0)
    # MBG/NBD's priors are built by the code BG/NBD's are: its flat graph is checked alone
    for priors in ("flat",) if kind == "mbgnbd" else ("default", "flat"):
        theirs = _pymc_marketing_model(kind, data, priors)
        ours = _ours(kind, data, priors)
        start = theirs.initial_point()
        assert sorted(start) == sorted(ours.initial_point())
        their_logp = theirs.compile_logp(jacobian=False)
        our_logp = ours.compile_logp(jacobian=False)
        for _ in range(2):
            point = {k: rng.normal(size=np.shape(v)) * 0.5 for k, v in start.items()}
            assert our_logp(point) == pytest.approx(their_logp(point), rel=1e-10)


def _bgnbd(r, alpha, a, b, x, t_x, T):
    """FHL05 eq. (6), per customer."""
    first = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    beta_part = gammaln(a + b) + gammaln(b + x) - gammaln(b) - gammaln(a + b + x)
    lik = np.exp(-(r + x) * np.log(alpha + T))
    with np.errstate(divide="ignore", invalid="ignore"):
        extra = np.where(x > 0, a / (b + x - 1) * (alpha + t_x) ** -(r + x), 0.0)
    return first + beta_part + np.log(lik + extra)


def _mbgnbd(r, alpha, a, b, x, t_x, T):
    """Batislam et al. (2007): the BG/NBD likelihood with a dropout chance at time zero."""
    first = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    beta_part = gammaln(a + b) + gammaln(b + x + 1) - gammaln(b) - gammaln(a + b + x + 1)
    return (
        first
        + beta_part
        + np.log((alpha + T) ** -(r + x) + a / (b + x) * (alpha + t_x) ** -(r + x))
    )


def _pareto(r, alpha, s, beta, x, t_x, T):
    """Fader & Hardie (2005) note 009, eqs. (18)-(20), per customer."""
    rsx = r + s + x
    swap = alpha < beta
    high = np.where(swap, beta, alpha)
    low = np.where(swap, alpha, beta)
    second = np.where(swap, r + x, s + 1)
    a0 = (
        hyp2f1(rsx, second, rsx + 1, (high - low) / (high + t_x)) / (high + t_x) ** rsx
        - hyp2f1(rsx, second, rsx + 1, (high - low) / (high + T)) / (high + T) ** rsx
    )
    lik = (
        np.exp(gammaln(r + x) - gammaln(r))
        * alpha**r
        * beta**s
        * ((alpha + T) ** -(r + x) * (beta + T) ** -s + s / rsx * a0)
    )
    return np.log(lik)


@pytest.mark.parametrize("kind", KINDS)
def test_weighted_graph_equals_the_formulas_at_random_points(kind: str) -> None:
    data = _customers()
    ours = _ours(kind, data, "flat")
    logp = ours.compile_logp(jacobian=False)  # flat priors: the log-likelihood alone
    x, t_x, T = (data[c].to_numpy(dtype="float64") for c in ("frequency", "recency", "T"))
    purchase, dropout = data[["z1", "z2"]].to_numpy(), data[["z2"]].to_numpy()
    rng = np.random.default_rng(1)
    for _ in range(3):
        scales = dict(
            zip(
                ("r", "alpha", "a", "b", "s", "beta"),
                rng.uniform(0.3, 3, 6) * [1, 5, 1, 3, 1, 5],
                strict=True,
            )
        )
        g = rng.normal(size=2) * 0.5
        d = rng.normal(size=(2, 1)) * 0.5
        if kind == "pareto":
            alpha = scales["alpha"] * np.exp(-purchase @ g)
            beta = scales["beta"] * np.exp(-dropout @ d[0])
            expected = _pareto(scales["r"], alpha, scales["s"], beta, x, t_x, T).sum()
            point = {
                "r_log__": np.log(scales["r"]),
                "alpha_scale_log__": np.log(scales["alpha"]),
                "s_log__": np.log(scales["s"]),
                "beta_scale_log__": np.log(scales["beta"]),
                "purchase_coefficient": g,
                "dropout_coefficient": d[0],
            }
        else:
            alpha = scales["alpha"] * np.exp(-purchase @ g)
            a = scales["a"] * np.exp(dropout @ d[0])
            b = scales["b"] * np.exp(dropout @ d[1])
            formula = _mbgnbd if kind == "mbgnbd" else _bgnbd
            expected = formula(scales["r"], alpha, a, b, x, t_x, T).sum()
            point = {
                "r_log__": np.log(scales["r"]),
                "alpha_scale_log__": np.log(scales["alpha"]),
                "a_scale_log__": np.log(scales["a"]),
                "b_scale_log__": np.log(scales["b"]),
                "purchase_coefficient_alpha": g,
                "dropout_coefficient_a": d[0],
                "dropout_coefficient_b": d[1],
            }
        assert logp(point) == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("kind", KINDS)
def test_zero_coefficients_give_the_covariate_free_model(kind: str) -> None:
    data = _customers()
    ours = _ours(kind, data, "flat")
    plain = transaction_graph(
        kind,
        data["frequency"].to_numpy(),
        data["recency"].to_numpy(),
        data["T"].to_numpy(),
        np.ones(len(data)),
        "flat",
        likelihood="pymc-marketing",
    )
    names = ("r", "alpha", "s", "beta") if kind == "pareto" else ("r", "alpha", "a", "b")
    values = dict(zip(names, (0.7, 4.0, 0.9, 6.0), strict=True))
    plain_point = {f"{n}_log__": np.log(v) for n, v in values.items()}
    point = {
        f"{n if n in ('r', 's') else n + '_scale'}_log__": np.log(v) for n, v in values.items()
    }
    for name, var in ours.initial_point().items():
        if name not in point:
            point[name] = np.zeros_like(var)
    assert ours.compile_logp(jacobian=False)(point) == pytest.approx(
        plain.compile_logp(jacobian=False)(plain_point), rel=1e-10
    )


def test_customer_parameters_follow_pymc_marketing_signs() -> None:
    purchase = np.array([[0.0, 0.0], [1.0, 2.0]])
    dropout = np.array([[0.0], [1.0]])
    draws = {
        "r": np.array([1.0]),
        "alpha": np.array([2.0]),
        "a": np.array([3.0]),
        "b": np.array([4.0]),
    }
    p = customer_parameters(
        "bgnbd",
        draws,
        {
            "purchase": np.array([[0.1, 0.2]]),
            "dropout_a": np.array([[0.3]]),
            "dropout_b": np.array([[-0.4]]),
        },
        purchase,
        dropout,
    )
    np.testing.assert_allclose(p["alpha"], [[2.0, 2.0 * np.exp(-0.5)]])
    np.testing.assert_allclose(p["a"], [[3.0, 3.0 * np.exp(0.3)]])
    np.testing.assert_allclose(p["b"], [[4.0, 4.0 * np.exp(-0.4)]])
    np.testing.assert_allclose(p["r"], [[1.0, 1.0]])
