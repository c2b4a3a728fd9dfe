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
from collections.abc import Mapping, Sequence
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

#: ``--model``: one model folder for every group, or ``{group: folder}``.
type ModelFolders = str | os.PathLike[str] | Mapping[str, str | os.PathLike[str]]


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
    model_dir: ModelFolders | None = None,
    horizon: str = "12M",
    margin: float = 1.0,
    annual_discount_rate: float = 0.1,
    seed: int = 0,
    observation_end: Any = None,
    n_draws: int | None = 200,
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
    model_dir : path or mapping of group to path, optional
        A fitted model folder (``clv fit -o``) for every group, or one per group
        (``{group: folder}``, every group named, no other): adds the predicted-CLV
        comparison. One model for all groups shrinks the groups together (the value note
        and the printout warn); a model per group, fitted on that group's customers, sees
        a variant's effect on later purchasing.
    horizon, margin, annual_discount_rate
        The CLV's horizon, margin and discount rate (with ``model_dir``).
    n_draws : int, optional
        Posterior draws used for the CLV, thinned evenly (None: all; default 200, as
        ``clv score``).
    extra : dict, optional
        Entries added to ``experiment.json`` (the inputs, as shown).

    Returns
    -------
    ExperimentOutcome
    """
    from clvmodels.plots.base import save_figure
    from clvmodels.plots.experiments import plot_lifts

    frame = read_assignments(assignments, **(assignments_columns or {}))
    if model_dir is not None:
        check_model_groups(model_dir, frame["group"].unique().tolist())
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
    if model_dir is not None:
        from clvmodels.experiments.value import clv_test_rows, value_comparison
        from clvmodels.persistence import load_model

        models = (
            {group: load_model(folder) for group, folder in model_dir.items()}
            if isinstance(model_dir, Mapping)
            else load_model(model_dir)
        )
        value = value_comparison(
            models,
            windows.users,
            order_frame,
            control=analysis.control,
            horizon=horizon,
            margin=margin,
            annual_discount_rate=annual_discount_rate,
            seed=seed,
            n_draws=n_draws,
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


def model_folders(values: Sequence[str]) -> str | dict[str, str] | None:
    """``--model`` as given: one folder (``DIR``) or one per group (``GROUP=DIR``, repeated).

    A value that is an existing folder is a folder even when its name has ``=``.

    Raises
    ------
    DataError
        Folders for all groups given twice, or mixed with ``GROUP=DIR``; a group named
        twice or without a name.
    """
    if not values:
        return None
    pooled = [v for v in values if "=" not in v or Path(v).is_dir()]
    if pooled:
        if len(values) > 1:
            raise DataError(
                "--model: give one folder for every group (--model DIR) or one per group "
                "(--model A=DIR_A --model B=DIR_B), not both or two folders",
                examples=list(values),
            )
        return pooled[0]
    folders: dict[str, str] = {}
    for value in values:
        group, _, folder = value.partition("=")
        group = group.strip()
        if not group or not folder:
            raise DataError(f"--model {value!r}: write a model per group as GROUP=DIR")
        if group in folders:
            raise DataError(f"--model: group {group!r} is given two models")
        folders[group] = folder
    return folders


def check_model_groups(model_dir: ModelFolders, groups: Sequence[Any]) -> None:
    """With a model per group, every group of the assignments needs one and no other group.

    Raises
    ------
    DataError
        A group without a model, or a model for a group the assignments do not have.
    """
    if not isinstance(model_dir, Mapping):
        return
    known = sorted(str(g) for g in groups)
    missing = [g for g in known if g not in model_dir]
    if missing:
        raise DataError(
            f"--model: no model for group {', '.join(missing)}; with a model per group "
            "every group needs one",
            hint=f"the groups are {', '.join(known)}",
        )
    unknown = sorted(g for g in model_dir if g not in known)
    if unknown:
        raise DataError(
            f"--model: group {', '.join(unknown)} is not in the assignments",
            hint=f"the groups are {', '.join(known)}",
        )


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
            clv_models="one per group" if value.n_models > 1 else "one for all groups",
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
        "clv_warning": None if value is None else value.warning,
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
