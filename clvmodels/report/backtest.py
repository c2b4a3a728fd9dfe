"""The report's ``backtest`` section: the outputs of a ``clv backtest`` folder, read and shown.

The totals (with bias, MAE, RMSE and log-likelihood), the tracking plots (cumulative and
per period), the calibration-vs-holdout plot and its table; a plot missing from the folder
is redrawn from its CSV table (:mod:`clvmodels.plots.backtest`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.axes import Axes

from clvmodels.backtest import BACKTEST_FILES
from clvmodels.errors import DataError
from clvmodels.plots.backtest import (
    plot_conditional_expectations,
    plot_tracking,
    plot_tracking_incremental,
)
from clvmodels.report.folders import PNG_SIGNATURE
from clvmodels.report.html import (
    Section,
    count,
    frame_table,
    img,
    img_bytes,
    key_values,
    missing,
    note_html,
    num,
)
from clvmodels.report.inputs import Source
from clvmodels.units import UNIT_NAMES

#: The files whose presence marks a backtest folder (customers.parquet is not read here).
SHOWN_FILES = tuple(name for role, name in BACKTEST_FILES.items() if role != "customers")
NEED_BACKTEST = (
    "Pass --backtest DIR (the output folder of `clv backtest`) to see the tracking and "
    "conditional-expectation plots and the holdout totals."
)
_NOT_A_BACKTEST = "Pass the output folder of `clv backtest ... -o DIR`"
#: The plots shown, by the stem of their file (:data:`BACKTEST_FILES`), with their alt text.
_PLOTS = {
    Path(BACKTEST_FILES["tracking_plot"]).stem: "tracking plot, cumulative",
    Path(BACKTEST_FILES["incremental_plot"]).stem: "tracking plot, per period",
    Path(BACKTEST_FILES["conditional_plot"]).stem: "calibration vs holdout by frequency",
}


@dataclass(frozen=True)
class BacktestOutputs:
    """What :func:`read_backtest` found in a ``clv backtest`` output folder.

    Attributes
    ----------
    path : pathlib.Path
        The folder.
    metrics : dict
        ``metrics.json`` (empty when missing).
    tables : dict of str to DataFrame
        ``totals``, ``conditional`` and ``tracking`` from their CSV files, when present.
    images : dict of str to bytes
        The ``tracking``, ``tracking_incremental`` and ``conditional`` PNGs, when present
        and valid.
    problems : list of str
        Files that are missing or unreadable.
    """

    path: Path
    metrics: dict[str, Any] = field(default_factory=dict)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    images: dict[str, bytes] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def read_backtest(path: Source) -> BacktestOutputs:
    """Read the outputs ``clv backtest -o DIR`` wrote (metrics, tables and plots).

    Missing or unreadable files are listed in ``problems``; the report shows what is there.

    Raises
    ------
    DataError
        When ``path`` is not a folder or holds none of the backtest's outputs.
    """
    folder = Path(path)
    if not folder.is_dir():
        raise DataError(f"backtest folder not found: {folder}", hint=_NOT_A_BACKTEST)
    if not any((folder / name).is_file() for name in SHOWN_FILES):
        raise DataError(
            f"{folder} holds no backtest outputs (none of {', '.join(SHOWN_FILES)})",
            hint=_NOT_A_BACKTEST,
        )
    outputs = BacktestOutputs(path=folder)
    _read_metrics(folder / "metrics.json", outputs)
    for name in ("totals", "conditional", "tracking"):
        csv_path = folder / f"{name}.csv"
        if not csv_path.is_file():
            outputs.problems.append(f"{name}.csv is missing")
            continue
        try:
            outputs.tables[name] = pd.read_csv(csv_path)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError):
            outputs.problems.append(f"{name}.csv is not a readable CSV table")
    for name in _PLOTS:
        png_path = folder / f"{name}.png"
        if not png_path.is_file():
            continue  # redrawn from the CSV when that is there
        data = png_path.read_bytes()
        if data.startswith(PNG_SIGNATURE):
            outputs.images[name] = data
        else:
            outputs.problems.append(f"{name}.png is not a PNG image")
    return outputs


def _read_metrics(metrics_path: Path, outputs: BacktestOutputs) -> None:
    """Put ``metrics.json`` into ``outputs.metrics``, or what is wrong with it in ``problems``."""
    if not metrics_path.is_file():
        outputs.problems.append("metrics.json is missing")
        return
    try:
        loaded = json.loads(metrics_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        outputs.problems.append("metrics.json is not valid JSON")
        return
    if isinstance(loaded, dict):
        outputs.metrics.update(loaded)
    else:
        outputs.problems.append("metrics.json is not a JSON object")


def backtest_section(backtest: BacktestOutputs | None) -> Section | str:
    """The backtest's settings, the folder's problems, its plots and its tables."""
    if backtest is None:
        return missing("backtest", "Backtest", NEED_BACKTEST)
    metrics = backtest.metrics
    rows = _settings_rows(metrics)
    parts = [key_values(rows) if rows else ""]
    if backtest.problems:
        parts.append(note_html("In the backtest folder: " + "; ".join(backtest.problems) + "."))
    images = []
    for name, alt in _PLOTS.items():
        table_name = "tracking" if name == "tracking_incremental" else name
        if name in backtest.images:
            images.append(img_bytes(backtest.images[name], alt))
        elif table_name in backtest.tables:
            images.append(img(_redraw(name, backtest), alt))
    if images:
        parts.append("<div class='grid'>" + "".join(images) + "</div>")
    totals = backtest.tables.get("totals")
    if totals is not None:
        parts.append("<h3>Holdout totals, predicted vs actual</h3>")
        parts.append(frame_table(totals, highlight=str(metrics.get("best_model", ""))))
    conditional = backtest.tables.get("conditional")
    if conditional is not None:
        parts.append(
            "<h3>Calibration vs holdout: mean holdout purchases by calibration frequency</h3>"
        )
        parts.append(frame_table(conditional))
    return "".join(parts)


def _settings_rows(metrics: dict[str, Any]) -> list[tuple[str, str]]:
    """Dates, fit method, customers, holdout length and best model, those that are known."""
    rows = [
        (label, str(metrics[key]))
        for key, label in (
            ("calibration_end", "calibration end"),
            ("observation_end", "holdout end"),
            ("method", "fit method"),
        )
        if key in metrics
    ]
    if "n_customers" in metrics:
        rows.append(("customers", count(metrics["n_customers"])))
    if "holdout_length" in metrics:
        unit = str(metrics.get("time_unit", ""))
        rows.append(
            (
                "holdout length",
                f"{num(metrics['holdout_length'], '.1f')} {UNIT_NAMES.get(unit, unit)}",
            )
        )
    if "best_model" in metrics:
        rows.append(("best", f"{metrics['best_model']} ({metrics.get('best_by', '')})"))
    return rows


def _redraw(name: str, backtest: BacktestOutputs) -> Axes:
    cal_end = backtest.metrics.get("calibration_end")
    if name == "tracking":
        return plot_tracking(backtest.tables[name], calibration_end=cal_end)
    if name == "tracking_incremental":
        return plot_tracking_incremental(backtest.tables["tracking"], calibration_end=cal_end)
    return plot_conditional_expectations(backtest.tables[name])
