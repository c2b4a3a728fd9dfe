"""A backtest's files: their names in an output folder, and writing them with the plots.

The measurements come from :func:`clvmodels.backtest.backtest`; this job writes them
(:mod:`clvmodels.data.io`, each file atomically) and draws the tracking and conditional
expectation plots (:mod:`clvmodels.plots.backtest`).
"""

from __future__ import annotations

from pathlib import Path

from clvmodels.backtest import BACKTEST_FILES, BacktestResult
from clvmodels.data.io import write_json, write_table
from clvmodels.plots.backtest import plot_conditional_expectations, plot_tracking
from clvmodels.plots.base import save_figure


def backtest_files(output_dir: str | Path) -> dict[str, Path]:
    """Every file :func:`write_backtest` writes into ``output_dir``, by name."""
    out = Path(output_dir)
    return {role: out / name for role, name in BACKTEST_FILES.items()}


def write_backtest(result: BacktestResult, output_dir: str | Path) -> list[Path]:
    """Write a backtest's files into ``output_dir`` (each atomically) and return their paths.

    ``metrics.json``, ``totals.csv``, ``conditional.csv``, ``tracking.csv``,
    ``customers.parquet``, and the plots ``tracking.png`` and ``conditional.png``.
    """
    out = backtest_files(output_dir)
    tracking = plot_tracking(result.tracking, calibration_end=result.settings["calibration_end"])
    return [
        write_json(result.metrics(), out["metrics"]),
        write_table(result.totals, out["totals"]),
        write_table(result.conditional, out["conditional"]),
        write_table(result.tracking, out["tracking"]),
        write_table(result.customers, out["customers"]),
        save_figure(tracking, out["tracking_plot"]),
        save_figure(plot_conditional_expectations(result.conditional), out["conditional_plot"]),
    ]
