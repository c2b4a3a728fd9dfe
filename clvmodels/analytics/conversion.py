"""Conversion from the first visit to the first order: who buys, how soon, by source and device.

Inputs are validated visits (``uid, device, start_ts, end_ts, source_id``) and validated
orders (``customer_id, timestamp, revenue``): views on one DuckDB connection
(:func:`clvmodels.data.visits_sql.register_visits`,
:func:`clvmodels.data.contract.register_orders_source`), which :func:`conversion_sql` reads,
or DataFrames (:func:`clvmodels.data.marketing.read_visits`,
:func:`clvmodels.data.io.read_orders`), which :func:`conversion_tables` registers. All
aggregation runs in DuckDB SQL; only the result tables come back.

Definitions
-----------
* **Ids.** A visit's ``uid`` and an order's ``customer_id`` are the same id, compared exactly
  as written. When both are integers (or both text) they are compared as they are; when one
  side is integer and the other text, both are compared as text, the integer in its decimal
  digits: ``7`` matches ``"7"`` but never ``"007"`` (nothing is stripped or parsed).
* **Observation end.** A day (default: the later of the last visit's day and the last
  order's day, so that nothing is left out; never the machine's clock). Visits starting and
  orders placed after that day are counted (``data_problems``, ``after_observation_end``)
  and left out of everything.
* **First visit** of a user: their earliest session start; its ``source_id`` and ``device``
  are the user's (ties on the start time go to the smallest source id, then device; a
  missing source or device is kept as missing).
  **First order**: the customer's earliest order.
* **Buyer ordering before the first visit**: a user with visits whose first order is
  earlier (by timestamp) than the first visit. They are counted apart
  (``buyers_ordering_before_first_visit``) and left out of everything else: they are neither
  visitors nor buyers, and are in no rate, share or median (their conversion cannot be
  observed: they were customers before the visits start).
* **Visitors**: users with a visit, other than those ordering before their first visit.
* **Buyers**: visitors with an order (on or after their first visit). **Buyers without a
  visit**: customers with orders and no visit; counted (``buyers_without_visit``, and their
  orders in ``data_problems``), left out of the rates.
* **conversion_day** = calendar days from the first visit's day to the first order's day
  (days are the calendar dates of the times as written; 0 = the same day).
* **conversion_rate** = buyers / visitors; **share_day_k** = share of buyers with
  ``conversion_day <= k`` (k = 0, 1, 7, 30); **median_conversion_day** = the median of the
  buyers' conversion days (the mean of the two middle values for an even count).
* **Cohort** = the calendar month of the first visit (its first day);
  :mod:`clvmodels.summaries.calendar` numbers the months.
* **orders_by_cohort**: for each cohort and **month age** (the order's calendar month minus
  the cohort month: 0 = the month of the first visit), up to the observation end's month:
  ``cohort_buyers`` (the cohort's buyers), ``ordering_buyers`` (distinct buyers ordering in
  that month), ``orders``, ``revenue``, ``orders_per_buyer`` = orders / cohort_buyers and
  ``average_order_value`` = revenue / orders (missing without orders or revenue). Only the
  buyers' orders count.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from clvmodels.data.columns import id_match_sql
from clvmodels.data.io import duckdb_connection
from clvmodels.summaries.calendar import (
    CohortPeriod,
    period_index_sql,
    period_start,
    period_start_sql,
)

#: The k of ``share_day_k`` in the summary.
SHARE_DAYS = (0, 1, 7, 30)

BUYERS_COLUMNS = (
    "uid",
    "first_visit",
    "first_order",
    "conversion_day",
    "source_id",
    "device",
)
GROUP_COLUMNS = ("visitors", "buyers", "conversion_rate", "median_conversion_day")
ORDERS_BY_COHORT_COLUMNS = (
    "cohort",
    "age_months",
    "cohort_buyers",
    "ordering_buyers",
    "orders",
    "revenue",
    "orders_per_buyer",
    "average_order_value",
)


@dataclass
class ConversionResult:
    """The tables of :func:`conversion_tables` (columns in the module docstring)."""

    buyers: pd.DataFrame
    by_source: pd.DataFrame
    by_device: pd.DataFrame
    by_cohort: pd.DataFrame
    orders_by_cohort: pd.DataFrame
    summary: dict[str, Any] = field(default_factory=dict)


# The views and tables the queries read (made by :func:`conversion_sql` on the connection).
_VISITS, _ORDERS = "clv_conv_visits", "clv_conv_orders"
_STARTS, _USERS = "clv_conv_starts", "clv_conv_users"

# Each user's first and last start: the one aggregation over every visit (no text in it).
_STARTS_SQL = f"""
CREATE OR REPLACE TEMP TABLE {_STARTS} AS
SELECT key, min(start_ts) AS first_visit, max(start_ts) AS last_visit
FROM {_VISITS} {{where}} GROUP BY key
"""

_USERS_SQL = f"""
CREATE OR REPLACE TEMP TABLE {_USERS} AS
WITH first_visits AS MATERIALIZED (
    -- the visits at each user's first start (a few users have several)
    SELECT v.key, v.uid, v.start_ts, v.source_id, v.device
    FROM {_VISITS} v SEMI JOIN {_STARTS} s ON v.key = s.key AND v.start_ts = s.first_visit
),
firsts AS (
    -- of several, the smallest source id, then device (a missing one is kept as missing)
    SELECT key, uid, start_ts AS first_visit, source_id, device FROM first_visits
    QUALIFY row_number() OVER (
        PARTITION BY key
        ORDER BY coalesce(source_id, ''), coalesce(device, ''), source_id NULLS FIRST,
                 device NULLS FIRST
    ) = 1
),
first_orders AS (
    SELECT key, min(ts) AS first_order FROM {_ORDERS} WHERE CAST(ts AS DATE) <= $end GROUP BY key
)
SELECT f.key, f.uid, f.first_visit, f.source_id, f.device, fo.first_order,
       CASE WHEN fo.first_order IS NULL THEN 'visitor'
            WHEN fo.first_order < f.first_visit THEN 'before'
            ELSE 'buyer' END AS status,
       CASE WHEN fo.first_order >= f.first_visit
            THEN date_diff('day', CAST(f.first_visit AS DATE), CAST(fo.first_order AS DATE))
       END AS conversion_day,
       {{cohort}} AS cohort_index
FROM firsts f LEFT JOIN first_orders fo USING (key)
"""

#: The buyers table (:attr:`ConversionResult.buyers`), on the connection
#: :func:`conversion_sql` ran on: a job may write it straight from DuckDB.
BUYERS_QUERY = (
    f"SELECT {', '.join(BUYERS_COLUMNS)} FROM {_USERS} WHERE status = 'buyer' "
    "ORDER BY first_visit, key"
)

_GROUP_SQL = f"""
SELECT {{by}}, count(*) AS visitors, count(conversion_day) AS buyers,
       count(conversion_day) / count(*) AS conversion_rate,
       median(conversion_day) AS median_conversion_day
FROM {_USERS} WHERE status <> 'before' GROUP BY {{by}} ORDER BY {{by}} NULLS LAST
"""

_SUMMARY_SQL = f"""
SELECT count(*) FILTER (status <> 'before') AS visitors,
       count(conversion_day) AS buyers,
       count(*) FILTER (status = 'before') AS buyers_ordering_before_first_visit,
       median(conversion_day) AS median_conversion_day,
       {{shares}}
FROM {_USERS}
"""

_PROBLEMS_SQL = f"""
SELECT {{visits_after}} AS visits_after,
       (SELECT count(*) FROM {_ORDERS} WHERE CAST(ts AS DATE) > $end) AS orders_after,
       count(*) AS orders_never_seen, count(DISTINCT key) AS buyers_without_visit
FROM {_ORDERS} ANTI JOIN {_USERS} USING (key) WHERE CAST(ts AS DATE) <= $end
"""

_ORDERS_BY_COHORT_SQL = f"""
WITH cohorts AS (
    SELECT cohort_index, count(*) AS cohort_buyers FROM {_USERS}
    WHERE status = 'buyer' GROUP BY cohort_index
),
grid AS (
    SELECT cohort_index, cohort_buyers, unnest(range(0, $end_index - cohort_index + 1))
           AS age_months
    FROM cohorts
),
cells AS (
    SELECT u.cohort_index, {{order_month}} - u.cohort_index AS age_months,
           count(DISTINCT o.key) AS ordering_buyers, count(*) AS orders,
           sum(o.revenue) AS revenue
    FROM {_ORDERS} o JOIN {_USERS} u ON o.key = u.key
    WHERE u.status = 'buyer' AND CAST(o.ts AS DATE) <= $end
    GROUP BY ALL
)
SELECT {{cohort_start}} AS cohort, g.age_months, g.cohort_buyers,
       coalesce(c.ordering_buyers, 0) AS ordering_buyers, coalesce(c.orders, 0) AS orders,
       CASE WHEN $has_revenue THEN coalesce(c.revenue, 0) END AS revenue,
       coalesce(c.orders, 0) / g.cohort_buyers AS orders_per_buyer,
       CASE WHEN $has_revenue THEN c.revenue / c.orders END AS average_order_value
FROM grid g LEFT JOIN cells c USING (cohort_index, age_months)
ORDER BY g.cohort_index, g.age_months
"""


def _sql_type(ids: pd.Series) -> str:
    """The DuckDB type a frame's id column is compared as: BIGINT when numeric, else VARCHAR."""
    return "BIGINT" if pd.api.types.is_numeric_dtype(ids.dtype) else "VARCHAR"


def conversion_tables(
    visits: pd.DataFrame,
    orders: pd.DataFrame,
    *,
    observation_end: dt.date | str | pd.Timestamp | None = None,
) -> ConversionResult:
    """Buyers, conversion by source, device and cohort, orders by cohort, and the summary.

    The frames are registered on a new DuckDB connection and :func:`conversion_sql` runs on
    them.

    Parameters
    ----------
    visits : pandas.DataFrame
        Validated visits (``uid, device, start_ts, end_ts, source_id``); the problems
        :func:`~clvmodels.data.marketing.read_visits` counted (``attrs["visit_problems"]``)
        are passed on into the summary's ``data_problems``.
    orders : pandas.DataFrame
        Validated orders (``customer_id, timestamp`` and, optionally, ``revenue``).
    observation_end : date, optional
        The last day used (see the module docstring for the default).

    Returns
    -------
    ConversionResult
        See :func:`conversion_sql`.
    """
    uid_type, customer_type = _sql_type(visits["uid"]), _sql_type(orders["customer_id"])

    def ids(column: pd.Series, sql_type: str) -> Any:
        return column.to_numpy(dtype="int64") if sql_type == "BIGINT" else column.astype(str).array

    visit_frame = pd.DataFrame(
        {
            "uid": ids(visits["uid"], uid_type),
            "device": visits["device"].array,
            "source_id": visits["source_id"].array,
            "start_ts": visits["start_ts"].to_numpy(),
        }
    )
    order_frame = pd.DataFrame(
        {
            "customer_id": ids(orders["customer_id"], customer_type),
            "timestamp": orders["timestamp"].to_numpy(),
        }
    )
    if "revenue" in orders.columns:
        order_frame["revenue"] = orders["revenue"].to_numpy(dtype="float64")
    with duckdb_connection() as con:
        con.register("clv_conv_visit_frame", visit_frame)
        con.register("clv_conv_order_frame", order_frame)
        result = conversion_sql(
            con,
            visits="clv_conv_visit_frame",
            orders="clv_conv_order_frame",
            uid_type=uid_type,
            customer_type=customer_type,
            observation_end=observation_end,
            visit_problems=visits.attrs.get("visit_problems"),
        )
    result.buyers["uid"] = result.buyers["uid"].astype(visits["uid"].dtype)
    return result


def conversion_sql(
    con: Any,
    *,
    visits: str,
    orders: str,
    uid_type: str,
    customer_type: str,
    observation_end: dt.date | str | pd.Timestamp | None = None,
    visit_problems: Mapping[str, Any] | None = None,
) -> ConversionResult:
    """Buyers, conversion by source, device and cohort, orders by cohort, and the summary.

    Everything runs in SQL on ``con``; only the result tables come back.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        A connection (:func:`clvmodels.data.io.duckdb_connection`) holding both views.
    visits : str
        The validated visits' view (``uid, device, source_id, start_ts``), for instance
        :data:`clvmodels.data.visits_sql.VISITS_VIEW`.
    orders : str
        The validated orders' view (``customer_id, timestamp`` and, optionally,
        ``revenue``), for instance :data:`clvmodels.data.contract.ORDERS_VIEW`.
    uid_type, customer_type : str
        The DuckDB types of ``uid`` and ``customer_id`` (``"BIGINT"`` or ``"VARCHAR"``):
        they decide how the ids are compared
        (:func:`clvmodels.data.columns.id_match_sql`).
    observation_end : date, optional
        The last day used (see the module docstring for the default).
    visit_problems : mapping, optional
        The problems counted when the visits were read; passed on into the summary's
        ``data_problems["visits"]``.

    Returns
    -------
    ConversionResult
        ``buyers`` (uid, first_visit, first_order, conversion_day, source_id, device; one row
        a buyer), ``by_source``, ``by_device``, ``by_cohort`` (the key, then visitors, buyers,
        conversion_rate, median_conversion_day), ``orders_by_cohort`` and ``summary``: the
        definitions are in the module docstring.
    """
    columns = {row[0] for row in con.execute(f"DESCRIBE {orders}").fetchall()}
    has_revenue = "revenue" in columns
    visit_key, order_key = id_match_sql("uid", uid_type, "customer_id", customer_type)
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW {_VISITS} AS "
        f"SELECT {visit_key} AS key, uid, device, source_id, start_ts FROM {visits}"
    )
    revenue = "revenue" if has_revenue else "CAST(NULL AS DOUBLE)"
    con.execute(  # the orders are small: read (and checked) once
        f"CREATE OR REPLACE TEMP TABLE {_ORDERS} AS "
        f'SELECT {order_key} AS key, "timestamp" AS ts, {revenue} AS revenue FROM {orders}'
    )
    if observation_end is None:
        con.execute(_STARTS_SQL.format(where=""))
        end = _default_end(con)
        visits_after = "0"  # none: the end is at least the last visit's day
    else:
        end = pd.Timestamp(observation_end).date()
        con.execute(_STARTS_SQL.format(where="WHERE CAST(start_ts AS DATE) <= $end"), {"end": end})
        visits_after = f"(SELECT count(*) FROM {_VISITS} WHERE CAST(start_ts AS DATE) > $end)"
    month: CohortPeriod = "month"
    params = {"end": end}
    con.execute(
        _USERS_SQL.format(cohort=period_index_sql("CAST(f.first_visit AS DATE)", month)), params
    )
    buyers = con.execute(BUYERS_QUERY).df()
    groups = {
        by: con.execute(_GROUP_SQL.format(by=by)).df()
        for by in ("source_id", "device", "cohort_index")
    }
    shares = ", ".join(
        f"count(*) FILTER (conversion_day <= {k}) / count(conversion_day) AS share_day_{k}"
        for k in SHARE_DAYS
    )
    head = con.execute(_SUMMARY_SQL.format(shares=shares)).df().iloc[0]
    problems = con.execute(_PROBLEMS_SQL.format(visits_after=visits_after), params).df().iloc[0]
    end_index = int(con.execute(f"SELECT {period_index_sql('$end', month)}", params).fetchone()[0])
    orders_by_cohort = con.execute(
        _ORDERS_BY_COHORT_SQL.format(
            order_month=period_index_sql("CAST(o.ts AS DATE)", month),
            cohort_start=period_start_sql("g.cohort_index", month),
        ),
        {"end": end, "end_index": end_index, "has_revenue": has_revenue},
    ).df()
    by_cohort = groups["cohort_index"]
    by_cohort.insert(0, "cohort", period_start(by_cohort.pop("cohort_index"), month).date)
    orders_by_cohort["cohort"] = pd.to_datetime(orders_by_cohort["cohort"]).dt.date
    return ConversionResult(
        buyers=_typed_buyers(buyers),
        by_source=groups["source_id"],
        by_device=groups["device"],
        by_cohort=by_cohort,
        orders_by_cohort=orders_by_cohort,
        summary=_summary(head, problems, visit_problems or {}, end),
    )


def _default_end(con: Any) -> dt.date:
    """The later of the last visit's day and the last order's day."""
    row = con.execute(
        f"SELECT CAST(greatest((SELECT max(last_visit) FROM {_STARTS}), "
        f"(SELECT max(ts) FROM {_ORDERS})) AS DATE)"
    ).fetchone()
    return row[0]


def _typed_buyers(buyers: pd.DataFrame) -> pd.DataFrame:
    buyers["conversion_day"] = buyers["conversion_day"].astype("int64")
    for column in ("first_visit", "first_order"):
        buyers[column] = pd.to_datetime(buyers[column]).astype("datetime64[ns]")
    return buyers


def _number(value: Any) -> float | None:
    return None if pd.isna(value) else float(value)


def _summary(
    head: pd.Series, problems: pd.Series, counted: Mapping[str, Any], end: dt.date
) -> dict[str, Any]:
    visitors, buyers = int(head["visitors"]), int(head["buyers"])
    visit_problems = dict(counted)
    visit_problems["after_observation_end"] = int(problems["visits_after"])
    return {
        "observation_end": end.isoformat(),
        "visitors": visitors,
        "buyers": buyers,
        "buyers_without_visit": int(problems["buyers_without_visit"]),
        "buyers_ordering_before_first_visit": int(head["buyers_ordering_before_first_visit"]),
        "conversion_rate": buyers / visitors if visitors else None,
        **{f"share_day_{k}": _number(head[f"share_day_{k}"]) for k in SHARE_DAYS},
        "median_conversion_day": _number(head["median_conversion_day"]),
        "data_problems": {
            "visits": visit_problems,
            "orders": {
                "after_observation_end": int(problems["orders_after"]),
                "by_users_never_seen": int(problems["orders_never_seen"]),
            },
        },
    }
