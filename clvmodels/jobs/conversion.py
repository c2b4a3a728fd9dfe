"""``clv conversion``: read visits and orders (problems reported), compute, write the folder.

:func:`conversion_files` names every file ``clv conversion -o OUT_DIR`` writes (the CLI checks
them against the inputs before any work); :func:`run_conversion` reads the visits with
``problems="report"`` and the orders, runs
:func:`clvmodels.analytics.conversion.conversion_tables` (nothing is written until it has
finished), then writes the plots, the tables and last ``summary.json``, each file atomically.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from clvmodels.analytics.conversion import ConversionResult, conversion_tables
from clvmodels.analytics.outputs import CONVERSION_PLOTS, CONVERSION_TABLES, SUMMARY_FILE
from clvmodels.data.contract import OrdersSource
from clvmodels.data.io import orders_frame, write_json, write_table
from clvmodels.data.marketing import read_visits


@dataclass
class ConversionOutcome:
    """What :func:`run_conversion` did: the result and the files written, by name."""

    result: ConversionResult
    files: dict[str, Path]


def conversion_files(out_dir: str | os.PathLike[str], *, plots: bool = True) -> dict[str, Path]:
    """Every file ``clv conversion -o out_dir`` writes, by name (summary last)."""
    folder = Path(out_dir)
    files = {name: folder / file_name for name, file_name in CONVERSION_TABLES.items()}
    if plots:
        files.update({name: folder / file_name for name, file_name in CONVERSION_PLOTS.items()})
    files["summary"] = folder / SUMMARY_FILE
    return files


def run_conversion(
    visits: str | os.PathLike[str] | pd.DataFrame,
    orders: OrdersSource,
    out_dir: str | os.PathLike[str],
    *,
    visits_columns: dict[str, str] | None = None,
    observation_end: Any = None,
    plots: bool = True,
    extra: dict[str, Any] | None = None,
) -> ConversionOutcome:
    """Read, compute and write ``clv conversion``'s folder.

    Parameters
    ----------
    visits : path or DataFrame
        The visits, read by :func:`clvmodels.data.marketing.read_visits` with
        ``problems="report"`` (rows without uid or start are dropped and counted).
    orders : OrdersSource
        The orders and how to read them (:func:`clvmodels.data.io.orders_frame`).
    out_dir : path
        The folder written (made when missing).
    visits_columns : dict, optional
        ``read_visits``' column keywords (``uid_col``, ``start_col``, ...).
    observation_end : date, optional
        The last day used (see :mod:`clvmodels.analytics.conversion`).
    plots : bool
        Write the PNG plots.
    extra : dict, optional
        Entries added to ``summary.json`` (the inputs, as shown).

    Returns
    -------
    ConversionOutcome
    """
    from clvmodels.plots.base import save_figure
    from clvmodels.plots.conversion import plot_conversion_days, plot_conversion_rates

    visit_frame = read_visits(visits, **(visits_columns or {}), problems="report")
    order_frame = orders_frame(orders)
    result = conversion_tables(visit_frame, order_frame, observation_end=observation_end)
    files = conversion_files(out_dir, plots=plots)
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    if plots:
        save_figure(plot_conversion_days(result.buyers), files["days_plot"])
        save_figure(plot_conversion_rates(result.by_source, "source_id"), files["source_plot"])
        save_figure(plot_conversion_rates(result.by_device, "device"), files["device_plot"])
    for name in CONVERSION_TABLES:
        write_table(getattr(result, name), files[name])
    write_json({**result.summary, **(extra or {})}, files["summary"])
    return ConversionOutcome(result=result, files=files)
