"""value_comparison against formulas written here, on a fixed posterior and a hand-made table.

Oracles: FHL05 eq. 10 (BG/NBD conditional expectation) with scipy's hyp2f1, the Gamma-Gamma
conditional mean spend (Fader & Hardie 2013 eq. 5), the monthly discounted sum of the CLV
definition, and normal quantiles from scipy.stats.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import hyp2f1
from scipy.stats import norm

from clvmodels.errors import DataError
from clvmodels.experiments.value import clv_test_rows, value_comparison
from clvmodels.model import CLVModel
from clvmodels.predict.group_totals import group_clv_draws
from clvmodels.summaries.rfm import rfm_to_ends

BG_DRAWS = {"r": [0.5, 0.7], "alpha": [3.0, 2.5], "a": [1.2, 0.9], "b": [3.0, 2.0]}
GG_DRAWS = {"p": [6.0, 5.0], "q": [4.0, 3.5], "v": [15.0, 12.0]}
START = pd.Timestamp("2025-01-01")
WINDOW = pd.Timedelta(days=28)


def _model(draws: slice) -> CLVModel:
    return CLVModel.from_posteriors(
        {k: np.array(v)[draws] for k, v in BG_DRAWS.items()},
        {k: np.array(v)[draws] for k, v in GG_DRAWS.items()},
        time_unit="W",
    )


@pytest.fixture
def users() -> pd.DataFrame:
    assigned = [START, START, START + pd.Timedelta(hours=5), START, START, START]
    frame = pd.DataFrame(
        {"uid": [1, 2, 3, 4, 5, 6], "group": list("AAABBB"), "assigned_at": assigned}
    )
    frame["window_end"] = frame["assigned_at"] + WINDOW
    return frame


@pytest.fixture
def orders() -> pd.DataFrame:
    rows = [
        (1, "2025-01-03 10:00", 20.0),
        (1, "2025-01-10 10:00", 30.0),
        (1, "2025-01-20 10:00", 50.0),
        (1, "2025-02-15 10:00", 999.0),  # after the window end: not used
        (2, "2025-01-05 09:00", 10.0),
        (2, "2025-01-05 18:00", 15.0),  # the same day: one occasion
        (4, "2024-12-20 12:00", 40.0),  # before the assignment: the user's history counts
        (4, "2025-01-08 12:00", 60.0),
        (5, "2025-01-28 23:00", 25.0),  # the window's last day
        (6, "2025-01-29 00:00", 80.0),  # at the window end: outside the window
    ]
    return pd.DataFrame(
        {
            "customer_id": [r[0] for r in rows],
            "timestamp": pd.to_datetime([r[1] for r in rows]),
            "revenue": [r[2] for r in rows],
        }
    )


# (x, t_x, T) in weeks and the mean repeat revenue, by hand; the last day is 2025-01-28
HAND_RFM = {
    1: (2, 17 / 7, 25 / 7, 40.0),
    2: (0, 0.0, 23 / 7, 0.0),
    4: (1, 19 / 7, 39 / 7, 60.0),
    5: (0, 0.0, 0.0, 0.0),
}


def _clv(d: int, x: float, t_x: float, T: float, m: float, horizon_months: float = 12) -> float:
    r, alpha, a, b = (BG_DRAWS[k][d] for k in ("r", "alpha", "a", "b"))
    p, q, v = (GG_DRAWS[k][d] for k in ("p", "q", "v"))

    def expected(t: float) -> float:  # FHL05 eq. 10
        z = t / (alpha + T + t)
        numerator = (
            (a + b + x - 1)
            / (a - 1)
            * (
                1
                - ((alpha + T) / (alpha + T + t)) ** (r + x)
                * hyp2f1(r + x, b + x, a + b + x - 1, z)
            )
        )
        alive = 1 + (x > 0) * a / (b + x - 1) * ((alpha + T) / (alpha + t_x)) ** (r + x)
        return numerator / alive

    spend = p * (v + x * m) / (p * x + q - 1)
    weeks_per_month = 365.25 / 12 / 7
    total, before = 0.0, 0.0
    for month in range(1, int(np.ceil(horizon_months)) + 1):
        t_m = min(month, horizon_months)
        now = expected(t_m * weeks_per_month)
        total += (now - before) * 1.1 ** (-t_m / 12)
        before = now
    return spend * total


def _user_clv(d: int) -> dict[int, float]:
    return {uid: (_clv(d, *HAND_RFM[uid]) if uid in HAND_RFM else 0.0) for uid in range(1, 7)}


def test_the_rfm_stops_at_each_users_window_end(users, orders):
    ends = users.rename(columns={"uid": "customer_id", "window_end": "end"})
    rfm = rfm_to_ends(orders, ends, time_unit="W").set_index("customer_id")
    assert sorted(rfm.index) == sorted(HAND_RFM)
    for uid, (x, t_x, T, m) in HAND_RFM.items():
        assert rfm.loc[uid, "frequency"] == x
        assert rfm.loc[uid, ["recency", "T", "monetary_value"]].tolist() == pytest.approx(
            [t_x, T, m]
        )


def test_one_draw_per_user_clv_and_normal_intervals(users, orders):
    result = value_comparison(_model(slice(0, 1)), users, orders, control="A")
    expected = _user_clv(0)
    assert result.draws == 1
    assert result.per_user["clv"].tolist() == pytest.approx(
        [expected[u] for u in range(1, 7)], rel=1e-9
    )
    table = result.table.set_index("group")
    assert table["users"].tolist() == [3, 3]
    assert table["customers"].tolist() == [2, 2]
    z = norm.ppf(0.97)
    values = {
        g: np.array([expected[u] for u in uids])
        for g, uids in {"A": [1, 2, 3], "B": [4, 5, 6]}.items()
    }
    se = {g: v.std(ddof=1) / np.sqrt(3) for g, v in values.items()}
    for g, v in values.items():
        assert table.loc[g, "mean_clv"] == pytest.approx(v.mean(), rel=1e-9)
        assert table.loc[g, "ci_low"] == pytest.approx(v.mean() - z * se[g], rel=1e-7)
        assert table.loc[g, "ci_high"] == pytest.approx(v.mean() + z * se[g], rel=1e-7)
    lift = values["B"].mean() - values["A"].mean()
    s = np.hypot(se["A"], se["B"])
    assert table.loc["B", "lift"] == pytest.approx(lift, rel=1e-9)
    assert table.loc["B", "lift_low"] == pytest.approx(lift - z * s, rel=1e-7, abs=1e-9)
    assert table.loc["B", "lift_high"] == pytest.approx(lift + z * s, rel=1e-7)
    assert table.loc["B", "prob_beats_control"] == pytest.approx(norm.cdf(lift / s), rel=1e-7)
    assert table.loc["A", ["lift", "prob_beats_control"]].isna().all()
    assert "MAP" in result.note and "only the sampling uncertainty" in result.note
    assert "2 of 6 users" in result.note


def _mixture_quantile(centers: np.ndarray, scale: float, q: float) -> float:
    grid = np.linspace(centers.min() - 8 * scale, centers.max() + 8 * scale, 400_001)
    cdf = norm.cdf((grid[:, None] - centers[None, :]) / scale).mean(axis=1)
    return float(np.interp(q, cdf, grid))


def test_two_draws_mix_the_posterior_with_the_sampling_uncertainty(users, orders):
    result = value_comparison(_model(slice(None)), users, orders, control="A")
    assert result.draws == 2
    per_draw = [_user_clv(d) for d in range(2)]
    means = {
        g: np.array([np.mean([c[u] for u in uids]) for c in per_draw])
        for g, uids in {"A": [1, 2, 3], "B": [4, 5, 6]}.items()
    }
    clv = {u: np.mean([c[u] for c in per_draw]) for u in range(1, 7)}
    assert result.per_user["clv"].tolist() == pytest.approx([clv[u] for u in range(1, 7)])
    se = {
        g: np.std([clv[u] for u in uids], ddof=1) / np.sqrt(3)
        for g, uids in {"A": [1, 2, 3], "B": [4, 5, 6]}.items()
    }
    table = result.table.set_index("group")
    for g in "AB":
        assert table.loc[g, "mean_clv"] == pytest.approx(means[g].mean(), rel=1e-9)
        for col, q in (("ci_low", 0.03), ("ci_high", 0.97)):
            assert table.loc[g, col] == pytest.approx(
                _mixture_quantile(means[g], se[g], q), rel=1e-4
            )
    lift = means["B"] - means["A"]
    s = np.hypot(se["A"], se["B"])
    assert table.loc["B", "lift_low"] == pytest.approx(_mixture_quantile(lift, s, 0.03), rel=1e-4)
    assert table.loc["B", "lift_high"] == pytest.approx(_mixture_quantile(lift, s, 0.97), rel=1e-4)
    assert table.loc["B", "prob_beats_control"] == pytest.approx(norm.cdf(lift / s).mean())
    assert "2 posterior draws" in result.note


def test_the_clv_rows_of_tests_csv(users, orders):
    result = value_comparison(_model(slice(None)), users, orders, control="A")
    rows = clv_test_rows(result.table, "A")
    table = result.table.set_index("group")
    assert rows[["metric", "group", "test"]].values.tolist() == [["clv", "B", "posterior"]]
    row = rows.iloc[0]
    assert row["difference"] == pytest.approx(
        table.loc["B", "mean_clv"] - table.loc["A", "mean_clv"]
    )
    assert row["relative_lift"] == pytest.approx(row["difference"] / table.loc["A", "mean_clv"])
    assert [row["ci_low"], row["ci_high"]] == table.loc["B", ["lift_low", "lift_high"]].tolist()
    assert np.isnan(row["p_value"]) and np.isnan(row["p_value_adjusted"])


def test_a_model_per_group_scores_each_group_with_its_own(users, orders):
    models = {"A": _model(slice(0, 1)), "B": _model(slice(1, 2))}
    result = value_comparison(models, users, orders, control="A")
    a, b = _user_clv(0), _user_clv(1)
    expected = [a[1], a[2], a[3], b[4], b[5], b[6]]
    assert result.per_user["clv"].tolist() == pytest.approx(expected, rel=1e-9)
    assert "its own model" in result.note


def test_the_draws_of_separate_models_are_paired_at_random(users, orders):
    rng = np.random.default_rng(0)
    wide_bg = {k: v[0] * np.exp(rng.normal(0, 0.3, 400)) for k, v in BG_DRAWS.items()}
    wide_gg = {k: v[0] * np.exp(rng.normal(0, 0.05, 400)) for k, v in GG_DRAWS.items()}
    model = CLVModel.from_posteriors(wide_bg, wide_gg, time_unit="W")
    paired = value_comparison(model, users, orders, control="A").table.set_index("group")
    separate = {"A": model, "B": model}  # the same draws, as two fits with one seed give
    runs = [
        value_comparison(separate, users, orders, control="A", seed=s).table.set_index("group")
        for s in (0, 1)
    ]
    width = {
        name: t.loc["B", "lift_high"] - t.loc["B", "lift_low"]
        for name, t in (("paired", paired), ("seed 0", runs[0]), ("seed 1", runs[1]))
    }
    assert width["seed 0"] > 1.05 * width["paired"]
    assert width["seed 0"] != width["seed 1"]
    for t in runs:  # the means and the groups' own intervals do not depend on the pairing
        assert t["mean_clv"].tolist() == pytest.approx(paired["mean_clv"].tolist())
        assert t["ci_low"].tolist() == pytest.approx(paired["ci_low"].tolist())


def test_text_uids_match_integer_customer_ids(users, orders):
    as_text = users.assign(uid=users["uid"].astype(str))
    result = value_comparison(_model(slice(0, 1)), as_text, orders, control="A")
    expected = _user_clv(0)
    assert result.per_user["uid"].tolist() == ["1", "2", "3", "4", "5", "6"]
    assert result.per_user["clv"].tolist() == pytest.approx([expected[u] for u in range(1, 7)])
    padded = users.assign(uid=["001", "2", "3", "4", "5", "6"])
    result = value_comparison(_model(slice(0, 1)), padded, orders, control="A")
    assert result.per_user["clv"].iloc[0] == 0.0  # "001" is not customer 1


def test_group_totals_do_not_depend_on_chunks_and_match_the_scores(users, orders):
    model = _model(slice(None))
    ends = users.rename(columns={"uid": "customer_id", "window_end": "end"})
    rfm = rfm_to_ends(orders, ends, time_unit="W")
    codes = np.array([0, 0, 1, 1])
    kwargs = {"time_unit": "W", "n_draws": None}
    spend = model.spend_model_
    whole = group_clv_draws(rfm, codes, 2, model.transaction_model_, spend, **kwargs)
    one = group_clv_draws(rfm, codes, 2, model.transaction_model_, spend, chunk_size=1, **kwargs)
    np.testing.assert_allclose(one.totals, whole.totals, rtol=1e-12)
    per_draw = [_user_clv(d) for d in range(2)]
    hand = np.array([[c[1] + c[2] for c in per_draw], [c[4] + c[5] for c in per_draw]])
    np.testing.assert_allclose(whole.totals, hand, rtol=1e-9)
    scores = model.score(rfm, n_draws=None)
    np.testing.assert_allclose(whole.clv, scores["clv"], rtol=1e-12)


def test_a_group_without_customers_has_zero_clv(users, orders):
    only_a = orders[orders["customer_id"].isin([1, 2])]
    for model in (_model(slice(None)), {"A": _model(slice(0, 1)), "B": _model(slice(1, 2))}):
        table = value_comparison(model, users, only_a, control="A").table.set_index("group")
        assert table.loc["B", ["customers", "mean_clv", "ci_low", "ci_high"]].tolist() == [
            0,
            0.0,
            0.0,
            0.0,
        ]
        assert table.loc["B", "lift"] == pytest.approx(-table.loc["A", "mean_clv"])


def test_bad_inputs_are_named(users, orders):
    model = _model(slice(0, 1))
    with pytest.raises(DataError, match="control group 'C'"):
        value_comparison(model, users, orders, control="C")
    with pytest.raises(DataError, match="more than once"):
        value_comparison(model, pd.concat([users, users.iloc[:1]]), orders, control="A")
    with pytest.raises(DataError, match="no model for group B"):
        value_comparison({"A": model}, users, orders, control="A")
    with pytest.raises(DataError, match="no column window_end"):
        value_comparison(model, users.drop(columns="window_end"), orders, control="A")
    with pytest.raises(DataError, match="no window end"):
        value_comparison(model, users.assign(window_end=pd.NaT), orders, control="A")
    no_spend = CLVModel.from_posteriors({k: v[:1] for k, v in BG_DRAWS.items()}, time_unit="W")
    with pytest.raises(DataError, match="no spend model"):
        value_comparison(no_spend, users, orders, control="A")
