"""``clv kpis``: orders -> KPIs per period and their seasonality -> a folder of files.

:func:`kpis_files` names every file ``clv kpis -o OUT_DIR`` writes (the CLI checks them
against the input before any work); :func:`run_kpis` computes
(:func:`clvmodels.analytics.kpis.kpi_table`,
:func:`~clvmodels.analytics.kpis.seasonal_decomposition`) and then writes ``kpis.csv``,
``seasonality.csv`` (only its header when there is no decomposition), the plots, and last
``summary.json``, each file atomically.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from clvmodels.analytics.kpis import kpi_summary, kpi_table, seasonal_decomposition
from clvmodels.data.contract import OrdersSource
from clvmodels.data.io import write_json, write_table
from clvmodels.summaries.period import DateLike

#: The tables and summary of a ``clv kpis`` output folder.
KPI_FILES = {"kpis": "kpis.csv", "seasonality": "seasonality.csv", "summary": "summary.json"}


@dataclass
class KpisOutcome:
    """What :func:`run_kpis` did: the KPI table, the decomposition, the summary, the files."""

    kpis: pd.DataFrame
    seasonality: pd.DataFrame
    summary: dict[str, Any]
    files: dict[str, Path]


def kpis_files(out_dir: str | os.PathLike[str], *, plots: bool = True) -> dict[str, Path]:
    """Every file ``clv kpis -o out_dir`` may write, by name (plots as ``<name>_plot``)."""
    from clvmodels.plots.kpis import KPI_PLOTS

    folder = Path(out_dir)
    files = {name: folder / file_name for name, file_name in KPI_FILES.items()}
    if plots:
        files.update({f"{name}_plot": folder / file for name, file in KPI_PLOTS.items()})
    return files


def run_kpis(
    orders: OrdersSource | pd.DataFrame | str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    period: str = "day",
    observation_end: DateLike = None,
    plots: bool = True,
) -> KpisOutcome:
    """Compute the KPIs of ``orders`` per ``period`` and write :func:`kpis_files` into ``out_dir``.

    Nothing is written until everything is computed; ``summary.json`` comes last and lists
    the files written.
    """
    kpis = kpi_table(orders, period=period, observation_end=observation_end)
    seasonality, info = seasonal_decomposition(kpis)
    summary = kpi_summary(kpis, info)
    files = kpis_files(out_dir, plots=plots)
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    write_table(_dated(kpis), files["kpis"])
    write_table(_dated(seasonality), files["seasonality"])
    written = {name: files[name] for name in ("kpis", "seasonality")}
    if plots:
        from clvmodels.plots.kpis import save_kpi_plots

        saved = save_kpi_plots(kpis, seasonality, out_dir)
        written.update({f"{name}_plot": path for name, path in saved.items()})
        if "seasonality" not in saved:  # an old run's decomposition would not match
            files["seasonality_plot"].unlink(missing_ok=True)
    written["summary"] = files["summary"]
    summary["files"] = {name: str(path) for name, path in written.items()}
    write_json(summary, files["summary"])
    return KpisOutcome(kpis=kpis, seasonality=seasonality, summary=summary, files=written)


def _dated(table: pd.DataFrame) -> pd.DataFrame:
    """``period_start`` as a ``YYYY-MM-DD`` day for the CSV (other columns as they are)."""
    out = table.copy()
    if len(out):
        out["period_start"] = pd.to_datetime(out["period_start"]).dt.strftime("%Y-%m-%d")
    return out
