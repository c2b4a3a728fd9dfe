"""``clv conversion``: check visits and orders in DuckDB (problems reported), compute, write.

:func:`conversion_files` names every file ``clv conversion -o OUT_DIR`` writes (the CLI checks
them against the inputs before any work); :func:`run_conversion` makes the orders and the
visits views on one DuckDB connection (:func:`clvmodels.data.contract.register_orders_source`,
:func:`clvmodels.data.visits_sql.register_visits`: the visits are never copied into pandas),
runs :func:`clvmodels.analytics.conversion.conversion_sql` on them (nothing is written until
it has finished), then writes ``buyers.csv`` straight from DuckDB, the plots, the other tables
and last ``summary.json``, each file atomically.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from clvmodels.analytics.conversion import BUYERS_QUERY, ConversionResult, conversion_sql
from clvmodels.analytics.outputs import CONVERSION_PLOTS, CONVERSION_TABLES, SUMMARY_FILE
from clvmodels.data.contract import ORDERS_VIEW, OrdersSource, register_orders_source
from clvmodels.data.frame_sql import write_query
from clvmodels.data.io import duckdb_connection, write_json, write_table
from clvmodels.data.visits_sql import VISITS_VIEW, VisitsSource, register_visits
from clvmodels.jobs.background import import_meanwhile

_PLOTS_MODULE = "clvmodels.plots.conversion"


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
    visits: str | os.PathLike[str] | pd.DataFrame | VisitsSource,
    orders: OrdersSource,
    out_dir: str | os.PathLike[str],
    *,
    visits_columns: dict[str, Any] | None = None,
    observation_end: Any = None,
    plots: bool = True,
    extra: dict[str, Any] | None = None,
) -> ConversionOutcome:
    """Read, compute and write ``clv conversion``'s folder.

    Parameters
    ----------
    visits : path, DataFrame or VisitsSource
        The visits, checked by :func:`clvmodels.data.visits_sql.register_visits` (rows
        without uid or start are dropped and counted).
    orders : OrdersSource
        The orders and how to read them
        (:func:`clvmodels.data.contract.register_orders_source`).
    out_dir : path
        The folder written (made when missing).
    visits_columns : dict, optional
        :class:`~clvmodels.data.visits_sql.VisitsSource`'s column keywords (``uid_col``,
        ``start_col``, ...), when ``visits`` is a path or a DataFrame.
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
    importing = import_meanwhile(_PLOTS_MODULE) if plots else None
    source = (
        visits
        if isinstance(visits, VisitsSource)
        else VisitsSource(visits, **(visits_columns or {}))
    )
    with duckdb_connection() as con:
        orders_info = register_orders_source(con, orders)
        visits_info = register_visits(con, source, VISITS_VIEW)
        result = conversion_sql(
            con,
            visits=VISITS_VIEW,
            orders=ORDERS_VIEW,
            uid_type=visits_info.uid_type,
            customer_type=orders_info.customer_type,
            observation_end=observation_end,
            visit_problems=visits_info.problems,
        )
        files = conversion_files(out_dir, plots=plots)
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        write_query(con, BUYERS_QUERY, files["buyers"])  # straight from DuckDB
    if importing is not None:
        importing.join()
    if plots:
        from clvmodels.plots.base import save_figure
        from clvmodels.plots.conversion import plot_conversion_days, plot_conversion_rates

        save_figure(plot_conversion_days(result.buyers), files["days_plot"])
        save_figure(plot_conversion_rates(result.by_source, "source_id"), files["source_plot"])
        save_figure(plot_conversion_rates(result.by_device, "device"), files["device_plot"])
    for name in CONVERSION_TABLES:
        if name != "buyers":
            write_table(getattr(result, name), files[name])
    write_json({**result.summary, **(extra or {})}, files["summary"])
    return ConversionOutcome(result=result, files=files)
