"""The value after the test window: predicted CLV per user, compared between groups.

Definitions (``docs/experiments.md``, "Value after the test window"):

* A user's **CLV** is the fitted model's discounted CLV over the horizon
  (:mod:`clvmodels.predict.scoring`), given their orders up to the end of their own window
  (``timestamp < window_end``), summarised as RFM with ``T`` up to the window's last day in
  the model's time unit (:func:`clvmodels.summaries.rfm.rfm_to_ends`). A user without an
  order before their window end is not a customer yet: CLV 0 (the model predicts the
  repeat purchases of customers, not the first purchase of users).
* Per posterior draw d, a group's **mean CLV** is ``M[g, d] = sum_{i in g} CLV_i[d] / n_g``
  over all its users (zeros included); the point estimate is the mean over draws, which
  equals the mean of the users' posterior-mean CLV.
* **Sampling uncertainty**: the group's users are a sample; its mean of the users'
  posterior-mean CLV has standard error ``SE_g = sd(CLV_i) / sqrt(n_g)`` (sample sd,
  ddof 1). The estimate of a group's mean is taken as ``M[g, d] + SE_g Z`` with Z standard
  normal, draw by draw: a mixture over the draws of normals ``N(M[g, d], SE_g^2)``.
* The **lift** of a variant is the difference of mean CLV against the control,
  ``L_d = M[g, d] - M[c, d]`` per draw (the same draw of one model for both groups), with
  sampling sd ``sqrt(SE_g^2 + SE_c^2)`` (independent groups).
* The **94% intervals** are the 3% and 97% quantiles of these mixtures and
  ``prob_beats_control`` is ``mean_d Phi(L_d / sqrt(SE_g^2 + SE_c^2))``, computed exactly
  (root finding on the mixture's distribution function), without random numbers. Without
  sampling spread (every user of both groups with the same CLV) the mixture is the draws
  themselves (their quantiles; ties count half).
* A point fit (MAP) has one draw: the intervals then hold the sampling uncertainty only, not
  the uncertainty of the model's parameters; ``note`` says so.
* One model for all groups shrinks every user toward the same fitted population. When the
  variant may change purchasing itself, fit a model per group (on that group's customers)
  and pass ``{group: model}``; each group is then scored with its own model, and the
  models' draws are paired in a random order (seeded by ``seed``): two fits made with the
  same seed draw the same random numbers, and paired in their own order their draws would
  be correlated, the lift's interval too narrow.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import brentq
from scipy.stats import norm

from clvmodels.data.contract import OrdersSource
from clvmodels.errors import DataError
from clvmodels.experiments.outputs import CLV_COLUMNS, TEST_COLUMNS
from clvmodels.model import CLVModel
from clvmodels.models.posterior import INTERVAL_QUANTILES
from clvmodels.predict.group_totals import group_clv_draws
from clvmodels.summaries.rfm import rfm_to_ends
from clvmodels.units import Duration, parse_duration

#: The columns of :attr:`ValueComparison.table` (``clv.csv``, named in
#: :mod:`clvmodels.experiments.outputs`).
TABLE_COLUMNS = CLV_COLUMNS
USER_COLUMNS = ("uid", "group", "window_end")
#: What one model for every group hides (the note's first sentence; the CLI prints it loudly).
POOLED_WARNING = (
    "WARNING: one model scored every group. A pooled model shrinks the groups together: from "
    "a short window a user's CLV is mostly the fitted population's, so a variant's effect on "
    "later purchasing is largely invisible (on the simulated experiment it gets the sign "
    "wrong). Fit a model per group on that group's customers and pass --model GROUP=DIR for "
    "each group."
)

type Orders = pd.DataFrame | str | os.PathLike[str] | OrdersSource


@dataclass(frozen=True)
class ValueComparison:
    """Predicted CLV per user and its comparison between groups.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per group (:data:`TABLE_COLUMNS`): ``users``, ``customers`` (users with an
        order before their window end), ``mean_clv`` with its 94% interval, and against the
        control ``lift`` (difference of mean CLV) with its interval and
        ``prob_beats_control``; the control's lift columns are empty.
    per_user : pandas.DataFrame
        ``uid, group, clv``: each user's posterior-mean CLV (0 for users who are not
        customers yet), in the order of the users table.
    draws : int
        Posterior draws used (1 for a point fit such as MAP).
    note : str
        In plain words: what the CLV is and what uncertainty the intervals hold (with one
        model for several groups it starts with :data:`POOLED_WARNING`).
    n_models : int
        The models that scored the users: 1 (one for all groups) or one per group.
    """

    table: pd.DataFrame
    per_user: pd.DataFrame
    draws: int
    note: str
    n_models: int = 1

    @property
    def warning(self) -> str | None:
        """:data:`POOLED_WARNING` when one model scored several groups, else None."""
        groups = len(self.table)
        return POOLED_WARNING if self.n_models == 1 and groups > 1 else None


def value_comparison(
    model: CLVModel | Mapping[str, CLVModel],
    users: pd.DataFrame,
    orders: Orders,
    *,
    control: str,
    horizon: str | Duration = "12M",
    margin: float = 1.0,
    annual_discount_rate: float = 0.1,
    seed: int = 0,
    n_draws: int | None = None,
) -> ValueComparison:
    """Compare the groups of an experiment on their users' predicted CLV after the window.

    Parameters
    ----------
    model : CLVModel or mapping of group to CLVModel
        A fitted model (with a spend model) for all users, or one per group.
    users : pandas.DataFrame
        The per-user window table: ``uid, group, window_end`` (more columns are ignored),
        one row per user.
    orders : pandas.DataFrame, path or OrdersSource
        The orders (``customer_id, timestamp, revenue``), through the orders contract;
        users' ``uid`` are matched to ``customer_id`` by the rule of
        :func:`clvmodels.data.columns.id_match_keys` (:func:`rfm_to_ends`).
    control : str
        The control group.
    horizon : str
        How far ahead from each user's window end: ``"12M"``, ``"52W"``, ``"365D"``.
    margin, annual_discount_rate : float
        As for scoring (:func:`clvmodels.predict.scoring.iter_scores`).
    seed : int
        With a model per group, the seed of the random order in which each model's draws
        are paired with the others' (so fits made with the same seed stay independent).
        Nothing else is random: the intervals are computed exactly.
    n_draws : int, optional
        Posterior draws used, thinned evenly (None: all; ``clv score`` uses 200). Time
        grows with customers x draws.

    Returns
    -------
    ValueComparison

    Raises
    ------
    DataError
        For a users table without its columns, a user twice or without a window end, a
        control that is not a group, a model for some group missing, or a model without a
        spend model (or with no draw whose expected purchases are finite).
    """
    horizon = str(parse_duration(horizon))
    groups = _check_users(users, control)
    models = _models_by_group(model, groups)
    user_keys = users["uid"].to_numpy()
    group_codes = pd.Categorical(users["group"].astype(str), categories=groups).codes
    n_users = np.bincount(group_codes, minlength=len(groups))
    clv = np.zeros(len(users))
    customers = np.zeros(len(groups), dtype="int64")
    totals = []
    n_dropped = 0
    for members, fitted in models:
        ends = pd.DataFrame({"customer_id": user_keys, "end": users["window_end"].to_numpy()})
        in_scope = np.isin(group_codes, members)
        rfm = rfm_to_ends(orders, ends[in_scope], time_unit=fitted.time_unit)
        rows = pd.Index(user_keys).get_indexer(rfm["customer_id"].to_numpy())
        if (rows < 0).any():  # pragma: no cover - the RFM keeps the ends' own ids
            raise AssertionError("an RFM row matched no user")
        result = group_clv_draws(
            rfm,
            group_codes[rows],
            len(groups),
            fitted.transaction_model_,
            fitted.spend_model_,
            time_unit=fitted.time_unit,
            horizon=horizon,
            annual_discount_rate=annual_discount_rate,
            margin=margin,
            n_draws=n_draws,
        )
        clv[rows] = result.clv
        customers += np.bincount(group_codes[rows], minlength=len(groups))
        totals.append(result.totals)
        n_dropped += result.n_dropped
    n_used = min(t.shape[1] for t in totals)
    group_totals = np.sum(_paired_at_random([_thin(t, n_used) for t in totals], seed), axis=0)
    table = _comparison_table(groups, control, n_users, customers, group_totals, clv, group_codes)
    per_user = pd.DataFrame(
        {"uid": users["uid"].to_numpy(), "group": users["group"].to_numpy(), "clv": clv}
    )
    note = _note(n_used, int(len(users) - customers.sum()), len(users), horizon, len(models))
    if len(models) == 1 and len(groups) > 1:
        note = f"{POOLED_WARNING} {note}"
    if n_dropped:
        note += (
            f" {n_dropped} posterior draws were left out: their expected purchases are not "
            "finite for some customer."
        )
    return ValueComparison(
        table=table, per_user=per_user, draws=n_used, note=note, n_models=len(models)
    )


def clv_test_rows(table: pd.DataFrame, control: str) -> pd.DataFrame:
    """The ``clv`` rows of ``tests.csv``: one per variant, ``test`` = ``posterior``.

    ``table`` is a value comparison's table (:attr:`ValueComparison.table`). Its ``lift`` is
    the difference of mean CLV against the control and ``lift_low``, ``lift_high`` its 94%
    interval: they become ``difference``, ``ci_low``, ``ci_high``; ``relative_lift`` is the
    difference over the control's mean CLV (empty when that is 0); there is no p-value
    (``prob_beats_control`` is in ``clv.csv``).
    """
    base = float(table.loc[table["group"].astype(str) == str(control), "mean_clv"].iloc[0])
    variants = table[table["group"].astype(str) != str(control)]
    lift = variants["lift"].to_numpy(dtype="float64")
    return pd.DataFrame(
        {
            "metric": "clv",
            "group": variants["group"].astype(str).to_numpy(dtype=object),
            "test": "posterior",
            "difference": lift,
            "relative_lift": lift / base if base != 0 else np.full(len(lift), np.nan),
            "ci_low": variants["lift_low"].to_numpy(dtype="float64"),
            "ci_high": variants["lift_high"].to_numpy(dtype="float64"),
            "p_value": np.nan,
            "p_value_adjusted": np.nan,
        },
        columns=list(TEST_COLUMNS),
    )


def _check_users(users: pd.DataFrame, control: str) -> list[str]:
    """The sorted groups of a users table, after checking its columns, users and control."""
    missing = [c for c in USER_COLUMNS if c not in users.columns]
    if missing:
        raise DataError(
            f"the users table has no column {', '.join(missing)}",
            hint="pass the per-user window table (uid, group, assigned_at, window_end, ...)",
        )
    twice = users["uid"].duplicated(keep=False)
    if twice.any():
        raise DataError(
            "a user appears more than once in the users table",
            column="uid",
            n_rows=int(twice.sum()),
            examples=users.loc[twice, "uid"].head(5).tolist(),
        )
    no_end = users["window_end"].isna()
    if no_end.any():
        raise DataError(
            "a user has no window end",
            column="window_end",
            n_rows=int(no_end.sum()),
            examples=users.loc[no_end, "uid"].head(5).tolist(),
        )
    groups = sorted(users["group"].astype(str).unique())
    if str(control) not in groups:
        raise DataError(
            f"the control group {control!r} has no users",
            column="group",
            hint=f"the groups are {', '.join(groups)}",
        )
    return groups


def _models_by_group(
    model: CLVModel | Mapping[str, CLVModel], groups: list[str]
) -> list[tuple[list[int], CLVModel]]:
    """The fitted models with the group codes each one scores."""
    pairs: list[tuple[list[int], CLVModel]]
    if isinstance(model, CLVModel):
        pairs = [(list(range(len(groups))), model)]
    else:
        absent = [g for g in groups if g not in model]
        if absent:
            raise DataError(
                f"no model for group {', '.join(absent)}",
                hint="pass one fitted model, or one per group ({group: model})",
            )
        pairs = [([i], model[g]) for i, g in enumerate(groups)]
    for _, fitted in pairs:
        if not fitted.is_fitted:
            raise DataError("the model is not fitted", hint="fit it, or load a saved model")
        fitted.check_usable()  # as scoring does: no parameter at a bound, Gamma-Gamma q > 1
    return pairs


def _paired_at_random(totals: list[np.ndarray], seed: int) -> list[np.ndarray]:
    """Each model's draws in a seeded random order, when there are several models.

    A model's draws are exchangeable, but two fits made with the same seed draw the same
    random numbers: paired in their own order, their draws would be correlated and the
    lift's interval too narrow. A random order per model makes the pairs independent.
    """
    if len(totals) < 2:
        return totals
    rng = np.random.default_rng(seed)
    return [t[:, rng.permutation(t.shape[1])] for t in totals]


def _thin(totals: np.ndarray, n: int) -> np.ndarray:
    """``totals`` with its draws (columns) thinned evenly to ``n``."""
    if totals.shape[1] == n:
        return totals
    return totals[:, np.linspace(0, totals.shape[1] - 1, n).round().astype(int)]


def mixture_quantiles(centers: np.ndarray, scale: float, probs: tuple[float, ...]) -> np.ndarray:
    """Quantiles of the equal mixture of ``N(center, scale^2)`` over ``centers``.

    ``scale == 0``: the quantiles of ``centers`` (numpy's linear method).
    """
    centers = np.asarray(centers, dtype="float64")
    if not scale > 0:
        return np.quantile(centers, probs)

    def cdf(value: float) -> float:
        return float(norm.cdf((value - centers) / scale).mean())

    lo, hi = centers.min() - 12 * scale, centers.max() + 12 * scale
    return np.array([brentq(lambda v, q=q: cdf(v) - q, lo, hi, xtol=1e-12) for q in probs])


def _comparison_table(
    groups: list[str],
    control: str,
    n_users: np.ndarray,
    customers: np.ndarray,
    totals: np.ndarray,
    clv: np.ndarray,
    group_codes: np.ndarray,
) -> pd.DataFrame:
    """One row per group: mean CLV with its interval, and the lift against the control."""
    means = totals / n_users[:, None]  # (groups, draws)
    se = np.array(
        [
            clv[group_codes == g].std(ddof=1) / np.sqrt(n) if n > 1 else 0.0
            for g, n in enumerate(n_users)
        ]
    )
    c = groups.index(str(control))
    rows = []
    for g, name in enumerate(groups):
        low, high = mixture_quantiles(means[g], se[g], INTERVAL_QUANTILES)
        row = {
            "group": name,
            "users": int(n_users[g]),
            "customers": int(customers[g]),
            "mean_clv": float(means[g].mean()),
            "ci_low": float(low),
            "ci_high": float(high),
            "lift": np.nan,
            "lift_low": np.nan,
            "lift_high": np.nan,
            "prob_beats_control": np.nan,
        }
        if g != c:
            lift = means[g] - means[c]
            scale = float(np.hypot(se[g], se[c]))
            row["lift"] = float(lift.mean())
            row["lift_low"], row["lift_high"] = (
                float(v) for v in mixture_quantiles(lift, scale, INTERVAL_QUANTILES)
            )
            row["prob_beats_control"] = _prob_positive(lift, scale)
        rows.append(row)
    return pd.DataFrame(rows, columns=list(TABLE_COLUMNS))


def _prob_positive(centers: np.ndarray, scale: float) -> float:
    """P(value > 0) under the mixture of ``N(center, scale^2)``; ties count half."""
    if scale > 0:
        return float(norm.cdf(centers / scale).mean())
    return float((centers > 0).mean() + 0.5 * (centers == 0).mean())


def _note(n_draws: int, n_not_customers: int, n_users: int, horizon: str, n_models: int) -> str:
    """What the CLV is and what uncertainty its intervals hold, in plain words."""
    parts = [
        f"CLV is the model's discounted margin over {horizon} after each user's window end, "
        "given their orders up to it.",
        f"{n_not_customers:,} of {n_users:,} users had no order before their window end: "
        "they are not customers yet and count with CLV 0.",
    ]
    if n_draws == 1:
        parts.append(
            "The model is a point fit (MAP, one draw): the intervals and the probability of "
            "beating the control hold only the sampling uncertainty of the group means, not "
            "the uncertainty of the model's parameters."
        )
    else:
        parts.append(
            f"The intervals and the probability of beating the control combine {n_draws} "
            "posterior draws of the model's parameters (per draw, each group's mean CLV) "
            "with the sampling uncertainty of the group means (normal, standard error "
            "sd/sqrt(n) of the users' CLV), computed exactly as a mixture of normals."
        )
    if n_models > 1:
        parts.append(
            "Each group is scored with its own model; the models' draws are paired in a "
            "seeded random order, so independent fits stay independent."
        )
    return " ".join(parts)
