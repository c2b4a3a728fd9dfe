"""The experiment part of ``clv demo``: a simulated A/B test judged by conversion and by CLV.

:func:`run_experiment_demo` simulates an experiment with a known effect
(:func:`clvmodels.examples.experiments.simulate_experiment`, the default arms: B converts
fewer users, 22% against 30%, who buy more often and drop out less), writes its assignments
and orders as CSV (``ab_test/`` in the demo), fits one MAP model per arm on that arm's
orders (weeks, the package's own :class:`clvmodels.model.CLVModel`), runs ``clv experiment``
with a model per group (the same library call,
:func:`clvmodels.jobs.experiment.run_experiment`) into ``experiment/`` and prints two
headline lines: the conversion lift and the CLV lift of each variant against the control,
each next to the simulation's truth (``true_effects``: the difference in conversion
probability, and in expected discounted margin per user over the horizon after the window).

Definitions
-----------
conversion lift
    The difference of conversion rates (variant minus control, in points) from Pearson's
    chi-squared rows of ``tests.csv``, with its relative lift.
CLV lift
    The difference of mean predicted CLV per assigned user (non-converters count as 0), with
    its 94% interval, from the ``posterior`` rows of ``tests.csv``; a MAP model has one draw,
    so the interval is the sampling part only.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from clvmodels.data.contract import OrdersSource
from clvmodels.data.io import write_table
from clvmodels.jobs.experiment import run_experiment
from clvmodels.model import CLVModel
from clvmodels.persistence import save_model
from clvmodels.summaries.rfm import rfm_summary

Echo = Callable[[str], None]


def run_experiment_demo(
    folder: str | Path,
    out_dir: str | Path,
    *,
    n_users: int = 4_000,
    seed: int = 42,
    echo: Echo = lambda _: None,
) -> dict[str, Path]:
    """Simulate an experiment, fit a model per arm, run ``clv experiment``; return the paths.

    Parameters
    ----------
    folder : path
        Where the inputs go: ``assignments.csv``, ``orders.csv`` and ``model_<group>/``.
    out_dir : path
        What ``clv experiment -o`` writes (``summary.csv``, ``tests.csv``, ``clv.csv``, ...).
    n_users : int
        Users assigned (split evenly between A and B).
    seed : int
        Seed of the simulation, the fits and the bootstrap.
    echo : callable
        Receives the printed lines.

    Returns
    -------
    dict of str to Path
        ``experiment`` (the ``clv experiment`` folder), ``ab_assignments``, ``ab_orders``.
    """
    from clvmodels.examples.experiments import simulate_experiment

    started = time.perf_counter()
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    sim = simulate_experiment(n_users, seed=seed)
    assignments = write_table(sim.assignments, folder / "assignments.csv")
    orders = write_table(sim.orders, folder / "orders.csv")
    models = {}
    for group in sorted(sim.arms):
        users = sim.assignments.loc[sim.assignments["variant"] == group, "uid"]
        arm_orders = sim.orders[sim.orders["uid"].isin(users)]
        rfm = rfm_summary(arm_orders.rename(columns={"uid": "customer_id"}), time_unit="W")
        model = CLVModel(time_unit="W", method="map", seed=seed).fit(rfm)
        models[group] = save_model(model, folder / f"model_{group}")
    out = Path(out_dir)
    outcome = run_experiment(
        assignments,
        OrdersSource(orders, customer_col="uid", date_col="timestamp", revenue_col="revenue"),
        out,
        control=sim.control,
        window_days=sim.window_days,
        model_dir=models,
        horizon=sim.horizon,
        margin=sim.margin,
        annual_discount_rate=sim.annual_discount_rate,
        seed=seed,
    )
    echo(
        f"experiment: {n_users:,} simulated users in {len(sim.arms)} arms, {len(sim.orders):,} "
        f"orders, a MAP model per arm, clv experiment -> {out} "
        f"[{time.perf_counter() - started:.1f} s]"
    )
    for line in headline(outcome.tests, sim.true_effects(), sim.control):
        echo(f"  {line}")
    return {"experiment": out, "ab_assignments": assignments, "ab_orders": orders}


def headline(tests: pd.DataFrame, truth: pd.DataFrame, control: str) -> list[str]:
    """Two lines per variant: its conversion lift and its CLV lift against the control.

    Parameters
    ----------
    tests : pandas.DataFrame
        ``tests.csv`` of ``clv experiment`` with ``--model`` (the ``chi2`` and ``posterior``
        rows are used).
    truth : pandas.DataFrame
        ``SimulatedExperiment.true_effects()``: ``group``, ``conversion_difference``,
        ``value_difference``.
    control : str
        The control group.
    """
    true = truth.set_index("group")
    lines = []
    for group in true.index.drop(control):
        conv = _row(tests, "conversion", "chi2", group)
        clv = _row(tests, "clv", "posterior", group)
        lines.append(
            f"conversion lift {group} vs {control}: {conv['difference'] * 100:+.1f} points "
            f"({conv['relative_lift']:+.1%}; 95% {conv['ci_low'] * 100:+.1f} to "
            f"{conv['ci_high'] * 100:+.1f}; true "
            f"{true.loc[group, 'conversion_difference'] * 100:+.1f} points)"
        )
        lines.append(
            f"CLV lift {group} vs {control}: {clv['difference']:+.2f} per user "
            f"({clv['relative_lift']:+.1%}; 94% {clv['ci_low']:+.2f} to {clv['ci_high']:+.2f}; "
            f"true {true.loc[group, 'value_difference']:+.2f} per user)"
        )
    return lines


def _row(tests: pd.DataFrame, metric: str, test: str, group: str) -> pd.Series:
    """The one row of ``tests`` for this metric, test and group."""
    chosen = (tests["metric"] == metric) & (tests["test"] == test) & (tests["group"] == group)
    return tests[chosen].iloc[0]
