"""Kaplan–Meier, log-rank and Cox tables of clvmodels.subscriptions.survival.

Oracles: the published survivors of Fader & Hardie (2007), Table 1; a log-rank chi-square
written out in the test from the textbook formula; hazard ratios known from data simulated
here from an exponential proportional-hazards model.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from clvmodels.errors import DataError
from clvmodels.subscriptions.survival import (
    cox,
    kaplan_meier,
    logrank,
    natural_key,
    survival_durations,
)

# Fader & Hardie (2007), "How to project customer retention", Table 1: survivors per 1,000.
REGULAR = [1000, 631, 468, 382, 326, 289, 262, 241]
HIGH_END = [1000, 869, 743, 653, 593, 551, 517, 491]


def _fh_customers(survivors: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Churned at year t: duration t, event 1; still active after year 7: duration 7."""
    lost = -np.diff(survivors)
    duration = np.concatenate([np.repeat(np.arange(1, 8), lost), np.full(survivors[-1], 7)])
    event = np.concatenate([np.ones(lost.sum(), int), np.zeros(survivors[-1], int)])
    return duration, event


def test_durations_follow_the_convention() -> None:
    duration, event = survival_durations([3, 5, 1], [9, 5, 1], [True, False, False])
    assert duration.tolist() == [3, 4, 0]
    assert event.tolist() == [1, 0, 0]


def test_durations_reject_bad_values() -> None:
    with pytest.raises(DataError, match="first_spell_periods"):
        survival_durations([0, 2], [3, 3], [True, False])
    with pytest.raises(DataError, match="whole number"):
        survival_durations([1.5, 2], [3, 3], [True, False])


def test_kaplan_meier_reproduces_fader_hardie_survivors() -> None:
    d1, e1 = _fh_customers(REGULAR)
    d2, e2 = _fh_customers(HIGH_END)
    groups = pd.DataFrame({"segment": ["regular"] * len(d1) + ["high end"] * len(d2)})
    km = kaplan_meier(np.r_[d1, d2], np.r_[e1, e2], groups, horizon=9)
    for name, survivors in (("regular", REGULAR), ("high end", HIGH_END)):
        part = km[km["segment"] == name].reset_index(drop=True)
        assert part["period"].tolist() == list(range(10))
        np.testing.assert_allclose(part["observed_survival"][:8], np.array(survivors) / 1000)
        assert part["observed_survival"][8:].isna().all()  # not observed after year 7
        assert part["at_risk"][:8].tolist() == [1000, *survivors[:7]]
        assert part["churn_events"][1:8].tolist() == (-np.diff(survivors)).tolist()


def test_kaplan_meier_without_groups_is_one_group_all() -> None:
    km = kaplan_meier([1, 2, 2, 3], [1, 0, 1, 0])
    assert km["group"].unique().tolist() == ["all"]
    # at 1: 1 of 4 churns; at 2: 1 of 3 churns (the censored one stays in the risk set).
    np.testing.assert_allclose(km["observed_survival"], [1, 0.75, 0.75 * 2 / 3, 0.5])


def test_kaplan_meier_group_without_churn_stays_at_one() -> None:
    groups = pd.DataFrame({"cohort": ["2024-11", "2024-11", "2024-12"]})
    km = kaplan_meier([1, 2, 0], [0, 0, 0], groups, horizon=2)
    assert km["observed_survival"].tolist()[:3] == [1.0, 1.0, 1.0]
    assert km[km["cohort"] == "2024-12"]["observed_survival"].isna().tolist() == [False, True, True]


def _textbook_logrank(t: np.ndarray, e: np.ndarray, g: np.ndarray) -> float:
    """Two-group log-rank: (O1 - E1)^2 / V over distinct event times (Mantel–Haenszel)."""
    o_minus_e, var = 0.0, 0.0
    for time in np.unique(t[e == 1]):
        at_risk = t >= time
        n, n1 = at_risk.sum(), (at_risk & (g == 1)).sum()
        d = ((t == time) & (e == 1)).sum()
        d1 = ((t == time) & (e == 1) & (g == 1)).sum()
        o_minus_e += d1 - d * n1 / n
        if n > 1:
            var += d * (n1 / n) * (1 - n1 / n) * (n - d) / (n - 1)
    return o_minus_e**2 / var


def test_logrank_matches_the_textbook_chi_square() -> None:
    t = np.array([1, 2, 2, 3, 4, 4, 5, 1, 1, 2, 3, 3, 3, 6])
    e = np.array([1, 1, 0, 1, 0, 1, 0, 1, 1, 1, 1, 0, 1, 0])
    g = np.array([0] * 7 + [1] * 7)
    expected = _textbook_logrank(t, e, g)
    table = logrank(t, e, np.where(g == 1, "b", "a"))
    overall = table[table["test"] == "overall"].iloc[0]
    assert overall["statistic"] == pytest.approx(expected, rel=1e-10)
    assert overall["df"] == 1
    assert overall["p_value"] == pytest.approx(stats.chi2.sf(expected, 1), rel=1e-10)
    assert overall["group_a"] is None or pd.isna(overall["group_a"])


def test_logrank_has_an_overall_and_each_pairwise_test() -> None:
    rng = np.random.default_rng(3)
    labels = rng.choice(["x", "y", "z"], 300)
    t = rng.integers(1, 10, 300)
    table = logrank(t, rng.integers(0, 2, 300), labels)
    assert table["test"].tolist() == ["overall", "pairwise", "pairwise", "pairwise"]
    assert table.loc[0, "df"] == 2
    pairs = list(zip(table["group_a"][1:], table["group_b"][1:], strict=True))
    assert pairs == [("x", "y"), ("x", "z"), ("y", "z")]
    assert logrank(t, np.ones(300), np.full(300, "one")).empty
    by_two = logrank(
        t[:4], [1, 1, 0, 1], pd.DataFrame({"plan": ["a", "a", "b", "b"], "cohort": [1, 2, 1, 2]})
    )
    assert set(by_two["group_a"].dropna()) | set(by_two["group_b"].dropna()) == {
        "a / 1", "a / 2", "b / 1", "b / 2",
    }  # fmt: skip


def test_cox_recovers_known_hazard_ratios() -> None:
    rng = np.random.default_rng(12)
    n = 6000
    size = rng.choice(["1-10", "11-50", "201+"], n, p=[0.5, 0.3, 0.2])
    z = rng.normal(size=n)
    log_hr = np.select([size == "11-50", size == "201+"], [np.log(0.7), np.log(0.4)], 0.0)
    log_hr = log_hr + 0.5 * z
    latent = rng.exponential(1 / (0.1 * np.exp(log_hr)))  # exponential PH, baseline 0.1
    censor = rng.uniform(5, 30, n)
    duration = np.ceil(np.minimum(latent, censor)).astype(int)
    event = (latent <= censor).astype(int)
    table = cox(duration, event, pd.DataFrame({"size_band": size, "z": z})).set_index("covariate")
    assert list(table.index) == ["size_band=11-50 (vs 1-10)", "size_band=201+ (vs 1-10)", "z"]
    se = (np.log(table["hr_high"]) - np.log(table["hr_low"])) / (2 * stats.norm.ppf(0.97))
    truth = np.log([0.7, 0.4, np.exp(0.5)])
    assert np.all(np.abs(table["coefficient"] - truth) < 3 * se)
    np.testing.assert_allclose(table["hazard_ratio"], np.exp(table["coefficient"]))
    assert table["customers"].tolist() == [(size == "11-50").sum(), (size == "201+").sum(), n]


def test_cox_above_max_rows_fits_a_stated_random_sample() -> None:
    rng = np.random.default_rng(4)
    z = rng.normal(size=3000)
    duration = np.ceil(rng.exponential(10 / np.exp(0.4 * z))).astype(int)
    event = np.ones(3000, int)
    full = cox(duration, event, pd.DataFrame({"z": z}))
    part = cox(duration, event, pd.DataFrame({"z": z}), max_rows=1000, seed=2)
    assert full.attrs == {"fitted_rows": 3000, "total_rows": 3000}
    assert part.attrs == {"fitted_rows": 1000, "total_rows": 3000}
    assert part["customers"].tolist() == [1000]
    se_ratio = np.log(part["hr_high"] / part["hr_low"]) / np.log(full["hr_high"] / full["hr_low"])
    assert 1.5 < se_ratio.iloc[0] < 2.0  # about sqrt(3): the intervals are the sample's


def test_cox_reference_is_the_most_common_level() -> None:
    rng = np.random.default_rng(1)
    band = np.array(["51-200"] * 50 + ["1-10"] * 30 + ["11-50"] * 20)
    covariates = pd.DataFrame({"size_band": band, "trial": rng.random(100) < 0.4})
    table = cox(rng.integers(1, 12, 100), rng.integers(0, 2, 100), covariates)
    assert table["covariate"].tolist() == [
        "size_band=1-10 (vs 51-200)",
        "size_band=11-50 (vs 51-200)",
        "trial=True (vs False)",
    ]


def test_cox_rejects_missing_or_constant_covariates() -> None:
    x = pd.DataFrame({"band": ["a", None, "b", "a"]})
    with pytest.raises(DataError, match="missing covariate"):
        cox([1, 2, 3, 4], [1, 0, 1, 1], x)
    with pytest.raises(DataError, match="single value"):
        cox([1, 2, 3, 4], [1, 0, 1, 1], pd.DataFrame({"band": ["a"] * 4}))
    with pytest.raises(DataError, match="entry"):
        cox([1, 2, 3, 4], [1, 0, 1, 1], pd.DataFrame({"z": [0.1, 0.2, 0.3, 0.5]}), entry=[1] * 4)


def test_natural_key_orders_numbers_by_value() -> None:
    assert sorted(["201+", "11-50", "1-10", "51-200"], key=natural_key) == [
        "1-10",
        "11-50",
        "51-200",
        "201+",
    ]
