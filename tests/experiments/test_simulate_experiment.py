"""simulate_experiment: reproducible tables, the story it documents, and its true value.

Oracles: binomial standard errors and the simulation's own realised future (the discounted
revenue each user brings over the horizon after their window, computed here from the
orders), against the formula the simulator states; BG/NBD eq. 9 against simulate_orders'
customers.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from clvmodels.examples.experiments import (
    DEFAULT_ARMS,
    Arm,
    expected_repeat_purchases,
    simulate_experiment,
)
from clvmodels.examples.simulate import DEFAULT_BGNBD, simulate_orders


def test_same_seed_same_tables_and_the_documented_columns():
    one, two = simulate_experiment(2_000, seed=5), simulate_experiment(2_000, seed=5)
    pd.testing.assert_frame_equal(one.assignments, two.assignments)
    pd.testing.assert_frame_equal(one.orders, two.orders)
    other = simulate_experiment(2_000, seed=6)
    assert not one.orders.equals(other.orders)
    assert list(one.assignments.columns) == ["uid", "variant", "assigned_at"]
    assert list(one.orders.columns) == ["uid", "timestamp", "revenue"]
    assert one.assignments["uid"].is_unique
    assert one.assignments["assigned_at"].dtype == "datetime64[ns]"
    assert one.orders["timestamp"].lt(one.observation_end).all()
    assert one.control == "A"


def test_converters_buy_first_in_their_window_at_the_arms_rates():
    n = 40_000
    experiment = simulate_experiment(n, seed=1)
    users = experiment.assignments.set_index("uid")
    first = experiment.orders.groupby("uid")["timestamp"].min()
    delay = first - users.loc[first.index, "assigned_at"]
    assert (delay >= pd.Timedelta(0)).all()
    assert (delay < pd.Timedelta(days=experiment.window_days)).all()
    converted = users.index.isin(first.index)
    for group, arm in DEFAULT_ARMS.items():
        in_group = (users["variant"] == group).to_numpy()
        share, rate = in_group.mean(), converted[in_group].mean()
        assert abs(share - 0.5) < 4 * np.sqrt(0.25 / n)
        assert abs(rate - arm.conversion) < 4 * np.sqrt(arm.conversion * 0.7 / in_group.sum())
        assert experiment.true_conversion[group] == arm.conversion


def test_eq_9_matches_the_simulated_repeat_purchases():
    n = 400_000
    orders, _ = simulate_orders(n, seed=3, acquisition_days=0, observation_days=52 * 7)
    repeats = orders.groupby("customer_id").size() - 1
    assert abs(repeats.mean() - expected_repeat_purchases(DEFAULT_BGNBD, 52.0)) < 4 * (
        repeats.std() / np.sqrt(n)
    )


@pytest.mark.parametrize("seed", [11, 12])
def test_true_value_per_user_is_the_realised_discounted_revenue_after_the_window(seed):
    experiment = simulate_experiment(300_000, seed=seed)
    users = experiment.assignments.set_index("uid")
    window_end = users["assigned_at"] + pd.Timedelta(days=experiment.window_days)
    orders = experiment.orders
    months = (orders["timestamp"] - orders["uid"].map(window_end)).dt.total_seconds() / (
        86_400 * 365.25 / 12
    )
    inside = (months > 0) & (months <= 12)
    # the CLV's monthly grid: an order in month m is discounted by 1.1 ** (-m / 12)
    value = orders["revenue"][inside] * 1.1 ** (-np.ceil(months[inside]) / 12)
    per_user = value.groupby(orders["uid"][inside]).sum().reindex(users.index, fill_value=0.0)
    for group in DEFAULT_ARMS:
        realised = per_user[users["variant"] == group]
        se = realised.std() / np.sqrt(len(realised))
        assert abs(realised.mean() - experiment.true_value_per_user[group]) < 4 * se


def test_the_default_variant_converts_fewer_users_worth_more():
    effects = simulate_experiment(100, seed=0).true_effects().set_index("group")
    assert effects.loc["B", "conversion_difference"] == pytest.approx(-0.08)
    assert effects.loc["B", "value_difference"] > 0.2 * effects.loc["A", "value_per_user"]
    assert effects.loc["A", "value_difference"] == 0


@pytest.mark.parametrize(
    ("arm", "message"),
    [
        (Arm(conversion=0.0), "conversion"),
        (Arm(share=0.0), "share"),
        (Arm(gamma_gamma={"q": 1.0}), "q must exceed 1"),
        (Arm(bgnbd={"r": -1.0}), "r"),
    ],
)
def test_bad_arms_are_refused(arm, message):
    with pytest.raises(ValueError, match=message):
        simulate_experiment(10, arms={"A": arm})
