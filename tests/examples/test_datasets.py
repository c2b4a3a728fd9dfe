"""Tests of the simulator (against the BG/NBD and Gamma-Gamma closed forms) and CDNOW loaders."""

from __future__ import annotations

import dataclasses
import importlib.util
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.special import betaln

from clvmodels.data.io import validate_orders
from clvmodels.errors import ClvError
from clvmodels.examples import simulate
from clvmodels.examples.cdnow import load_cdnow, load_cdnow_summary
from clvmodels.examples.simulate import (
    DEFAULT_BGNBD,
    DEFAULT_GAMMA_GAMMA,
    SimulationTruth,
    simulate_orders,
)
from clvmodels.models.bgnbd import BetaGeoModel, expected_purchases_new_customer
from clvmodels.models.bgnbd import log_likelihood as bgnbd_log_likelihood
from clvmodels.models.gamma_gamma import GammaGammaModel
from clvmodels.models.inputs import collapse_rfm
from clvmodels.summaries.rfm import rfm_summary

WEEK = pd.Timedelta(weeks=1)
#: A p-value below this fails a goodness-of-fit test (tests are seeded, so deterministic).
ALPHA = 1e-3


@pytest.fixture(scope="module")
def small() -> tuple[pd.DataFrame, SimulationTruth]:
    return simulate_orders(5_000, seed=3)


@pytest.fixture(scope="module")
def large() -> tuple[pd.DataFrame, SimulationTruth]:
    return simulate_orders(200_000, seed=11)


def order_number(orders: pd.DataFrame) -> np.ndarray:
    """0 for each customer's first order, 1 for the second, ..."""
    return orders.groupby("customer_id").cumcount().to_numpy()


# --------------------------------------------------------------------------------------
# shape, determinism, invariants
# --------------------------------------------------------------------------------------
def test_orders_columns_dtypes_and_sorting(small):
    orders, _ = small
    assert list(orders.columns) == ["customer_id", "timestamp", "revenue"]
    assert orders["customer_id"].dtype == np.int64
    assert orders["timestamp"].dtype == np.dtype("datetime64[ns]")
    assert orders["revenue"].dtype == np.float64
    assert orders.index.equals(pd.RangeIndex(len(orders)))
    assert set(orders["customer_id"]) == set(range(1, 5_001))
    assert orders.equals(
        orders.sort_values(["customer_id", "timestamp"], kind="stable", ignore_index=True)
    )
    # continuous time: orders have a time of day
    assert (orders["timestamp"] != orders["timestamp"].dt.normalize()).mean() > 0.99


def test_truth_fields(small):
    _, truth = small
    assert dataclasses.is_dataclass(truth)
    with pytest.raises(dataclasses.FrozenInstanceError):
        truth.time_unit = "D"  # type: ignore[misc]
    assert truth.time_unit == "W"
    assert truth.bgnbd == dict(DEFAULT_BGNBD)
    assert truth.gamma_gamma == dict(DEFAULT_GAMMA_GAMMA)
    assert truth.start == pd.Timestamp("2024-01-01")
    assert truth.end == pd.Timestamp("2025-12-31")
    assert truth.last_day == pd.Timestamp("2025-12-30")
    customers = truth.customers
    assert list(customers.columns) == list(simulate.CUSTOMER_COLUMNS)
    assert customers["customer_id"].tolist() == list(range(1, 5_001))
    assert customers["first_purchase"].dtype == np.dtype("datetime64[ns]")
    assert customers["dropout_time"].dtype == np.dtype("datetime64[ns]")
    assert customers["alive_at_end"].dtype == bool
    assert (customers["lam"] > 0).all()
    assert customers["p_dropout"].between(0, 1).all()
    assert (customers["nu"] > 0).all()


def test_same_seed_same_output_and_other_seed_differs():
    orders_a, truth_a = simulate_orders(2_000, seed=5)
    orders_b, truth_b = simulate_orders(2_000, seed=5)
    orders_c, _ = simulate_orders(2_000, seed=6)
    pd.testing.assert_frame_equal(orders_a, orders_b)
    pd.testing.assert_frame_equal(truth_a.customers, truth_b.customers)
    assert not orders_a.equals(orders_c)


def test_orders_inside_the_observation(small):
    orders, truth = small
    assert orders["timestamp"].min() >= truth.start
    assert orders["timestamp"].max() < truth.end
    first = truth.customers["first_purchase"]
    assert first.min() >= truth.start
    assert first.max() < truth.start + pd.Timedelta(days=365)
    # ids follow the order of acquisition
    assert first.is_monotonic_increasing


def test_first_purchase_is_the_acquisition(small):
    orders, truth = small
    first = orders.groupby("customer_id")["timestamp"].min()
    np.testing.assert_array_equal(first.to_numpy(), truth.customers["first_purchase"].to_numpy())


def test_dropout_time_is_the_last_purchase_of_dropouts(small):
    orders, truth = small
    customers = truth.customers
    last = orders.groupby("customer_id")["timestamp"].max().to_numpy()
    dead = ~customers["alive_at_end"].to_numpy()
    assert customers.loc[customers["alive_at_end"], "dropout_time"].isna().all()
    np.testing.assert_array_equal(customers["dropout_time"].to_numpy()[dead], last[dead])
    # a dropout happens after a repeat purchase, never at the first
    assert (
        customers["dropout_time"].to_numpy()[dead] > customers["first_purchase"].to_numpy()[dead]
    ).all()


def test_revenue_positive_and_in_cents(small):
    orders, _ = small
    revenue = orders["revenue"].to_numpy()
    assert (revenue >= 0.01).all()
    np.testing.assert_allclose(revenue * 100, np.round(revenue * 100), atol=1e-6)


def test_output_is_a_valid_orders_table(small):
    orders, _ = small
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        validated = validate_orders(orders)
    pd.testing.assert_frame_equal(validated, orders)


def test_everyone_acquired_at_start_when_acquisition_days_is_zero():
    orders, truth = simulate_orders(500, seed=1, acquisition_days=0, observation_days=70)
    assert (truth.customers["first_purchase"] == truth.start).all()
    assert orders["timestamp"].max() < truth.start + pd.Timedelta(days=70)


def test_one_customer_and_partial_parameters():
    orders, truth = simulate_orders(1, seed=0, bgnbd={"r": 1.0}, gamma_gamma={"v": 10.0})
    assert orders["customer_id"].unique().tolist() == [1]
    assert truth.bgnbd == {"r": 1.0, "alpha": 4.0, "a": 0.8, "b": 2.5}
    assert truth.gamma_gamma == {"p": 6.0, "q": 4.0, "v": 10.0}


def test_defaults_are_read_only():
    with pytest.raises(TypeError):
        DEFAULT_BGNBD["r"] = 1.0  # type: ignore[index]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_customers": 0}, "n_customers must be at least 1"),
        ({"n_customers": 10.5}, "n_customers must be a whole number"),
        ({"n_customers": True}, "n_customers must be a whole number"),
        ({"observation_days": 0}, "observation_days must be at least 1"),
        ({"acquisition_days": -1}, "acquisition_days must be at least 0"),
        ({"acquisition_days": 800}, "must not exceed observation_days"),
        ({"bgnbd": {"r": -1.0}}, "'r' must be positive"),
        ({"bgnbd": {"alpha": 0.0}}, "'alpha' must be positive"),
        ({"bgnbd": {"a": float("nan")}}, "'a' must be positive and finite"),
        ({"bgnbd": {"b": "two"}}, "'b' must be a number"),
        ({"bgnbd": {"beta": 1.0}}, "unknown bgnbd parameter"),
        ({"gamma_gamma": {"q": 0}}, "'q' must be positive"),
        ({"gamma_gamma": {"gamma": 15.0}}, "unknown gamma_gamma parameter"),
        ({"start": "not a date"}, "is not a date"),
        ({"start": pd.Timestamp("2024-01-01", tz="UTC")}, "timezone-naive"),
    ],
)
def test_invalid_arguments(kwargs, message):
    args = {"n_customers": 10, **kwargs}
    with pytest.raises(ValueError, match=message):
        simulate_orders(**args)


# --------------------------------------------------------------------------------------
# distribution: the BG/NBD and Gamma-Gamma closed forms as oracles
# --------------------------------------------------------------------------------------
def bgnbd_pmf(x: np.ndarray, r: float, alpha: float, a: float, b: float, t: float) -> np.ndarray:
    """P(X(t) = x) for a new customer; Fader, Hardie & Lee (2005) eq. (8)."""
    x = np.asarray(x)
    nbd = stats.nbinom(r, alpha / (alpha + t))
    alive = np.exp(betaln(a, b + x) - betaln(a, b)) * nbd.pmf(x)
    with np.errstate(invalid="ignore"):
        dead = np.exp(betaln(a + 1, b + x - 1) - betaln(a, b)) * nbd.sf(x - 1)
    return alive + np.where(x > 0, dead, 0.0)


@pytest.mark.parametrize(
    "bgnbd", [dict(DEFAULT_BGNBD), {"r": 2.0, "alpha": 4.0, "a": 0.8, "b": 2.5}]
)
def test_repeat_purchase_counts_follow_eq_8(bgnbd):
    """Chi-square test of the number of repeat purchases in a 52-week window against eq. (8)."""
    orders, _ = simulate_orders(
        200_000, seed=7, acquisition_days=0, observation_days=364, bgnbd=bgnbd
    )
    x = orders.groupby("customer_id").size().to_numpy() - 1
    top = 15
    expected = bgnbd_pmf(np.arange(top), t=52.0, **bgnbd)
    expected = np.append(expected, 1 - expected.sum()) * len(x)
    observed = np.bincount(np.minimum(x, top), minlength=top + 1)
    assert stats.chisquare(observed, expected).pvalue > ALPHA


def test_share_alive_at_end_follows_eq_8():
    """P(alive at t) is the first term of eq. (8) summed over x: E[(1-p)^X(t) ...]."""
    _, truth = simulate_orders(200_000, seed=8, acquisition_days=0, observation_days=364)
    p_alive = sum(
        np.exp(
            betaln(DEFAULT_BGNBD["a"], DEFAULT_BGNBD["b"] + x)
            - betaln(DEFAULT_BGNBD["a"], DEFAULT_BGNBD["b"])
        )
        * stats.nbinom.pmf(
            x, DEFAULT_BGNBD["r"], DEFAULT_BGNBD["alpha"] / (DEFAULT_BGNBD["alpha"] + 52)
        )
        for x in range(5_000)
    )
    alive = truth.customers["alive_at_end"].to_numpy()
    se = np.sqrt(p_alive * (1 - p_alive) / len(alive))
    assert abs(alive.mean() - p_alive) < 4 * se


def test_mean_repeat_purchases_follow_eq_9(large):
    """Mean repeat purchases over customers' own windows vs E[X(t)], eq. (9), within 4 SE."""
    orders, truth = large
    x = orders.groupby("customer_id").size().to_numpy() - 1
    window = ((truth.end - truth.customers["first_purchase"]) / WEEK).to_numpy()
    expected = expected_purchases_new_customer(**truth.bgnbd, t=window).mean()
    se = x.std() / np.sqrt(len(x))
    assert abs(x.mean() - expected) < 4 * se


def test_repeat_purchase_times_are_poisson(large):
    """Given lambda, the first repeat is Exp(lambda) truncated at the window, and so is the gap
    to the second (truncated at what is left); the probability integral transforms are uniform."""
    orders, truth = large
    customers = truth.customers.set_index("customer_id")
    k = order_number(orders)
    first = orders[k == 0].set_index("customer_id")["timestamp"]
    second = orders[k == 1].set_index("customer_id")["timestamp"]
    third = orders[k == 2].set_index("customer_id")["timestamp"]

    lam = customers.loc[second.index, "lam"].to_numpy()
    window = ((truth.end - first[second.index]) / WEEK).to_numpy()
    t1 = ((second - first[second.index]) / WEEK).to_numpy()
    u1 = np.expm1(-lam * t1) / np.expm1(-lam * window)
    assert stats.kstest(u1, "uniform").pvalue > ALPHA

    lam = customers.loc[third.index, "lam"].to_numpy()
    left = ((truth.end - second[third.index]) / WEEK).to_numpy()
    gap = ((third - second[third.index]) / WEEK).to_numpy()
    u2 = np.expm1(-lam * gap) / np.expm1(-lam * left)
    assert stats.kstest(u2, "uniform").pvalue > ALPHA


def test_revenue_follows_gamma_gamma(large):
    """Given nu, z * nu ~ Gamma(p, 1); the population mean spend is p v / (q - 1)."""
    orders, truth = large
    p, q, v = (truth.gamma_gamma[k] for k in ("p", "q", "v"))
    nu = truth.customers["nu"].to_numpy()[orders["customer_id"].to_numpy() - 1]
    scaled = orders["revenue"].to_numpy() * nu
    assert abs(scaled.mean() - p) < 4 * np.sqrt(p / len(scaled))
    assert stats.kstest(scaled[:100_000], stats.gamma(p).cdf).pvalue > ALPHA
    # first orders: one independent draw per customer from the population
    first = orders["revenue"].to_numpy()[order_number(orders) == 0]
    assert abs(first.mean() - p * v / (q - 1)) < 4 * first.std() / np.sqrt(len(first))


# --------------------------------------------------------------------------------------
# parameter recovery through the pipeline: simulate -> rfm_summary -> fit
# --------------------------------------------------------------------------------------
# Tolerances: 4 asymptotic standard errors at 50,000 customers (inverse observed Fisher
# information at the true parameters: relative SE r 0.9%, alpha 1.6%, a 2.9%, b 3.9%;
# p 3.3%, q 1.3%, v 4.4%), plus the bias of the day-level summary. rfm_summary merges
# purchases on the same calendar day (1.5% of simulated repeats), which lowers the heaviest
# buyers' counts: at 400,000 customers alpha comes out +5% and r +1.5%, p -2%, v +3%, while
# a fit on the exact continuous-time summary is within 1% of the truth.
BGNBD_TOLERANCE = {"r": 0.06, "alpha": 0.12, "a": 0.12, "b": 0.16}
GAMMA_GAMMA_TOLERANCE = {"p": 0.15, "q": 0.06, "v": 0.21}


@pytest.fixture(scope="module")
def recovery() -> tuple[pd.DataFrame, pd.DataFrame, SimulationTruth]:
    orders, truth = simulate_orders(n_customers=50_000, seed=2024)
    return orders, rfm_summary(orders, time_unit="W"), truth


def relative_errors(estimate: dict[str, float], truth: dict[str, float]) -> dict[str, float]:
    return {k: estimate[k] / truth[k] - 1 for k in truth}


def test_bgnbd_recovers_the_simulated_parameters(recovery):
    _, rfm, truth = recovery
    model = BetaGeoModel(priors="flat", seed=0).fit(rfm)
    errors = relative_errors(model.params_, truth.bgnbd)
    assert all(abs(errors[k]) < BGNBD_TOLERANCE[k] for k in errors), errors


def test_bgnbd_likelihood_ratio_on_exact_times(recovery):
    """On the exact continuous-time (x, t_x, T), the simulator is the BG/NBD model: the
    likelihood-ratio statistic 2 (LL(MLE) - LL(truth)) is chi-square with 4 d.o.f."""
    orders, _, truth = recovery
    times = orders.groupby("customer_id")["timestamp"].agg(["size", "min", "max"])
    exact = pd.DataFrame(
        {
            "customer_id": times.index,
            "frequency": times["size"].to_numpy() - 1,
            "recency": ((times["max"] - times["min"]) / WEEK).to_numpy(),
            "T": ((truth.end - times["min"]) / WEEK).to_numpy(),
        }
    )
    model = BetaGeoModel(priors="flat", seed=0).fit(exact)
    tuples = collapse_rfm(exact).tuples
    xtT = [tuples[c].to_numpy(dtype="float64") for c in ("frequency", "recency", "T")]
    weights = tuples["n_customers"].to_numpy()

    def total(params: dict[str, float]) -> float:
        return float(
            (weights * bgnbd_log_likelihood(**params, x=xtT[0], t_x=xtT[1], T=xtT[2])).sum()
        )

    statistic = 2 * (total(model.params_) - total(truth.bgnbd))
    assert -1e-3 < statistic < stats.chi2.ppf(1 - ALPHA, df=4)


def test_gamma_gamma_recovers_the_simulated_parameters(recovery):
    _, rfm, truth = recovery
    model = GammaGammaModel(priors="flat", seed=0).fit(rfm)
    errors = relative_errors(model.params_, truth.gamma_gamma)
    assert all(abs(errors[k]) < GAMMA_GAMMA_TOLERANCE[k] for k in errors), errors
    # p, q, v are correlated; the population mean spend p v / (q - 1) is pinned down tightly
    p, q, v = (model.params_[k] for k in ("p", "q", "v"))
    tp, tq, tv = (truth.gamma_gamma[k] for k in ("p", "q", "v"))
    assert abs((p * v / (q - 1)) / (tp * tv / (tq - 1)) - 1) < 0.03


# --------------------------------------------------------------------------------------
# CDNOW
# --------------------------------------------------------------------------------------
def test_load_cdnow_sample():
    orders = load_cdnow()
    assert list(orders.columns) == ["customer_id", "timestamp", "revenue", "n_items"]
    assert [str(t) for t in orders.dtypes] == ["int64", "datetime64[ns]", "float64", "int64"]
    assert len(orders) == 6_919
    assert orders["customer_id"].nunique() == 2_357
    assert orders["customer_id"].min() == 1 and orders["customer_id"].max() == 2_357
    assert orders["timestamp"].min() == pd.Timestamp("1997-01-01")
    assert orders["timestamp"].max() == pd.Timestamp("1998-06-30")
    assert orders.iloc[0].to_dict() == {
        "customer_id": 1,
        "timestamp": pd.Timestamp("1997-01-01"),
        "revenue": 29.33,
        "n_items": 2,
    }


def test_load_cdnow_master():
    orders = load_cdnow("master")
    assert len(orders) == 69_659
    assert orders["customer_id"].nunique() == 23_570
    assert orders["timestamp"].dtype == np.dtype("datetime64[ns]")


def test_cdnow_sample_matches_its_published_summary():
    """The sample log, summarised with a 1997-09-30 calibration end, is the summary file."""
    summary = load_cdnow_summary()
    assert list(summary.columns) == ["customer_id", "frequency", "recency", "T"]
    assert len(summary) == 2_357
    rfm = rfm_summary(load_cdnow(), time_unit="W", calibration_end="1997-09-30")
    np.testing.assert_array_equal(rfm["customer_id"], summary["customer_id"])
    np.testing.assert_array_equal(rfm["frequency"], summary["frequency"])
    np.testing.assert_allclose(rfm["recency"], summary["recency"], atol=0.005)
    np.testing.assert_allclose(rfm["T"], summary["T"], atol=0.005)


def test_load_cdnow_unknown_kind():
    with pytest.raises(ValueError, match="'sample' or 'master'"):
        load_cdnow("full")  # type: ignore[arg-type]


def test_load_cdnow_without_lifetimes(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "lifetimes" else real(name, *a),
    )
    with pytest.raises(ClvError, match=r"pip install lifetimes==0\.11\.3"):
        load_cdnow()
    with pytest.raises(ClvError, match=r"pip install lifetimes==0\.11\.3"):
        load_cdnow_summary()
