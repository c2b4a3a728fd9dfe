"""The files of ``clv payback`` and ``clv budget``: their names, writers and the payback reader.

:func:`payback_files` and :func:`budget_files` name the files ``clv payback`` and
``clv budget`` write; :func:`write_payback`, :func:`read_payback` and :func:`write_budget`
write and read them (each file atomically). The plots are drawn with
:mod:`clvmodels.plots.marketing`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from clvmodels.data.io import read_table, write_json, write_table
from clvmodels.errors import DataError

if TYPE_CHECKING:
    from clvmodels.marketing.payback import PaybackResult

#: Tables `clv payback -o OUT` writes beside OUT, by the suffix added to OUT's name.
PAYBACK_TABLES = ("by_age", "by_source", "by_cohort", "buyers")


def payback_files(
    target: str | os.PathLike[str], *, plots_dir: str | None = None
) -> dict[str, Path]:
    """Every file ``clv payback -o target`` writes; tables share the target's format.

    ``cells`` is the target itself; then ``<stem>_by_age``, ``_by_source``, ``_by_cohort``,
    ``_buyers``, ``_summary.json`` and the plots ``_romi.png`` and ``_cac.png`` (in
    ``plots_dir`` when given).
    """
    path = Path(target)
    files = {"cells": path}
    for name in PAYBACK_TABLES:
        files[name] = path.with_name(f"{path.stem}_{name}{path.suffix}")
    files["summary"] = path.with_name(f"{path.stem}_summary.json")
    folder = Path(plots_dir) if plots_dir else path.parent
    files["romi_plot"] = folder / f"{path.stem}_romi.png"
    files["cac_plot"] = folder / f"{path.stem}_cac.png"
    return files


def budget_files(target: str | os.PathLike[str]) -> dict[str, Path]:
    """Every file ``clv budget -o target`` writes: the table, ``_forecast`` and its plot."""
    path = Path(target)
    return {
        "budget": path,
        "forecast": path.with_name(f"{path.stem}_forecast{path.suffix}"),
        "forecast_plot": path.with_name(f"{path.stem}_forecast.png"),
    }


def write_payback(
    result: PaybackResult,
    target: str | os.PathLike[str],
    *,
    plots: bool = True,
    plots_dir: str | None = None,
    extra: dict[str, Any] | None = None,
) -> list[Path]:
    """Write a :class:`clvmodels.marketing.payback.PaybackResult` as :func:`payback_files` names.

    The plots are drawn before anything is written, so a failure leaves no partial output;
    each file is written atomically. ``extra`` is added to the summary JSON.
    """
    files = payback_files(target, plots_dir=plots_dir)
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
        "files": {name: path.name for name, path in files.items() if plots or "plot" not in name},
    }
    written = [write_table(result.cells, files["cells"])]
    for name in PAYBACK_TABLES:
        written.append(write_table(getattr(result, name), files[name]))
    written.append(write_json(summary, files["summary"]))
    if axes:
        from clvmodels.plots.base import save_figure

        for name, ax in axes.items():
            written.append(save_figure(ax, files[name]))
    return written


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
    for name in ("cells", "buyers", "summary"):
        if not files[name].exists():
            raise DataError(
                f"{files[name]} is missing: --payback takes the OUTPUT of `clv payback`, "
                f"whose {files[name].name} is written beside it"
            )
    try:
        info = json.loads(files["summary"].read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"{files['summary']} is not valid JSON: {exc}") from exc
    if not isinstance(info, dict) or "observation_end" not in info:
        raise DataError(f"{files['summary']} is not a `clv payback` summary")
    return _read_output(files["cells"]), _read_output(files["buyers"]), info


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
    target: str | os.PathLike[str],
    *,
    plots: bool = True,
) -> list[Path]:
    """Write a budget table and revenue forecast as :func:`budget_files` names."""
    files = budget_files(target)
    ax = None
    if plots:
        from clvmodels.plots.marketing import plot_revenue_forecast

        ax = plot_revenue_forecast(forecast)
    written = [write_table(table, files["budget"]), write_table(forecast, files["forecast"])]
    if ax is not None:
        from clvmodels.plots.base import save_figure

        written.append(save_figure(ax, files["forecast_plot"]))
    return written
