"""BG/CNBD-k and MBG/CNBD-k (Platzer & Reutterer 2016) as PyMC models on weighted tuples.

pymc-marketing has no such model: the likelihood is ours, written here as a PyTensor graph
(the same expression as :func:`clvmodels.models.cnbd.log_likelihood`, which the tests
compare it with). For a fixed Erlang shape k, a customer's log-likelihood depends on the data
through (x, t_x, T) and a constant ``(k - 1) litt - x lgamma(k)``, so the graph is built on
the distinct tuples, each weighted by its count, and the constant is left out (it does not
change the posterior of r, alpha, a, b). The priors are BG/NBD's and MBG/NBD's in
pymc-marketing (:func:`.priors.dropout_priors`), or flat.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from clvmodels.models._pymc.fit import FitResult, fit_model
from clvmodels.models._pymc.priors import BGNBD_PARAMS, dropout_priors
from clvmodels.models.settings import Method, Priors


def weighted_cnbd_loglike(
    r: Any,
    alpha: Any,
    a: Any,
    b: Any,
    k: int,
    frequency: np.ndarray,
    recency: np.ndarray,
    T: np.ndarray,
    weights: np.ndarray,
    dropout_at_zero: bool,
    phases: int | None = None,
    shared: bool = False,
) -> Any:
    """sum_tuples weight x log L(x, t_x, T) without ``(k - 1) litt - x lgamma(k)``.

    With ``shared`` the data are shared variables (inputs of the compiled graph), as for the
    MAP fits of :func:`.graphs.transaction_graph`.

    ``k`` is an int, or a symbolic scalar with ``phases`` >= k terms of the sum over j (the
    terms j >= k masked): one graph then serves every k of a search.

    ``log L = r log alpha - lgamma(r) + log[B(a, b + x') / B(a, b) sum_j A_j
    + d B(a + 1, b + x' - 1) / B(a, b) Gamma(s) / (alpha + t_x)**s]``, s = r + k x,
    ``A_j = u**j / j! Gamma(s + j) / (alpha + T)**(s + j)``: a logsumexp over j = 0 .. k - 1
    and the dead branch (docs/models.md).
    """
    import pytensor
    import pytensor.tensor as pt
    from pytensor.tensor.special import betaln
    from scipy.special import gammaln, xlogy

    x = np.asarray(frequency, dtype="float64")
    t_x = np.asarray(recency, dtype="float64")
    T = np.asarray(T, dtype="float64")
    w = np.asarray(weights, dtype="float64")
    # the gamma and beta functions depend on x only, the logs on T or t_x only: each is
    # evaluated once per distinct value and gathered per tuple (1M customers in weeks: ~124k
    # tuples, but ~100 x's and ~500 T's)
    x_u, x_i = np.unique(x, return_inverse=True)
    T_u, T_i = np.unique(T, return_inverse=True)
    tx_u, tx_i = np.unique(t_x, return_inverse=True)
    xp_u = x_u + 1.0 if dropout_at_zero else x_u
    has_dead_u = np.ones_like(x_u, dtype=bool) if dropout_at_zero else x_u > 0
    # the dead branch at x' = 1 for customers without it keeps b + x' - 1 > 0 (no NaN gradient)
    xd_u = np.where(has_dead_u, xp_u, 1.0)
    j_values = np.arange(k if phases is None else phases, dtype="float64")[:, None]
    # the data-only part of log A_j: j log u - log j!
    phase_values = xlogy(j_values, np.maximum(T - t_x, 0.0)[None, :]) - gammaln(j_values + 1.0)
    arrays = [x_u, x_i, T_u, T_i, tx_u, tx_i, xp_u, has_dead_u[x_i], xd_u, phase_values, w]
    if shared:
        # data as inputs of the compiled graph rather than constants folded into it: the graph
        # (and its on-disk compile cache) is then the same for every data set
        arrays = [pytensor.shared(v, borrow=True) for v in arrays]
    x_u, x_i, T_u, T_i, tx_u, tx_i, xp_u, has_dead, xd_u, phase_const, w_t = arrays
    j = j_values  # a constant of the graph (it depends on k alone)
    if phases is not None:  # k symbolic: the terms j >= k drop out
        phase_const = pt.switch(pt.lt(j, k), phase_const, -np.inf)
    s_u = r + k * x_u
    lgamma_u = pt.gammaln(s_u[None, :] + j)  # (phases, distinct x)
    log_T = pt.log(alpha + T_u)[T_i]
    s = s_u[x_i]
    log_a = phase_const + lgamma_u[:, x_i] - (s[None, :] + j) * log_T[None, :]
    beta_ab = betaln(a, b)
    alive = (betaln(a, b + xp_u) - beta_ab)[x_i] + pt.logsumexp(log_a, axis=0)
    dead_u = betaln(a + 1.0, b + xd_u - 1.0) - beta_ab + lgamma_u[0]
    dead = dead_u[x_i] - s * pt.log(alpha + tx_u)[tx_i]
    # a switch around the sum, not -inf inside it: logaddexp's gradient at -inf is NaN
    both = pt.switch(has_dead, pt.logaddexp(alive, dead), alive)
    return pt.sum(w_t) * (r * pt.log(alpha) - pt.gammaln(r)) + pt.sum(w_t * both)


def cnbd_graph(
    k: int,
    frequency: np.ndarray,
    recency: np.ndarray,
    T: np.ndarray,
    weights: np.ndarray,
    priors: Priors,
    dropout_at_zero: bool,
    start: Mapping[str, float] | None = None,
    phases: int | None = None,
    shared: bool = False,
) -> Any:
    """The PyMC model: (a, b, r, alpha) with BG/NBD's (MBG/NBD's) priors, weighted logp.

    ``start`` (r, alpha, a, b) sets the optimiser's initial point (a warm start from a fit
    at another k); with the default priors it is mapped to phi = a / (a + b), kappa = a + b.
    """
    import pymc as pm

    kind = "mbgnbd" if dropout_at_zero else "bgnbd"
    with pm.Model() as model:
        a, b, r, alpha = dropout_priors(priors, kind)
        loglike = weighted_cnbd_loglike(
            r, alpha, a, b, k, frequency, recency, T, weights, dropout_at_zero, phases, shared
        )
        pm.Potential("weighted_loglike", loglike)
    if start:
        values = {"r": start["r"], "alpha": start["alpha"]}
        if priors == "flat":
            values.update(a=start["a"], b=start["b"])
        else:
            kappa = start["a"] + start["b"]
            values.update(phi_dropout=start["a"] / kappa, kappa_dropout=max(kappa, 1.0 + 1e-6))
        for name, value in values.items():
            model.set_initval(model[name], float(value))
    return model


def fit_cnbd(
    k: int,
    frequency: np.ndarray,
    recency: np.ndarray,
    T: np.ndarray,
    weights: np.ndarray,
    *,
    dropout_at_zero: bool,
    priors: Priors = "default",
    method: Method = "map",
    chains: int = 4,
    draws: int = 1000,
    tune: int = 1000,
    seed: int | None = None,
    progressbar: bool = False,
    start: Mapping[str, float] | None = None,
) -> FitResult:
    """Fit BG/CNBD-k (MBG/CNBD-k with ``dropout_at_zero``) for a fixed k on weighted tuples.

    MAP, Laplace or NUTS through :func:`.fit.fit_model`; the posterior holds r, alpha, a, b.
    """
    # shared data for the optimiser (its compiled graph is then cached across data sets),
    # constants for NUTS (as :func:`.graphs.transaction_graph`)
    model = cnbd_graph(
        k, frequency, recency, T, weights, priors, dropout_at_zero, start, shared=method != "mcmc"
    )
    return fit_model(model, BGNBD_PARAMS, method, chains, draws, tune, seed, progressbar)


def map_k_search(
    ks: Sequence[int],
    frequency: np.ndarray,
    recency: np.ndarray,
    T: np.ndarray,
    weights: np.ndarray,
    *,
    dropout_at_zero: bool,
    priors: Priors = "default",
    seed: int | None = None,
) -> dict[int, dict[str, Any]]:
    """The posterior mode at each k of ``ks``, from one compiled graph.

    k is a shared scalar of a graph with ``max(ks)`` phase terms (:func:`weighted_cnbd_loglike`),
    so the log posterior and its gradient are compiled once, and each k's L-BFGS-B (the
    optimisation of :func:`.optimize.find_map`) starts from the previous k's mode with alpha
    scaled by k / (k + 1) (the same mean purchase rate), unless that mode had a dropout
    parameter at a bound. Returns per k: ``params`` (r, alpha, a, b), ``success``,
    ``iterations``, ``message``.
    """
    import pytensor
    import pytensor.tensor as pt
    from pymc.pytensorf import compile as compile_pymc
    from scipy import optimize

    k_shared = pytensor.shared(np.float64(ks[0]), name="k")
    model = cnbd_graph(
        k_shared,
        frequency,
        recency,
        T,
        weights,
        priors,
        dropout_at_zero,
        phases=max(ks),
        shared=True,
    )
    value_vars = model.continuous_value_vars
    start = model.initial_point(seed)
    shapes = [np.shape(start[v.name]) for v in value_vars]
    logp = model.logp(jacobian=False)
    logp_and_grad = compile_pymc(value_vars, [logp, *pt.grad(logp, value_vars)])
    # the constrained values of the free variables and the deterministics (as find_MAP's)
    outputs = model.unobserved_value_vars
    values_fn = compile_pymc(value_vars, outputs, on_unused_input="ignore")
    names = [var.name for var in outputs]
    alpha_index = [v.name for v in value_vars].index(model.rvs_to_values[model["alpha"]].name)

    def cost(z: np.ndarray) -> tuple[float, np.ndarray]:
        value, *grads = logp_and_grad(
            *(np.reshape(zi, sh) for zi, sh in zip(z, shapes, strict=True))
        )
        return -float(value), -np.array([float(g) for g in grads])

    initial = np.array([float(start[v.name]) for v in value_vars])
    z0 = initial.copy()
    out: dict[int, dict[str, Any]] = {}
    for k in ks:
        k_shared.set_value(np.float64(k))
        raw = optimize.minimize(cost, z0, jac=True, method="L-BFGS-B", options={"maxiter": 10_000})
        point = dict(zip(names, values_fn(*raw.x), strict=True))
        values = {name: float(point[name]) for name in BGNBD_PARAMS}
        out[k] = {
            "params": values,
            "success": bool(raw.success) and all(np.isfinite(list(values.values()))),
            "iterations": int(raw.nit),
            "message": str(raw.message),
        }
        interior = all(1e-3 < values[n] < 1e3 for n in ("r", "a", "b"))
        z0 = raw.x.copy() if interior else initial.copy()
        if interior:
            z0[alpha_index] += np.log(k / (k + 1))
    return out
