"""Engagement from visits: daily, weekly and monthly active users, stickiness, session lengths.

Pure functions over a visits table as :func:`clvmodels.data.marketing.read_visits` returns it
(``uid``, ``device``, ``start_ts``, ``end_ts``, ``source_id``; one row a session), and
:func:`engagement_on` over the same table as a view of a DuckDB connection (what ``clv
engagement`` uses: :func:`clvmodels.data.visits_sql.register_visits` reads the file straight
into DuckDB). All the aggregation runs in DuckDB SQL; pandas only assembles the small results.
The distinct counts come from three window passes over a compact copy of the window's
sessions (ordered by user and time; by user, device and time; by user, source and time): a
session is marked when it is its user's first of a day, week, month or at all, and each
distinct count is a sum of marks.

Definitions
-----------
* **Day** of a session: the calendar date of its start, as written (naive times; exact to the
  nanosecond: a start at 23:59:59.9999999 is on its own day).
* **Observation window**: every calendar day from the first visit's day to the observation
  end (default: the last visit's day). Sessions starting after the observation end are
  counted (``after_observation_end``) and left out of everything.
* **Week**: ISO week, Monday to Sunday; **month**: calendar month (numbered as
  :mod:`clvmodels.summaries.calendar`). A period is **complete** when it lies fully inside the
  window.
* **DAU**: the mean, over every day of the window (days without visits count as 0), of the
  number of distinct users with a session starting that day.
* **WAU** / **MAU**: the same over the complete ISO weeks / complete calendar months of the
  window (distinct users with a session starting in the week / month). Missing (``None``)
  when the window holds no complete week / month.
* **sticky_wau** = DAU / WAU, **sticky_mau** = DAU / MAU.
* **sessions_per_user_per_day**: sessions in the window / user-days in the window (the sum of
  the daily distinct users), i.e. the mean number of sessions of a user on a day they visit.
* **Session length**: end − start in seconds, from the exact nanosecond times. A session
  without an end or ending before it starts has no length: it is left out of the length
  statistics (and counted by the reader), but it counts for DAU, WAU, MAU and sessions.
* **session_seconds_median**: the median of the lengths: the middle one, or for an even
  count the mean of the two middle ones (the interpolated median, DuckDB's
  ``quantile_cont(x, 0.5)``, as pandas' ``Series.median``). It is computed on the integer
  nanosecond lengths, then divided by 1e9, so it is exact.
* **session_seconds_mode**: the most frequent whole-second length (the length in seconds
  rounded down), ties to the smallest.
* **by_device**, **by_source**: the summary of the sessions with each value (a missing value
  is its own group), over the same window as the whole table (a day without that device's
  visits counts as 0), with ``users`` (distinct users) and ``sessions``.
* **Retention** (visitors): a user's cohort is the month of their first visit in the window;
  ``age`` m = month of a visit − cohort month; ``active_users`` the cohort's users with a
  session at age m; ``retention`` = active_users / cohort_size; ``complete`` whether the
  month at that age ends inside the window. Ages run from 0 to the window's last month.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from clvmodels.analytics.engagement_passes import (
    GROUPING,
    LENGTHS,
    MARKS,
    SESSIONS,
    Seen,
    Window,
    build_lengths,
    build_sessions,
    distinct_marks,
    last_day,
    length_histogram,
    median_lengths,
    mode_lengths,
    observation_window,
    overall_lengths,
    seen_in,
    unpacked,
)
from clvmodels.data.io import duckdb_connection, unordered
from clvmodels.summaries.calendar import (
    CohortPeriod,
    day_index,
    period_start,
)
from clvmodels.summaries.period import DateLike

#: The columns of :func:`engagement_summary` (one row) and of the per-value tables.
SUMMARY_COLUMNS = (
    "users",
    "sessions",
    "dau",
    "wau",
    "mau",
    "sticky_wau",
    "sticky_mau",
    "sessions_per_user_per_day",
    "session_seconds_median",
    "session_seconds_mode",
)


@dataclass(frozen=True)
class Engagement:
    """Every table of ``clv engagement`` (see the module docstring for the definitions)."""

    daily: pd.DataFrame
    weekly: pd.DataFrame
    monthly: pd.DataFrame
    summary: dict[str, Any]
    by_device: pd.DataFrame
    by_source: pd.DataFrame
    retention: pd.DataFrame
    session_lengths: pd.DataFrame
    window: Window
    data_problems: dict[str, Any] = field(default_factory=dict)


def engagement(visits: pd.DataFrame, *, observation_end: DateLike = None) -> Engagement:
    """All the engagement tables of a visits table.

    Parameters
    ----------
    visits : pandas.DataFrame
        Visits from :func:`clvmodels.data.marketing.read_visits` (either ``problems`` mode).
    observation_end : date, optional
        The last day used; default the last visit's day.

    Returns
    -------
    Engagement
        ``data_problems`` holds the reader's ``attrs["visit_problems"]`` (when present) and
        ``after_observation_end``.

    Raises
    ------
    DataError
        When no session starts on or before the observation end.
    """
    with duckdb_connection() as con:
        con.register(_FRAME_VIEW, _visits_frame(visits))
        return engagement_on(
            con,
            _FRAME_VIEW,
            observation_end=observation_end,
            visit_problems=visits.attrs.get("visit_problems", {}),
        )


def engagement_on(
    con: Any,
    view: str,
    *,
    observation_end: DateLike = None,
    visit_problems: dict[str, Any] | None = None,
    overall_ready: Callable[[dict[str, pd.DataFrame]], object] | None = None,
    seen: Seen | None = None,
) -> Engagement:
    """:func:`engagement` over the visits view ``view`` of a DuckDB connection.

    ``overall_ready``, when given, is called with the tables of the whole window (``daily``,
    ``weekly``, ``monthly``, ``retention``, ``session_lengths``) as soon as they are done,
    before the passes per device and per source (``clv engagement`` starts drawing its plots
    then, while DuckDB counts on). ``seen`` is what the visits reader found (the rows, the
    last start, the devices and sources); without it one pass over ``view`` finds it.

    ``view`` has the columns of :data:`clvmodels.data.visits_sql.VISITS_VIEW` (what
    :func:`clvmodels.data.visits_sql.register_visits` makes). The window's sessions are
    copied once into a compact temporary table (devices and sources as enums); three
    window passes (one a user, one a user and device, one a user and source) mark each
    session that is its user's first of a day, week, month and at all, so that every
    distinct count is a sum of marks grouped by a small key.
    """
    unordered(con)  # every result is ORDERed
    seen = seen_in(con, view) if seen is None else seen
    end = last_day(seen, observation_end)
    build_sessions(con, view, end, seen.values)
    try:
        window = observation_window(con, seen, end)
        build_lengths(con)
        activity = distinct_marks(con, window, None)
        daily, weekly, monthly = (_periods(con, window, activity, p) for p in _PERIODS)
        median, top = overall_lengths(con)
        summary = _summaries(con, window, activity, None, median)
        overall = {
            "daily": daily.rename(columns={"period_start": "date"}).drop(columns="complete"),
            "weekly": weekly,
            "monthly": monthly,
            "retention": _retention(window, activity),
            "session_lengths": length_histogram(con, top=top),
        }
        if overall_ready is not None:
            overall_ready(overall)
        result = Engagement(
            **overall,
            summary={k: _plain(v) for k, v in summary.to_dict("records")[0].items()},
            by_device=_by(con, window, "device"),
            by_source=_by(con, window, "source_id"),
            window=window,
            data_problems={**(visit_problems or {}), "after_observation_end": window.n_after},
        )
    finally:
        con.execute(f"DROP TABLE IF EXISTS {SESSIONS}")
        con.execute(f"DROP TABLE IF EXISTS {LENGTHS}")
        con.execute(f"DROP TABLE IF EXISTS {MARKS}")
    return result


def daily_activity(visits: pd.DataFrame, *, observation_end: DateLike = None) -> pd.DataFrame:
    """``date, dau, sessions, sessions_per_user, session_seconds_median``, every window day."""
    return engagement(visits, observation_end=observation_end).daily


def period_activity(
    visits: pd.DataFrame, period: CohortPeriod, *, observation_end: DateLike = None
) -> pd.DataFrame:
    """One row a week or month that touches the window.

    Columns ``period_start``, ``wau`` (or ``mau``), ``sessions``, ``sessions_per_user``,
    ``session_seconds_median``, ``complete``.
    """
    result = engagement(visits, observation_end=observation_end)
    return result.weekly if period == "week" else result.monthly


def engagement_summary(
    visits: pd.DataFrame, *, by: str | None = None, observation_end: DateLike = None
) -> pd.DataFrame:
    """The summary (:data:`SUMMARY_COLUMNS`): one row, or one a value of ``by``.

    ``by`` is ``"device"`` or ``"source_id"``.
    """
    result = engagement(visits, observation_end=observation_end)
    if by is None:
        return pd.DataFrame([result.summary])[list(SUMMARY_COLUMNS)]
    tables = {"device": result.by_device, "source_id": result.by_source}
    if by not in tables:
        raise ValueError(f"by must be None, 'device' or 'source_id'; got {by!r}")
    return tables[by]


def visitor_retention(visits: pd.DataFrame, *, observation_end: DateLike = None) -> pd.DataFrame:
    """``cohort, age, cohort_size, active_users, retention, complete`` (months)."""
    return engagement(visits, observation_end=observation_end).retention


def session_length_histogram(
    visits: pd.DataFrame, *, observation_end: DateLike = None, bins: int = 60
) -> pd.DataFrame:
    """Sessions per length bin: ``seconds_from``, ``seconds_to`` (whole seconds), ``sessions``.

    ``bins`` equal bins of a whole number of seconds cover the lengths up to their 99th
    percentile (the discrete one); the last bin also holds the longer sessions. Sessions
    without a length are not counted.
    """
    with duckdb_connection() as con:
        con.register(_FRAME_VIEW, _visits_frame(visits))
        seen = seen_in(con, _FRAME_VIEW)
        end = last_day(seen, observation_end)
        build_sessions(con, _FRAME_VIEW, end, seen.values)
        observation_window(con, seen, end)  # no session up to the end: an error
        build_lengths(con)
        return length_histogram(con, bins)


_FRAME_VIEW = "clv_engagement_visits"
_PERIODS: tuple[str, ...] = ("day", "week", "month")


def _visits_frame(visits: pd.DataFrame) -> pd.DataFrame:
    """The classic columns of a visits DataFrame, times as nanoseconds."""
    return pd.DataFrame(
        {
            "uid": visits["uid"].to_numpy(),
            "device": visits["device"].to_numpy(),
            "source_id": visits["source_id"].to_numpy(),
            "start_ts": visits["start_ts"].astype("datetime64[ns]").to_numpy(),
            "end_ts": visits["end_ts"].astype("datetime64[ns]").to_numpy(),
        }
    )


def _periods(con: Any, window: Window, activity: pd.DataFrame, period: str) -> pd.DataFrame:
    """One row a day, week or month touching the window (days: every day of it)."""
    name = {"day": "dau", "week": "wau", "month": "mau"}[period]
    counted = {"day": "user_days", "week": "user_weeks", "month": "user_months"}[period]
    rows = activity[activity[period].notna() & activity["grouping"].eq(GROUPING[period])]
    if period == "day":
        index = pd.date_range(window.first_day, window.last_day, freq="D").as_unit("ns")
        keys = pd.DataFrame({"k": index, "period_start": index})
        rows = rows.assign(k=pd.to_datetime(rows["day"]).astype("datetime64[ns]"))
    else:
        lo_hi = (day_index(window.first_day, period), day_index(window.last_day, period) + 1)
        index = np.arange(*lo_hi)
        keys = pd.DataFrame({"k": index, "period_start": period_start(index, period)})
        rows = rows.assign(k=rows[period].astype("int64"))
    day = unpacked("k")[0]
    # days: grouped by the key itself (a day has one key), shown as the date
    keys_sql = {"day": ("key", f"DATE '1970-01-01' + CAST({day} AS INTEGER)")}
    keys_sql.update(week=(unpacked("key")[1], "k"), month=(unpacked("key")[2], "k"))
    medians = median_lengths(con, *keys_sql[period])
    medians["k"] = (
        pd.to_datetime(medians["k"]).astype("datetime64[ns]")
        if period == "day"
        else medians["k"].astype("int64")
    )
    frame = keys.merge(rows[["k", counted, "sessions"]], on="k", how="left")
    frame = frame.merge(medians, on="k", how="left").rename(columns={counted: name})
    frame[name] = frame[name].fillna(0).astype("int64")
    frame["sessions"] = frame["sessions"].fillna(0).astype("int64")
    frame["sessions_per_user"] = frame["sessions"] / frame[name].where(frame[name] > 0)
    lo, hi = window.complete(period) if period != "day" else (index[0], index[-1])
    frame["complete"] = (keys["k"] >= lo) & (keys["k"] <= hi)
    columns = ["period_start", name, "sessions", "sessions_per_user", "session_seconds_median"]
    return frame[[*columns, "complete"]]


def _by(con: Any, window: Window, by: str) -> pd.DataFrame:
    """The summary per value of ``by`` (device or source), from its own window pass."""
    return _summaries(con, window, distinct_marks(con, window, by), by)


def _summaries(
    con: Any,
    window: Window,
    activity: pd.DataFrame,
    by: str | None,
    median: float | None = None,
) -> pd.DataFrame:
    """The summary (:data:`SUMMARY_COLUMNS`) per value of ``by``, or one row."""
    frame = activity[activity["grouping"].eq(GROUPING["all"])].copy()
    medians = (
        median_lengths(con, by)
        if by
        else pd.DataFrame(
            {"k": [None], "session_seconds_median": [np.nan if median is None else median]}
        )
    )
    modes = mode_lengths(con, by)
    for part in (medians, modes):
        if by:
            part["g"] = part.pop("k").astype(object)
            frame = frame.merge(part, on="g", how="left")
        else:  # one row; no value when no session has a length
            (name,) = (c for c in part.columns if c != "k")
            frame[name] = part[name].iloc[0] if len(part) else float("nan")
    frame["g"] = frame["g"].astype(object).where(frame["g"].notna(), None)
    frame = frame.sort_values(["sessions", "g"], ascending=[False, True], ignore_index=True)
    frame["dau"] = frame["user_days"] / window.n_days
    for name, (lo, hi), total in (
        ("wau", window.weeks, "complete_weeks"),
        ("mau", window.months, "complete_months"),
    ):
        # no complete period: no mean; a value without visits in them: 0
        mean = frame[total].fillna(0.0) / max(hi - lo + 1, 1)
        frame[name] = float("nan") if hi < lo else mean
        frame[f"sticky_{name}"] = frame["dau"] / frame[name].where(frame[name] > 0)
    frame["sessions_per_user_per_day"] = frame["sessions"] / frame["user_days"]
    frame["session_seconds_mode"] = frame["session_seconds_mode"].astype("Int64")
    frame = frame.astype({"users": "int64", "sessions": "int64"})
    frame = frame[["g", *SUMMARY_COLUMNS]]
    if by is None:
        return frame.drop(columns="g")
    return frame.rename(columns={"g": by})


def _retention(window: Window, activity: pd.DataFrame) -> pd.DataFrame:
    """Monthly visitor retention by first-visit month, from the marks of :func:`distinct_marks`."""
    cells = activity[activity["grouping"].eq(GROUPING["cohort"])]
    counts = pd.DataFrame(
        {
            "c": cells["cohort"].astype("int64"),
            "age": cells["month"].astype("int64") - cells["cohort"].astype("int64"),
            "active_users": cells["user_months"].astype("int64"),
        }
    )
    sizes = counts[counts["age"] == 0].set_index("c")["active_users"]
    last = day_index(window.last_day, "month")
    grid = pd.DataFrame(
        [(c, age, n) for c, n in sizes.sort_index().items() for age in range(last - c + 1)],
        columns=["c", "age", "cohort_size"],
    )
    frame = grid.merge(counts, on=["c", "age"], how="left")
    frame["active_users"] = frame["active_users"].fillna(0).astype("int64")
    frame["retention"] = frame["active_users"] / frame["cohort_size"]
    frame["complete"] = frame["c"] + frame["age"] <= window.months[1]
    frame.insert(0, "cohort", period_start(frame["c"].to_numpy(), "month"))
    frame = frame.drop(columns="c")
    return _typed(frame, "cohort", ("age", "cohort_size", "active_users"))


def _typed(frame: pd.DataFrame, date_col: str, counts: tuple[str, ...]) -> pd.DataFrame:
    frame[date_col] = pd.to_datetime(frame[date_col]).astype("datetime64[ns]")
    for name in counts:
        frame[name] = frame[name].astype("int64")
    if "complete" in frame.columns:
        frame["complete"] = frame["complete"].astype(bool)
    return frame


def _plain(value: Any) -> Any:
    """A number for JSON: numpy scalars to Python, NaN and NA to ``None``."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return value.item() if hasattr(value, "item") else value
