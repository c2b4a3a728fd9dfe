"""The experiment's tests against formulas written here, scipy and statsmodels."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as st
from statsmodels.stats.multitest import multipletests

from clvmodels.experiments import stats
from clvmodels.experiments.analysis import analyse, parse_split


# ------------------------------------------------------------------------------ chi-squared
@pytest.mark.parametrize(
    ("conv_c", "n_c", "conv_v", "n_v"),
    [(40, 200, 60, 200), (12, 150, 7, 90), (300, 1000, 260, 1000)],
)
def test_chi2_by_hand_on_2x2_tables(conv_c: int, n_c: int, conv_v: int, n_v: int) -> None:
    a, b = conv_v, n_v - conv_v  # variant: converters, others
    c, d = conv_c, n_c - conv_c  # control
    n = a + b + c + d
    chi2 = n * (a * d - b * c) ** 2 / ((a + b) * (c + d) * (a + c) * (b + d))
    p = math.erfc(math.sqrt(chi2 / 2))  # chi-squared with 1 df: P(Z^2 > x)
    result = stats.conversion_test(conv_c, n_c, conv_v, n_v)
    assert result["statistic"] == pytest.approx(chi2, rel=1e-12)
    assert result["p_value"] == pytest.approx(p, rel=1e-9)
    # the two-proportion z-test with the pooled rate gives the same statistic
    p_c, p_v, pooled = c / n_c, a / n_v, (a + c) / n
    z = (p_v - p_c) / math.sqrt(pooled * (1 - pooled) * (1 / n_c + 1 / n_v))
    assert z**2 == pytest.approx(chi2, rel=1e-12)
    half = 1.959963984540054 * math.sqrt(p_v * (1 - p_v) / n_v + p_c * (1 - p_c) / n_c)
    assert result["difference"] == pytest.approx(p_v - p_c)
    assert result["ci_low"] == pytest.approx(p_v - p_c - half, rel=1e-9)
    assert result["ci_high"] == pytest.approx(p_v - p_c + half, rel=1e-9)
    assert result["relative_lift"] == pytest.approx((p_v - p_c) / p_c)


def test_chi2_without_converters_has_no_p_value() -> None:
    result = stats.conversion_test(0, 100, 0, 100)
    assert math.isnan(result["p_value"]) and result["difference"] == 0


# ------------------------------------------------------------------------------ Welch
def test_welch_t_against_the_formula() -> None:
    control = np.array([1.0, 2.0, 3.0, 4.0, 10.0])
    variant = np.array([2.0, 4.0, 6.0, 8.0, 9.0, 12.0, 15.0])
    m_c, m_v = control.mean(), variant.mean()
    v_c, v_v = control.var(ddof=1) / len(control), variant.var(ddof=1) / len(variant)
    se = math.sqrt(v_c + v_v)
    t = (m_v - m_c) / se
    df = (v_c + v_v) ** 2 / (v_c**2 / (len(control) - 1) + v_v**2 / (len(variant) - 1))
    p = 2 * st.t.sf(abs(t), df)
    half = st.t.ppf(0.975, df) * se
    result = stats.welch_test(control, variant)
    assert result["statistic"] == pytest.approx(t, rel=1e-12)
    assert result["p_value"] == pytest.approx(p, rel=1e-9)
    assert result["difference"] == pytest.approx(m_v - m_c)
    assert result["ci_low"] == pytest.approx(m_v - m_c - half, rel=1e-9)
    assert result["ci_high"] == pytest.approx(m_v - m_c + half, rel=1e-9)


def test_mann_whitney_is_scipys_two_sided_p() -> None:
    control = np.array([0.0, 0.0, 1.0, 3.0, 5.0, 0.0])
    variant = np.array([0.0, 2.0, 4.0, 6.0, 7.0])
    expected = st.mannwhitneyu(variant, control, alternative="two-sided").pvalue
    assert stats.mann_whitney_p(control, variant) == pytest.approx(expected)
    assert math.isnan(stats.mann_whitney_p(np.zeros(3), np.zeros(4)))


# ------------------------------------------------------------------------------ Holm
def test_holm_by_hand_and_against_statsmodels() -> None:
    p = np.array([0.01, 0.04, 0.03, 0.20])
    order = np.argsort(p)
    by_hand = np.empty(4)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, (4 - rank) * p[i])
        by_hand[i] = min(1.0, running)
    np.testing.assert_allclose(stats.holm(p), by_hand)
    np.testing.assert_allclose(stats.holm(p), multipletests(p, method="holm")[1])
    with_nan = stats.holm([0.01, math.nan, 0.04])
    assert math.isnan(with_nan[1])
    np.testing.assert_allclose(with_nan[[0, 2]], multipletests([0.01, 0.04], method="holm")[1])


def _users(groups: dict[str, tuple[int, float]], seed: int = 0) -> pd.DataFrame:
    """Users per group: (n, conversion); converters order 1-3 times, revenue exponential."""
    rng = np.random.default_rng(seed)
    parts = []
    for name, (n, rate) in groups.items():
        converted = rng.random(n) < rate
        orders = np.where(converted, rng.integers(1, 4, n), 0)
        revenue = np.where(converted, rng.exponential(30.0, n) * orders, 0.0)
        parts.append(
            pd.DataFrame(
                {
                    "uid": [f"{name}{i}" for i in range(n)],
                    "group": name,
                    "converted": converted,
                    "orders": orders,
                    "revenue": revenue,
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def test_tests_table_holm_within_each_metric_and_test() -> None:
    users = _users({"A": (400, 0.2), "B": (400, 0.25), "C": (400, 0.3), "D": (400, 0.18)})
    result = analyse(users, users["group"].value_counts().to_dict(), n_boot=200)
    tests = result.tests
    assert result.control == "A" and result.variants == ["B", "C", "D"]
    for (metric, test), part in tests.groupby(["metric", "test"]):
        assert list(part["group"]) == ["B", "C", "D"]
        if test == "bootstrap":
            assert part["p_value_adjusted"].isna().all()
            continue
        expected = multipletests(part["p_value"].to_numpy(), method="holm")[1]
        np.testing.assert_allclose(part["p_value_adjusted"].to_numpy(), expected), (metric, test)
    # conversion's row is scipy's chi2 on the 2x2 table
    counts = users.groupby("group")["converted"].agg(["sum", "size"])
    row = tests[(tests["metric"] == "conversion") & (tests["group"] == "C")].iloc[0]
    table = [
        [counts.loc["C", "sum"], counts.loc["C", "size"] - counts.loc["C", "sum"]],
        [counts.loc["A", "sum"], counts.loc["A", "size"] - counts.loc["A", "sum"]],
    ]
    assert row["p_value"] == pytest.approx(st.chi2_contingency(table, correction=False).pvalue)
    welch = tests[(tests["metric"] == "revenue_per_user") & (tests["test"] == "welch_t")]
    rev = {g: f["revenue"].to_numpy() for g, f in users.groupby("group")}
    expected_p = st.ttest_ind(rev["D"], rev["A"], equal_var=False).pvalue
    assert welch[welch["group"] == "D"]["p_value"].iloc[0] == pytest.approx(expected_p)


# ------------------------------------------------------------------------------ SRM
def test_srm_from_the_formula() -> None:
    result = stats.srm_test({"A": 5100, "B": 4900}, {"A": 50, "B": 50})
    chi2 = (5100 - 5000) ** 2 / 5000 + (4900 - 5000) ** 2 / 5000
    assert result["chi2"] == pytest.approx(chi2)
    assert result["p_value"] == pytest.approx(math.erfc(math.sqrt(chi2 / 2)))
    assert result["flagged"] is False
    skewed = stats.srm_test({"old": 880, "new": 120, "x": 0}, {"old": 80, "new": 10, "x": 10})
    e = {"old": 800.0, "new": 100.0, "x": 100.0}
    chi2 = (80**2) / 800 + (20**2) / 100 + (100**2) / 100
    assert skewed["expected"] == pytest.approx(e)
    assert skewed["chi2"] == pytest.approx(chi2)
    assert skewed["p_value"] == pytest.approx(math.exp(-chi2 / 2))  # 2 df: P(X > x) = e^(-x/2)
    assert skewed["flagged"] is True and skewed["planned"]["old"] == pytest.approx(0.8)


def test_parse_split() -> None:
    assert parse_split("A=50, B=50") == {"A": 50.0, "B": 50.0}
    assert parse_split("old=0.9,new=0.1") == {"old": 0.9, "new": 0.1}
    for bad in ("A50", "A=x", "A=0,B=1", "A=1,A=2", "=1", "A=nan"):
        with pytest.raises(ValueError):
            parse_split(bad)


# ------------------------------------------------------------------------------ bootstrap
def _naive_means(values: np.ndarray, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    n = len(values)
    return np.array([values[rng.integers(0, n, n)].mean() for _ in range(n_boot)])


@pytest.mark.parametrize("kind", ["few values", "indices", "strata"])
def test_bootstrap_means_match_plain_resampling(kind: str, monkeypatch) -> None:
    rng = np.random.default_rng(5)
    n = 6000
    converted = rng.random(n) < 0.3
    if kind == "few values":
        values = np.where(converted, rng.integers(1, 6, n), 0).astype(float)
    else:
        values = np.where(converted, rng.exponential(40.0, n), 0.0)
    if kind == "strata":
        monkeypatch.setattr(stats, "_EXACT_DRAWS", 0)
        monkeypatch.setattr(stats, "_STRATA", 64)
        monkeypatch.setattr(stats, "_TAIL", 16)
    fast = stats.bootstrap_means(values, 4000, np.random.default_rng(1))
    plain = _naive_means(values, 1500, np.random.default_rng(2))
    se = values.std() / math.sqrt(n)  # the bootstrap's standard error of the mean
    assert fast.mean() == pytest.approx(values.mean(), abs=0.1 * se)
    assert fast.std() == pytest.approx(se, rel=0.06)
    assert plain.std() == pytest.approx(se, rel=0.08)
    for q in (2.5, 97.5):
        assert np.percentile(fast, q) == pytest.approx(np.percentile(plain, q), abs=0.2 * se)


def test_bootstrap_interval_is_seeded_and_covers() -> None:
    users = _users({"A": (300, 0.3), "B": (300, 0.3)})
    assigned = users["group"].value_counts().to_dict()

    def interval(seed: int) -> tuple[float, float]:
        t = analyse(users, assigned, seed=seed, n_boot=400).tests
        row = t[(t["metric"] == "revenue_per_user") & (t["test"] == "bootstrap")].iloc[0]
        return row["ci_low"], row["ci_high"]

    assert interval(3) == interval(3)
    assert interval(3) != interval(4)
    # coverage: two groups with the same distribution (true difference 0)
    rng = np.random.default_rng(11)
    covered, reps = 0, 200
    for rep in range(reps):
        a = np.where(rng.random(200) < 0.4, rng.exponential(20.0, 200), 0.0)
        b = np.where(rng.random(200) < 0.4, rng.exponential(20.0, 200), 0.0)
        low, high = stats.percentile_interval(
            stats.bootstrap_means(a, 400, np.random.default_rng([rep, 0])),
            stats.bootstrap_means(b, 400, np.random.default_rng([rep, 1])),
        )
        covered += low <= 0 <= high
    assert 0.90 <= covered / reps <= 0.985


# ------------------------------------------------------------------------------ normality
def test_normality_check_values_and_note() -> None:
    rng = np.random.default_rng(2)
    skewed = np.where(rng.random(5000) < 0.2, rng.exponential(50.0, 5000), 0.0)
    check = stats.normality_check(skewed, "revenue per user")
    assert check["skewness"] == pytest.approx(st.skew(skewed))
    assert check["kurtosis"] == pytest.approx(st.kurtosis(skewed))
    assert check["normality_p_value"] == pytest.approx(st.normaltest(skewed).pvalue)
    needed = math.ceil(28 + 25 * st.skew(skewed) ** 2)
    assert check["clt_min_n"] == needed and needed < 5000
    assert "far from normal" in check["note"] and "can be trusted" in check["note"]
    small = stats.normality_check(skewed[:60], "revenue per user")
    assert small["clt_min_n"] > 60 and "bootstrap" in small["note"]
    assert stats.normality_check(np.zeros(10), "x")["skewness"] is None
