"""The fitted model seen per acquisition source: source factors and group expectations.

A :class:`clvmodels.model.CLVModel` is fitted on all customers together, whatever brought
them. Sources differ in customer quality, and a young customer's own history says little,
so the pooled model would predict every young customer like the population average (and a
young cohort of a poor source too well). Each source therefore gets its own parameters,
shrunk toward the pooled fit: every parameter theta of the transaction model (BG/NBD
``r, alpha, a, b`` [FHL05]_; MBG/NBD and Pareto/NBD alike) and of Gamma-Gamma (``p, q, v``
[FH13GG]_) becomes ``theta * f`` for the source, where the factor f maximises the model's
own log-likelihood of the source's customers (FHL05 eq. 6 on the (x, t_x, T) tuples;
[FH13GG]_ eq. 1a on the repeat customers) plus a normal prior on ``log f`` with standard
deviation :data:`SCALE_PRIOR_SD` (empirical-Bayes shrinkage: a source with few customers
stays near the pooled fit). Every posterior draw of the pooled model is multiplied by the
same factors, so the intervals carry the pooled model's uncertainty, not the factors'.

Two ratios summarise a source: ``rate_ratio``, its mean purchase rate r / alpha over the
pooled one, and ``spend_ratio``, its mean spend p v / (q - 1) over the pooled one.

**With covariates** (a transaction model fitted with ``--covariates``,
:mod:`clvmodels.models.covariate_fit`) every customer i has parameters theta_i from the
reference parameters and the coefficients (``alpha_i = alpha exp(-z_i . gamma)``, ...). The
source factors then scale the reference parameters, the coefficients stay the model's
(posterior means while the factors are fitted, every draw afterwards): since each covariate
effect is a multiplier, a source's customer i has ``theta_i * f``, and the factors maximise
the likelihood of the source's customers each at their own covariates (collapsed on
(x, t_x, T, covariate row)). Existing customers are predicted with their own parameters
(evaluated once per distinct covariate profile, exactly); the expectation of a *new*
customer of a source is the average over that source's customers of the new-customer
expectation at each one's covariates
(:func:`clvmodels.marketing.new_customers.new_customer_value`): the source's mix of profiles
stands for the customers it will bring. A source without customers gets the
average over all the customers given. The tables these functions read must then carry the
model's covariate columns (:func:`attach_model_covariates`).

.. [FHL05] http://brucehardie.com/papers/018/fader_et_al_mksc_05.pdf
.. [FH13GG] http://www.brucehardie.com/notes/025/gamma_gamma.pdf
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.optimize import minimize

from clvmodels.model import CLVModel
from clvmodels.models import gamma_gamma
from clvmodels.models.covariate_fit import collapse_with_covariates, customer_parameters
from clvmodels.models.inputs import collapse_rfm
from clvmodels.predict.covariate_scoring import CovariateRows
from clvmodels.units import DAYS_PER_UNIT, check_time_unit

#: Standard deviation of the normal prior on log(factor): a factor of 2 is 0.7 sd away.
SCALE_PRIOR_SD = 1.0
#: Elements (draws x customers) one chunk may hold per array: 4M float64 = 32 MB.
CHUNK_ELEMENTS = 4_000_000
_MAX_LOG_FACTOR = 4.0


@dataclass(frozen=True)
class GroupExpectations:
    """Expected purchases and revenue of groups of customers after the observation end.

    Attributes
    ----------
    purchases, revenue : numpy.ndarray
        Shape ``(draws, groups, len(t))``: summed over each group's customers, the expected
        purchases in (end, end + t_j] and their expected revenue (before margin).
    """

    purchases: np.ndarray
    revenue: np.ndarray


def rfm_in_units(buyers: pd.DataFrame, time_unit: str, columns: Sequence[str] = ()) -> pd.DataFrame:
    """RFM (``frequency, recency, T, monetary_value``) in ``time_unit`` from days.

    ``buyers`` has ``customer_id, frequency, recency_days, T_days, monetary_value`` (as
    :func:`clvmodels.marketing.payback.payback_analysis` writes); the result equals
    :func:`clvmodels.summaries.rfm.rfm_summary`'s in ``time_unit``, with the ``columns``
    of ``buyers`` (covariates) carried over.
    """
    unit = check_time_unit(time_unit)
    days = DAYS_PER_UNIT[unit]
    rfm = pd.DataFrame(
        {
            "customer_id": buyers["customer_id"].to_numpy(),
            "frequency": buyers["frequency"].to_numpy(dtype="int64"),
            "recency": buyers["recency_days"].to_numpy(dtype="float64") / days,
            "T": buyers["T_days"].to_numpy(dtype="float64") / days,
            "monetary_value": buyers["monetary_value"].to_numpy(dtype="float64"),
        }
    )
    for name in columns:
        rfm[name] = buyers[name].to_numpy()
    rfm.attrs = {"time_unit": unit}
    return rfm


def source_scales(
    model: CLVModel,
    rfm: pd.DataFrame,
    source: np.ndarray | pd.Series,
    *,
    prior_sd: float = SCALE_PRIOR_SD,
) -> pd.DataFrame:
    """Fit each source's parameter factors (see the module docstring).

    Parameters
    ----------
    model : CLVModel
        A fitted model; its posterior means are the centre of the shrinkage.
    rfm : pandas.DataFrame
        ``frequency, recency, T, monetary_value`` in the model's time unit.
    source : array
        Each customer's source.
    prior_sd : float
        Standard deviation of the normal prior on the log of each factor.

    Returns
    -------
    pandas.DataFrame
        One row per source (sorted): ``source_id``, ``n_customers``,
        ``n_repeat_customers``, ``rate_ratio``, ``spend_ratio`` and ``factor_<name>`` for
        every parameter of both models.
    """
    model._check_fitted()
    tm, sm = model.transaction_model_, model.require_spend_model()
    bg = {k: float(v) for k, v in tm.params_.items()}
    gg = {k: float(v) for k, v in sm.params_.items()}
    labels = np.asarray(source).astype(str)
    rows = []
    for name in sorted(set(labels.tolist())):
        sub = rfm.loc[labels == name]
        repeat = sub.loc[gamma_gamma.fitted_customers(sub)]
        f_bg = _transaction_factors(model, bg, sub, prior_sd)
        f_gg = _spend_factors(gg, repeat, prior_sd) if len(repeat) else dict.fromkeys(gg, 1.0)
        spend = gg["p"] * gg["v"] / (gg["q"] - 1)
        spend_s = gg["p"] * f_gg["p"] * gg["v"] * f_gg["v"] / (gg["q"] * f_gg["q"] - 1)
        rows.append(
            {
                "source_id": name,
                "n_customers": len(sub),
                "n_repeat_customers": int((sub["frequency"] > 0).sum()),
                "rate_ratio": f_bg["r"] / f_bg["alpha"],
                "spend_ratio": spend_s / spend,
                **{f"factor_{k}": v for k, v in {**f_bg, **f_gg}.items()},
            }
        )
    return pd.DataFrame(rows)


def _transaction_factors(
    model: CLVModel, params: dict[str, float], rfm: pd.DataFrame, prior_sd: float
) -> dict[str, float]:
    """MAP factors of the transaction parameters on the source's collapsed tuples.

    With covariates the factors scale the reference parameters and each tuple (collapsed on
    (x, t_x, T, covariate row)) gets its parameters from them and the coefficients' means.
    """
    tm = model.transaction_model_
    if tm.encoding_ is None:
        tuples = collapse_rfm(rfm).tuples
        design = None
    else:
        collapsed = collapse_with_covariates(rfm, *tm.encoding_.design(rfm))
        tuples = collapsed.tuples
        means = {k: v.mean(axis=0, keepdims=True) for k, v in tm.coefficient_draws().items()}
        design = (collapsed.purchase, collapsed.dropout)
    x, t_x, T = (tuples[c].to_numpy(dtype="float64") for c in ("frequency", "recency", "T"))
    weight = tuples["n_customers"].to_numpy(dtype="float64")
    loglik_fn = tm.log_likelihood_fn
    # CNBD-k's Erlang shape k is a whole number, not sampled: it is not scaled
    fixed = {k: np.asarray(v) for k, v in params.items() if k == "k"}
    names = [k for k in params if k not in fixed]
    base = np.array([params[k] for k in names])

    def loss(z: np.ndarray) -> float:
        scaled = {k: np.asarray(v) for k, v in zip(names, base * np.exp(z), strict=True)}
        scaled.update(fixed)
        if design is not None:
            reference = {k: v[None] for k, v in scaled.items()}
            per_tuple = customer_parameters(tm.name, reference, means, *design)
            scaled = {k: v[0] for k, v in per_tuple.items()}
        loglik = float((weight * loglik_fn(scaled, x, t_x, T)).sum())
        return -loglik + 0.5 * float((z**2).sum()) / prior_sd**2

    bounds = [(-_MAX_LOG_FACTOR, _MAX_LOG_FACTOR)] * len(names)
    return dict(zip(names, _minimise(loss, bounds), strict=True))


def _spend_factors(
    params: dict[str, float], repeat: pd.DataFrame, prior_sd: float
) -> dict[str, float]:
    """MAP factors of p, q, v on the source's repeat customers (q stays above 1)."""
    x = repeat["frequency"].to_numpy(dtype="float64")
    z_bar = repeat["monetary_value"].to_numpy(dtype="float64")
    p, q, v = params["p"], params["q"], params["v"]

    def loss(z: np.ndarray) -> float:
        loglik = gamma_gamma.log_likelihood(
            p * np.exp(z[0]), q * np.exp(z[1]), v * np.exp(z[2]), x, z_bar
        )
        return -float(loglik.sum()) + 0.5 * float((z**2).sum()) / prior_sd**2

    lowest_q = np.log(1.01 / q) if q > 1.01 else 0.0
    bounds = [
        (-_MAX_LOG_FACTOR, _MAX_LOG_FACTOR),
        (max(-_MAX_LOG_FACTOR, lowest_q), _MAX_LOG_FACTOR),
        (-_MAX_LOG_FACTOR, _MAX_LOG_FACTOR),
    ]
    return dict(zip(("p", "q", "v"), _minimise(loss, bounds), strict=True))


def _minimise(loss: Callable[[np.ndarray], float], bounds: list[tuple[float, float]]) -> np.ndarray:
    start = np.clip(np.zeros(len(bounds)), [b[0] for b in bounds], [b[1] for b in bounds])
    with np.errstate(all="ignore"):
        result = minimize(loss, start, method="L-BFGS-B", bounds=bounds)
    return np.exp(result.x if np.all(np.isfinite(result.x)) else start)


def scaled_draws(
    model: CLVModel,
    *,
    factors: Mapping[str, float] | None = None,
    n_draws: int | None = 200,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Paired posterior draws of both models, shaped ``(draws, 1)``, times a source's factors.

    Returns the transaction model's draws and the spend model's, thinned to the same
    number of draws; each parameter is multiplied by ``factors[name]`` when given. One
    parameter set for every customer: a model with covariates refuses (see
    :func:`parameter_sets`).
    """
    bg = dict(model.transaction_model_.draws_as_columns(n_draws))
    if factors:
        bg = {k: v * float(factors.get(k, 1.0)) for k, v in bg.items()}
    return bg, _spend_draws(model, next(iter(bg.values())).shape[0], factors, n_draws)


def _spend_draws(
    model: CLVModel, n_used: int, factors: Mapping[str, float] | None, n_draws: int | None
) -> dict[str, np.ndarray]:
    gg = {
        k: _match_length(v, n_used)[:, None]
        for k, v in model.require_spend_model().param_draws(n_draws).items()
    }
    if factors:
        gg = {k: v * float(factors.get(k, 1.0)) for k, v in gg.items()}
    return gg


def parameter_sets(
    model: CLVModel,
    rfm: pd.DataFrame,
    *,
    factors: Mapping[str, float] | None = None,
    n_draws: int | None = 200,
) -> list[tuple[np.ndarray, dict[str, np.ndarray], dict[str, np.ndarray]]]:
    """The customers of ``rfm`` by parameter set: ``(rows, transaction draws, spend draws)``.

    Without covariates one set, every row, :func:`scaled_draws`. With covariates one set per
    distinct covariate profile of ``rfm`` (whose covariate columns are read by the model's
    encoding, refusing missing values and unseen levels): the reference draws times
    ``factors``, then the profile's covariate effects with the coefficients' draws
    (:func:`clvmodels.models.covariate_fit.customer_parameters`), each ``(draws, 1)``.
    """
    tm = model.transaction_model_
    if tm.encoding_ is None:
        bg, gg = scaled_draws(model, factors=factors, n_draws=n_draws)
        return [(np.arange(len(rfm)), bg, gg)]
    reference = tm.param_draws(n_draws)
    if factors:
        reference = {k: v * float(factors.get(k, 1.0)) for k, v in reference.items()}
    coefficients = tm.coefficient_draws(n_draws)
    gg = _spend_draws(model, len(next(iter(reference.values()))), factors, n_draws)
    rows = CovariateRows.of(tm, rfm)
    assert rows is not None
    out = []
    for profile, first in enumerate(rows.first.tolist()):
        bg = customer_parameters(
            tm.name,
            reference,
            coefficients,
            rows.purchase[first : first + 1],
            rows.dropout[first : first + 1],
        )
        out.append((np.flatnonzero(rows.profile == profile), bg, gg))
    return out


def factors_of(scales: pd.DataFrame | None, source_id: str) -> dict[str, float]:
    """The ``factor_<name>`` values of one source as ``{name: factor}`` (empty if unknown)."""
    if scales is None:
        return {}
    rows = scales.loc[scales["source_id"].astype(str) == str(source_id)]
    if rows.empty:
        return {}
    row = rows.iloc[0]
    return {
        c.removeprefix("factor_"): float(row[c])
        for c in scales.columns
        if c.startswith("factor_") and np.isfinite(row[c])
    }


def _match_length(values: np.ndarray, n: int) -> np.ndarray:
    """Repeat or thin ``values`` to length ``n`` so that draws pair up across models."""
    if len(values) == n:
        return values
    return values[np.linspace(0, len(values) - 1, n).round().astype(int)]


def expected_by_group(
    model: CLVModel,
    rfm: pd.DataFrame,
    group: np.ndarray,
    n_groups: int,
    t: np.ndarray,
    *,
    n_draws: int | None = 200,
    scales: pd.DataFrame | None = None,
    source: np.ndarray | pd.Series | None = None,
) -> GroupExpectations:
    """Sum the model's per-customer conditional expectations over groups, per draw.

    For customer i and draw d, the expected purchases in the next t is
    ``P(alive_i) * N(x_i, T_i, t)`` (FHL05 eq. 10 factored as in
    :mod:`clvmodels.models.transaction`), and their expected revenue is that times the Gamma-Gamma
    conditional mean spend ([FH13GG]_ eq. 5). Customers are folded into (x, T, group)
    combinations weighted by P(alive) and P(alive) x spend, so the hypergeometric
    numerator is evaluated once per distinct (x, T) pair and t (with covariates: once per
    distinct (x, T, covariate profile), each customer at their own parameters,
    :func:`parameter_sets`; ``rfm`` then holds the covariate columns).

    Parameters
    ----------
    model : CLVModel
        A fitted model.
    rfm : pandas.DataFrame
        ``frequency, recency, T, monetary_value`` in the model's time unit.
    group : numpy.ndarray
        Each customer's group, integers in ``[0, n_groups)``.
    n_groups : int
        Number of groups (a group without customers gets zeros).
    t : numpy.ndarray
        Times after the observation end, in the model's time unit.
    n_draws : int or None
        Posterior draws used, thinned evenly (None: all).
    scales, source : optional
        The output of :func:`source_scales` and each customer's source: each source's
        customers are then predicted with that source's parameters.

    Returns
    -------
    GroupExpectations
        Cumulative expectations at each t, shape ``(draws, n_groups, len(t))``.
    """
    model._check_fitted()
    codes = np.asarray(group, dtype=np.int64)
    times = np.atleast_1d(np.asarray(t, dtype="float64"))
    if scales is None or source is None:
        subsets: list[tuple[np.ndarray, dict[str, float]]] = [(np.arange(len(rfm)), {})]
    else:
        labels = np.asarray(source).astype(str)
        subsets = [
            (np.flatnonzero(labels == name), factors_of(scales, name))
            for name in sorted(set(labels.tolist()))
        ]
    purchases: np.ndarray | None = None
    revenue: np.ndarray | None = None
    for rows, factors in subsets:
        for which, bg, gg in parameter_sets(
            model, rfm.iloc[rows], factors=factors, n_draws=n_draws
        ):
            part = rows[which]
            p, r = _expected_by_group(model, bg, gg, rfm.iloc[part], codes[part], n_groups, times)
            purchases = p if purchases is None else purchases + p
            revenue = r if revenue is None else revenue + r
    assert purchases is not None and revenue is not None
    return GroupExpectations(purchases=purchases, revenue=revenue)


def _expected_by_group(
    model: CLVModel,
    bg: dict[str, np.ndarray],
    gg: dict[str, np.ndarray],
    rfm: pd.DataFrame,
    codes: np.ndarray,
    n_groups: int,
    times: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    tm = model.transaction_model_
    n_used = next(iter(bg.values())).shape[0]
    purchases = np.zeros((n_used, n_groups, len(times)))
    revenue = np.zeros_like(purchases)
    if len(rfm) == 0 or len(times) == 0:
        return purchases, revenue
    x = rfm["frequency"].to_numpy(dtype="float64")
    t_x = rfm["recency"].to_numpy(dtype="float64")
    T = rfm["T"].to_numpy(dtype="float64")
    mv = rfm["monetary_value"].to_numpy(dtype="float64")
    # the numerator depends on (x, T), or on (x, T, t_x) for BG/CNBD-k and MBG/CNBD-k
    keys = [x, T, t_x] if tm.numerator_uses_recency else [x, T]
    pairs, pair_code = np.unique(np.stack(keys, axis=1), axis=0, return_inverse=True)
    pair_code = pair_code.reshape(-1)
    # (pair, group) combinations, sorted by pair so that a chunk of pairs is a run of them
    combos, combo_code = np.unique(
        np.stack([pair_code, codes], axis=1), axis=0, return_inverse=True
    )
    combo_code = combo_code.reshape(-1)
    combo_pair, combo_group = combos[:, 0], combos[:, 1]

    # weights per combination: the sums of P(alive) and of P(alive) x spend
    w_alive = np.zeros((n_used, len(combos)))
    w_value = np.zeros((n_used, len(combos)))
    order = np.argsort(combo_code, kind="stable")
    sorted_codes = combo_code[order]
    size = max(1_000, CHUNK_ELEMENTS // n_used)
    for start in range(0, len(order), size):
        idx = order[start : start + size]
        local = sorted_codes[start : start + size]
        alive = tm.probability_alive_fn(bg, x[None, idx], t_x[None, idx], T[None, idx])
        spend = gamma_gamma.expected_spend(gg["p"], gg["q"], gg["v"], x[None, idx], mv[None, idx])
        firsts = np.flatnonzero(np.r_[True, local[1:] != local[:-1]])
        w_alive[:, local[firsts]] += np.add.reduceat(alive, firsts, axis=1)
        w_value[:, local[firsts]] += np.add.reduceat(alive * spend, firsts, axis=1)

    pair_chunk = max(1, CHUNK_ELEMENTS // n_used)
    starts = np.arange(0, len(pairs), pair_chunk)
    bounds = np.asarray(np.searchsorted(combo_pair, np.r_[starts, len(pairs)]), dtype=np.int64)
    for j, t_j in enumerate(times):
        if t_j <= 0:
            continue
        for c, start in enumerate(starts.tolist()):
            stop = min(start + pair_chunk, len(pairs))
            lo, hi = int(bounds[c]), int(bounds[c + 1])
            recency = (pairs[None, start:stop, 2],) if tm.numerator_uses_recency else ()
            numerator = tm.numerator_fn(
                bg, pairs[None, start:stop, 0], pairs[None, start:stop, 1], t_j, *recency
            )
            per_combo = numerator[:, combo_pair[lo:hi] - start]
            indicator = sp.csr_array(
                (np.ones(hi - lo), (np.arange(hi - lo), combo_group[lo:hi])),
                shape=(hi - lo, n_groups),
            )
            purchases[:, :, j] += (per_combo * w_alive[:, lo:hi]) @ indicator
            revenue[:, :, j] += (per_combo * w_value[:, lo:hi]) @ indicator
    return purchases, revenue
