"""The compiled per-customer summaries equal NumPy's mean and quantile, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

from clvmodels.models.kernels.parallel import run_blocks
from clvmodels.models.posterior import INTERVAL_PROB
from clvmodels.predict.columns import SCORE_COLUMNS
from clvmodels.predict.draw_summary import SUMMARY_ROWS, _interval, summarize

LOW, HIGH = (1 - INTERVAL_PROB) / 2, 1 - (1 - INTERVAL_PROB) / 2


def numpy_summary(codes, num_horizon, num_discounted, alive, spend, margin):
    """The NumPy expressions scoring used before the kernel, on (draws, customers) arrays."""
    alive_t = np.ascontiguousarray(alive.T)
    purchases = num_horizon[codes].T * alive_t
    out = {
        "p_alive": alive_t.mean(axis=0),
        "expected_purchases": purchases.mean(axis=0),
    }
    out["expected_purchases_low"], out["expected_purchases_high"] = np.quantile(
        purchases, [LOW, HIGH], axis=0
    )
    spend_t = np.ascontiguousarray(spend.T)
    value = margin * spend_t * (num_discounted[codes].T * alive_t)
    out["expected_spend"] = spend_t.mean(axis=0)
    out["clv"] = value.mean(axis=0)
    out["clv_low"], out["clv_high"] = np.quantile(value, [LOW, HIGH], axis=0)
    return out


def random_inputs(rng, n_customers, n_draws, n_pairs=7, ties=False):
    num_horizon = rng.gamma(2.0, 1.0, (n_pairs, n_draws))
    num_discounted = num_horizon * rng.uniform(0.8, 1.0, (n_pairs, n_draws))
    alive = rng.uniform(0, 1, (n_customers, n_draws))
    spend = rng.gamma(6.0, 5.0, (n_customers, n_draws))
    if ties:
        alive = np.round(alive, 1)
        num_horizon = np.round(num_horizon, 0) + 1
    codes = rng.integers(0, n_pairs, n_customers)
    return codes, num_horizon, num_discounted, alive, spend


@pytest.mark.parametrize("n_draws", [1, 2, 3, 34, 200, 511, 512, 1000, 4000, 4001])
@pytest.mark.parametrize("ties", [False, True])
def test_summary_equals_numpy(n_draws, ties):
    rng = np.random.default_rng(n_draws)
    codes, nh, nd, alive, spend = random_inputs(rng, 40, n_draws, ties=ties)
    ours = summarize(codes, nh, nd, alive, spend, margin=0.3, low=LOW, high=HIGH)
    expected = numpy_summary(codes, nh, nd, alive, spend, 0.3)
    for name, row in zip(SUMMARY_ROWS, ours, strict=True):
        np.testing.assert_array_equal(row, expected[name], err_msg=name)


def test_without_spend_the_value_rows_are_nan():
    rng = np.random.default_rng(1)
    codes, nh, nd, alive, spend = random_inputs(rng, 5, 100)
    ours = dict(
        zip(
            SUMMARY_ROWS,
            summarize(codes, nh, nd, alive, None, margin=1, low=LOW, high=HIGH),
            strict=True,
        )
    )
    assert np.isnan(ours["clv"]).all() and np.isnan(ours["expected_spend"]).all()
    expected = numpy_summary(codes, nh, nd, alive, spend, 1.0)
    np.testing.assert_array_equal(
        ours["expected_purchases_low"], expected["expected_purchases_low"]
    )


def test_nan_draws_give_nan_intervals_like_numpy():
    rng = np.random.default_rng(2)
    codes, nh, nd, alive, spend = random_inputs(rng, 4, 1000)
    alive[1, 17] = np.nan
    ours = dict(
        zip(
            SUMMARY_ROWS,
            summarize(codes, nh, nd, alive, spend, margin=1, low=LOW, high=HIGH),
            strict=True,
        )
    )
    expected = numpy_summary(codes, nh, nd, alive, spend, 1.0)
    for name in SUMMARY_ROWS:
        np.testing.assert_array_equal(ours[name], expected[name], err_msg=name)
    assert np.isnan(ours["clv_low"][1]) and not np.isnan(ours["clv_low"][0])


@pytest.mark.parametrize("n", [600, 4000])
@pytest.mark.parametrize(
    ("low", "high"), [(LOW, HIGH), (0.0, 1.0), (0.2, 0.8), (0.5, 0.5), (0.001, 0.999)]
)
def test_interval_paths_equal_numpy_quantile(n, low, high):
    """Heap, sampled threshold, and the full partition when the sample misleads."""
    rng = np.random.default_rng(n)
    buf, scratch, sample = np.empty(n), np.empty(n), np.empty(128)
    cases = [rng.normal(size=n), np.sort(rng.normal(size=n)), np.sort(rng.normal(size=n))[::-1]]
    # the strided sample sees only the smallest (largest) values: its threshold cuts off
    # too short a tail, and the whole array is partitioned instead
    misleading = rng.normal(size=n)
    misleading[:: n // 128][:128] = -1000.0 - np.arange(128)
    cases += [misleading, -misleading, np.round(rng.normal(size=n), 1)]
    for values in cases:
        ours = _interval(values.copy(), low, high, buf, scratch, sample)
        np.testing.assert_array_equal(ours, np.quantile(values, [low, high]))


def test_summary_rows_are_the_score_columns():
    assert SUMMARY_ROWS == SCORE_COLUMNS[-len(SUMMARY_ROWS) :]


def test_run_blocks_covers_the_range_once():
    for n in (0, 1, 2, 7, 1000):
        seen = np.zeros(n, dtype=int)

        def block(start: int, stop: int, seen: np.ndarray = seen) -> None:
            seen[start:stop] += 1

        run_blocks(n, block)
        assert (seen == 1).all()
