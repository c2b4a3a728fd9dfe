"""Engagement from visits: daily, weekly and monthly active users, stickiness, session lengths.

Pure functions over a visits table as :func:`clvmodels.data.marketing.read_visits` returns it
(``uid``, ``device``, ``start_ts``, ``end_ts``, ``source_id``; one row a session). All the
aggregation runs in DuckDB SQL on the data room's connection
(:func:`clvmodels.data.io.duckdb_connection`); pandas only assembles the small results.

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

import contextlib
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from clvmodels.data.io import duckdb_connection
from clvmodels.errors import DataError
from clvmodels.summaries.calendar import CohortPeriod, day_index, period_index_sql, period_start
from clvmodels.summaries.calendar import period_start_sql as start_sql
from clvmodels.summaries.period import DateLike, to_day

_NS_PER_DAY = 86_400 * 10**9
_NS_PER_SECOND = 10**9
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
class Window:
    """The observation window and its complete weeks and months (period indices)."""

    first_day: dt.date
    last_day: dt.date
    n_after: int
    weeks: tuple[int, int]
    months: tuple[int, int]

    @property
    def n_days(self) -> int:
        """Days in the window."""
        return (self.last_day - self.first_day).days + 1

    def complete(self, period: CohortPeriod) -> tuple[int, int]:
        """First and last index of the complete periods (empty when last < first)."""
        return self.weeks if period == "week" else self.months


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
    """All the engagement tables of a visits table, in one DuckDB connection.

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
    with _sessions(visits, observation_end) as (con, window):
        summary = _summary(con, window, None).to_dict("records")[0]
        result = Engagement(
            daily=_daily(con, window),
            weekly=_periods(con, window, "week"),
            monthly=_periods(con, window, "month"),
            summary={k: _plain(v) for k, v in summary.items()},
            by_device=_summary(con, window, "device"),
            by_source=_summary(con, window, "source_id"),
            retention=_retention(con, window),
            session_lengths=_length_histogram(con),
            window=window,
            data_problems={
                **visits.attrs.get("visit_problems", {}),
                "after_observation_end": window.n_after,
            },
        )
    return result


def daily_activity(visits: pd.DataFrame, *, observation_end: DateLike = None) -> pd.DataFrame:
    """``date, dau, sessions, sessions_per_user, session_seconds_median``, every window day."""
    with _sessions(visits, observation_end) as (con, window):
        return _daily(con, window)


def period_activity(
    visits: pd.DataFrame, period: CohortPeriod, *, observation_end: DateLike = None
) -> pd.DataFrame:
    """One row a week or month that touches the window.

    Columns ``period_start``, ``wau`` (or ``mau``), ``sessions``, ``sessions_per_user``,
    ``session_seconds_median``, ``complete``.
    """
    with _sessions(visits, observation_end) as (con, window):
        return _periods(con, window, period)


def engagement_summary(
    visits: pd.DataFrame, *, by: str | None = None, observation_end: DateLike = None
) -> pd.DataFrame:
    """The summary (:data:`SUMMARY_COLUMNS`): one row, or one a value of column ``by``."""
    with _sessions(visits, observation_end) as (con, window):
        return _summary(con, window, by)


def visitor_retention(visits: pd.DataFrame, *, observation_end: DateLike = None) -> pd.DataFrame:
    """``cohort, age, cohort_size, active_users, retention, complete`` (months)."""
    with _sessions(visits, observation_end) as (con, window):
        return _retention(con, window)


@contextlib.contextmanager
def _sessions(visits: pd.DataFrame, observation_end: DateLike) -> Iterator[tuple[Any, Window]]:
    """A connection with the view ``kept`` (the window's sessions), and the window."""
    with duckdb_connection() as con:
        con.execute("SET preserve_insertion_order = false")  # every result is ORDERed
        con.register(
            "visits_in",
            pd.DataFrame(
                {
                    "uid": visits["uid"].to_numpy(),
                    "device": visits["device"].to_numpy(),
                    "source_id": visits["source_id"].to_numpy(),
                    "start_ts": visits["start_ts"].astype("datetime64[ns]").to_numpy(),
                    "end_ts": visits["end_ts"].astype("datetime64[ns]").to_numpy(),
                }
            ),
        )
        d = _NS_PER_DAY
        con.execute(
            f"""CREATE TEMP VIEW sessions AS
            SELECT uid, device, source_id,
                DATE '1970-01-01' + CAST((e - ((e % {d}) + {d}) % {d}) // {d} AS INTEGER) AS day,
                CASE WHEN end_ts >= start_ts THEN epoch_ns(end_ts) - e END AS length_ns
            FROM (SELECT *, epoch_ns(start_ts) AS e FROM visits_in)"""
        )
        window = _window(con, observation_end)
        con.execute(
            "CREATE TEMP VIEW kept AS SELECT * FROM sessions "
            f"WHERE day <= DATE '{window.last_day.isoformat()}'"
        )
        yield con, window


def _window(con: Any, observation_end: DateLike) -> Window:
    end = to_day(observation_end)
    last_visit = con.execute("SELECT max(day) FROM sessions").fetchone()[0]
    if end is None:
        end = last_visit
    first, n_after = con.execute(
        "SELECT min(day) FILTER (WHERE day <= $end), count(*) FILTER (WHERE day > $end) "
        "FROM sessions",
        {"end": end},
    ).fetchone()
    if first is None:
        raise DataError(
            f"no session starts on or before the observation end {end}",
            column="start_ts",
            n_rows=int(n_after),
            hint="Pass a later --observation-end",
        )
    weeks = _complete(first, end, "week")
    months = _complete(first, end, "month")
    return Window(first, end, int(n_after), weeks, months)


def _complete(first: dt.date, last: dt.date, period: CohortPeriod) -> tuple[int, int]:
    """Indices of the first and last period lying fully inside [first, last]."""
    lo = day_index(first, period)
    if period_start(lo, period)[0].date() < first:
        lo += 1
    hi = day_index(last, period)
    if period_start(hi + 1, period)[0].date() - dt.timedelta(days=1) > last:
        hi -= 1
    return lo, hi


def _daily(con: Any, window: Window) -> pd.DataFrame:
    days = pd.DataFrame(
        {"date": pd.date_range(window.first_day, window.last_day, freq="D").as_unit("ns")}
    )
    return _activity(con, days, "date", "day", "dau")


def _periods(con: Any, window: Window, period: CohortPeriod) -> pd.DataFrame:
    name = "wau" if period == "week" else "mau"
    lo, hi = window.complete(period)
    index = np.arange(day_index(window.first_day, period), day_index(window.last_day, period) + 1)
    periods = pd.DataFrame({"p": index, "period_start": period_start(index, period)})
    frame = _activity(con, periods, "p", period_index_sql("day", period), name)
    frame["complete"] = (index >= lo) & (index <= hi)
    return frame.drop(columns="p")


def _activity(con: Any, keys: pd.DataFrame, key: str, key_sql: str, name: str) -> pd.DataFrame:
    """Users, sessions and median length per key (a day or period), each its own query.

    One aggregate a query keeps DuckDB within its memory limit on 10M sessions; the small
    results are put side by side here.
    """
    users = con.execute(
        f"""SELECT k AS "{key}", count(*) AS {name}, sum(n) AS sessions
        FROM (SELECT {key_sql} AS k, uid, count(*) AS n FROM kept GROUP BY k, uid) GROUP BY k"""
    ).df()
    lengths = con.execute(
        f"""SELECT {key_sql} AS "{key}",
            quantile_cont(length_ns, 0.5) / {_NS_PER_SECOND} AS session_seconds_median
        FROM kept WHERE length_ns IS NOT NULL GROUP BY ALL"""
    ).df()
    for part in (users, lengths):
        part[key] = part[key].astype(keys[key].dtype)
    frame = keys.merge(users, on=key, how="left").merge(lengths, on=key, how="left")
    frame[name] = frame[name].fillna(0).astype("int64")
    frame["sessions"] = frame["sessions"].fillna(0).astype("int64")
    frame["sessions_per_user"] = frame["sessions"] / frame[name].where(frame[name] > 0)
    columns = [*keys.columns, name, "sessions", "sessions_per_user", "session_seconds_median"]
    return frame[columns]


def _summary(con: Any, window: Window, by: str | None) -> pd.DataFrame:
    """The summary per value of ``by`` (a column of ``kept``), or one row."""
    group = "NULL" if by is None else f'"{by}"'
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE ud AS
        SELECT {group} AS g, day, uid, count(*) AS n FROM kept GROUP BY ALL"""
    )
    parts = [
        con.execute("SELECT g, count(*) AS user_days, sum(n) AS sessions FROM ud GROUP BY g").df(),
        con.execute(
            "SELECT g, count(*) AS users FROM (SELECT DISTINCT g, uid FROM ud) GROUP BY g"
        ).df(),
    ]
    for period, name in (("week", "wau"), ("month", "mau")):
        lo, hi = window.complete(period)
        parts.append(
            con.execute(
                f"""SELECT g, count(*) / {max(hi - lo + 1, 1)} AS {name} FROM (
                    SELECT DISTINCT g, {period_index_sql("day", period)} AS p, uid FROM ud)
                WHERE p BETWEEN {lo} AND {hi} GROUP BY g"""
            ).df()
        )
    parts.append(
        con.execute(
            f"""SELECT {group} AS g,
                quantile_cont(length_ns, 0.5) / {_NS_PER_SECOND} AS session_seconds_median
            FROM kept WHERE length_ns IS NOT NULL GROUP BY ALL"""
        ).df()
    )
    parts.append(
        con.execute(
            f"""SELECT g, s AS session_seconds_mode FROM (
                SELECT g, s, row_number() OVER (PARTITION BY g ORDER BY n DESC, s) AS r
                FROM (SELECT {group} AS g, length_ns // {_NS_PER_SECOND} AS s, count(*) AS n
                    FROM kept WHERE length_ns IS NOT NULL GROUP BY ALL)) WHERE r = 1"""
        ).df()
    )
    con.execute("DROP TABLE ud")
    frame = parts[0]
    for part in parts[1:]:
        frame = frame.merge(part, on="g", how="left")
    frame = frame.sort_values(["sessions", "g"], ascending=[False, True], ignore_index=True)
    frame["dau"] = frame["user_days"] / window.n_days
    for name, (lo, hi) in (("wau", window.weeks), ("mau", window.months)):
        # no complete period: no mean; a value without visits in them: 0
        frame[name] = float("nan") if hi < lo else frame[name].fillna(0.0)
        frame[f"sticky_{name}"] = frame["dau"] / frame[name].where(frame[name] > 0)
    frame["sessions_per_user_per_day"] = frame["sessions"] / frame["user_days"]
    frame["session_seconds_mode"] = frame["session_seconds_mode"].astype("Int64")
    frame = frame.astype({"users": "int64", "sessions": "int64"})
    frame = frame[["g", *SUMMARY_COLUMNS]]
    if by is None:
        return frame.drop(columns="g")
    return frame.rename(columns={"g": by})


def _retention(con: Any, window: Window) -> pd.DataFrame:
    month = period_index_sql("day", "month")
    last = day_index(window.last_day, "month")
    complete_hi = window.months[1]
    frame = con.execute(
        f"""WITH cohorts AS (
            SELECT uid, {period_index_sql("min(day)", "month")} AS cohort FROM kept GROUP BY uid),
        active AS (SELECT DISTINCT uid, {month} AS p FROM kept),
        counts AS (
            SELECT c.cohort, a.p - c.cohort AS age, count(*) AS active_users
            FROM active a JOIN cohorts c USING (uid) GROUP BY ALL),
        sizes AS (SELECT cohort, count(*) AS cohort_size FROM cohorts GROUP BY cohort),
        grid AS (
            SELECT cohort, cohort_size, unnest(range(0, {last} - cohort + 1)) AS age FROM sizes)
        SELECT {start_sql("g.cohort", "month")} AS cohort, g.age, g.cohort_size,
            coalesce(c.active_users, 0) AS active_users,
            coalesce(c.active_users, 0) / g.cohort_size AS retention,
            g.cohort + g.age <= {complete_hi} AS complete
        FROM grid g LEFT JOIN counts c ON c.cohort = g.cohort AND c.age = g.age
        ORDER BY g.cohort, g.age"""
    ).df()
    frame = _typed(frame, "cohort", ("age", "cohort_size", "active_users"))
    frame["complete"] = frame["complete"].astype(bool)
    return frame


def session_length_histogram(
    visits: pd.DataFrame, *, observation_end: DateLike = None, bins: int = 60
) -> pd.DataFrame:
    """Sessions per length bin: ``seconds_from``, ``seconds_to`` (whole seconds), ``sessions``.

    ``bins`` equal bins of a whole number of seconds cover the lengths up to their 99th
    percentile; the last bin also holds the longer sessions. Sessions without a length are
    not counted.
    """
    with _sessions(visits, observation_end) as (con, _):
        return _length_histogram(con, bins)


def _length_histogram(con: Any, bins: int = 60) -> pd.DataFrame:
    top = con.execute(
        f"SELECT quantile_disc(length_ns, 0.99) // {_NS_PER_SECOND} FROM kept"
    ).fetchone()[0]
    width = max(1, -(-(int(top or 0) + 1) // bins))
    frame = con.execute(
        f"""WITH b AS (
            SELECT least(length_ns // {_NS_PER_SECOND * width}, {bins - 1}) AS bin,
                count(*) AS sessions
            FROM kept WHERE length_ns IS NOT NULL GROUP BY bin)
        SELECT range * {width} AS seconds_from, (range + 1) * {width} AS seconds_to,
            coalesce(sessions, 0) AS sessions
        FROM range({bins}) LEFT JOIN b ON b.bin = range ORDER BY range"""
    ).df()
    return frame.astype("int64")


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
