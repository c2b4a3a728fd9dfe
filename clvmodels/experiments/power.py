"""Power and sample size of an A/B test: users per arm for a minimum detectable effect.

Every function here is pure (numbers in, a :class:`PowerResult` out); reading an orders table
or a model for the baseline is :mod:`clvmodels.jobs.power`.

Definitions
-----------
* **Minimum detectable effect (MDE)**: the smallest true difference between a variant and
  the control that the test should find. ``mde_absolute`` is in the metric's unit (rate
  points for conversion, currency for a mean); ``mde_relative`` is a share of the baseline
  (0.1 = 10% up; -0.1 = 10% down): ``mde_absolute = mde_relative * baseline``.
* **Power**: the probability that the test rejects "no difference" when the true difference
  is the MDE (default 0.8); **alpha**: the probability that it rejects when there is no
  difference (default 0.05). Tests are two-sided.
* **Conversion** (a share of users who buy): the variant's rate is ``p2 = p1 + mde``;
  the effect size is Cohen's h = ``2 asin(sqrt(p2)) - 2 asin(sqrt(p1))``
  (``statsmodels.stats.proportion.proportion_effectsize``), and the users per arm solve
  statsmodels' ``NormalIndPower`` (the normal approximation of the arcsine-transformed
  rates, equal arms): ``n = 2 * ((z_{1-alpha/2} + z_{power}) / h)^2`` up to the other
  tail's tiny share of the power (R's ``pwr.2p.test``).
* **A mean** (revenue per user, predicted CLV per user): the effect size is Cohen's
  d = ``mde_absolute / sd``, with ``sd`` the metric's standard deviation per user, assumed
  the same in both arms; the users per arm solve the two-sample t-test with pooled
  variance and equal arms (``statsmodels.stats.power.tt_ind_solve_power``).
* **More arms** (``arms`` K > 2): each of the K - 1 variants is compared with the control.
  With ``correction="bonferroni"`` (the default) each comparison is made at
  ``alpha / (K - 1)``, the bound that Holm's correction (what ``clv experiment`` reports)
  never falls below, so the planned power holds for every variant; ``"none"`` uses
  ``alpha`` for each. Every arm gets ``n_per_arm`` users.
* ``n_per_arm`` is the solved number rounded up (``n_per_arm_exact`` before rounding), at
  least 2; ``achieved_power`` is the power at ``n_per_arm``.
* **Duration** with ``daily_users`` (users entering the experiment a day, all of them
  split equally among the arms): ``days = ceil(arms * n_per_arm / daily_users)``; for two
  arms ``ceil(2 * n_per_arm / daily_users)``.
* The baseline's standard deviation may come from data: :mod:`clvmodels.experiments.baseline`.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from clvmodels.errors import DataError
from clvmodels.ranges import NumberRange

Correction = Literal["bonferroni", "none"]

#: The allowed ranges of the arguments (the ``clv power`` options use the same ones).
ALPHA = NumberRange(0.0, 0.5, low_open=True)
POWER = NumberRange(0.5, 1.0, high_open=True)
RATE = NumberRange(0.0, 1.0, low_open=True, high_open=True)
MDE_RELATIVE = NumberRange(-1.0, 1e6, low_open=True)
MDE_ABSOLUTE = NumberRange(-1e15, 1e15)
SD = NumberRange(0.0, 1e15, low_open=True)
MEAN = NumberRange(-1e15, 1e15)
DAILY_USERS = NumberRange(0.0, 1e12, low_open=True)
MAX_ARMS = 100
#: The smallest arm a t-test can use (one degree of freedom per arm).
MIN_PER_ARM = 2


@dataclass(frozen=True)
class PowerResult:
    """Users per arm for a test, with every assumption it rests on (module docstring).

    ``to_dict()`` is what ``clv power --json`` prints.
    """

    metric: str
    test: str
    effect_size_name: str
    effect_size: float
    baseline: float | None
    target: float | None
    mde_absolute: float
    mde_relative: float | None
    alpha: float
    alpha_per_comparison: float
    power: float
    alternative: str
    arms: int
    correction: str
    n_per_arm_exact: float
    n_per_arm: int
    n_total: int
    achieved_power: float
    baseline_sd: float | None = None
    baseline_source: str = "given"
    daily_users: float | None = None
    days: int | None = None
    duration_rule: str | None = None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Every field, ready for JSON."""
        return asdict(self)


def conversion_test_power(effect_size: float, n_per_arm: float, *, alpha: float = 0.05) -> float:
    """Power of the two-sided two-proportion test at Cohen's h ``effect_size`` (NormalIndPower)."""
    from statsmodels.stats.power import NormalIndPower

    return float(NormalIndPower().power(abs(effect_size), n_per_arm, alpha, ratio=1.0))


def mean_test_power(effect_size: float, n_per_arm: float, *, alpha: float = 0.05) -> float:
    """Power of the two-sided two-sample t-test at Cohen's d ``effect_size`` (TTestIndPower)."""
    from statsmodels.stats.power import TTestIndPower

    return float(TTestIndPower().power(abs(effect_size), n_per_arm, alpha, ratio=1.0))


def power_conversion(
    *,
    baseline_rate: float,
    mde_relative: float | None = None,
    mde_absolute: float | None = None,
    alpha: float = 0.05,
    power: float = 0.8,
    arms: int = 2,
    daily_users: float | None = None,
    correction: Correction = "bonferroni",
) -> PowerResult:
    """Users per arm to detect a change of a conversion rate (Cohen's h, NormalIndPower).

    Parameters
    ----------
    baseline_rate : float
        The control's conversion rate, in (0, 1).
    mde_relative, mde_absolute : float
        The minimum detectable effect: exactly one, not 0 (module docstring); the
        variant's rate ``baseline_rate + mde`` must be in (0, 1).
    alpha, power : float
        Two-sided significance level, in (0, 0.5], and power, in [0.5, 1).
    arms : int
        Arms including the control, 2 to 100.
    daily_users : float, optional
        Users entering the experiment a day: gives ``days``.
    correction : {"bonferroni", "none"}
        How alpha is shared among the K - 1 comparisons when ``arms`` > 2.

    Raises
    ------
    DataError
        For a value out of range, no MDE or both, an MDE of 0 and a variant rate outside
        (0, 1).
    """
    from statsmodels.stats.power import NormalIndPower
    from statsmodels.stats.proportion import proportion_effectsize

    p1 = checked(RATE, baseline_rate, "baseline_rate")
    absolute, relative = _mde(p1, mde_absolute, mde_relative)
    p2 = p1 + absolute
    if RATE.problem(p2) is not None:
        raise DataError(
            f"the variant's rate baseline_rate + MDE = {p1:g} + {absolute:g} = {p2:g} is not "
            "a rate within (0, 1)",
            hint="choose a smaller MDE",
        )
    h = float(proportion_effectsize(p2, p1))
    return _solved(
        metric="conversion",
        test="two-sided test of two proportions, normal approximation of the arcsine-"
        "transformed rates (statsmodels NormalIndPower; R pwr.2p.test)",
        effect=("cohens_h", h),
        baseline=(p1, p2, absolute, relative),
        settings=_Settings(alpha, power, arms, daily_users, correction),
        solve=lambda a: NormalIndPower().solve_power(
            effect_size=abs(h), alpha=a, power=power, ratio=1.0, alternative="two-sided"
        ),
        power_at=lambda n, a: conversion_test_power(h, n, alpha=a),
        extra={},
        notes=[
            f"the control converts at {p1:.4g} and the variant at {p2:.4g}; every user "
            "converts or not independently of the others"
        ],
    )


def power_mean(
    *,
    baseline_sd: float,
    mde_absolute: float | None = None,
    mde_relative: float | None = None,
    baseline_mean: float | None = None,
    alpha: float = 0.05,
    power: float = 0.8,
    arms: int = 2,
    daily_users: float | None = None,
    correction: Correction = "bonferroni",
    metric: str = "mean",
    baseline_source: str = "given",
) -> PowerResult:
    """Users per arm to detect a change of a mean per user (Cohen's d, two-sample t-test).

    Parameters
    ----------
    baseline_sd : float
        The metric's standard deviation per user, positive; assumed the same in every arm.
    mde_absolute, mde_relative : float
        The minimum detectable effect: exactly one, not 0; ``mde_relative`` needs
        ``baseline_mean``.
    baseline_mean : float, optional
        The control's mean (needed with ``mde_relative``; reported when given).
    alpha, power, arms, daily_users, correction
        As for :func:`power_conversion`.
    metric : str
        What the mean is of (``"mean"``, ``"clv"``), for the result.
    baseline_source : str
        Where ``baseline_sd`` (and ``baseline_mean``) came from, in plain words.

    Raises
    ------
    DataError
        For a value out of range, no MDE or both, an MDE of 0 and ``mde_relative``
        without ``baseline_mean``.
    """
    from statsmodels.stats.power import tt_ind_solve_power

    sd = checked(SD, baseline_sd, "baseline_sd")
    mean = None if baseline_mean is None else checked(MEAN, baseline_mean, "baseline_mean")
    if mde_relative is not None and mean is None:
        raise DataError(
            "mde_relative needs the baseline mean",
            hint="give baseline_mean (--baseline-mean), the orders, or use mde_absolute",
        )
    if mde_relative is not None and mean == 0:
        raise DataError("mde_relative of a baseline mean of 0 is 0: use mde_absolute")
    absolute, relative = _mde(mean, mde_absolute, mde_relative)
    d = absolute / sd
    return _solved(
        metric=metric,
        test="two-sided two-sample t-test, pooled variance, equal arms "
        "(statsmodels tt_ind_solve_power; R pwr.t.test)",
        effect=("cohens_d", d),
        baseline=(mean, None if mean is None else mean + absolute, absolute, relative),
        settings=_Settings(alpha, power, arms, daily_users, correction),
        solve=lambda a: tt_ind_solve_power(
            effect_size=abs(d), alpha=a, power=power, ratio=1.0, alternative="two-sided"
        ),
        power_at=lambda n, a: mean_test_power(d, n, alpha=a),
        extra={"baseline_sd": sd, "baseline_source": baseline_source},
        notes=[
            f"the standard deviation per user is {sd:.6g} in every arm ({baseline_source}); "
            "each arm's mean is assumed near normal at this n (the t-test's approximation; "
            "heavy-tailed revenue needs more users: check its skewness in clv experiment's "
            "checks.json)"
        ],
    )


# ------------------------------------------------------------------------------- solving
@dataclass(frozen=True)
class _Settings:
    alpha: float
    power: float
    arms: int
    daily_users: float | None
    correction: Correction


def _solved(
    *,
    metric: str,
    test: str,
    effect: tuple[str, float],
    baseline: tuple[float | None, float | None, float, float | None],
    settings: _Settings,
    solve: Callable[[float], Any],
    power_at: Callable[[float, float], float],
    extra: dict[str, Any],
    notes: list[str],
) -> PowerResult:
    """Check the settings, solve for n per arm and fill a :class:`PowerResult`."""
    alpha = checked(ALPHA, settings.alpha, "alpha")
    power = checked(POWER, settings.power, "power")
    arms = _arms(settings.arms)
    if settings.correction not in ("bonferroni", "none"):
        raise DataError(f"correction must be bonferroni or none; got {settings.correction!r}")
    comparisons = arms - 1
    per = alpha / comparisons if settings.correction == "bonferroni" else alpha
    exact = _solve(solve, power_at, per, power)
    n = max(math.ceil(exact), MIN_PER_ARM)
    days, rule = _duration(settings.daily_users, arms, n)
    first, target, absolute, relative = baseline
    notes = list(notes)
    if comparisons > 1:
        notes.append(
            f"{comparisons} variants, each compared with the control at alpha "
            + (
                f"{alpha:g} / {comparisons} = {per:.4g} (Bonferroni)"
                if settings.correction == "bonferroni"
                else f"{alpha:g} (no correction: the chance of a false positive among the "
                f"{comparisons} comparisons is higher than {alpha:g})"
            )
        )
    return PowerResult(
        metric=metric,
        test=test,
        effect_size_name=effect[0],
        effect_size=effect[1],
        baseline=first,
        target=target,
        mde_absolute=absolute,
        mde_relative=relative,
        alpha=alpha,
        alpha_per_comparison=per,
        power=power,
        alternative="two-sided",
        arms=arms,
        correction=settings.correction if comparisons > 1 else "none",
        n_per_arm_exact=exact,
        n_per_arm=n,
        n_total=n * arms,
        achieved_power=power_at(n, per),
        daily_users=settings.daily_users,
        days=days,
        duration_rule=rule,
        notes=notes,
        **extra,
    )


def _solve(
    solve: Callable[[float], Any],
    power_at: Callable[[float, float], float],
    alpha: float,
    power: float,
) -> float:
    """The solution of statsmodels, or the smallest whole n reaching ``power`` when it fails."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # statsmodels warns and returns nan below n = 2
        try:
            exact = float(solve(alpha))
        except (ValueError, ArithmeticError):
            exact = math.nan
        if math.isfinite(exact) and exact > 0:
            return exact
        for n in range(MIN_PER_ARM, 1_000):  # a large effect: a handful of users per arm
            if power_at(n, alpha) >= power:
                return float(n)
    raise DataError(
        "the sample size could not be solved for this effect (too small to detect with a "
        "finite sample)",
        hint="choose a larger MDE",
    )


def _duration(daily_users: float | None, arms: int, n: int) -> tuple[int | None, str | None]:
    if daily_users is None:
        return None, None
    users = checked(DAILY_USERS, daily_users, "daily_users")
    days = math.ceil(arms * n / users)
    rule = (
        f"days = ceil(arms * n_per_arm / daily_users) = ceil({arms} * {n:,} / {users:,g}): "
        f"every user entering a day is assigned, split equally among the {arms} arms"
    )
    return days, rule


def _mde(
    baseline: float | None, absolute: float | None, relative: float | None
) -> tuple[float, float | None]:
    """The MDE as (absolute, relative), from exactly one of them, not 0."""
    if (absolute is None) == (relative is None):
        raise DataError(
            "give the minimum detectable effect as exactly one of mde_absolute or mde_relative"
            + ("; both were given" if absolute is not None else "")
        )
    if relative is not None:
        rel = checked(MDE_RELATIVE, relative, "mde_relative")
        if rel == 0:
            raise DataError("mde_relative must not be 0: no sample detects no difference")
        assert baseline is not None
        return rel * baseline, rel
    value = checked(MDE_ABSOLUTE, absolute, "mde_absolute")
    if value == 0:
        raise DataError("mde_absolute must not be 0: no sample detects no difference")
    return value, (value / baseline if baseline else None)


def _arms(arms: Any) -> int:
    if isinstance(arms, bool) or not isinstance(arms, int) or not 2 <= arms <= MAX_ARMS:
        raise DataError(f"arms must be a whole number from 2 to {MAX_ARMS}; got {arms!r}")
    return arms


def checked(allowed: NumberRange, value: Any, name: str) -> float:
    """``value`` as a float, or a DataError naming ``name`` when it is outside ``allowed``."""
    problem = allowed.problem(value)
    if problem is not None:
        raise DataError(f"{name} {problem}")
    return float(value)
