"""The SQL passes of ``clv engagement`` over a compact copy of the window's sessions.

:func:`build_sessions` copies the window's sessions of a visits view into the temporary table
:data:`SESSIONS` (uid, a packed day/week/month ``key``, device and source as enums, length);
:func:`distinct_marks` makes one window pass over it per grouping (a user; a user and device;
a user and source) and marks each session that is its user's first of a day, week, month or
at all, so that every distinct count is a sum of marks; the other functions compute session
lengths' medians, modes and histogram. :mod:`clvmodels.analytics.engagement` puts the results
together; its docstring has the definitions.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pandas as pd

from clvmodels.errors import DataError
from clvmodels.summaries.calendar import CohortPeriod, day_index, period_index_sql, period_start
from clvmodels.summaries.period import DateLike, to_day

NS_PER_DAY = 86_400 * 10**9
NS_PER_SECOND = 10**9
SESSIONS = "clv_engagement_sessions"
LENGTHS = "clv_engagement_lengths"
MARKS = "clv_engagement_marks"


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


def day_sql(column: str) -> str:
    """The calendar date of a timestamp, exact to the nanosecond (a cast would round)."""
    d = NS_PER_DAY
    e = f"epoch_ns({column})"
    return f"(DATE '1970-01-01' + CAST(({e} - (({e} % {d}) + {d}) % {d}) // {d} AS INTEGER))"


@dataclass(frozen=True)
class Seen:
    """What one pass over the visits found: rows, the last start (ns), devices and sources.

    :func:`clvmodels.data.visits_sql.register_visits` finds it while it checks the visits
    (:attr:`~clvmodels.data.visits_sql.VisitsInfo.seen`); :func:`seen_in` makes that pass for
    a view that did not come from there.
    """

    n_rows: int
    last_start_ns: int
    values: dict[str, list]


def seen_in(con: Any, view: str) -> Seen:
    """:class:`Seen` of a visits view, in one pass."""
    values = ", ".join(
        f"list(DISTINCT {c}) FILTER (WHERE {c} IS NOT NULL)" for c in ("device", "source_id")
    )
    row = con.execute(f"SELECT count(*), max(epoch_ns(start_ts)), {values} FROM {view}").fetchone()
    n_rows, last, devices, sources = row
    return Seen(int(n_rows), int(last), {"device": devices or [], "source_id": sources or []})


def last_day(seen: Seen, observation_end: DateLike) -> dt.date:
    """The observation end: the given day, or the last start's calendar day."""
    end = to_day(observation_end)
    if end is not None:
        return end
    return dt.date(1970, 1, 1) + dt.timedelta(days=seen.last_start_ns // NS_PER_DAY)


def observation_window(con: Any, seen: Seen, end: dt.date) -> Window:
    """The window of the compact table's sessions (made up to ``end``), and those after it."""
    n_kept, first_key = con.execute(f"SELECT count(*), min(key) FROM {SESSIONS}").fetchone()
    n_after = seen.n_rows - int(n_kept)
    if first_key is None:
        raise DataError(
            f"no session starts on or before the observation end {end}",
            column="start_ts",
            n_rows=n_after,
            hint="Pass a later --observation-end",
        )
    first = dt.date(1970, 1, 1) + dt.timedelta(days=(int(first_key) & MASK) - OFFSET)
    weeks = complete_periods(first, end, "week")
    months = complete_periods(first, end, "month")
    return Window(first, end, n_after, weeks, months)


def complete_periods(first: dt.date, last: dt.date, period: CohortPeriod) -> tuple[int, int]:
    """Indices of the first and last period lying fully inside [first, last]."""
    lo = day_index(first, period)
    if period_start(lo, period)[0].date() < first:
        lo += 1
    hi = day_index(last, period)
    if period_start(hi + 1, period)[0].date() - dt.timedelta(days=1) > last:
        hi -= 1
    return lo, hi


def build_sessions(con: Any, view: str, end: dt.date, values: dict[str, list]) -> None:
    """The window's sessions in a compact table.

    The sessions starting on or before ``end``; columns: uid, the packed day and month
    (``key``), device and source as enums (of the ``values`` seen), length.
    """
    enums = {}
    for column, seen in values.items():
        enums[column] = f"clv_engagement_{column}"
        con.execute(f"DROP TYPE IF EXISTS {enums[column]}")
        literals = ", ".join("'" + str(v).replace("'", "''") + "'" for v in sorted(seen))
        con.execute(f"CREATE TEMP TYPE {enums[column]} AS ENUM ({literals})")
    day = day_sql("start_ts")
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {SESSIONS} AS
        SELECT uid,
            (CAST({period_index_sql("day", "month")} AS BIGINT) << {2 * BITS})
            | (CAST({period_index_sql("day", "week")} + {OFFSET} AS BIGINT) << {BITS})
            | CAST(day - DATE '1970-01-01' + {OFFSET} AS BIGINT) AS key,
            CAST(device AS {enums["device"]}) AS device,
            CAST(source_id AS {enums["source_id"]}) AS source_id, length_ns
        FROM (SELECT *, {day} AS day,
                CASE WHEN end_ts >= start_ts THEN epoch_ns(end_ts) - epoch_ns(start_ts) END
                    AS length_ns
            FROM {view})
        WHERE day <= DATE '{end.isoformat()}'"""
    )


#: A session's ``key`` in the compact table packs its month index, week index and day number
#: (days since 1970-01-01), each in its own bits: ``month << 40 | week + 2^19 << 20 | day +
#: 2^19``. Keys sort as the days do, and a change of day, week or month is a change of bits.
BITS = 20
OFFSET = 1 << (BITS - 1)
MASK = (1 << BITS) - 1


def unpacked(key: str) -> tuple[str, str, str]:
    """SQL of the day number, week index and month index of a packed ``key``."""
    day = f"((({key}) & {MASK}) - {OFFSET})"
    week = f"(((({key}) >> {BITS}) & {MASK}) - {OFFSET})"
    return day, week, f"(({key}) >> {2 * BITS})"


def distinct_marks(con: Any, window: Window, by: str | None) -> pd.DataFrame:
    """Distinct users and sessions per (value of ``by``,) day, week, month and overall.

    One window pass over the sessions of each user (and value of ``by``) in time order:
    a session is its user's first of a day when the previous one is on another day, and
    so on for weeks, months and at all; the distinct counts are sums of these marks. With
    ``by`` None it also counts each first-visit month's users active in each month.
    """
    part = "uid" if by is None else f"uid, {by}"
    (wlo, whi), (mlo, mhi) = window.weeks, window.months
    day, week, month = unpacked("key")
    same_week = f"((before >> {BITS}) & {MASK}) = ((key >> {BITS}) & {MASK})"
    cohort = f"{unpacked('first')[2]}" if by is None else "NULL"
    marks = f"""
        SELECT {by or "NULL AS g0"}, {day} AS day_number, {week} AS week, {month} AS month,
            {cohort} AS cohort,
            (before IS NULL OR before <> key)::INTEGER AS new_day,
            (before IS NULL OR NOT {same_week})::INTEGER AS new_week,
            (before IS NULL OR before >> {2 * BITS} <> key >> {2 * BITS})::INTEGER AS new_month,
            (before IS NULL)::INTEGER AS new_user
        FROM (SELECT {by or "NULL AS g0"}, key, lag(key) OVER u AS before,
                {"first_value(key) OVER u" if by is None else "NULL"} AS first
            FROM {SESSIONS} WINDOW u AS (PARTITION BY {part} ORDER BY key))"""
    sums = """sum(new_day) AS user_days, sum(new_week) AS user_weeks,
        sum(new_month) AS user_months, sum(new_user) AS users"""
    totals = f"""sum(user_weeks) FILTER (WHERE week BETWEEN {wlo} AND {whi}) AS complete_weeks,
        sum(user_months) FILTER (WHERE month BETWEEN {mlo} AND {mhi}) AS complete_months"""
    if by is not None:
        return con.execute(
            f"""SELECT g, NULL AS day, NULL AS week, NULL AS month, NULL AS cohort,
                {GROUPING["all"]} AS grouping, sum(sessions) AS sessions,
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
        f"""CREATE OR REPLACE TEMP TABLE {MARKS} AS
        SELECT DATE '1970-01-01' + CAST(day_number AS INTEGER) AS day, week, month, cohort,
            count(*) AS sessions, {sums}
        FROM ({marks}) GROUP BY ALL"""
    )
    return con.execute(
        f"""SELECT NULL AS g, day, week, month, cohort,
            GROUPING(day, week, month, cohort) AS grouping, sum(sessions) AS sessions,
            sum(user_days) AS user_days, sum(user_weeks) AS user_weeks,
            sum(user_months) AS user_months, sum(users) AS users, {totals}
        FROM {MARKS}
        GROUP BY GROUPING SETS ((day), (week), (month), (), (cohort, month))"""
    ).df()


def median_lengths(con: Any, key: str, shown: str = "k") -> pd.DataFrame:
    """The median session length (seconds) per value of ``key`` (SQL), exact.

    ``shown`` is the SQL of the value written (of ``k``, the key), on the grouped rows.
    """
    return con.execute(
        f"""SELECT {shown} AS k, session_seconds_median FROM (
            SELECT {key} AS k,
                quantile_cont(length_ns, 0.5) / {NS_PER_SECOND} AS session_seconds_median
            FROM {SESSIONS} WHERE length_ns IS NOT NULL GROUP BY ALL)"""
    ).df()


#: GROUPING(day, week, month, cohort) of each grouping set of :func:`distinct_marks`.
GROUPING = {"day": 0b0111, "week": 0b1011, "month": 0b1101, "all": 0b1111, "cohort": 0b1100}


def build_lengths(con: Any) -> None:
    """Sessions per whole-second length, overall and per device and source (a small table)."""
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {LENGTHS} AS
        SELECT device, source_id, length_ns // {NS_PER_SECOND} AS s, count(*) AS n,
            GROUPING(device, source_id) AS grouping
        FROM {SESSIONS} WHERE length_ns IS NOT NULL
        GROUP BY GROUPING SETS ((s), (device, s), (source_id, s))"""
    )


def mode_lengths(con: Any, by: str | None) -> pd.DataFrame:
    """The most frequent whole-second length per value of ``by`` (ties to the smallest)."""
    grouping = {None: 3, "device": 1, "source_id": 2}[by]
    return con.execute(
        f"""SELECT k, s AS session_seconds_mode FROM (
            SELECT {by or "NULL"} AS k, s,
                row_number() OVER (PARTITION BY {by or "NULL"} ORDER BY n DESC, s) AS r
            FROM {LENGTHS} WHERE grouping = {grouping}) WHERE r = 1"""
    ).df()


def overall_lengths(con: Any) -> tuple[float | None, int | None]:
    """The median session length (seconds) and the 99th percentile's whole second."""
    return con.execute(
        f"""SELECT quantile_cont(length_ns, 0.5) / {NS_PER_SECOND},
            quantile_disc(length_ns, 0.99) // {NS_PER_SECOND} FROM {SESSIONS}"""
    ).fetchone()


def length_histogram(con: Any, bins: int = 60, top: int | None = None) -> pd.DataFrame:
    """Equal bins of whole seconds up to the 99th percentile; the last holds the rest.

    ``top`` is that percentile's whole second (computed when not given).
    """
    if top is None:
        top = overall_lengths(con)[1]
    width = max(1, -(-(int(top or 0) + 1) // bins))
    frame = con.execute(
        f"""WITH b AS (
            SELECT least(s // {width}, {bins - 1}) AS bin, sum(n) AS sessions
            FROM {LENGTHS} WHERE grouping = 3 GROUP BY bin)
        SELECT range * {width} AS seconds_from, (range + 1) * {width} AS seconds_to,
            coalesce(sessions, 0) AS sessions
        FROM range({bins}) LEFT JOIN b ON b.bin = range ORDER BY range"""
    ).df()
    return frame.astype("int64")
