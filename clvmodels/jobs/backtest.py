"""A backtest's files: their names in an output folder, and writing them with the plots.

The measurements come from :func:`clvmodels.backtest.backtest`; this job writes them
(:mod:`clvmodels.data.io`, each file atomically) and draws the tracking plots (cumulative
and per period) and the calibration-vs-holdout plot (:mod:`clvmodels.plots.backtest`).
"""

from __future__ import annotations

from pathlib import Path

from clvmodels.backtest import BACKTEST_FILES, BacktestResult
from clvmodels.data.io import write_json, write_table
from clvmodels.plots.backtest import (
    plot_conditional_expectations,
    plot_tracking,
    plot_tracking_incremental,
)
from clvmodels.plots.base import save_figure


def backtest_files(output_dir: str | Path) -> dict[str, Path]:
    """Every file :func:`write_backtest` writes into ``output_dir``, by name."""
    out = Path(output_dir)
    return {role: out / name for role, name in BACKTEST_FILES.items()}


def write_backtest(result: BacktestResult, output_dir: str | Path) -> list[Path]:
    """Write a backtest's files into ``output_dir`` (each atomically) and return their paths.

    ``metrics.json``, ``totals.csv``, ``conditional.csv``, ``tracking.csv``,
    ``customers.parquet``, and the plots ``tracking.png`` (cumulative),
    ``tracking_incremental.png`` (per period) and ``conditional.png`` (calibration vs holdout).
    """
    out = backtest_files(output_dir)
    cal_end = result.settings["calibration_end"]
    tracking = plot_tracking(result.tracking, calibration_end=cal_end)
    incremental = plot_tracking_incremental(result.tracking, calibration_end=cal_end)
    return [
        write_json(result.metrics(), out["metrics"]),
        write_table(result.totals, out["totals"]),
        write_table(result.conditional, out["conditional"]),
        write_table(result.tracking, out["tracking"]),
        write_table(result.customers, out["customers"]),
        save_figure(tracking, out["tracking_plot"]),
        save_figure(incremental, out["incremental_plot"]),
        save_figure(plot_conditional_expectations(result.conditional), out["conditional_plot"]),
    ]
