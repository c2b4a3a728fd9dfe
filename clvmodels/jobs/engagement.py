"""``clv engagement``: read visits, compute the engagement tables, write them into a folder.

:func:`engagement_job` is what the command does between parsing and printing. The visits are
read leniently, straight into DuckDB (:func:`clvmodels.data.visits_sql.register_visits`): rows
without a user id or a start are dropped, sessions without an end or ending before they start
are kept without a length, and every such row is counted in ``summary.json`` under
``"data_problems"``, with the sessions after the observation end (``after_observation_end``).
Each file is written atomically.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from clvmodels.analytics.engagement import Engagement, engagement_on
from clvmodels.analytics.engagement_passes import Seen
from clvmodels.analytics.outputs import ENGAGEMENT_PLOTS as PLOT_FILES
from clvmodels.analytics.outputs import ENGAGEMENT_TABLES as TABLE_FILES
from clvmodels.analytics.outputs import SUMMARY_FILE
from clvmodels.data.database_url import shown_source
from clvmodels.data.io import duckdb_connection, write_json, write_table
from clvmodels.data.visits_sql import VISITS_VIEW, VisitsSource, register_visits
from clvmodels.jobs.background import import_meanwhile
from clvmodels.summaries.period import DateLike


@dataclass(frozen=True)
class EngagementRun:
    """What :func:`engagement_job` computed and the files it wrote."""

    result: Engagement
    summary: dict[str, Any]
    written: list[Path]


def engagement_files(out_dir: str | os.PathLike[str], *, plots: bool = True) -> list[Path]:
    """Every file ``clv engagement -o out_dir`` writes (plots included when ``plots``)."""
    folder = Path(out_dir)
    names = [*TABLE_FILES.values(), SUMMARY_FILE, *(PLOT_FILES.values() if plots else ())]
    return [folder / name for name in names]


def engagement_job(
    visits_path: str | os.PathLike[str] | pd.DataFrame,
    out_dir: str | os.PathLike[str],
    *,
    uid_col: str = "uid",
    start_col: str = "start_ts",
    end_col: str = "end_ts",
    source_col: str = "source_id",
    device_col: str = "device",
    observation_end: DateLike = None,
    plots: bool = True,
) -> EngagementRun:
    """Read the visits, compute :func:`clvmodels.analytics.engagement.engagement`, write.

    Writes into ``out_dir``: :data:`TABLE_FILES` (CSV), ``summary.json`` (the summary, the
    window, the columns read and ``data_problems``) and, with ``plots``, :data:`PLOT_FILES`.

    Raises
    ------
    DataError
        For a visits table that cannot be used (missing columns, no rows, no session up to
        the observation end).
    """
    importing = import_meanwhile("clvmodels.plots.analytics") if plots else None
    source = VisitsSource(
        visits_path,
        uid_col=uid_col,
        start_col=start_col,
        end_col=end_col,
        source_col=source_col,
        device_col=device_col,
    )
    folder = Path(out_dir)
    drawing = _Drawing(folder, importing)
    with duckdb_connection() as con:
        info = register_visits(con, source)
        result = engagement_on(
            con,
            VISITS_VIEW,
            observation_end=observation_end,
            visit_problems=info.problems,
            overall_ready=drawing.start if plots else None,
            seen=Seen(info.n_rows, info.last_start_ns, info.values),
        )
    written = [
        write_table(_for_csv(getattr(result, name)), folder / file)
        for name, file in TABLE_FILES.items()
    ]
    shown = "DataFrame" if isinstance(visits_path, pd.DataFrame) else shown_source(visits_path)
    summary = {
        "visits": shown,
        "columns": {
            "uid": uid_col,
            "start": start_col,
            "end": end_col,
            "source": source_col,
            "device": device_col,
        },
        "first_day": result.window.first_day.isoformat(),
        "observation_end": result.window.last_day.isoformat(),
        "days": result.window.n_days,
        "complete_weeks": max(0, result.window.weeks[1] - result.window.weeks[0] + 1),
        "complete_months": max(0, result.window.months[1] - result.window.months[0] + 1),
        **result.summary,
        "data_problems": result.data_problems,
    }
    written.append(write_json(summary, folder / SUMMARY_FILE))
    written.extend(drawing.finish())
    return EngagementRun(result=result, summary=summary, written=[Path(p) for p in written])


class _Drawing:
    """The plots, drawn in a thread while DuckDB counts on (per device and source).

    :meth:`start` gets the whole window's tables; :meth:`finish` waits for the plots and
    returns the files written (an error in the thread is raised there).
    """

    def __init__(self, folder: Path, importing: threading.Thread | None) -> None:
        self.folder = folder
        self.importing = importing
        self.thread: threading.Thread | None = None
        self.written: list[Path] = []
        self.error: BaseException | None = None

    def start(self, tables: dict[str, pd.DataFrame]) -> None:
        self.thread = threading.Thread(target=self._draw, args=(tables,))
        self.thread.start()

    def _draw(self, tables: dict[str, pd.DataFrame]) -> None:
        try:
            self.written = _write_plots(tables, self.folder, self.importing)
        except BaseException as exc:  # raised again in the job's own thread
            self.error = exc

    def finish(self) -> list[Path]:
        if self.thread is not None:
            self.thread.join()
        if self.error is not None:
            raise self.error
        return self.written


def _write_plots(
    tables: dict[str, pd.DataFrame], folder: Path, importing: threading.Thread | None
) -> list[Path]:
    if importing is not None:
        importing.join()
    # matplotlib only when plots are drawn
    from clvmodels.plots.analytics import (
        plot_active_users,
        plot_session_lengths,
        plot_visitor_retention,
    )
    from clvmodels.plots.base import save_figure

    axes = {
        "active_users": plot_active_users(tables["daily"], tables["weekly"], tables["monthly"]),
        "session_lengths": plot_session_lengths(tables["session_lengths"]),
        "retention": plot_visitor_retention(tables["retention"]),
    }
    return [save_figure(ax, folder / PLOT_FILES[name]) for name, ax in axes.items()]


def _for_csv(frame: pd.DataFrame) -> pd.DataFrame:
    """Dates as ``YYYY-MM-DD`` (no midnight time) in the CSV files."""
    out = frame.copy()
    for name in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[name].dtype):
            out[name] = out[name].dt.strftime("%Y-%m-%d")
    return out
