"""The shifted-beta-geometric (sBG) model of contractual customers (Fader & Hardie 2007, 2010).

A customer renews at the end of each billing period with probability ``1 - theta``; across
customers ``theta ~ Beta(alpha, beta)``. The period in which a customer churns (the number of
periods paid, ``n``) then follows the shifted-beta-geometric distribution:

* ``P(T = t) = B(alpha + 1, beta + t - 1) / B(alpha, beta)``, t >= 1 (F&H 2007, eq. 5);
* ``S(t) = P(T > t) = B(alpha, beta + t) / B(alpha, beta)``, S(0) = 1 (eq. 6);
* the retention rate ``r_t = S(t) / S(t - 1) = (beta + t - 1) / (alpha + beta + t - 1)``
  (eq. 8).

Observation convention (pymc-marketing's ``ShiftedBetaGeoModel``): a churned customer
contributes ``log P(T = n)`` at its churn period n = periods paid; an active customer observed
for T periods (T - 1 renewals) contributes ``log S(T - 1)``. The fit runs on the distinct
(group, value, censored[, covariate row]) cells with integer weights (:func:`sbg_cells`), so
1M customers become a few hundred cells and customers of one group may have different T.

This module imports numpy, scipy and xarray only; the fit goes through the adapter
(:mod:`clvmodels.models._pymc.sbg`), which imports PyMC when a fit runs.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
import xarray as xr
from numpy.typing import ArrayLike
from scipy.special import betaln, hyp2f1

from clvmodels.errors import ConvergenceWarning, DataError
from clvmodels.models._pymc import sbg as pymc_sbg
from clvmodels.models.posterior import SHAPE_CEILING, SHAPE_FLOOR
from clvmodels.models.settings import Method, Priors

#: A billing period: a month or a year.
BillingPeriod = Literal["month", "year"]
#: The billing periods and how many of them a year has.
PERIODS_PER_YEAR: dict[str, int] = {"month": 12, "year": 1}


# --------------------------------------------------------------------------- closed forms
def sbg_survival(alpha: ArrayLike, beta: ArrayLike, t: ArrayLike) -> np.ndarray:
    """``S(t) = B(alpha, beta + t) / B(alpha, beta)``: P(still a customer after t periods).

    F&H (2007), eq. 6; S(0) = 1. Arguments broadcast (draws x customers x periods).
    """
    alpha, beta, t = (np.asarray(v, dtype="float64") for v in (alpha, beta, t))
    return np.exp(betaln(alpha, beta + t) - betaln(alpha, beta))


def sbg_retention(alpha: ArrayLike, beta: ArrayLike, t: ArrayLike) -> np.ndarray:
    """The retention rate ``r_t = (beta + t - 1) / (alpha + beta + t - 1)``, t >= 1.

    F&H (2007), eq. 8: the share of the customers alive after period t - 1 who renew at t.
    """
    alpha, beta, t = (np.asarray(v, dtype="float64") for v in (alpha, beta, t))
    return (beta + t - 1.0) / (alpha + beta + t - 1.0)


def sbg_churn_pmf(alpha: ArrayLike, beta: ArrayLike, t: ArrayLike) -> np.ndarray:
    """``P(T = t) = B(alpha + 1, beta + t - 1) / B(alpha, beta)``, t >= 1 (F&H 2007, eq. 5)."""
    alpha, beta, t = (np.asarray(v, dtype="float64") for v in (alpha, beta, t))
    return np.exp(betaln(alpha + 1.0, beta + t - 1.0) - betaln(alpha, beta))


def p_renew_next(alpha: ArrayLike, beta: ArrayLike, n: ArrayLike) -> np.ndarray:
    """P(an active customer with n periods paid renews once more) = r_n.

    ``(beta + n - 1) / (alpha + beta + n - 1)``: the retention rate at period n + 1 of the
    customers alive after n periods is ``S(n) / S(n - 1)``, which is eq. 8 at t = n.
    """
    return sbg_retention(alpha, beta, n)


def residual_lifetime(
    alpha: ArrayLike, beta: ArrayLike, n: ArrayLike, discount: ArrayLike
) -> np.ndarray:
    """Discounted expected residual lifetime (DERL) of an active customer, n periods paid.

    Fader & Hardie (2010), eq. 6, for a customer who has made n - 1 renewals::

        DERL(d | alpha, beta, n) = (beta + n - 1) / (alpha + beta + n - 1)
                                   * 2F1(1, beta + n; alpha + beta + n; 1 / (1 + d))

    the expected number of future renewals, each discounted by ``(1 + d)^-k`` for the k-th
    period from now (the next renewal is undiscounted: it is paid at the start of the next
    period). Infinite horizon; ``d`` is the per-period discount rate (:func:`per_period_discount`).
    """
    alpha, beta, n, d = (np.asarray(v, dtype="float64") for v in (alpha, beta, n, discount))
    ratio = (beta + n - 1.0) / (alpha + beta + n - 1.0)
    return ratio * hyp2f1(1.0, beta + n, alpha + beta + n, 1.0 / (1.0 + d))


def residual_lifetime_horizon(
    alpha: ArrayLike, beta: ArrayLike, n: ArrayLike, discount: ArrayLike, horizon: int
) -> np.ndarray:
    """DERL cut at ``horizon`` periods: ``sum_{k=0}^{H-1} [S(n + k) / S(n - 1)] / (1 + d)^k``.

    The term k is the next k-th renewal (period n + k + 1), survived with probability
    S(n + k) / S(n - 1) given n - 1 renewals so far. Tends to :func:`residual_lifetime` as
    ``horizon`` grows.
    """
    alpha, beta, n, d = (np.asarray(v, dtype="float64") for v in (alpha, beta, n, discount))
    base = betaln(alpha, beta + n - 1.0)
    total = np.zeros(np.broadcast_shapes(alpha.shape, beta.shape, n.shape, d.shape))
    for k in range(int(horizon)):
        total += np.exp(betaln(alpha, beta + n + k) - base) / (1.0 + d) ** k
    return total


def per_period_discount(annual_rate: float, billing_period: BillingPeriod) -> float:
    """The per-period rate of an annual discount rate: ``(1 + r)^(1/12) - 1`` monthly, r yearly."""
    if billing_period not in PERIODS_PER_YEAR:
        raise ValueError(f"billing_period must be 'month' or 'year'; got {billing_period!r}")
    if not annual_rate > -1:
        raise ValueError(f"the annual discount rate must be above -1; got {annual_rate}")
    if PERIODS_PER_YEAR[billing_period] == 1:
        return float(annual_rate)
    return float((1.0 + annual_rate) ** (1.0 / PERIODS_PER_YEAR[billing_period]) - 1.0)


# --------------------------------------------------------------------------- cells
@dataclass
class SBGData:
    """Customers collapsed into cells: what the sBG likelihood depends on, with counts.

    Attributes
    ----------
    group : ndarray of int64
        Each cell's index into ``groups``.
    value : ndarray of int64
        The churn period (churned cells) or T (censored cells).
    censored : ndarray of bool
        Whether the cell's customers are still active.
    weight : ndarray of int64
        Customers per cell.
    groups : list
        The group labels (``["all"]`` without groups).
    covariates : ndarray (cells, k) of float64, optional
        Each cell's dropout covariates.
    covariate_names : list of str
    customers, churned : ndarray of int64
        Per group: customers and churned customers.
    """

    group: np.ndarray
    value: np.ndarray
    censored: np.ndarray
    weight: np.ndarray
    groups: list[Any]
    covariates: np.ndarray | None = None
    covariate_names: list[str] = field(default_factory=list)
    customers: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype="int64"))
    churned: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype="int64"))

    @property
    def n_cells(self) -> int:
        """The number of distinct cells."""
        return len(self.weight)


def sbg_cells(
    periods: ArrayLike,
    T: ArrayLike,
    churned: ArrayLike,
    group_codes: ArrayLike | None = None,
    covariates: ArrayLike | None = None,
    *,
    groups: Sequence[Any] | None = None,
    covariate_names: Sequence[str] | None = None,
) -> SBGData:
    """Collapse customers into (group, value, censored[, covariates]) cells with counts.

    Parameters
    ----------
    periods : array of int
        Periods paid (the first spell's): the churn period of a churned customer.
    T : array of int
        Periods observed, counting the first (>= periods).
    churned : array of bool
        Whether the customer churned; an active customer is censored at ``value = T``.
    group_codes : array of int, optional
        Each customer's group as a code 0..G-1 (``pandas.factorize``); one group without.
    covariates : array (customers, k), optional
        Time-invariant dropout covariates (numeric).
    groups : sequence, optional
        The labels of the codes (default: the codes; ``["all"]`` without groups).
    covariate_names : sequence of str, optional
        The covariates' names (default ``x0, x1, ...``).

    Raises
    ------
    DataError
        Periods below 1, T below the periods, codes outside 0..G-1, non-finite covariates.
    """
    periods, T = _integers(periods, "periods"), _integers(T, "T")
    churned = np.asarray(churned, dtype=bool)
    n = len(periods)
    if len(T) != n or len(churned) != n:
        raise ValueError("periods, T and churned must have the same length")
    _check_rows(periods < 1, "periods", "periods paid must be at least 1", periods)
    _check_rows(T < periods, "T", "T (periods observed) is below the periods paid", T)
    codes, labels = _group_codes(group_codes, groups, n)
    censored = ~churned
    value = np.where(censored, T, periods)
    key = (codes * (int(value.max(initial=1)) + 1) + value) * 2 + censored
    counts_customers = np.bincount(codes, minlength=len(labels)).astype("int64")
    counts_churned = np.bincount(codes, weights=churned, minlength=len(labels)).astype("int64")
    if covariates is None:
        _, first, weight = np.unique(key, return_index=True, return_counts=True)
        x, names = None, []
    else:
        x = np.asarray(covariates, dtype="float64").reshape(n, -1)
        _check_rows(~np.isfinite(x).all(axis=1), "covariates", "covariates must be finite", x)
        names = list(covariate_names or [f"x{i}" for i in range(x.shape[1])])
        if len(names) != x.shape[1]:
            raise ValueError(f"{len(names)} covariate names for {x.shape[1]} covariates")
        _, first, weight = np.unique(_row_codes(key, x), return_index=True, return_counts=True)
        x = x[first]
    return SBGData(
        group=codes[first],
        value=value[first],
        censored=censored[first],
        weight=weight.astype("int64"),
        groups=labels,
        covariates=x,
        covariate_names=names,
        customers=counts_customers,
        churned=counts_churned,
    )


def _row_codes(key: np.ndarray, x: np.ndarray) -> np.ndarray:
    """One int64 code per distinct (key, covariate row): the columns factorised one by one.

    Each column is hashed (``pandas.factorize``, no sort) and folded into the codes so far
    (codes * distinct values + column code); the codes are compressed again only when the
    next fold could pass 2^62, so they always fit int64. The caller sorts the codes once.
    Two sorts per column (``np.unique``) took ~1.9 s on 1M rows and seven dummies; this
    takes ~0.1 s and groups the rows the same way.
    """
    codes = pd.factorize(key)[0].astype("int64")
    top = int(codes.max()) + 1 if len(codes) else 1
    for column in x.T:
        column_codes, uniques = pd.factorize(column)
        if top * len(uniques) >= 2**62:
            codes = pd.factorize(codes)[0].astype("int64")
            top = int(codes.max()) + 1
        codes = codes * len(uniques) + column_codes
        top *= len(uniques)
    return codes


def _integers(values: ArrayLike, column: str) -> np.ndarray:
    array = np.asarray(values)
    if array.dtype.kind == "f":
        bad = ~np.isfinite(array) | (array != np.round(array))
        _check_rows(bad, column, f"{column} must be whole numbers", array)
    elif array.dtype.kind not in "iub":
        raise DataError(f"{column} must be whole numbers; got {array.dtype}", column=column)
    return array.astype("int64")


def _check_rows(bad: np.ndarray, column: str, problem: str, values: np.ndarray) -> None:
    if bad.any():
        raise DataError(
            problem,
            column=column,
            n_rows=int(bad.sum()),
            examples=[str(v) for v in values[bad][:5]],
        )


def _group_codes(
    group_codes: ArrayLike | None, groups: Sequence[Any] | None, n: int
) -> tuple[np.ndarray, list[Any]]:
    if group_codes is None:
        return np.zeros(n, dtype="int64"), list(groups) if groups is not None else ["all"]
    codes = _integers(group_codes, "group")
    if len(codes) != n:
        raise ValueError("group_codes must have one code per customer")
    n_groups = len(groups) if groups is not None else int(codes.max(initial=-1)) + 1
    _check_rows((codes < 0) | (codes >= n_groups), "group", "group codes out of range", codes)
    return codes, list(groups) if groups is not None else list(range(n_groups))


# --------------------------------------------------------------------------- fit
@dataclass
class SBGFit:
    """A fitted sBG: the draws, the groups, and a report on the fit.

    Attributes
    ----------
    posterior : xarray.Dataset
        ``alpha``, ``beta`` over ``(chain, draw, group)``; with covariates also
        ``coefficient_alpha``, ``coefficient_beta`` over ``(chain, draw, covariate)``. A MAP
        fit has one chain and one draw.
    groups : list
    covariates : list of str
    report : dict
        JSON-serialisable: method, the optimiser's status or the sampler's diagnostics,
        ``converged``, ``usable`` and, when not usable, ``not_usable_reason``.
    log_likelihood : ndarray
        Per group, at the posterior mean (the point, for MAP).
    customers, churned : ndarray of int64
        Per group.
    """

    posterior: xr.Dataset
    groups: list[Any]
    covariates: list[str]
    report: dict[str, Any]
    log_likelihood: np.ndarray
    customers: np.ndarray
    churned: np.ndarray

    def point(self) -> dict[str, np.ndarray]:
        """Posterior means per parameter (per group / covariate)."""
        return {
            name: self.posterior[name].mean(("chain", "draw")).values
            for name in self.posterior.data_vars
        }


def fit_sbg(
    data: SBGData,
    *,
    priors: Priors = "default",
    method: Method = "map",
    chains: int = 4,
    draws: int = 1000,
    tune: int = 1000,
    seed: int | None = None,
    progressbar: bool = False,
) -> SBGFit:
    """Fit the sBG on cells (:func:`sbg_cells`): one (alpha, beta) per group.

    The weighted log-likelihood over cells is the sum of the customers' (see the module
    docstring); the priors are ``ShiftedBetaGeoModel``'s defaults or flat (the MAP is then
    the maximum likelihood of F&H 2007). A parameter whose posterior mean is below
    :data:`~clvmodels.models.posterior.SHAPE_FLOOR` or above
    :data:`~clvmodels.models.posterior.SHAPE_CEILING`, or not finite, marks the fit not
    converged and not usable, with a :class:`~clvmodels.errors.ConvergenceWarning`.
    """
    if data.n_cells == 0:
        raise DataError("no customers to fit the sBG on", n_rows=0)
    result = pymc_sbg.fit_sbg_cells(
        data.group,
        data.value,
        data.censored,
        data.weight,
        data.groups,
        covariates=data.covariates,
        covariate_names=data.covariate_names,
        priors=priors,
        method=method,
        chains=chains,
        draws=draws,
        tune=tune,
        seed=seed,
        progressbar=progressbar,
    )
    fit = SBGFit(
        posterior=result.posterior,
        groups=list(data.groups),
        covariates=list(data.covariate_names),
        report=result.report,
        log_likelihood=np.zeros(len(data.groups)),
        customers=data.customers,
        churned=data.churned,
    )
    fit.log_likelihood = sbg_log_likelihood(fit.point(), data)
    _check_usable(fit, data)
    return fit


def sbg_log_likelihood(params: dict[str, np.ndarray], data: SBGData) -> np.ndarray:
    """The log-likelihood per group at ``params`` (alpha, beta per group[, coefficients])."""
    alpha, beta = _cell_params(params, data)
    churned = betaln(alpha + 1.0, beta + data.value - 1.0)
    survived = betaln(alpha, beta + data.value - 1.0)
    per_cell = np.where(data.censored, survived, churned) - betaln(alpha, beta)
    return np.bincount(data.group, weights=data.weight * per_cell, minlength=len(data.groups))


def _cell_params(params: dict[str, np.ndarray], data: SBGData) -> tuple[np.ndarray, np.ndarray]:
    alpha = np.asarray(params["alpha"], dtype="float64")[data.group]
    beta = np.asarray(params["beta"], dtype="float64")[data.group]
    if data.covariates is not None:
        alpha = alpha * np.exp(-data.covariates @ np.asarray(params["coefficient_alpha"]))
        beta = beta * np.exp(-data.covariates @ np.asarray(params["coefficient_beta"]))
    return alpha, beta


def sbg_usability_problems(
    posterior: xr.Dataset, groups: Sequence[Any], data: SBGData | None = None
) -> list[str]:
    """Why a fit's (alpha, beta) cannot be used (empty: they can), per group.

    As :meth:`clvmodels.models.posterior.PosteriorModel.usability_problems`: a non-finite
    draw, or a posterior mean below :data:`~clvmodels.models.posterior.SHAPE_FLOOR` or above
    :data:`~clvmodels.models.posterior.SHAPE_CEILING`, is at an edge of (0, inf). And, from
    the data: a group where nobody churned has its likelihood increasing as alpha -> 0, one
    where everybody churned at period 1 as beta -> 0; neither has a maximum inside, and the
    optimiser stops wherever the gradient flattens.
    """
    problems = []
    for name in ("alpha", "beta"):
        draws = posterior[name]
        means = draws.mean(("chain", "draw")).values
        finite = np.isfinite(draws.values).all(axis=(0, 1))
        for label, mean, ok in zip(groups, means, finite, strict=True):
            if not ok:
                problems.append(f"{name}[{label}] is not finite")
            elif mean < SHAPE_FLOOR:
                problems.append(
                    f"{name}[{label}] = {mean:.3g} is at the lower bound of its support "
                    f"(below {SHAPE_FLOOR:g})"
                )
            elif mean > SHAPE_CEILING:
                problems.append(
                    f"{name}[{label}] = {mean:.3g} is absurdly large (above "
                    f"{SHAPE_CEILING:g}): the optimiser ran towards infinity"
                )
    if data is not None:
        renewed = np.bincount(
            data.group, weights=data.weight * (data.value > 1), minlength=len(groups)
        )
        for i, label in enumerate(groups):
            if data.customers[i] == 0:
                problems.append(f"group {label}: no customers, so nothing determines its fit")
            elif data.churned[i] == 0:
                problems.append(
                    f"group {label}: no customer churned, so alpha[{label}] runs to 0 "
                    "(the likelihood has no maximum inside its support)"
                )
            elif renewed[i] == 0:
                problems.append(
                    f"group {label}: no customer renewed, so beta[{label}] runs to 0 "
                    "(the likelihood has no maximum inside its support)"
                )
    return problems


def _check_usable(fit: SBGFit, data: SBGData) -> None:
    """Mark the fit not converged and not usable, and warn, when it has problems."""
    problems = sbg_usability_problems(fit.posterior, fit.groups, data)
    fit.report["usable"] = not problems
    if problems:
        fit.report["converged"] = False
        fit.report["not_usable_reason"] = "; ".join(problems)
        warnings.warn(
            f"sBG: {'; '.join(problems)}; the fit is not usable", ConvergenceWarning, stacklevel=3
        )
    elif not fit.report.get("converged", True):
        warnings.warn(
            f"sBG: the {fit.report.get('method')} fit did not converge: "
            f"{fit.report.get('message', 'see the fit report')}",
            ConvergenceWarning,
            stacklevel=3,
        )
