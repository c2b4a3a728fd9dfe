"""Survival analysis of subscriptions: Kaplan–Meier, log-rank and Cox, from statsmodels.

The estimators are statsmodels' ``duration`` module (``SurvfuncRight``, ``survdiff``,
``PHReg``); this module turns the SUBS table's columns into their inputs and their results
into the tables ``clv churn`` writes (``retention.csv``, ``logrank.csv``, ``drivers.csv``).

Durations are counted in billing periods (the brief's convention, :func:`survival_durations`):
a churned customer's first spell lasted ``first_spell_periods`` periods (event at that
period); an active customer was seen to renew ``T − 1`` times (censored there). The
Kaplan–Meier estimate at period ``t`` is then ``P(churn period > t)``,

.. math:: \\hat S(t) = \\prod_{j \\le t} \\left(1 - d_j / n_j\\right),

with ``d_j`` churn events at period ``j`` and ``n_j`` customers at risk (duration ``>= j``),
which reproduces the survivors of Fader & Hardie (2007) [FH07]_ exactly.

.. [FH07] Fader, P. S. & Hardie, B. G. S. (2007), "How to project customer retention",
   Journal of Interactive Marketing 21(1), 76–90.
"""

from __future__ import annotations

import itertools
import re
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from clvmodels.errors import ConvergenceWarning, DataError, Label
from clvmodels.models.posterior import INTERVAL_PROB

#: Columns of :func:`logrank`'s table (``logrank.csv``).
LOGRANK_COLUMNS = ("test", "group_a", "group_b", "statistic", "df", "p_value")
#: Columns of :func:`cox`'s table (the ``cox`` rows of ``drivers.csv``).
COX_COLUMNS = (
    "covariate",
    "hazard_ratio",
    "hr_low",
    "hr_high",
    "p_value",
    "coefficient",
    "customers",
)
#: Pairwise log-rank tests are run when there are at most this many groups.
MAX_PAIRWISE_GROUPS = 12
#: ``PHReg`` builds its risk sets in Python loops (about 2 s per 100,000 rows with Efron
#: ties and 8 covariates); above this many rows :func:`cox` fits a random sample of them.
MAX_COX_ROWS = 200_000


def survival_durations(
    first_spell_periods: Any, T: Any, first_spell_churned: Any
) -> tuple[np.ndarray, np.ndarray]:
    """Durations and churn events of the first spell, in billing periods.

    Parameters
    ----------
    first_spell_periods, T, first_spell_churned : array_like
        The SUBS columns of the same names (one entry per customer).

    Returns
    -------
    duration : ndarray of int64
        ``first_spell_periods`` for a customer whose first spell ended, ``T − 1`` (renewals
        observed) for an active one.
    event : ndarray of int64
        1 when the first spell ended (churn observed), 0 when censored.
    """
    periods = _int_array(first_spell_periods, "first_spell_periods")
    observed = _int_array(T, "T")
    churned = _bool_array(first_spell_churned, "first_spell_churned")
    if not len(periods) == len(observed) == len(churned):
        raise ValueError("first_spell_periods, T and first_spell_churned differ in length")
    _check_min(periods, 1, "first_spell_periods")
    _check_min(observed, 1, "T")
    duration = np.where(churned, periods, observed - 1).astype(np.int64)
    return duration, churned.astype(np.int64)


def kaplan_meier(
    duration: Any,
    event: Any,
    groups: pd.DataFrame | None = None,
    horizon: int | None = None,
) -> pd.DataFrame:
    """Kaplan–Meier survival per group at periods ``0..horizon`` (``SurvfuncRight``).

    ``SurvfuncRight`` is given each group's counts of churns and censorings per period as
    frequency weights: the same estimate as one row per customer, at the cost of one row
    per period.

    Parameters
    ----------
    duration, event : array_like
        From :func:`survival_durations`.
    groups : DataFrame, optional
        The grouping columns (one row per customer, in the order of ``duration``). Without
        it, one group: a column ``group`` = ``"all"``.
    horizon : int, optional
        The last period of the table (default: the longest duration).

    Returns
    -------
    DataFrame
        The group columns, ``period``, ``observed_survival`` (NaN after the group's longest
        observed duration), ``at_risk`` (customers with duration ``>= period``; all of them
        at period 0) and ``churn_events`` (churns at that period).
    """
    from statsmodels.duration.survfunc import SurvfuncRight

    dur, ev = _checked(duration, event)
    codes, keys = _group_codes(groups, len(dur))
    horizon = int(dur.max()) if horizon is None else int(horizon)
    if horizon < 0:
        raise ValueError(f"horizon must be >= 0; got {horizon}")
    periods = np.arange(horizon + 1)
    parts = []
    for g in range(len(keys)):
        d, e = dur[codes == g], ev[codes == g]
        size = max(horizon, int(d.max())) + 1
        events = np.bincount(d[e == 1], minlength=size)
        censored = np.bincount(d[e == 0], minlength=size)
        t_ev, t_ce = np.flatnonzero(events), np.flatnonzero(censored)
        fit = SurvfuncRight(
            np.concatenate([t_ev, t_ce]).astype(float),
            np.concatenate([np.ones(len(t_ev)), np.zeros(len(t_ce))]),
            freq_weights=np.concatenate([events[t_ev], censored[t_ce]]).astype(float),
        )
        step = np.searchsorted(fit.surv_times, periods, side="right") - 1
        prob = np.concatenate([[1.0], np.asarray(fit.surv_prob, dtype=float)])
        survival = prob[step + 1]  # 1 before the first churn (and with no churn at all)
        survival = np.where(periods > d.max(), np.nan, survival)
        at_risk = np.cumsum((events + censored)[::-1])[::-1]
        part = keys.iloc[[g] * len(periods)].reset_index(drop=True)
        part["period"] = periods
        part["observed_survival"] = survival
        part["at_risk"] = np.where(periods == 0, len(d), _take(at_risk, periods))
        part["churn_events"] = _take(events, periods)
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def logrank(
    duration: Any,
    event: Any,
    group_labels: Any,
    *,
    max_pairwise_groups: int = MAX_PAIRWISE_GROUPS,
) -> pd.DataFrame:
    """Log-rank tests (``survdiff``): all groups at once, then each pair of groups.

    The statistic is :math:`(O - E)^\\top V^{-1} (O - E)` over the groups' observed and
    expected churns, chi-square with ``k − 1`` degrees of freedom (``k`` groups).

    Parameters
    ----------
    duration, event : array_like
        From :func:`survival_durations`.
    group_labels : array_like or DataFrame
        One label per customer; a DataFrame's columns are joined as ``"a / b"``.
    max_pairwise_groups : int
        Pairwise tests only when there are at most this many groups (``k(k−1)/2`` tests).

    Returns
    -------
    DataFrame
        :data:`LOGRANK_COLUMNS`; ``group_a``/``group_b`` empty (None) on the overall row;
        no rows when there is one group. A statistic that cannot be computed (a group
        never at risk at an event time) is NaN.
    """
    from statsmodels.duration.survfunc import survdiff

    dur, ev = _checked(duration, event)
    labels = _labels(group_labels, len(dur))
    levels, codes = np.unique(labels, return_inverse=True)
    rows = []
    if len(levels) >= 2:
        rows.append(("overall", None, None, *_survdiff(survdiff, dur, ev, codes)))
    if 2 <= len(levels) <= max(max_pairwise_groups, 2):
        for a, b in itertools.combinations(range(len(levels)), 2):
            sel = (codes == a) | (codes == b)
            stat = _survdiff(survdiff, dur[sel], ev[sel], codes[sel])
            rows.append(("pairwise", levels[a], levels[b], *stat))
    return pd.DataFrame(rows, columns=list(LOGRANK_COLUMNS))


def cox(
    duration: Any,
    event: Any,
    covariates: pd.DataFrame,
    entry: Any = None,
    *,
    strata: Any = None,
    max_rows: int | None = MAX_COX_ROWS,
    seed: int = 0,
) -> pd.DataFrame:
    """Cox proportional hazards (``PHReg``, Efron ties): hazard ratio per covariate.

    The partial likelihood is over the risk sets at each churn period (Efron's treatment
    of tied periods); with ``entry`` a customer is at risk only after its entry (left
    truncation, as for a landmark at the end of a baseline window); with ``strata`` each
    stratum (e.g. plan) has its own baseline hazard.

    Parameters
    ----------
    duration, event : array_like
        From :func:`survival_durations` (or the episode ``exit`` times).
    covariates : DataFrame
        One row per duration. Numeric columns enter as they are (hazard ratio per unit);
        string, categorical and boolean columns become dummies with the most common level
        as the reference, named ``"size_band=51-200 (vs 1-10)"``.
    entry : array_like, optional
        Entry times (strictly before ``duration``).
    strata : array_like, optional
        Stratum labels.
    max_rows : int or None
        With more rows than this, the model is fitted on a simple random sample of
        ``max_rows`` rows (drawn with ``seed``): its estimates are unbiased and its
        intervals and p-values are the sample's (wider by about ``sqrt(n / max_rows)``
        than a full fit). ``attrs["fitted_rows"]`` and ``attrs["total_rows"]`` say so.
        ``None`` fits all rows.
    seed : int
        Seed of the sample.

    Returns
    -------
    DataFrame
        :data:`COX_COLUMNS`: the 94% Wald interval of the hazard ratio
        ``exp(b ± z·se)``, the Wald p-value and ``customers`` (fitted rows with the dummy's
        level, or all fitted rows for a numeric covariate).
    """
    from statsmodels.duration.hazard_regression import PHReg

    dur, ev = _checked(duration, event)
    start = None if entry is None else _entry(entry, dur)
    total = len(dur)
    if len(covariates) != total:
        raise ValueError(f"covariates have {len(covariates)} rows, durations {total}")
    rows = np.arange(total)
    if max_rows is not None and total > max_rows:
        rows = np.sort(np.random.default_rng(seed).choice(total, int(max_rows), replace=False))
        dur, ev = dur[rows], ev[rows]
        covariates = covariates.iloc[rows]
        start = None if start is None else start[rows]
    x, names, counts = cox_design(covariates.reset_index(drop=True), len(dur))
    if ev.sum() == 0:
        raise DataError("no churn events: a Cox model cannot be fitted", column="event")
    if strata is not None:
        strata = np.unique(_labels(strata, total)[rows], return_inverse=True)[1]
    model = PHReg(dur.astype(float), x, status=ev, entry=start, strata=strata, ties="efron")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        result = model.fit()
    coef, se = np.asarray(result.params), np.asarray(result.bse)
    step = np.abs(model.score(coef)) * se  # the remaining Newton step in standard errors
    if not (np.isfinite(se).all() and np.all(step < 1e-2)):
        warnings.warn(
            "Cox fit did not converge (a level without churns, or collinear covariates?)",
            ConvergenceWarning,
            stacklevel=2,
        )
    z = stats.norm.ppf(0.5 + INTERVAL_PROB / 2)
    table = pd.DataFrame(
        {
            "covariate": names,
            "hazard_ratio": np.exp(coef),
            "hr_low": np.exp(coef - z * se),
            "hr_high": np.exp(coef + z * se),
            "p_value": 2 * stats.norm.sf(np.abs(coef / se)),
            "coefficient": coef,
            "customers": counts,
        }
    )
    table.attrs.update(fitted_rows=len(dur), total_rows=total)
    return table


def cox_design(covariates: pd.DataFrame, n_rows: int) -> tuple[np.ndarray, list[str], list[int]]:
    """The design matrix of :func:`cox`: numeric columns as they are, the others as dummies.

    The reference level of a categorical column is its most common value (ties: the first
    in natural order); the other levels follow in natural order (``"11-50"`` before
    ``"201+"``).

    Returns
    -------
    x : ndarray (n_rows, p)
    names : list of str
        ``"col"`` for numeric columns, ``"col=level (vs reference)"`` for dummies.
    customers : list of int
        Rows with the level (dummies) or all rows (numeric).
    """
    if not isinstance(covariates, pd.DataFrame) or covariates.shape[1] == 0:
        raise ValueError("covariates must be a DataFrame with at least one column")
    if len(covariates) != n_rows:
        raise ValueError(f"covariates have {len(covariates)} rows, durations {n_rows}")
    blocks, names, counts = [], [], []
    for col in covariates.columns:
        values = covariates[col]
        missing = values.isna().to_numpy()
        if missing.any():
            raise DataError(
                "missing covariate values (drop or fill those customers first)",
                column=str(col),
                n_rows=int(missing.sum()),
                examples=[Label(f"row {i}") for i in np.flatnonzero(missing)[:5]],
            )
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            _check_varies(values.nunique() > 1, col)
            blocks.append(values.to_numpy(dtype=float)[:, None])
            names.append(str(col))
            counts.append(n_rows)
            continue
        freq = values.value_counts(sort=False)
        _check_varies(len(freq) > 1, col)
        levels = sorted(freq.index, key=natural_key)
        reference = max(levels, key=lambda v: freq[v])  # first of the most common
        for level in levels:
            if level == reference:
                continue
            blocks.append((values == level).to_numpy(dtype=float)[:, None])
            names.append(f"{col}={level} (vs {reference})")
            counts.append(int(freq[level]))
    return np.hstack(blocks), names, counts


def natural_key(value: Any) -> tuple:
    """Sort key that orders the numbers inside labels by value (``"11-50"`` < ``"201+"``)."""
    parts = re.split(r"(\d+)", str(value))
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in parts if p != "")


def _entry(entry: Any, dur: np.ndarray) -> np.ndarray:
    start = np.asarray(entry, dtype=float)
    if start.shape != dur.shape:
        raise ValueError(f"entry has {len(start)} rows, durations {len(dur)}")
    bad = np.flatnonzero(~(start < dur))
    if len(bad):
        raise DataError(
            "entry time not before the duration",
            column="entry",
            n_rows=len(bad),
            examples=[Label(f"row {i}") for i in bad[:5]],
        )
    return start


def _survdiff(survdiff: Any, dur: np.ndarray, ev: np.ndarray, codes: np.ndarray) -> tuple:
    df = len(np.unique(codes)) - 1
    try:
        stat, _ = survdiff(dur, ev, codes)
    except np.linalg.LinAlgError:
        return np.nan, df, np.nan
    stat = float(stat)
    return stat, df, float(stats.chi2.sf(stat, df))


def _group_codes(groups: pd.DataFrame | None, n: int) -> tuple[np.ndarray, pd.DataFrame]:
    if groups is None:
        return np.zeros(n, dtype=np.int64), pd.DataFrame({"group": ["all"]})
    if isinstance(groups, pd.Series):
        groups = groups.to_frame()
    if len(groups) != n:
        raise ValueError(f"groups have {len(groups)} rows, durations {n}")
    _check_no_missing(groups)
    grouped = groups.reset_index(drop=True).groupby(list(groups.columns), sort=True, observed=True)
    return grouped.ngroup().to_numpy(), grouped.size().index.to_frame(index=False)


def _labels(group_labels: Any, n: int) -> np.ndarray:
    if isinstance(group_labels, pd.DataFrame):
        _check_no_missing(group_labels)
        columns = [group_labels[c].astype(str) for c in group_labels.columns]
        labels = columns[0]
        for more in columns[1:]:
            labels = labels + " / " + more
    else:
        labels = pd.Series(np.asarray(group_labels, dtype=object))
        _check_no_missing(labels.to_frame("group"))
    if len(labels) != n:
        raise ValueError(f"group labels have {len(labels)} rows, durations {n}")
    return labels.astype(str).to_numpy(dtype=object)


def _check_no_missing(frame: pd.DataFrame) -> None:
    for col in frame.columns:
        missing = frame[col].isna().to_numpy()
        if missing.any():
            raise DataError(
                "missing group values",
                column=str(col),
                n_rows=int(missing.sum()),
                examples=[Label(f"row {i}") for i in np.flatnonzero(missing)[:5]],
            )


def _checked(duration: Any, event: Any) -> tuple[np.ndarray, np.ndarray]:
    dur = _int_array(duration, "duration")
    ev = _bool_array(event, "event").astype(np.int64)
    if len(dur) != len(ev):
        raise ValueError(f"duration has {len(dur)} rows, event {len(ev)}")
    if len(dur) == 0:
        raise DataError("no customers", column="duration")
    _check_min(dur, 0, "duration")
    return dur, ev


def _int_array(values: Any, column: str) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"{column} must be one-dimensional; got shape {arr.shape}")
    if arr.dtype.kind in "iub":
        return arr.astype(np.int64)
    num = pd.to_numeric(pd.Series(arr), errors="coerce").to_numpy(dtype=float)
    bad = np.flatnonzero(~np.isfinite(num) | (num != np.round(num)))
    if len(bad):
        raise DataError(
            "not a whole number of periods",
            column=column,
            n_rows=len(bad),
            examples=[arr[i] for i in bad[:5]],
        )
    return num.astype(np.int64)


def _bool_array(values: Any, column: str) -> np.ndarray:
    arr = np.asarray(values)
    if arr.dtype == bool:
        return arr
    ints = _int_array(arr, column)
    bad = np.flatnonzero((ints != 0) & (ints != 1))
    if len(bad):
        raise DataError(
            "not true/false (1/0)", column=column, n_rows=len(bad), examples=arr[bad[:5]]
        )
    return ints.astype(bool)


def _check_min(values: np.ndarray, low: int, column: str) -> None:
    bad = np.flatnonzero(values < low)
    if len(bad):
        raise DataError(
            f"must be >= {low}", column=column, n_rows=len(bad), examples=values[bad[:5]]
        )


def _check_varies(varies: bool, column: Any) -> None:
    if not varies:
        raise DataError("covariate has a single value: no hazard ratio", column=str(column))


def _take(counts: np.ndarray, periods: Sequence[int] | np.ndarray) -> np.ndarray:
    periods = np.asarray(periods)
    out = np.zeros(len(periods), dtype=np.int64)
    inside = periods < len(counts)
    out[inside] = counts[periods[inside]]
    return out
