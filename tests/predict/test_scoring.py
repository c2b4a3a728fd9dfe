"""Scores: the CLV formula against an independent computation, chunking, invariants."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import BGNBD_PUBLISHED, GAMMA_GAMMA_PUBLISHED, fixed_posterior
from hypothesis import given, settings
from hypothesis import strategies as st

from clvmodels.model import CLVModel
from clvmodels.models.bgnbd import BetaGeoModel
from clvmodels.models.gamma_gamma import GammaGammaModel
from clvmodels.models.mbgnbd import ModifiedBetaGeoModel
from clvmodels.models.pareto_nbd import ParetoNBDModel
from clvmodels.models.posterior import INTERVAL_PROB
from clvmodels.predict.columns import SCORE_COLUMNS
from clvmodels.predict.scoring import monthly_steps, score_customers
from clvmodels.units import DAYS_PER_UNIT

PARETO_PUBLISHED = {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669}
MBGNBD_NEAR_CDNOW = {"r": 0.25, "alpha": 4.4, "a": 0.9, "b": 3.5}


@pytest.fixture(scope="module")
def posterior_models():
    bg = BetaGeoModel.from_posterior(fixed_posterior(BGNBD_PUBLISHED, n_draws=60, seed=1))
    gg = GammaGammaModel.from_posterior(fixed_posterior(GAMMA_GAMMA_PUBLISHED, n_draws=60, seed=2))
    return bg, gg


def test_clv_equals_independent_lifetimes_computation(cdnow_flat_model, cdnow_rfm):
    """The CLV of docs/definitions.md, month by month, with lifetimes' predictions as oracle."""
    from lifetimes import BetaGeoFitter, GammaGammaFitter

    bg, gg = cdnow_flat_model.transaction_model_, cdnow_flat_model.spend_model_
    ref_bg, ref_gg = BetaGeoFitter(), GammaGammaFitter()
    ref_bg.params_, ref_gg.params_ = pd.Series(bg.params_), pd.Series(gg.params_)
    f, r, T = cdnow_rfm["frequency"], cdnow_rfm["recency"], cdnow_rfm["T"]
    spend = ref_gg.conditional_expected_average_profit(f, cdnow_rfm["monetary_value"])
    weeks_per_month = 365.25 / 12 / 7
    rate, margin = 0.12, 0.3
    expected = np.zeros(len(cdnow_rfm))
    previous = np.zeros(len(cdnow_rfm))
    for month in range(1, 13):
        current = np.asarray(
            ref_bg.conditional_expected_number_of_purchases_up_to_time(
                month * weeks_per_month, f, r, T
            )
        )
        expected += margin * np.asarray(spend) * (current - previous) / (1 + rate) ** (month / 12)
        previous = current
    scores = cdnow_flat_model.score(
        cdnow_rfm, horizon="12M", annual_discount_rate=rate, margin=margin
    )
    np.testing.assert_allclose(scores["clv"], expected, rtol=1e-6)
    np.testing.assert_allclose(scores["expected_purchases"], previous, rtol=1e-6)
    assert list(scores.columns) == list(SCORE_COLUMNS)
    assert (scores["clv_low"] == scores["clv"]).all()  # one MAP draw: no interval


def numpy_scores(rfm, model, spend_model, *, horizon_months, rate, margin, time_unit="W"):
    """Scores computed the plain NumPy way: every draw of every customer, step by step."""
    steps = monthly_steps(horizon_months, rate)
    t = steps.months * DAYS_PER_UNIT["M"] / DAYS_PER_UNIT[time_unit]
    p = model.draws_as_columns()
    x, T = rfm["frequency"].to_numpy(float), rfm["T"].to_numpy(float)
    alive = model.probability_alive(rfm)
    previous, discounted = 0.0, 0.0
    for t_m, factor in zip(t, steps.discount, strict=True):
        current = model.numerator_fn(p, x, T, t_m)
        discounted = discounted + (current - previous) * factor
        previous = current
    purchases = previous * alive
    spend = spend_model.expected_spend(rfm)
    value = margin * spend * (discounted * alive)
    lo, hi = (1 - INTERVAL_PROB) / 2, 1 - (1 - INTERVAL_PROB) / 2
    out = {"p_alive": alive.mean(axis=0), "expected_purchases": purchases.mean(axis=0)}
    out["expected_purchases_low"], out["expected_purchases_high"] = np.quantile(
        purchases, [lo, hi], axis=0
    )
    out["expected_spend"] = spend.mean(axis=0)
    out["clv"] = value.mean(axis=0)
    out["clv_low"], out["clv_high"] = np.quantile(value, [lo, hi], axis=0)
    return out


@pytest.mark.parametrize(
    ("model_class", "params", "rtol"),
    [
        # the grid's series against scipy's hyp2f1, which is good to ~1e-12 here
        (BetaGeoModel, BGNBD_PUBLISHED, 1e-11),
        # BG/NBD's series at b + 1; one draw has a = 0.99965, where the NumPy way's scipy
        # numerator is off by 7e-12 (the series: 1e-15 from a 60-digit reference)
        (ModifiedBetaGeoModel, MBGNBD_NEAR_CDNOW, 1e-10),
        # the same step-by-step numerators as the NumPy way
        (ParetoNBDModel, PARETO_PUBLISHED, 1e-14),
    ],
)
def test_scores_equal_the_numpy_way(cdnow_rfm, model_class, params, rtol):
    rfm = cdnow_rfm.iloc[::4]  # 590 customers, duplicates among them
    model = model_class.from_posterior(fixed_posterior(params, n_draws=700, seed=3))
    gg = GammaGammaModel.from_posterior(fixed_posterior(GAMMA_GAMMA_PUBLISHED, n_draws=700, seed=4))
    scores = score_customers(
        rfm,
        model,
        gg,
        time_unit="W",
        horizon="7.5M",
        annual_discount_rate=0.2,
        margin=0.4,
        n_draws=None,
    )
    expected = numpy_scores(rfm, model, gg, horizon_months=7.5, rate=0.2, margin=0.4)
    for name, values in expected.items():
        np.testing.assert_allclose(scores[name], values, rtol=rtol, atol=1e-300, err_msg=name)


def test_equal_customers_get_equal_scores(cdnow_rfm, posterior_models):
    bg, gg = posterior_models
    rfm = cdnow_rfm.head(300)
    twice = pd.concat([rfm, rfm.iloc[::-1]], ignore_index=True)
    twice["customer_id"] = np.arange(len(twice))
    once = score_customers(rfm, bg, gg, time_unit="W", horizon="12M")
    both = score_customers(twice, bg, gg, time_unit="W", horizon="12M", chunk_size=250)
    columns = list(SCORE_COLUMNS[5:])
    np.testing.assert_array_equal(both[columns].head(300), once[columns])
    np.testing.assert_array_equal(both[columns].tail(300).iloc[::-1], once[columns])


def test_partial_month_horizon():
    steps = monthly_steps(2.5, 0.1)
    np.testing.assert_allclose(steps.months, [1, 2, 2.5])
    np.testing.assert_allclose(steps.discount, 1.1 ** (-np.array([1, 2, 2.5]) / 12))


@pytest.mark.parametrize("n_draws", [60, 1000])
def test_chunked_equals_unchunked(cdnow_rfm, n_draws):
    bg = BetaGeoModel.from_posterior(fixed_posterior(BGNBD_PUBLISHED, n_draws=n_draws, seed=1))
    gg = GammaGammaModel.from_posterior(
        fixed_posterior(GAMMA_GAMMA_PUBLISHED, n_draws=n_draws, seed=2)
    )
    whole = score_customers(
        cdnow_rfm, bg, gg, time_unit="W", horizon="26W", n_draws=None, chunk_size=10_000_000
    )
    for chunk_size in (97, 1000):
        chunked = score_customers(
            cdnow_rfm, bg, gg, time_unit="W", horizon="26W", n_draws=None, chunk_size=chunk_size
        )
        pd.testing.assert_frame_equal(whole, chunked, check_exact=True)
    default = score_customers(cdnow_rfm, bg, gg, time_unit="W", horizon="26W", n_draws=None)
    pd.testing.assert_frame_equal(whole, default, check_exact=True)


def test_intervals_bracket_the_mean(cdnow_rfm, posterior_models):
    bg, gg = posterior_models
    scores = score_customers(cdnow_rfm, bg, gg, time_unit="W", horizon="12M")
    assert scores.attrs["n_draws"] == 60
    assert (scores["clv_low"] <= scores["clv"] + 1e-9).all()
    assert (scores["clv"] <= scores["clv_high"] + 1e-9).all()
    assert (scores["expected_purchases_low"] < scores["expected_purchases_high"]).mean() > 0.99
    draws = bg.expected_purchases(cdnow_rfm.head(50), 12 * 365.25 / 12 / 7)
    np.testing.assert_allclose(scores["expected_purchases"].head(50), draws.mean(axis=0), rtol=1e-9)


def test_thinning_draws(cdnow_rfm, posterior_models):
    bg, gg = posterior_models
    scores = score_customers(cdnow_rfm.head(100), bg, gg, time_unit="W", n_draws=7)
    assert scores.attrs["n_draws"] == 7


def test_horizon_units_agree(cdnow_rfm, cdnow_flat_model):
    in_weeks = cdnow_flat_model.score(cdnow_rfm.head(200), horizon="39W")
    in_days = cdnow_flat_model.score(cdnow_rfm.head(200), horizon="273D")
    np.testing.assert_allclose(in_weeks["expected_purchases"], in_days["expected_purchases"])


@settings(max_examples=40, deadline=None)
@given(
    x=st.integers(0, 20),
    share=st.floats(0, 1),
    T=st.floats(1, 150),
    spend=st.floats(1, 500),
    h1=st.floats(0.5, 24),
    extra=st.floats(0, 24),
    rate=st.floats(0, 0.5),
)
def test_clv_and_purchases_never_decrease_with_horizon(x, share, T, spend, h1, extra, rate):
    rfm = pd.DataFrame(
        {
            "customer_id": [1],
            "frequency": [x],
            "recency": [share * T if x else 0.0],
            "T": [T],
            "monetary_value": [spend if x else 0.0],
        }
    )
    bg = BetaGeoModel.from_posterior(fixed_posterior(BGNBD_PUBLISHED, n_draws=3))
    gg = GammaGammaModel.from_posterior(fixed_posterior(GAMMA_GAMMA_PUBLISHED, n_draws=3))
    near = score_customers(rfm, bg, gg, time_unit="W", horizon=f"{h1}M", annual_discount_rate=rate)
    far = score_customers(
        rfm, bg, gg, time_unit="W", horizon=f"{h1 + extra}M", annual_discount_rate=rate
    )
    assert 0 <= near["p_alive"].iloc[0] <= 1
    assert far["expected_purchases"].iloc[0] >= near["expected_purchases"].iloc[0] - 1e-9
    assert far["clv"].iloc[0] >= near["clv"].iloc[0] - 1e-9


def test_streamed_parquet_equals_whole_and_survives_interruption(
    cdnow_rfm, posterior_models, tmp_path
):
    from clvmodels.data.io import write_table_chunks
    from clvmodels.predict.scoring import iter_scores

    bg, gg = posterior_models
    whole = score_customers(cdnow_rfm, bg, gg, time_unit="W")
    target = tmp_path / "scores.parquet"
    n = write_table_chunks(iter_scores(cdnow_rfm, bg, gg, time_unit="W", chunk_size=500), target)
    assert n == len(cdnow_rfm)
    pd.testing.assert_frame_equal(pd.read_parquet(target), whole)

    def interrupted():
        for i, chunk in enumerate(iter_scores(cdnow_rfm, bg, gg, time_unit="W", chunk_size=500)):
            if i == 2:
                raise KeyboardInterrupt
            yield chunk

    before = target.read_bytes()
    with pytest.raises(KeyboardInterrupt):
        write_table_chunks(interrupted(), target)
    assert target.read_bytes() == before, "the good file is untouched"
    assert [p.name for p in tmp_path.iterdir()] == ["scores.parquet"], "no temporary file left"


def test_a_model_from_arrays_of_draws_scores_as_from_their_datasets(posterior_models, cdnow_rfm):
    """CLVModel.from_posteriors takes the draws as Datasets or as one array per parameter."""
    bg, gg = posterior_models
    as_arrays = CLVModel.from_posteriors(
        {name: bg.posterior_[name].values.ravel() for name in bg.param_names},
        {name: gg.posterior_[name].values.ravel() for name in gg.param_names},
        time_unit="W",
        data_info={"calibration_end": "1997-09-30"},
    )
    as_datasets = CLVModel.from_posteriors(bg.posterior_, gg.posterior_, time_unit="W")
    assert as_arrays.is_fitted and as_arrays.data_info_ == {"calibration_end": "1997-09-30"}
    assert as_arrays.transaction_model_.params_ == bg.params_
    sample = cdnow_rfm.head(300)
    pd.testing.assert_frame_equal(
        as_arrays.score(sample, n_draws=None), as_datasets.score(sample, n_draws=None)
    )
    with pytest.raises(ValueError, match="transaction_model must be one of bgnbd, pareto"):
        CLVModel.from_posteriors(bg.posterior_, transaction_model="xyz")  # type: ignore[arg-type]
