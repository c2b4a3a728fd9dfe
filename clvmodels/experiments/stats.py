"""The tests of an experiment, each a variant against the control (scipy and statsmodels).

Definitions (``docs/experiments.md``, "clv experiment"); ``c`` is the control, ``v`` a variant,
``z`` the standard normal quantile of ``1 - (1 - level) / 2`` (1.96 at the default 95%):

* **chi2** (conversion): Pearson's chi-squared test of the 2x2 table converters / others by
  group, *without* continuity correction (:func:`scipy.stats.chi2_contingency` with
  ``correction=False``); it equals the two-sided two-proportion z-test. The difference is
  ``p_v - p_c`` and its interval the Wald interval
  ``(p_v - p_c) ± z sqrt(p_v (1 - p_v) / n_v + p_c (1 - p_c) / n_c)``.
* **welch_t** (a mean per user): Welch's t-test (unequal variances,
  :func:`scipy.stats.ttest_ind` with ``equal_var=False``), the difference ``mean_v - mean_c``
  and its Welch interval (Welch–Satterthwaite degrees of freedom).
* **mann_whitney**: the two-sided Mann–Whitney U test (:func:`scipy.stats.mannwhitneyu`),
  p-value only (it tests whether one group's values tend to be larger, not the means).
* **bootstrap**: the percentile interval of ``mean_v* - mean_c*`` over ``n_boot`` resamples of
  each group (with replacement, the groups resampled independently, seeded).
  :func:`bootstrap_means` draws each resample's mean without touching every user: the number
  ``M`` of draws that land on users with a non-zero value is ``Binomial(n, m / n)`` (``m`` such
  users), and given ``M`` those draws are uniform over the ``m`` users. With few distinct
  non-zero values (at most 512, such as orders per user) their counts are drawn at once,
  ``Multinomial(M, counts / m)``, and when ``n_boot * m`` is at most 40 million the ``M``
  indices are drawn: both give exactly the distribution of resampling all ``n`` users, at a cost
  of the number of distinct values (or ``m``) per resample instead of ``n``. Beyond that, with
  at least 16,640 such users (many converters with continuous revenue: 400,000 converters a
  group would need 800 million draws), the sorted non-zero values are cut into 1,024 strata of
  equal size plus the 256 largest values, each its own stratum; per resample the draws per
  stratum ``c_s`` are ``Multinomial(M, size_s / m)`` (exact), a singleton stratum adds ``c_s
  x_s`` and the sum of ``c_s`` draws from a stratum of mean ``mu_s`` and spread ``sd_s`` is
  drawn from its normal limit ``N(c_s mu_s, c_s sd_s^2)``: the resample mean's first two moments
  are exactly the bootstrap's, only the shape of the sum within a narrow stratum is
  approximated.
* **Holm**: Holm's step-down correction (:func:`statsmodels.stats.multitest.multipletests`,
  ``method="holm"``) over the variants of one (metric, test).
* **SRM**: the chi-squared goodness-of-fit test of the users per group against the planned
  shares (:func:`scipy.stats.chisquare`); flagged when ``p < 0.001``.
* **normality**: skewness and excess kurtosis (:func:`scipy.stats.skew`,
  :func:`scipy.stats.kurtosis`, both the plain moment estimates), D'Agostino–Pearson's test
  (:func:`scipy.stats.normaltest`, at least 20 values), and the central limit theorem's rule of
  thumb of Sugden et al. (2000): the mean of ``n`` values is close enough to normal for a t
  interval when ``n > 28 + 25 g1^2`` (``g1`` the skewness).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from scipy import stats
from statsmodels.stats.multitest import multipletests

#: The SRM test's threshold: a p-value below it is flagged.
SRM_THRESHOLD = 0.001
#: Distinct non-zero values up to which a bootstrap draws their counts (multinomial).
_FEW_VALUES = 512
#: Draws at a time when a bootstrap draws indices (memory: 8 bytes each, twice).
_CHUNK = 4_000_000
#: ``n_boot * m`` up to which a bootstrap draws every index; beyond it, strata.
_EXACT_DRAWS = 40_000_000
#: Equal-size strata of the non-zero values, and the largest values kept as their own.
_STRATA = 1024
_TAIL = 256


def _z(level: float) -> float:
    return float(stats.norm.ppf(1 - (1 - level) / 2))


def conversion_test(
    converters_c: int, users_c: int, converters_v: int, users_v: int, *, level: float = 0.95
) -> dict[str, float]:
    """Chi-squared test (no continuity correction) and Wald interval of ``p_v - p_c``.

    Returns
    -------
    dict
        ``difference``, ``relative_lift`` (``difference / p_c``; NaN when ``p_c = 0``),
        ``ci_low``, ``ci_high``, ``statistic`` (chi-squared) and ``p_value`` (NaN when a
        column of the table is all zero: no one, or everyone, converted).
    """
    p_c, p_v = converters_c / users_c, converters_v / users_v
    diff = p_v - p_c
    half = _z(level) * math.sqrt(p_v * (1 - p_v) / users_v + p_c * (1 - p_c) / users_c)
    table = np.array(
        [[converters_v, users_v - converters_v], [converters_c, users_c - converters_c]]
    )
    if (table.sum(axis=0) == 0).any():
        statistic, p_value = math.nan, math.nan
    else:
        result = stats.chi2_contingency(table, correction=False)
        statistic, p_value = float(result.statistic), float(result.pvalue)
    return {
        "difference": diff,
        "relative_lift": diff / p_c if p_c > 0 else math.nan,
        "ci_low": diff - half,
        "ci_high": diff + half,
        "statistic": statistic,
        "p_value": p_value,
    }


def welch_test(
    control: np.ndarray, variant: np.ndarray, *, level: float = 0.95
) -> dict[str, float]:
    """Welch's t-test of ``mean(variant) - mean(control)`` with its interval.

    Returns
    -------
    dict
        ``difference``, ``relative_lift`` (NaN when the control's mean is 0), ``ci_low``,
        ``ci_high``, ``statistic`` (t) and ``p_value``; NaN where both groups have no spread.
    """
    mean_c, mean_v = float(np.mean(control)), float(np.mean(variant))
    diff = mean_v - mean_c
    out = {
        "difference": diff,
        "relative_lift": diff / mean_c if mean_c != 0 else math.nan,
        "ci_low": math.nan,
        "ci_high": math.nan,
        "statistic": math.nan,
        "p_value": math.nan,
    }
    if len(control) < 2 or len(variant) < 2 or (np.ptp(control) == 0 and np.ptp(variant) == 0):
        return out
    result = stats.ttest_ind(variant, control, equal_var=False)
    interval = result.confidence_interval(confidence_level=level)
    out.update(
        ci_low=float(interval.low),
        ci_high=float(interval.high),
        statistic=float(result.statistic),
        p_value=float(result.pvalue),
    )
    return out


def mann_whitney_p(control: np.ndarray, variant: np.ndarray) -> float:
    """The two-sided Mann–Whitney U test's p-value (NaN when every value is the same)."""
    if np.ptp(np.concatenate([control, variant])) == 0:
        return math.nan
    return float(stats.mannwhitneyu(variant, control, alternative="two-sided").pvalue)


def bootstrap_means(values: np.ndarray, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """The means of ``n_boot`` resamples (with replacement) of ``values``; see the module doc.

    Parameters
    ----------
    values : numpy.ndarray
        One value per user (zeros included).
    n_boot : int
        Resamples.
    rng : numpy.random.Generator

    Returns
    -------
    numpy.ndarray
        ``n_boot`` resample means, distributed as the means of ``n`` draws with replacement.
    """
    values = np.asarray(values, dtype="float64")
    n = len(values)
    nonzero = values[values != 0]
    m = len(nonzero)
    if m == 0:
        return np.zeros(n_boot)
    hits = rng.binomial(n, m / n, size=n_boot)
    distinct, counts = np.unique(nonzero, return_counts=True)
    if len(distinct) <= _FEW_VALUES:
        drawn = rng.multinomial(hits, counts / m)
        return (drawn @ distinct) / n
    if n_boot * m > _EXACT_DRAWS and m >= 16 * _STRATA + _TAIL:
        return _stratified_sums(np.sort(nonzero), hits, rng) / n
    sums = np.zeros(n_boot)
    start = 0
    while start < n_boot:
        stop = start + 1
        total = int(hits[start])
        while stop < n_boot and total + hits[stop] <= _CHUNK:
            total += int(hits[stop])
            stop += 1
        picked = nonzero.take(rng.integers(0, m, size=total))
        counts_here = hits[start:stop]
        edges = np.concatenate([[0], np.cumsum(counts_here)[:-1]])
        if total:  # reduceat gives a segment's first value for an empty segment: zeroed
            sums[start:stop] = np.where(
                counts_here > 0, np.add.reduceat(picked, np.minimum(edges, total - 1)), 0.0
            )
        start = stop
    return sums / n


def _stratified_sums(ordered: np.ndarray, hits: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Resample sums of ``hits[b]`` draws from ``ordered`` by strata (see the module doc)."""
    tail = ordered[-_TAIL:]
    body = np.array_split(ordered[:-_TAIL], _STRATA)
    means = np.array([part.mean() for part in body])
    spreads = np.array([part.std() for part in body])
    sizes = np.array([len(part) for part in body] + [1] * len(tail), dtype="float64")
    sums = np.empty(len(hits))
    step = 256  # resamples at a time: counts of 256 x 1,280 strata
    for start in range(0, len(hits), step):
        drawn = rng.multinomial(hits[start : start + step], sizes / sizes.sum())
        in_body = drawn[:, :_STRATA]
        noise = rng.standard_normal(in_body.shape) * np.sqrt(in_body) * spreads
        sums[start : start + step] = in_body @ means + noise.sum(axis=1) + drawn[:, _STRATA:] @ tail
    return sums


def percentile_interval(
    control_means: np.ndarray, variant_means: np.ndarray, *, level: float = 0.95
) -> tuple[float, float]:
    """The percentile interval of ``variant_means - control_means`` (resample by resample)."""
    diffs = variant_means - control_means
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(diffs, [tail, 100 - tail])
    return float(low), float(high)


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm-adjusted p-values (statsmodels ``multipletests``); NaN entries stay NaN."""
    p = np.asarray(p_values, dtype="float64")
    adjusted = np.full(len(p), np.nan)
    ok = ~np.isnan(p)
    if ok.any():
        adjusted[ok] = multipletests(p[ok], method="holm")[1]
    return adjusted


def srm_test(observed: Mapping[str, int], planned: Mapping[str, float]) -> dict[str, Any]:
    """Sample-ratio-mismatch: chi-squared of the users per group against the planned shares.

    Parameters
    ----------
    observed : mapping
        Group -> users assigned.
    planned : mapping
        Group -> planned share (any positive weights; they are made to add up to 1). The
        groups must be those of ``observed``.

    Returns
    -------
    dict
        ``planned`` (shares), ``observed`` (users), ``expected`` (users), ``chi2``,
        ``p_value``, ``threshold`` and ``flagged`` (``p_value < threshold``).
    """
    groups = list(observed)
    weights = np.array([float(planned[g]) for g in groups])
    shares = weights / weights.sum()
    counts = np.array([int(observed[g]) for g in groups], dtype="float64")
    expected = shares * counts.sum()
    result = stats.chisquare(counts, f_exp=expected)
    p_value = float(result.pvalue)
    return {
        "planned": {g: float(s) for g, s in zip(groups, shares, strict=True)},
        "observed": {g: int(c) for g, c in zip(groups, counts, strict=True)},
        "expected": {g: float(e) for g, e in zip(groups, expected, strict=True)},
        "chi2": float(result.statistic),
        "p_value": p_value,
        "threshold": SRM_THRESHOLD,
        "flagged": bool(p_value < SRM_THRESHOLD),
    }


def normality_check(values: np.ndarray, what: str) -> dict[str, Any]:
    """Skewness, excess kurtosis, normality p-value and a plain-language note on the CLT.

    Parameters
    ----------
    values : numpy.ndarray
        One group's values (one per user).
    what : str
        The metric as the note names it (``"revenue per user"``).
    """
    x = np.asarray(values, dtype="float64")
    n = len(x)
    if n < 3 or np.ptp(x) == 0:
        return {
            "n": n,
            "skewness": None,
            "kurtosis": None,
            "normality_p_value": None,
            "clt_min_n": None,
            "note": f"{what}: too few users or no spread; no normality check",
        }
    skew = float(stats.skew(x))
    kurt = float(stats.kurtosis(x))
    p = float(stats.normaltest(x).pvalue) if n >= 20 else None
    needed = math.ceil(28 + 25 * skew**2)
    shape = (
        "far from normal"
        if p is not None and p < 0.001
        else ("close to normal" if p is not None else "of unknown shape (fewer than 20 users)")
    )
    if n > needed:
        verdict = (
            f"with {n:,} users the group's mean is close to normal by the central limit "
            f"theorem (the rule n > 28 + 25 x skewness^2 asks for {needed:,}): the t-test's "
            "interval and p-value can be trusted"
        )
    else:
        verdict = (
            f"with only {n:,} users (the rule n > 28 + 25 x skewness^2 asks for {needed:,}) "
            "the mean may not be close to normal yet: trust the bootstrap interval and the "
            "Mann-Whitney p-value more than the t-test"
        )
    return {
        "n": n,
        "skewness": skew,
        "kurtosis": kurt,
        "normality_p_value": p,
        "clt_min_n": needed,
        "note": f"{what} is {shape} (skewness {skew:.2f}, excess kurtosis {kurt:.2f}); {verdict}",
    }
