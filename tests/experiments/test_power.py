"""Power and sample size: published values, the formulas written out here, and bad input."""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.power import TTestIndPower, tt_ind_solve_power

from clvmodels.errors import DataError
from clvmodels.experiments.baseline import baseline_from_values, window_revenue
from clvmodels.experiments.power import (
    conversion_test_power,
    mean_test_power,
    power_conversion,
    power_mean,
)

Z = NormalDist().inv_cdf


def cohens_h(p1: float, p2: float) -> float:
    return 2 * math.asin(math.sqrt(p2)) - 2 * math.asin(math.sqrt(p1))


def test_t_test_power_published_at_d_1_n_30():
    # statsmodels' and R pwr.t.test's published value
    assert mean_test_power(1.0, 30, alpha=0.05) == pytest.approx(0.967708, abs=5e-7)


@pytest.mark.parametrize(
    ("d", "exact", "rounded"), [(0.2, 393.41, 394), (0.5, 63.77, 64), (0.8, 25.52, 26)]
)
def test_t_test_sample_sizes_published(d, exact, rounded):
    result = power_mean(baseline_sd=1.0, mde_absolute=d)
    assert result.n_per_arm_exact == pytest.approx(exact, abs=0.005)
    assert result.n_per_arm == rounded
    assert result.n_total == 2 * rounded
    assert (result.alpha, result.power, result.alternative) == (0.05, 0.8, "two-sided")
    assert result.effect_size == pytest.approx(d)
    assert result.achieved_power >= 0.8


def test_mean_relative_mde_is_a_share_of_the_baseline_mean_either_sign():
    up = power_mean(baseline_sd=20.0, baseline_mean=50.0, mde_relative=0.1)
    down = power_mean(baseline_sd=20.0, baseline_mean=50.0, mde_relative=-0.1)
    expected = tt_ind_solve_power(effect_size=5.0 / 20.0, alpha=0.05, power=0.8)
    assert up.mde_absolute == pytest.approx(5.0)
    assert (up.baseline, up.target) == (50.0, pytest.approx(55.0))
    assert up.n_per_arm == down.n_per_arm == math.ceil(expected)


def test_conversion_uses_cohens_h_and_the_normal_approximation():
    p1, relative = 0.10, 0.10
    p2 = p1 * (1 + relative)
    h = cohens_h(p1, p2)
    result = power_conversion(baseline_rate=p1, mde_relative=relative)
    assert result.effect_size_name == "cohens_h"
    assert result.effect_size == pytest.approx(h, rel=1e-12)
    assert result.target == pytest.approx(p2)
    # two arms of n each: var(h_hat) = 2 / n, so n = 2 * ((z_{1-a/2} + z_power) / h)^2;
    # NormalIndPower adds the other tail's share of the power (about 1e-6 here)
    formula = 2 * ((Z(1 - 0.05 / 2) + Z(0.8)) / h) ** 2
    assert result.n_per_arm_exact == pytest.approx(formula, rel=1e-4)
    assert result.n_per_arm == math.ceil(result.n_per_arm_exact)


def test_conversion_absolute_mde_and_a_decrease():
    result = power_conversion(baseline_rate=0.30, mde_absolute=-0.05, power=0.9, alpha=0.01)
    h = cohens_h(0.30, 0.25)
    formula = 2 * ((Z(1 - 0.01 / 2) + Z(0.9)) / h) ** 2
    assert result.n_per_arm_exact == pytest.approx(formula, rel=1e-4)
    assert result.mde_relative == pytest.approx(-0.05 / 0.30)
    # against the classical two-proportion formula (pooled under H0): close, not equal
    pbar = 0.275
    classical = (
        Z(0.995) * math.sqrt(2 * pbar * (1 - pbar)) + Z(0.9) * math.sqrt(0.3 * 0.7 + 0.25 * 0.75)
    ) ** 2 / 0.05**2
    assert result.n_per_arm == pytest.approx(classical, rel=0.01)
    assert conversion_test_power(h, result.n_per_arm, alpha=0.01) >= 0.9


def test_duration_and_more_arms_with_bonferroni():
    two = power_mean(baseline_sd=1.0, mde_absolute=0.2, daily_users=150)
    assert two.days == math.ceil(2 * 394 / 150)
    assert "ceil(arms * n_per_arm / daily_users)" in two.duration_rule
    three = power_mean(baseline_sd=1.0, mde_absolute=0.2, arms=3, daily_users=150)
    n3 = math.ceil(tt_ind_solve_power(effect_size=0.2, alpha=0.05 / 2, power=0.8))
    assert three.alpha_per_comparison == pytest.approx(0.025)
    assert (three.n_per_arm, three.n_total) == (n3, 3 * n3)
    assert three.days == math.ceil(3 * n3 / 150)
    plain = power_mean(baseline_sd=1.0, mde_absolute=0.2, arms=3, correction="none")
    assert plain.n_per_arm == 394
    assert any("no correction" in note for note in plain.notes)


def test_a_large_effect_needs_the_smallest_n_that_reaches_the_power():
    result = power_mean(baseline_sd=1.0, mde_absolute=10.0)
    smallest = next(
        n for n in range(2, 100) if TTestIndPower().power(10.0, n, 0.05, ratio=1.0) >= 0.8
    )
    assert result.n_per_arm == smallest


def test_every_assumption_is_in_the_json():
    out = power_conversion(baseline_rate=0.05, mde_relative=0.2, daily_users=1000).to_dict()
    for key in (
        "metric",
        "test",
        "effect_size",
        "baseline",
        "target",
        "mde_absolute",
        "alpha",
        "power",
        "alternative",
        "arms",
        "n_per_arm",
        "days",
        "duration_rule",
        "notes",
    ):
        assert out[key] is not None, key
    assert isinstance(out["n_per_arm"], int)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"baseline_rate": 0.0, "mde_relative": 0.1}, "baseline_rate must be within"),
        ({"baseline_rate": 1.0, "mde_relative": 0.1}, "baseline_rate must be within"),
        ({"baseline_rate": 1.5, "mde_relative": 0.1}, "baseline_rate must be within"),
        ({"baseline_rate": 0.1, "mde_relative": 0.0}, "must not be 0"),
        ({"baseline_rate": 0.1, "mde_absolute": 0.0}, "must not be 0"),
        ({"baseline_rate": 0.1}, "exactly one"),
        ({"baseline_rate": 0.1, "mde_relative": 0.1, "mde_absolute": 0.01}, "both"),
        ({"baseline_rate": 0.6, "mde_relative": 1.0}, "not a rate"),
        ({"baseline_rate": 0.1, "mde_relative": 0.1, "alpha": 0.0}, "alpha"),
        ({"baseline_rate": 0.1, "mde_relative": 0.1, "power": 1.0}, "power"),
        ({"baseline_rate": 0.1, "mde_relative": 0.1, "arms": 1}, "arms"),
    ],
)
def test_bad_conversion_input(kwargs, message):
    with pytest.raises(DataError, match=message):
        power_conversion(**kwargs)


def test_bad_mean_input():
    with pytest.raises(DataError, match="baseline_sd must be within"):
        power_mean(baseline_sd=0.0, mde_absolute=1.0)
    with pytest.raises(DataError, match="needs the baseline mean"):
        power_mean(baseline_sd=1.0, mde_relative=0.1)
    with pytest.raises(DataError, match="baseline_sd must be within"):
        power_mean(baseline_sd=math.nan, mde_absolute=1.0)


def test_baseline_with_a_buyer_share_mixes_in_the_zeros():
    values = pd.Series([10.0, 20.0, 30.0, 60.0])
    m, s = values.mean(), values.std(ddof=1)
    plain = baseline_from_values(values, source="x")
    assert (plain.mean, plain.sd, plain.customers) == (m, pytest.approx(s), 4)
    mixed = baseline_from_values(values, source="x", buyer_share=0.25)
    assert mixed.mean == pytest.approx(0.25 * m)
    assert mixed.sd == pytest.approx(math.sqrt(0.25 * (s**2 + m**2) - (0.25 * m) ** 2))
    with pytest.raises(DataError, match="same value"):
        baseline_from_values(pd.Series([5.0, 5.0]), source="x")
    with pytest.raises(DataError, match="at least 2"):
        baseline_from_values(pd.Series([5.0]), source="x")


def test_window_revenue_from_each_first_order():
    orders = pd.DataFrame(
        {
            "customer_id": [1, 1, 1, 2, 2, 3],
            "timestamp": pd.to_datetime(
                [
                    "2024-01-01 10:00",
                    "2024-01-07 23:00",  # inside 7 days
                    "2024-01-08 10:00",  # exactly 7 days later: out
                    "2024-01-03 00:00",
                    "2024-01-05 00:00",
                    "2024-01-20 00:00",  # window ends after the last day (2024-01-20): left out
                ]
            ),
            "revenue": [5.0, 7.0, 100.0, 3.0, 4.0, 9.0],
        }
    )
    revenue, left_out = window_revenue(orders, 7)
    assert revenue.to_dict() == {1: 12.0, 2: 7.0}
    assert left_out == 1
    assert np.isclose(window_revenue(orders, 1)[0].loc[3], 9.0)  # ends at the last day's end
