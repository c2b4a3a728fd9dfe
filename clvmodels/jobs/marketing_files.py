"""The files of ``clv payback`` and ``clv budget``: their names, writers and the payback reader.

:func:`payback_files` and :func:`budget_files` name the files ``clv payback`` and
``clv budget`` write; :func:`write_payback`, :func:`read_payback` and :func:`write_budget`
write and read them (each file atomically). The plots are drawn with
:mod:`clvmodels.plots.marketing`. A target may be a database table (``URL#schema.table``):
then every table goes beside it as ``<table>_<suffix>`` (the JSON summary as the one-row table
``<table>_summary``), all in one transaction, and plots only into a folder given for them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from clvmodels.data.database_url import DatabaseURL
from clvmodels.data.io import json_row, read_table, write_json, write_tables
from clvmodels.data.paths import OutputTarget, derived_target, output_target
from clvmodels.errors import DataError

if TYPE_CHECKING:
    from clvmodels.marketing.payback import PaybackResult

#: Tables `clv payback -o OUT` writes beside OUT, by the suffix added to OUT's name.
PAYBACK_TABLES = ("by_age", "by_source", "by_cohort", "buyers")


def payback_files(
    target: str | os.PathLike[str] | DatabaseURL, *, plots_dir: str | None = None
) -> dict[str, OutputTarget]:
    """Every file ``clv payback -o target`` writes; tables share the target's format.

    ``cells`` is the target itself; then ``<stem>_by_age``, ``_by_source``, ``_by_cohort``,
    ``_buyers``, ``_summary.json`` and the plots ``_romi.png`` and ``_cac.png`` (in
    ``plots_dir`` when given). Beside a database table: the tables ``<table>_by_age``, ...,
    ``<table>_summary``; plots only in ``plots_dir`` (without it, none are named).
    """
    path = output_target(target)
    files: dict[str, OutputTarget] = {"cells": path}
    for name in PAYBACK_TABLES:
        files[name] = derived_target(path, name)
    files["summary"] = derived_target(path, "summary", ".json")
    folder, stem = _plot_folder(path, plots_dir)
    if folder is not None:
        files["romi_plot"] = folder / f"{stem}_romi.png"
        files["cac_plot"] = folder / f"{stem}_cac.png"
    return files


def _plot_folder(target: OutputTarget, plots_dir: str | None) -> tuple[Path | None, str]:
    """Where plots go (beside a file; for a table only in ``plots_dir``) and their stem."""
    if isinstance(target, DatabaseURL):
        assert target.table is not None
        return (Path(plots_dir) if plots_dir else None), target.table.name
    return (Path(plots_dir) if plots_dir else target.parent), target.stem


def budget_files(target: str | os.PathLike[str] | DatabaseURL) -> dict[str, OutputTarget]:
    """Every file ``clv budget -o target`` writes: the table, ``_forecast`` and its plot.

    Beside a database table: the table ``<table>_forecast`` and no plot.
    """
    path = output_target(target)
    files = {"budget": path, "forecast": derived_target(path, "forecast")}
    if not isinstance(path, DatabaseURL):
        files["forecast_plot"] = derived_target(path, "forecast", ".png")
    return files


def write_payback(
    result: PaybackResult,
    target: str | os.PathLike[str] | DatabaseURL,
    *,
    plots: bool = True,
    plots_dir: str | None = None,
    extra: dict[str, Any] | None = None,
) -> list[OutputTarget]:
    """Write a :class:`clvmodels.marketing.payback.PaybackResult` as :func:`payback_files` names.

    The plots are drawn before anything is written, so a failure leaves no partial output;
    each file is written atomically. ``extra`` is added to the summary JSON.
    """
    files = payback_files(target, plots_dir=plots_dir)
    plots = plots and "romi_plot" in files
    axes = {}
    if plots:
        from clvmodels.plots.marketing import plot_cac_by_source, plot_romi_curves

        axes = {
            "romi_plot": plot_romi_curves(result.by_age),
            "cac_plot": plot_cac_by_source(result.cells),
        }
    summary = {
        **result.summary,
        **(extra or {}),
        "files": {
            name: _shown(path) for name, path in files.items() if plots or "plot" not in name
        },
    }
    tables = [(result.cells, files["cells"])]
    tables += [(getattr(result, name), files[name]) for name in PAYBACK_TABLES]
    if isinstance(files["summary"], DatabaseURL):
        written = write_tables([*tables, (json_row(summary), files["summary"])])
    else:
        written = [*write_tables(tables), write_json(summary, files["summary"])]
    if axes:
        from clvmodels.plots.base import save_figure

        for name, ax in axes.items():
            written.append(save_figure(ax, files[name]))
    return written


def _shown(target: OutputTarget) -> str:
    """A file's name, or a table's name as SQL writes it."""
    if isinstance(target, DatabaseURL):
        return str(target.table)
    return target.name


def read_payback(
    target: str | os.PathLike[str],
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """The cells, buyers and summary that :func:`write_payback` (``clv payback``) wrote.

    Raises
    ------
    DataError
        When a file is missing or is not what ``clv payback`` writes.
    """
    files = payback_files(target)
    if isinstance(files["cells"], DatabaseURL):
        raise DataError(
            f"--payback {files['cells']}: clv budget reads the files of `clv payback`, not its "
            "tables in a database",
            hint="Write clv payback's output to a file (-o payback.parquet) for clv budget",
        )
    for name in ("cells", "buyers", "summary"):
        if not Path(files[name]).exists():
            raise DataError(
                f"{files[name]} is missing: --payback takes the OUTPUT of `clv payback`, "
                f"whose {_shown(files[name])} is written beside it"
            )
    try:
        info = json.loads(Path(files["summary"]).read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"{files['summary']} is not valid JSON: {exc}") from exc
    if not isinstance(info, dict) or "observation_end" not in info:
        raise DataError(f"{files['summary']} is not a `clv payback` summary")
    return _read_output(Path(files["cells"])), _read_output(Path(files["buyers"])), info


def _read_output(path: Path) -> pd.DataFrame:
    if path.suffix.lower() == ".json":
        try:
            frame = pd.read_json(path, orient="records", dtype={"source_id": str})
        except ValueError as exc:
            raise DataError(f"{path} is not a table written by clvmodels: {exc}") from exc
    else:
        frame = read_table(path)
    if "source_id" in frame.columns:
        frame["source_id"] = frame["source_id"].astype(str)
    return frame


def write_budget(
    table: pd.DataFrame,
    forecast: pd.DataFrame,
    target: str | os.PathLike[str] | DatabaseURL,
    *,
    plots: bool = True,
) -> list[OutputTarget]:
    """Write a budget table and revenue forecast as :func:`budget_files` names.

    Into a database both tables are written in one transaction, and no plot.
    """
    files = budget_files(target)
    ax = None
    if plots and "forecast_plot" in files:
        from clvmodels.plots.marketing import plot_revenue_forecast

        ax = plot_revenue_forecast(forecast)
    written = write_tables([(table, files["budget"]), (forecast, files["forecast"])])
    if ax is not None:
        from clvmodels.plots.base import save_figure

        written.append(save_figure(ax, files["forecast_plot"]))
    return written
