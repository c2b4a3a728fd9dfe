"""``clv experiment``: read assignments and orders, analyse, write the folder.

:func:`experiment_files` names every file ``clv experiment -o OUT_DIR`` writes (the CLI checks
them against the inputs before any work; the names are
:data:`clvmodels.experiments.outputs.EXPERIMENT_FILES`, which the report reads too);
:func:`run_experiment` reads the assignments (:func:`clvmodels.data.assignments.read_assignments`)
and the orders, builds the per-user window table
(:func:`clvmodels.experiments.windows.user_windows`), analyses it
(:func:`clvmodels.experiments.analysis.analyse`), with a model adds the value comparison
(``clvmodels.experiments.value.value_comparison``), and only then writes: the forest plot
``lifts.png``, ``summary.csv``, ``tests.csv``, ``checks.json``, ``srm.json`` (with ``--model``
also ``clv.csv``) and last ``experiment.json`` (the settings used, which of them were defaults,
and every count of users and orders left out), each file atomically.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from clvmodels.data.assignments import read_assignments
from clvmodels.data.contract import OrdersSource
from clvmodels.data.io import orders_frame, write_json, write_table
from clvmodels.errors import DataError
from clvmodels.experiments.analysis import Analysis, analyse, lift_rows
from clvmodels.experiments.outputs import EXPERIMENT_FILES
from clvmodels.experiments.windows import UserWindows, user_windows


@dataclass
class ExperimentOutcome:
    """What :func:`run_experiment` did: the windows, the analysis, the value part, the files."""

    windows: UserWindows
    analysis: Analysis
    tests: pd.DataFrame
    value: Any
    info: dict[str, Any]
    files: dict[str, Path]


def experiment_files(out_dir: str | os.PathLike[str], *, model: bool = False) -> dict[str, Path]:
    """Every file ``clv experiment -o out_dir`` writes, by name (``experiment.json`` last)."""
    folder = Path(out_dir)
    return {
        name: folder / file_name
        for name, file_name in EXPERIMENT_FILES.items()
        if model or name != "clv"
    }


def run_experiment(
    assignments: str | os.PathLike[str] | pd.DataFrame,
    orders: OrdersSource | pd.DataFrame,
    out_dir: str | os.PathLike[str],
    *,
    assignments_columns: dict[str, Any] | None = None,
    control: str | None = None,
    window_days: int = 28,
    planned_split: dict[str, float] | None = None,
    model_dir: str | os.PathLike[str] | None = None,
    horizon: str = "12M",
    margin: float = 1.0,
    annual_discount_rate: float = 0.1,
    seed: int = 0,
    observation_end: Any = None,
    extra: dict[str, Any] | None = None,
) -> ExperimentOutcome:
    """Read, analyse and write ``clv experiment``'s folder.

    Parameters
    ----------
    assignments : path, URL or DataFrame
        Read by :func:`clvmodels.data.assignments.read_assignments` with
        ``assignments_columns`` (``uid_col``, ``group_col``, ``time_col``, ``table``, ...).
    orders : OrdersSource or DataFrame
        The orders and how to read them, or validated orders.
    out_dir : path
        The folder written (made when missing).
    control, window_days, planned_split, seed, observation_end
        See :func:`clvmodels.experiments.analysis.analyse` and
        :func:`clvmodels.experiments.windows.user_windows`.
    model_dir : path, optional
        A fitted model folder (``clv fit -o``): adds the predicted-CLV comparison.
    horizon, margin, annual_discount_rate
        The CLV's horizon, margin and discount rate (with ``model_dir``).
    extra : dict, optional
        Entries added to ``experiment.json`` (the inputs, as shown).

    Returns
    -------
    ExperimentOutcome
    """
    from clvmodels.plots.base import save_figure
    from clvmodels.plots.experiments import plot_lifts

    compare = _value_function() if model_dir is not None else None
    frame = read_assignments(assignments, **(assignments_columns or {}))
    order_frame = orders if isinstance(orders, pd.DataFrame) else orders_frame(orders)
    windows = user_windows(
        frame, order_frame, window_days=window_days, observation_end=observation_end
    )
    assigned = frame["group"].value_counts().to_dict()
    analysis = analyse(
        windows.users, assigned, control=control, planned_split=planned_split, seed=seed
    )
    value = None
    tests = analysis.tests
    if compare is not None and model_dir is not None:
        from clvmodels.experiments.value import clv_test_rows
        from clvmodels.persistence import load_model

        value = compare(
            load_model(model_dir),
            windows.users,
            order_frame,
            control=analysis.control,
            horizon=horizon,
            margin=margin,
            annual_discount_rate=annual_discount_rate,
            seed=seed,
        )
        tests = pd.concat([tests, clv_test_rows(value.table, analysis.control)], ignore_index=True)
    lifts = lift_rows(
        tests, analysis.summary, analysis.control, clv=None if value is None else value.table
    )
    info = experiment_info(
        frame,
        windows,
        analysis,
        value,
        horizon=horizon,
        margin=margin,
        annual_discount_rate=annual_discount_rate,
    )
    info.update(extra or {})
    files = experiment_files(out_dir, model=value is not None)
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    save_figure(plot_lifts(lifts, level=analysis.settings["level"]), files["lifts_plot"])
    write_table(analysis.summary, files["summary"])
    write_table(tests, files["tests"])
    if value is not None:
        write_table(value.table, files["clv"])
    write_json(analysis.checks, files["checks"])
    write_json(analysis.srm, files["srm"])
    write_json(info, files["experiment"])
    return ExperimentOutcome(windows, analysis, tests, value, info, files)


def _value_function() -> Any:
    """:func:`clvmodels.experiments.value.value_comparison`, or a clear error without it."""
    try:
        from clvmodels.experiments.value import value_comparison
    except ModuleNotFoundError as exc:
        if exc.name != "clvmodels.experiments.value":
            raise
        raise DataError(
            "--model: this build of clvmodels has no value comparison yet "
            "(clvmodels.experiments.value)",
            hint="run without --model for conversion, revenue and orders",
        ) from None
    return value_comparison


def experiment_info(
    assignments: pd.DataFrame,
    windows: UserWindows,
    analysis: Analysis,
    value: Any,
    *,
    horizon: str,
    margin: float,
    annual_discount_rate: float = 0.1,
) -> dict[str, Any]:
    """``experiment.json``: the settings used (and which were defaults) and every count."""
    settings = dict(analysis.settings)
    settings.update(
        window_days=windows.window_days,
        observation_end=windows.observation_end.isoformat(),
        confidence_level=settings.pop("level"),
        bootstrap_resamples=settings.pop("n_boot"),
    )
    if value is not None:
        settings.update(
            horizon=horizon,
            margin=margin,
            annual_discount_rate=annual_discount_rate,
            clv_draws=int(value.draws),
        )
    counts = {
        **windows.counts,
        "assignment_rows": int(assignments.attrs.get("rows", len(assignments))),
        "repeated_assignments": int(assignments.attrs.get("repeated_assignments", 0)),
        "users_analysed": len(windows.users),
    }
    return {
        "settings": settings,
        "counts": counts,
        "groups": [analysis.control, *analysis.variants],
        "clv_note": None if value is None else str(value.note),
        "srm_flagged": analysis.srm["flagged"],
    }


def lift_lines(tests: pd.DataFrame, variants: list[str]) -> list[str]:
    """Each variant's lifts as printed: one line per variant and metric."""
    shown = tests[tests["test"].isin(["chi2", "welch_t", "posterior"])]
    lines = []
    for group in variants:
        for row in shown[shown["group"] == group].itertuples(index=False):
            lift = "n/a" if _missing(row.relative_lift) else f"{row.relative_lift:+.1%}"
            interval = (
                ""
                if _missing(row.ci_low)
                else f", difference {row.difference:+.4g} [{row.ci_low:+.4g}, {row.ci_high:+.4g}]"
            )
            p = (
                ""
                if _missing(row.p_value)
                else f", p={row.p_value:.3g} (Holm {row.p_value_adjusted:.3g})"
            )
            test = "posterior, 94% interval" if row.test == "posterior" else row.test
            lines.append(f"{group} {row.metric}: lift {lift}{interval} ({test}{p})")
    return lines


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value))
