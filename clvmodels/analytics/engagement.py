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

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from clvmodels.data.io import duckdb_connection
from clvmodels.errors import DataError
from clvmodels.summaries.calendar import (
    CohortPeriod,
    day_index,
    period_index_sql,
    period_start,
)
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
) -> Engagement:
    """:func:`engagement` over the visits view ``view`` of a DuckDB connection.

    ``view`` has the columns of :data:`clvmodels.data.visits_sql.VISITS_VIEW` (what
    :func:`clvmodels.data.visits_sql.register_visits` makes). The window's sessions are
    copied once into a compact temporary table (devices and sources as enums); three
    window passes (one a user, one a user and device, one a user and source) mark each
    session that is its user's first of a day, week, month and at all, so that every
    distinct count is a sum of marks grouped by a small key.
    """
    con.execute("SET preserve_insertion_order = false")  # every result is ORDERed
    window, values = _window(con, view, observation_end)
    _base(con, view, window, values)
    try:
        _lengths(con)
        activity = _flags(con, window, None)
        daily, weekly, monthly = (_periods(con, window, activity, p) for p in _PERIODS)
        median, top = _overall_lengths(con)
        summary = _summaries(con, window, activity, None, median)
        result = Engagement(
            daily=daily.rename(columns={"period_start": "date"}).drop(columns="complete"),
            weekly=weekly,
            monthly=monthly,
            summary={k: _plain(v) for k, v in summary.to_dict("records")[0].items()},
            by_device=_summaries(con, window, _flags(con, window, "device"), "device"),
            by_source=_summaries(con, window, _flags(con, window, "source_id"), "source_id"),
            retention=_retention(window, activity),
            session_lengths=_histogram(con, top=top),
            window=window,
            data_problems={**(visit_problems or {}), "after_observation_end": window.n_after},
        )
    finally:
        con.execute(f"DROP TABLE IF EXISTS {_BASE}")
        con.execute(f"DROP TABLE IF EXISTS {_LENGTHS}")
        con.execute(f"DROP TABLE IF EXISTS {_MARKS}")
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
        window, values = _window(con, _FRAME_VIEW, observation_end)
        _base(con, _FRAME_VIEW, window, values)
        _lengths(con)
        return _histogram(con, bins)


_FRAME_VIEW = "clv_engagement_visits"
_BASE = "clv_engagement_sessions"
_LENGTHS = "clv_engagement_lengths"
_MARKS = "clv_engagement_marks"
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


def _day_sql(column: str) -> str:
    """The calendar date of a timestamp, exact to the nanosecond (a cast would round)."""
    d = _NS_PER_DAY
    e = f"epoch_ns({column})"
    return f"(DATE '1970-01-01' + CAST(({e} - (({e} % {d}) + {d}) % {d}) // {d} AS INTEGER))"


def _window(con: Any, view: str, observation_end: DateLike) -> tuple[Window, dict[str, list]]:
    """The observation window, and the devices and sources seen (one pass over ``view``)."""
    end = to_day(observation_end)
    values = ", ".join(
        f"list(DISTINCT {c}) FILTER (WHERE {c} IS NOT NULL)" for c in ("device", "source_id")
    )
    row = con.execute(
        f"""SELECT min(day) FILTER (WHERE $end IS NULL OR day <= $end), max(day),
            count(*) FILTER (WHERE day > $end), {values}
        FROM (SELECT {_day_sql("start_ts")} AS day, device, source_id FROM {view})""",
        {"end": end},
    ).fetchone()
    first, last, n_after, devices, sources = row
    end = last if end is None else end
    if first is None:
        raise DataError(
            f"no session starts on or before the observation end {end}",
            column="start_ts",
            n_rows=int(n_after),
            hint="Pass a later --observation-end",
        )
    weeks = _complete(first, end, "week")
    months = _complete(first, end, "month")
    window = Window(first, end, int(n_after or 0), weeks, months)
    return window, {"device": devices or [], "source_id": sources or []}


def _complete(first: dt.date, last: dt.date, period: CohortPeriod) -> tuple[int, int]:
    """Indices of the first and last period lying fully inside [first, last]."""
    lo = day_index(first, period)
    if period_start(lo, period)[0].date() < first:
        lo += 1
    hi = day_index(last, period)
    if period_start(hi + 1, period)[0].date() - dt.timedelta(days=1) > last:
        hi -= 1
    return lo, hi


def _base(con: Any, view: str, window: Window, values: dict[str, list]) -> None:
    """The window's sessions in a compact table.

    Columns: uid, the packed day and month (``key``), device and source as enums (of the
    ``values`` seen), length.
    """
    enums = {}
    for column, seen in values.items():
        enums[column] = f"clv_engagement_{column}"
        con.execute(f"DROP TYPE IF EXISTS {enums[column]}")
        literals = ", ".join("'" + str(v).replace("'", "''") + "'" for v in sorted(seen))
        con.execute(f"CREATE TYPE {enums[column]} AS ENUM ({literals})")
    day = _day_sql("start_ts")
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {_BASE} AS
        SELECT uid,
            (CAST({period_index_sql("day", "month")} AS BIGINT) << {2 * _BITS})
            | (CAST({period_index_sql("day", "week")} + {_OFFSET} AS BIGINT) << {_BITS})
            | CAST(day - DATE '1970-01-01' + {_OFFSET} AS BIGINT) AS key,
            CAST(device AS {enums["device"]}) AS device,
            CAST(source_id AS {enums["source_id"]}) AS source_id, length_ns
        FROM (SELECT *, {day} AS day,
                CASE WHEN end_ts >= start_ts THEN epoch_ns(end_ts) - epoch_ns(start_ts) END
                    AS length_ns
            FROM {view})
        WHERE day <= DATE '{window.last_day.isoformat()}'"""
    )


#: A session's ``key`` in the compact table packs its month index, week index and day number
#: (days since 1970-01-01), each in its own bits: ``month << 40 | week + 2^19 << 20 | day +
#: 2^19``. Keys sort as the days do, and a change of day, week or month is a change of bits.
_BITS = 20
_OFFSET = 1 << (_BITS - 1)
_MASK = (1 << _BITS) - 1


def _unpacked(key: str) -> tuple[str, str, str]:
    """SQL of the day number, week index and month index of a packed ``key``."""
    day = f"((({key}) & {_MASK}) - {_OFFSET})"
    week = f"(((({key}) >> {_BITS}) & {_MASK}) - {_OFFSET})"
    return day, week, f"(({key}) >> {2 * _BITS})"


def _flags(con: Any, window: Window, by: str | None) -> pd.DataFrame:
    """Distinct users and sessions per (value of ``by``,) day, week, month and overall.

    One window pass over the sessions of each user (and value of ``by``) in time order:
    a session is its user's first of a day when the previous one is on another day, and
    so on for weeks, months and at all; the distinct counts are sums of these marks. With
    ``by`` None it also counts each first-visit month's users active in each month.
    """
    part = "uid" if by is None else f"uid, {by}"
    (wlo, whi), (mlo, mhi) = window.weeks, window.months
    day, week, month = _unpacked("key")
    same_week = f"((before >> {_BITS}) & {_MASK}) = ((key >> {_BITS}) & {_MASK})"
    cohort = f"{_unpacked('first')[2]}" if by is None else "NULL"
    marks = f"""
        SELECT {by or "NULL AS g0"}, {day} AS day_number, {week} AS week, {month} AS month,
            {cohort} AS cohort,
            (before IS NULL OR before <> key)::INTEGER AS new_day,
            (before IS NULL OR NOT {same_week})::INTEGER AS new_week,
            (before IS NULL OR before >> {2 * _BITS} <> key >> {2 * _BITS})::INTEGER AS new_month,
            (before IS NULL)::INTEGER AS new_user
        FROM (SELECT {by or "NULL AS g0"}, key, lag(key) OVER u AS before,
                {"first_value(key) OVER u" if by is None else "NULL"} AS first
            FROM {_BASE} WINDOW u AS (PARTITION BY {part} ORDER BY key))"""
    sums = """sum(new_day) AS user_days, sum(new_week) AS user_weeks,
        sum(new_month) AS user_months, sum(new_user) AS users"""
    totals = f"""sum(user_weeks) FILTER (WHERE week BETWEEN {wlo} AND {whi}) AS complete_weeks,
        sum(user_months) FILTER (WHERE month BETWEEN {mlo} AND {mhi}) AS complete_months"""
    if by is not None:
        return con.execute(
            f"""SELECT g, NULL AS day, NULL AS week, NULL AS month, NULL AS cohort,
                {_GROUPING["all"]} AS grouping, sum(sessions) AS sessions,
                sum(user_days) AS user_days, sum(user_weeks) AS user_weeks,
                sum(user_months) AS user_months, sum(users) AS users,
                sum(complete_weeks) AS complete_weeks, sum(complete_months) AS complete_months
            FROM (SELECT {by} AS g, count(*) AS sessions, {sums},
                sum(new_week) FILTER (WHERE week BETWEEN {wlo} AND {whi}) AS complete_weeks,
                sum(new_month) FILTER (WHERE month BETWEEN {mlo} AND {mhi}) AS complete_months
                FROM ({marks}) GROUP BY g)
            GROUP BY g"""
        ).df()
    # the marks summed per day and first-visit month (a small table), then per grouping
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {_MARKS} AS
        SELECT DATE '1970-01-01' + CAST(day_number AS INTEGER) AS day, week, month, cohort,
            count(*) AS sessions, {sums}
        FROM ({marks}) GROUP BY ALL"""
    )
    return con.execute(
        f"""SELECT NULL AS g, day, week, month, cohort,
            GROUPING(day, week, month, cohort) AS grouping, sum(sessions) AS sessions,
            sum(user_days) AS user_days, sum(user_weeks) AS user_weeks,
            sum(user_months) AS user_months, sum(users) AS users, {totals}
        FROM {_MARKS}
        GROUP BY GROUPING SETS ((day), (week), (month), (), (cohort, month))"""
    ).df()


def _medians(con: Any, key: str, shown: str = "k") -> pd.DataFrame:
    """The median session length (seconds) per value of ``key`` (SQL), exact.

    ``shown`` is the SQL of the value written (of ``k``, the key), on the grouped rows.
    """
    return con.execute(
        f"""SELECT {shown} AS k, session_seconds_median FROM (
            SELECT {key} AS k,
                quantile_cont(length_ns, 0.5) / {_NS_PER_SECOND} AS session_seconds_median
            FROM {_BASE} WHERE length_ns IS NOT NULL GROUP BY ALL)"""
    ).df()


def _periods(con: Any, window: Window, activity: pd.DataFrame, period: str) -> pd.DataFrame:
    """One row a day, week or month touching the window (days: every day of it)."""
    name = {"day": "dau", "week": "wau", "month": "mau"}[period]
    counted = {"day": "user_days", "week": "user_weeks", "month": "user_months"}[period]
    rows = activity[activity[period].notna() & activity["grouping"].eq(_GROUPING[period])]
    if period == "day":
        index = pd.date_range(window.first_day, window.last_day, freq="D").as_unit("ns")
        keys = pd.DataFrame({"k": index, "period_start": index})
        rows = rows.assign(k=pd.to_datetime(rows["day"]).astype("datetime64[ns]"))
    else:
        lo_hi = (day_index(window.first_day, period), day_index(window.last_day, period) + 1)
        index = np.arange(*lo_hi)
        keys = pd.DataFrame({"k": index, "period_start": period_start(index, period)})
        rows = rows.assign(k=rows[period].astype("int64"))
    day = _unpacked("k")[0]
    # days: grouped by the key itself (a day has one key), shown as the date
    keys_sql = {"day": ("key", f"DATE '1970-01-01' + CAST({day} AS INTEGER)")}
    keys_sql.update(week=(_unpacked("key")[1], "k"), month=(_unpacked("key")[2], "k"))
    medians = _medians(con, *keys_sql[period])
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


#: GROUPING(day, week, month, cohort) of each grouping set of :func:`_flags`.
_GROUPING = {"day": 0b0111, "week": 0b1011, "month": 0b1101, "all": 0b1111, "cohort": 0b1100}


def _summaries(
    con: Any,
    window: Window,
    activity: pd.DataFrame,
    by: str | None,
    median: float | None = None,
) -> pd.DataFrame:
    """The summary (:data:`SUMMARY_COLUMNS`) per value of ``by``, or one row."""
    frame = activity[activity["grouping"].eq(_GROUPING["all"])].copy()
    medians = (
        _medians(con, by)
        if by
        else pd.DataFrame(
            {"k": [None], "session_seconds_median": [np.nan if median is None else median]}
        )
    )
    modes = _modes(con, by)
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
    """Monthly visitor retention by first-visit month, from the marks of :func:`_flags`."""
    cells = activity[activity["grouping"].eq(_GROUPING["cohort"])]
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


def _lengths(con: Any) -> None:
    """Sessions per whole-second length, overall and per device and source (a small table)."""
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {_LENGTHS} AS
        SELECT device, source_id, length_ns // {_NS_PER_SECOND} AS s, count(*) AS n,
            GROUPING(device, source_id) AS grouping
        FROM {_BASE} WHERE length_ns IS NOT NULL
        GROUP BY GROUPING SETS ((s), (device, s), (source_id, s))"""
    )


def _modes(con: Any, by: str | None) -> pd.DataFrame:
    """The most frequent whole-second length per value of ``by`` (ties to the smallest)."""
    grouping = {None: 3, "device": 1, "source_id": 2}[by]
    return con.execute(
        f"""SELECT k, s AS session_seconds_mode FROM (
            SELECT {by or "NULL"} AS k, s,
                row_number() OVER (PARTITION BY {by or "NULL"} ORDER BY n DESC, s) AS r
            FROM {_LENGTHS} WHERE grouping = {grouping}) WHERE r = 1"""
    ).df()


def _overall_lengths(con: Any) -> tuple[float | None, int | None]:
    """The median session length (seconds) and the 99th percentile's whole second."""
    return con.execute(
        f"""SELECT quantile_cont(length_ns, 0.5) / {_NS_PER_SECOND},
            quantile_disc(length_ns, 0.99) // {_NS_PER_SECOND} FROM {_BASE}"""
    ).fetchone()


def _histogram(con: Any, bins: int = 60, top: int | None = None) -> pd.DataFrame:
    """Equal bins of whole seconds up to the 99th percentile; the last holds the rest.

    ``top`` is that percentile's whole second (computed when not given).
    """
    if top is None:
        top = _overall_lengths(con)[1]
    width = max(1, -(-(int(top or 0) + 1) // bins))
    frame = con.execute(
        f"""WITH b AS (
            SELECT least(s // {width}, {bins - 1}) AS bin, sum(n) AS sessions
            FROM {_LENGTHS} WHERE grouping = 3 GROUP BY bin)
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
