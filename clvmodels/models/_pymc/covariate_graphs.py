"""BG/NBD, MBG/NBD and Pareto/NBD with time-invariant covariates, on weighted collapsed tuples.

pymc-marketing 1.3.0's ``BetaGeoModel``, ``ModifiedBetaGeoModel`` and ``ParetoNBDModel`` take
``purchase_covariate_cols`` and ``dropout_covariate_cols`` and build, one row per customer
(Fader, Hardie & Lee 2007, note 019)::

    BG/NBD, MBG/NBD:  alpha_i = alpha_scale exp(-z_i . purchase_coefficient_alpha)
                      a_i = a_scale exp(z_i . dropout_coefficient_a)
                      b_i = b_scale exp(z_i . dropout_coefficient_b)
    Pareto/NBD:       alpha_i = alpha_scale exp(-z_i . purchase_coefficient)
                      beta_i = beta_scale exp(-z_i . dropout_coefficient)

with ``Normal(0, 1)`` coefficients and the covariate-free models' priors on the scales (BG/NBD
and MBG/NBD: ``a_scale = phi kappa``, ``b_scale = (1 - phi) kappa``, phi and kappa pooled as
without covariates). A process without covariates keeps its plain parameter (``alpha``, or
``a`` and ``b``, or ``beta``). :func:`covariate_graph` builds the same variables, with the same
names, priors and transforms, on the distinct (x, t_x, T, covariate row) tuples, each tuple's
log-likelihood weighted by its count; ``priors="flat"`` puts ``HalfFlat`` on the scales and
``Flat`` on the coefficients (maximum likelihood). The likelihoods are pymc-marketing's
distributions with per-tuple parameters.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from clvmodels.models._pymc.distributions import clv_distributions
from clvmodels.models._pymc.priors import DEFAULT_PRIORS
from clvmodels.models.settings import Priors

PURCHASE_DIM = "purchase_covariate"
DROPOUT_DIM = "dropout_covariate"


@dataclass(frozen=True)
class CovariateNames:
    """The graph's variable names (pymc-marketing's) for one model and set of covariates.

    Attributes
    ----------
    params : dict of str to str
        Our parameter name (``r, alpha, a, b`` or ``r, alpha, s, beta``) -> the graph's
        (``alpha_scale`` when the purchase process has covariates, ...). Our ``alpha`` is the
        reference customer's (all covariates 0).
    coefficients : dict of str to str
        Our coefficient name -> the graph's: ``purchase`` (``purchase_coefficient_alpha`` or
        ``purchase_coefficient``), and ``dropout_a``, ``dropout_b`` (BG/NBD, MBG/NBD) or
        ``dropout`` (Pareto/NBD).
    """

    params: dict[str, str]
    coefficients: dict[str, str]

    @property
    def graph_names(self) -> tuple[str, ...]:
        """Every variable a fit returns."""
        return (*self.params.values(), *self.coefficients.values())


def covariate_names(kind: str, n_purchase: int, n_dropout: int) -> CovariateNames:
    """pymc-marketing's variable names for ``kind`` with these numbers of covariates."""
    if kind == "pareto":
        params = {
            "r": "r",
            "alpha": "alpha_scale" if n_purchase else "alpha",
            "s": "s",
            "beta": "beta_scale" if n_dropout else "beta",
        }
        coefficients = {"purchase": "purchase_coefficient"} if n_purchase else {}
        if n_dropout:
            coefficients["dropout"] = "dropout_coefficient"
        return CovariateNames(params, coefficients)
    if kind not in ("bgnbd", "mbgnbd"):
        raise ValueError(f"no covariate graph for {kind!r}")
    params = {
        "r": "r",
        "alpha": "alpha_scale" if n_purchase else "alpha",
        "a": "a_scale" if n_dropout else "a",
        "b": "b_scale" if n_dropout else "b",
    }
    coefficients = {"purchase": "purchase_coefficient_alpha"} if n_purchase else {}
    if n_dropout:
        coefficients.update(dropout_a="dropout_coefficient_a", dropout_b="dropout_coefficient_b")
    return CovariateNames(params, coefficients)


def covariate_graph(
    kind: str,
    frequency: np.ndarray,
    recency: np.ndarray,
    T: np.ndarray,
    weights: np.ndarray,
    purchase: np.ndarray,
    dropout: np.ndarray,
    purchase_features: tuple[str, ...],
    dropout_features: tuple[str, ...],
    priors: Priors,
) -> Any:
    """The weighted model with covariates (module docstring); ``purchase``/``dropout`` per tuple.

    ``purchase`` and ``dropout`` are ``(tuples, features)`` design matrices (zero columns: no
    covariates on that process).
    """
    import pymc as pm
    import pytensor.tensor as pt

    names = covariate_names(kind, len(purchase_features), len(dropout_features))
    coords = {PURCHASE_DIM: list(purchase_features), DROPOUT_DIM: list(dropout_features)}
    value = np.stack([recency, frequency], axis=1).astype("float64")
    T = np.asarray(T, dtype="float64")
    with pm.Model(coords=coords) as model:
        alpha = _scaled(names.params["alpha"], "alpha", kind, priors)
        if purchase_features:
            gamma = _coefficient(names.coefficients["purchase"], PURCHASE_DIM, priors)
            alpha = alpha * pt.exp(-pt.dot(np.asarray(purchase, dtype="float64"), gamma))
        distributions = clv_distributions()
        if kind == "pareto":
            beta = _scaled(names.params["beta"], "beta", kind, priors)
            if dropout_features:
                delta = _coefficient(names.coefficients["dropout"], DROPOUT_DIM, priors)
                beta = beta * pt.exp(-pt.dot(np.asarray(dropout, dtype="float64"), delta))
            r = _scaled("r", "r", kind, priors)
            s = _scaled("s", "s", kind, priors)
            dist = distributions.ParetoNBD.dist(r=r, alpha=alpha, s=s, beta=beta, T=T)
        else:
            a, b = _dropout_scales(names, kind, priors)
            if dropout_features:
                z = np.asarray(dropout, dtype="float64")
                gamma_a = _coefficient(names.coefficients["dropout_a"], DROPOUT_DIM, priors)
                gamma_b = _coefficient(names.coefficients["dropout_b"], DROPOUT_DIM, priors)
                a = a * pt.exp(pt.dot(z, gamma_a))
                b = b * pt.exp(pt.dot(z, gamma_b))
            r = _scaled("r", "r", kind, priors)
            family = (
                distributions.ModifiedBetaGeoNBD if kind == "mbgnbd" else distributions.BetaGeoNBD
            )
            dist = family.dist(a=a, b=b, r=r, alpha=alpha, T=T)
        loglike = pm.logp(dist, value)
        pm.Potential("weighted_loglike", pt.sum(np.asarray(weights, dtype="float64") * loglike))
    return model


def _scaled(name: str, param: str, kind: str, priors: Priors) -> Any:
    """A positive parameter named ``name`` with ``param``'s prior (pymc-marketing's default)."""
    import pymc as pm

    if priors == "flat":
        return pm.HalfFlat(name)
    distribution, parameters = DEFAULT_PRIORS[kind][param]
    return getattr(pm, distribution)(name, **parameters)


def _coefficient(name: str, dim: str, priors: Priors) -> Any:
    import pymc as pm

    if priors == "flat":
        return pm.Flat(name, dims=dim)
    return pm.Normal(name, mu=0.0, sigma=1.0, dims=dim)


def _dropout_scales(names: CovariateNames, kind: str, priors: Priors) -> tuple[Any, Any]:
    """BG/NBD's a and b (or a_scale, b_scale): flat, or pooled through phi and kappa."""
    import pymc as pm

    a_name, b_name = names.params["a"], names.params["b"]
    if priors == "flat":
        return pm.HalfFlat(a_name), pm.HalfFlat(b_name)
    phi = _scaled("phi_dropout", "phi_dropout", kind, priors)
    kappa = _scaled("kappa_dropout", "kappa_dropout", kind, priors)
    return pm.Deterministic(a_name, phi * kappa), pm.Deterministic(b_name, (1.0 - phi) * kappa)
