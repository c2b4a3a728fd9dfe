"""Each model's parameters, and pymc-marketing's default priors on them."""

from __future__ import annotations

from typing import Any

from clvmodels.models.settings import Priors

BGNBD_PARAMS = ("r", "alpha", "a", "b")
PARETO_NBD_PARAMS = ("r", "alpha", "s", "beta")
TRANSACTION_PARAMS = {"bgnbd": BGNBD_PARAMS, "mbgnbd": BGNBD_PARAMS, "pareto": PARETO_NBD_PARAMS}
GAMMA_GAMMA_PARAMS = ("p", "q", "v")

_DROPOUT_PRIORS: dict[str, tuple[str, dict[str, float]]] = {
    "alpha": ("Weibull", {"alpha": 2, "beta": 10}),
    "r": ("Weibull", {"alpha": 2, "beta": 1}),
    "phi_dropout": ("Uniform", {"lower": 0, "upper": 1}),
    "kappa_dropout": ("Pareto", {"alpha": 1, "m": 1}),
}
#: pymc-marketing 1.3.0's default priors (``default_model_config`` of BetaGeoModel,
#: ModifiedBetaGeoModel, ParetoNBDModel, GammaGammaModel): parameter -> (PyMC distribution,
#: its parameters). Kept as data so that a fit need not import pymc-marketing's model classes;
#: tests/cli/test_startup.py asserts they equal pymc-marketing's.
DEFAULT_PRIORS: dict[str, dict[str, tuple[str, dict[str, float]]]] = {
    "bgnbd": _DROPOUT_PRIORS,
    "mbgnbd": _DROPOUT_PRIORS,
    "pareto": {
        "r": ("Weibull", {"alpha": 2, "beta": 1}),
        "alpha": ("Weibull", {"alpha": 2, "beta": 10}),
        "s": ("Weibull", {"alpha": 2, "beta": 1}),
        "beta": ("Weibull", {"alpha": 2, "beta": 10}),
    },
    "gamma_gamma": {
        "p": ("Weibull", {"alpha": 2, "beta": 1}),
        "q": ("Weibull", {"alpha": 2, "beta": 1}),
        "v": ("Weibull", {"alpha": 2, "beta": 10}),
    },
}


def default_prior(model: str, name: str) -> Any:
    """Create parameter ``name`` with its pymc-marketing default prior (:data:`DEFAULT_PRIORS`)."""
    import pymc as pm

    distribution, parameters = DEFAULT_PRIORS[model][name]
    return getattr(pm, distribution)(name, **parameters)


def dropout_priors(priors: Priors, kind: str) -> tuple[Any, Any, Any, Any]:
    """BG/NBD's and MBG/NBD's (a, b, r, alpha): flat, or pymc-marketing's pooled defaults."""
    import pymc as pm

    if priors == "flat":
        r = pm.HalfFlat("r")
        alpha = pm.HalfFlat("alpha")
        a = pm.HalfFlat("a")
        b = pm.HalfFlat("b")
    else:
        # pymc-marketing's defaults: Weibull on r and alpha, a and b pooled through
        # phi_dropout ~ Uniform(0, 1) and kappa_dropout ~ Pareto(1, 1).
        alpha = default_prior(kind, "alpha")
        r = default_prior(kind, "r")
        phi = default_prior(kind, "phi_dropout")
        kappa = default_prior(kind, "kappa_dropout")
        a = pm.Deterministic("a", phi * kappa)
        b = pm.Deterministic("b", (1.0 - phi) * kappa)
    return a, b, r, alpha
