"""The PyMC models: transaction models on weighted (x, t_x, T) tuples, and Gamma-Gamma.

pymc-marketing fits one row per customer and has no weights. BG/NBD's likelihood depends on a
customer only through (x, t_x, T), so the same model is built on the distinct tuples, each
tuple's log-likelihood weighted by its count: the posterior is the same, the graph is several
times smaller (docs/definitions.md: 1M customers -> ~171k tuples in weeks).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from clvmodels.models._pymc.distributions import clv_distributions
from clvmodels.models._pymc.likelihood import weighted_bgnbd_loglike_op
from clvmodels.models._pymc.priors import (
    GAMMA_GAMMA_PARAMS,
    PARETO_NBD_PARAMS,
    default_prior,
    dropout_priors,
)
from clvmodels.models.settings import Likelihood, Priors


def transaction_graph(
    kind: str,
    frequency: np.ndarray,
    recency: np.ndarray,
    T: np.ndarray,
    weights: np.ndarray,
    priors: Priors,
    likelihood: Likelihood = "compiled",
    shared_data: bool = False,
) -> Any:
    """BG/NBD, MBG/NBD or Pareto/NBD with each tuple's log-likelihood weighted by its count.

    The priors and parameterisation are pymc-marketing's. BG/NBD's weighted log-likelihood is
    :func:`~clvmodels.models._pymc.likelihood.weighted_bgnbd_loglike_op` unless
    ``likelihood="pymc-marketing"``; the other models
    (and Laplace fits, which need second derivatives) use pymc-marketing's distributions.
    """
    import pymc as pm
    import pytensor
    import pytensor.tensor as pt

    from clvmodels.models.kernels.bgnbd_likelihood import BGNBDTuples

    T = np.asarray(T, dtype="float64")
    if kind == "bgnbd" and likelihood == "compiled":
        tuples = BGNBDTuples.from_arrays(frequency, recency, T, weights)
        with pm.Model() as model:
            a, b, r, alpha = dropout_priors(priors, kind)
            # find_MAP compiles faster when the data are shared variables (inputs of the
            # compiled function), nutpie when they are constants (measured: 1M customers'
            # MAP 3.2 s -> 1.9 s; nutpie's compile 4.8 s -> 9 s the other way round)
            data = [
                pytensor.shared(array, borrow=True) if shared_data else array
                for array in tuples.arrays()
            ]
            loglike, _ = weighted_bgnbd_loglike_op()()(r, alpha, a, b, *data)
            pm.Potential("weighted_loglike", loglike)
        return model
    distributions = clv_distributions()
    value: Any = np.stack([recency, frequency], axis=1).astype("float64")
    weight: Any = np.asarray(weights, dtype="float64")
    if shared_data:
        # data as inputs of the compiled graphs rather than constants folded into them: the
        # graphs (and their on-disk compile cache) are then the same for every data set
        T, value, weight = (pytensor.shared(array, borrow=True) for array in (T, value, weight))
    with pm.Model() as model:
        if kind == "pareto":
            if priors == "flat":
                r, alpha, s, beta = (pm.HalfFlat(n) for n in PARETO_NBD_PARAMS)
            else:
                r, alpha, s, beta = (default_prior(kind, n) for n in PARETO_NBD_PARAMS)
            dist = distributions.ParetoNBD.dist(r=r, alpha=alpha, s=s, beta=beta, T=T)
        else:
            a, b, r, alpha = dropout_priors(priors, kind)
            family = (
                distributions.ModifiedBetaGeoNBD if kind == "mbgnbd" else distributions.BetaGeoNBD
            )
            dist = family.dist(a=a, b=b, r=r, alpha=alpha, T=T)
        loglike = pm.logp(dist, value)
        pm.Potential("weighted_loglike", pt.sum(weight * loglike))
    return model


def gamma_gamma_graph(
    frequency: np.ndarray,
    monetary_value: np.ndarray,
    priors: Priors,
    likelihood: Likelihood = "compiled",
) -> Any:
    """pymc-marketing's Gamma-Gamma model (Fader & Hardie 2013, note 025, eq. 1a).

    With ``likelihood="pymc-marketing"`` this is ``GammaGammaModel.build_model``: one
    ``gammaln`` pair per customer. The default builds the same sum grouped by frequency::

        sum_i ll_i = sum_x n_x [lgamma(p x + q) - lgamma(p x)] - N lgamma(q) + N q log(v)
                     + p sum_i x_i (log z_i + log x_i) - sum_i log z_i
                     - sum_i (p x_i + q) log(x_i z_i + v)

    so the gamma functions are evaluated once per distinct x and only the last sum runs over
    customers. Priors are pymc-marketing's either way.
    """
    import pymc as pm
    import pytensor.tensor as pt

    x = np.asarray(frequency, dtype="float64")
    z = np.asarray(monetary_value, dtype="float64")
    if likelihood == "pymc-marketing":
        from pymc_extras.prior import Prior
        from pymc_marketing.clv import GammaGammaModel

        config = (
            {name: Prior("HalfFlat") for name in GAMMA_GAMMA_PARAMS} if priors == "flat" else None
        )
        gg = GammaGammaModel(model_config=config)
        data = pd.DataFrame({"customer_id": np.arange(len(x)), "frequency": x, "monetary_value": z})
        gg.build_model(data)
        return gg.model
    x_values, x_counts = np.unique(x, return_counts=True)
    n = float(len(x))
    log_z_sum = float(np.log(z).sum())
    x_log_xz_sum = float((x * (np.log(z) + np.log(x))).sum())
    with pm.Model() as model:
        p, q, v = (
            pm.HalfFlat(name) if priors == "flat" else default_prior("gamma_gamma", name)
            for name in GAMMA_GAMMA_PARAMS
        )
        px = p * x_values
        per_x = pt.sum(x_counts.astype("float64") * (pt.gammaln(px + q) - pt.gammaln(px)))
        per_customer = pt.sum((p * x + q) * pt.log(x * z + v))
        pm.Potential(
            "likelihood",
            per_x
            - n * pt.gammaln(q)
            + n * q * pt.log(v)
            + p * x_log_xz_sum
            - log_z_sum
            - per_customer,
        )
    return model
