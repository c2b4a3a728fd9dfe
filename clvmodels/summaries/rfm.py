"""Recency-frequency-monetary summaries of an orders table, aggregated in DuckDB SQL.

Definitions (docs/definitions.md; Fader, Hardie & Lee 2005, section 2):

* Purchases on the same calendar day are one purchase occasion, their revenue summed.
* ``frequency`` x: repeat occasions (occasions minus one) up to the calibration end.
* ``recency`` t_x: time from the first to the last occasion.
* ``T``: time from the first occasion to the calibration end (the end day is inclusive).
* ``monetary_value``: mean revenue of the repeat occasions (0 when x = 0).
* Holdout (with a calibration end): customers whose first occasion is on or before the
  calibration end; ``frequency_holdout`` counts their occasions in (calibration end,
  observation end], ``monetary_value_holdout`` is their mean revenue (0 when none), and
  ``duration_holdout`` is the holdout's length.

All times are in ``time_unit`` (D, W or M; see :mod:`clvmodels.units`).
"""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

import numpy as np
import pandas as pd

from clvmodels.data.contract import OrdersInfo, OrdersSource, exact_duplicates, warn_duplicates
from clvmodels.data.io import counted_fingerprint, duckdb_connection, register_orders
from clvmodels.data.rules import RULES
from clvmodels.errors import Label
from clvmodels.summaries.period import DateLike, resolve_period
from clvmodels.units import DAYS_PER_UNIT, check_time_unit

HOLDOUT_COLUMNS = ("frequency_holdout", "monetary_value_holdout", "duration_holdout")

_RFM_SQL = """
WITH occasions AS (
    SELECT customer_id, CAST("timestamp" AS DATE) AS day, {revenue} AS revenue,
           date_diff('day', lag(CAST("timestamp" AS DATE))
               OVER (PARTITION BY customer_id ORDER BY CAST("timestamp" AS DATE)),
               CAST("timestamp" AS DATE)) AS gap{day_rows}
    FROM clv_orders
    WHERE CAST("timestamp" AS DATE) <= $observation_end
    GROUP BY customer_id, day
),
calibration AS (
    SELECT customer_id,
           COUNT(*) - 1 AS frequency,
           MIN(day) AS first_day,
           MAX(day) AS last_day,
           SUM(revenue) - arg_min(revenue, day) AS repeat_revenue,
           COALESCE(SUM(ln(gap / $days_per_unit)), 0.0) AS litt,
           bool_or(isinf(revenue)) AS day_overflow{unsure}
    FROM occasions
    WHERE day <= $calibration_end
    GROUP BY customer_id
){holdout_cte}
SELECT c.customer_id,
       c.frequency,
       date_diff('day', c.first_day, c.last_day) / $days_per_unit AS recency,
       date_diff('day', c.first_day, $calibration_end) / $days_per_unit AS "T",
       c.litt{monetary}{holdout_columns},
       c.day_overflow{holdout_overflow} AS clv_overflow{unsure_column}
FROM calibration c{holdout_join}
ORDER BY c.customer_id
"""

# Exact duplicate rows share a customer and a day. A day of one row has none; a day of two
# rows whose hashes differ has none (equal rows hash equally); any other day may have some,
# and the exact count is taken over the rows of the customers with such a day only.
_DAY_ROWS = """, count(*) AS clv_n, bit_xor(hash("timestamp"{revenue})) AS clv_h"""
_UNSURE = """,
           bool_or(clv_n > 2 OR (clv_n = 2 AND clv_h = 0)) AS clv_unsure"""

_HOLDOUT_CTE = """,
holdout AS (
    SELECT customer_id, COUNT(*) AS n, AVG(revenue) AS mean_revenue,
           bool_or(isinf(revenue)) AS day_overflow
    FROM occasions
    WHERE day > $calibration_end
    GROUP BY customer_id
)"""
_HOLDOUT_COLUMNS = """,
       COALESCE(h.n, 0) AS frequency_holdout,{holdout_monetary}
       date_diff('day', $calibration_end, $observation_end) / $days_per_unit
           AS duration_holdout"""
_HOLDOUT_JOIN = "\nLEFT JOIN holdout h USING (customer_id)"
_MONETARY = """,
       CASE WHEN c.frequency > 0 THEN c.repeat_revenue / c.frequency ELSE 0.0 END
           AS monetary_value"""
_HOLDOUT_MONETARY = """
       COALESCE(h.mean_revenue, 0.0) AS monetary_value_holdout,"""


def rfm_summary(
    orders: pd.DataFrame | str | os.PathLike[str] | OrdersSource,
    *,
    time_unit: str = "W",
    observation_end: DateLike = None,
    calibration_end: DateLike = None,
    with_fingerprint: bool = False,
) -> pd.DataFrame:
    """Summarise an orders table into one RFM row per customer, in DuckDB SQL.

    Parameters
    ----------
    orders : pandas.DataFrame, path or OrdersSource
        Orders with the columns ``customer_id, timestamp, revenue`` (a DataFrame, which is
        not modified, or a file), or an :class:`~clvmodels.data.contract.OrdersSource` that says
        how to read any table. Every kind goes through the orders contract in DuckDB
        (``docs/orders.md``); a file is never loaded into pandas.
    time_unit : {"D", "W", "M"}
        Unit of ``recency``, ``T`` and ``duration_holdout``.
    observation_end : date, optional
        Orders after this day are not used. Defaults to the day of the last order.
    calibration_end : date, optional
        When given, the summary covers customers whose first occasion is on or before it and
        adds the holdout columns for (calibration end, observation end].
    with_fingerprint : bool
        Also record ``attrs["fingerprint"]`` and ``attrs["n_orders_used"]``: the SQL
        fingerprint (:func:`clvmodels.data.io.counted_fingerprint`) and count of the orders up to
        the calibration end, which a fitted model records.

    Returns
    -------
    pandas.DataFrame
        ``customer_id, frequency, recency, T, monetary_value`` and, with a calibration end,
        ``frequency_holdout, monetary_value_holdout, duration_holdout``; sorted by customer.
        Without revenue (``revenue_col=None``) the monetary columns are absent.
        ``attrs`` holds the time unit, the period's days, ``n_orders`` and ``revenue``
        (``"column"``, ``"none"`` or ``"value_per_order"``, then also ``value_per_order``).

    Raises
    ------
    DataError
        For orders that break the contract, and for revenue whose same-day (or per
        customer) sum overflows to infinity, naming the revenue column and the customers.
    """
    unit = check_time_unit(time_unit)
    with_holdout = calibration_end is not None
    with duckdb_connection() as con:
        info = register_orders(con, orders, defer_duplicates=True)
        has_revenue = info.revenue != "none"
        first, last = _span(con, info)
        period = resolve_period(
            first, last, observation_end=observation_end, calibration_end=calibration_end
        )
        params = {
            "observation_end": period.observation_end,
            "calibration_end": period.calibration_end,
            "days_per_unit": DAYS_PER_UNIT[unit],
        }
        # the RFM's own aggregate sees every order (so it can find the duplicates) when it
        # has no holdout and the observation end is not before the last order
        in_rfm = info.duplicates_deferred and not with_holdout and period.observation_end >= last
        if info.duplicates_deferred and not in_rfm:
            _warn_duplicates(exact_duplicates(con, "clv_orders"))
        rfm = con.execute(_rfm_sql(with_holdout, has_revenue, in_rfm), params).df()
        if in_rfm and rfm["clv_unsure"].any():
            con.register("clv_unsure_customers", rfm.loc[rfm["clv_unsure"], ["customer_id"]])
            _warn_duplicates(exact_duplicates(con, "clv_orders", "clv_unsure_customers"))
        extra: dict[str, Any] = {}
        if with_fingerprint:
            n_used, digest = counted_fingerprint(con, up_to=period.calibration_end)
            extra["n_orders_used"] = n_used
            extra["fingerprint"] = digest
    if has_revenue:
        _check_overflow(rfm, info.revenue_col or "revenue")
    rfm = rfm.drop(columns=[c for c in ("clv_overflow", "clv_unsure") if c in rfm.columns])
    rfm["frequency"] = rfm["frequency"].astype("int64")
    if with_holdout:
        rfm["frequency_holdout"] = rfm["frequency_holdout"].astype("int64")
    rfm.attrs = {
        "time_unit": unit,
        "first_order": period.first_order.isoformat(),
        "calibration_end": period.calibration_end.isoformat(),
        "observation_end": period.observation_end.isoformat(),
        "n_orders": info.n_rows,
        "revenue": info.revenue,
        **({"value_per_order": info.value_per_order} if info.value_per_order else {}),
        **extra,
    }
    return rfm


def _span(con: Any, info: OrdersInfo) -> tuple[dt.date, dt.date]:
    """The days of the first and last order (found by the contract's pass when it could)."""
    span = info.span
    if span is None:
        span = con.execute('SELECT MIN("timestamp"), MAX("timestamp") FROM clv_orders').fetchone()
        assert span is not None
    return span[0].date(), span[1].date()


def _warn_duplicates(n_duplicates: int) -> None:
    if n_duplicates:
        warn_duplicates(n_duplicates)


def _rfm_sql(with_holdout: bool, has_revenue: bool, with_duplicates: bool = False) -> str:
    holdout_columns = (
        _HOLDOUT_COLUMNS.format(holdout_monetary=_HOLDOUT_MONETARY if has_revenue else "")
        if with_holdout
        else ""
    )
    return _RFM_SQL.format(
        revenue="SUM(revenue)" if has_revenue else "0.0",
        monetary=_MONETARY if has_revenue else "",
        holdout_cte=_HOLDOUT_CTE if with_holdout else "",
        holdout_columns=holdout_columns,
        holdout_join=_HOLDOUT_JOIN if with_holdout else "",
        holdout_overflow=" OR coalesce(h.day_overflow, false)" if with_holdout else "",
        day_rows=(
            _DAY_ROWS.format(revenue=", revenue" if has_revenue else "") if with_duplicates else ""
        ),
        unsure=_UNSURE if with_duplicates else "",
        unsure_column=",\n       c.clv_unsure" if with_duplicates else "",
    )


def _check_overflow(rfm: pd.DataFrame, revenue_col: str) -> None:
    """Revenue sums that overflow to inf (same day, or per customer) are a DataError."""
    monetary = [c for c in ("monetary_value", "monetary_value_holdout") if c in rfm.columns]
    bad = np.array(rfm["clv_overflow"].fillna(False), dtype=bool)
    for column in monetary:
        bad |= ~np.isfinite(rfm[column].to_numpy(dtype="float64"))
    if bad.any():
        raise RULES["revenue_overflow"].error(
            revenue_col,
            n_rows=int(bad.sum()),
            examples=[Label(f"customer {v}") for v in rfm.loc[bad, "customer_id"].head(5)],
        )


_RFM_TO_ENDS_SQL = """
WITH ends AS (
    SELECT customer_id, CAST("end" AS TIMESTAMP) AS cutoff,
           CAST(CAST("end" AS TIMESTAMP) - INTERVAL 1 MICROSECOND AS DATE) AS end_day
    FROM clv_ends
),
occasions AS (
    SELECT e.customer_id, CAST(o."timestamp" AS DATE) AS day, {revenue} AS revenue,
           any_value(e.end_day) AS end_day
    FROM clv_orders o JOIN ends e ON {match}
    WHERE o."timestamp" < e.cutoff
    GROUP BY e.customer_id, day
)
SELECT customer_id,
       COUNT(*) - 1 AS frequency,
       date_diff('day', MIN(day), MAX(day)) / $days_per_unit AS recency,
       date_diff('day', MIN(day), any_value(end_day)) / $days_per_unit AS "T",
       CASE WHEN COUNT(*) > 1 THEN (SUM(revenue) - arg_min(revenue, day)) / (COUNT(*) - 1)
            ELSE 0.0 END AS monetary_value,
       bool_or(isinf(revenue)) AS clv_overflow
FROM occasions
GROUP BY customer_id
ORDER BY customer_id
"""


def rfm_to_ends(
    orders: pd.DataFrame | str | os.PathLike[str] | OrdersSource,
    ends: pd.DataFrame,
    *,
    time_unit: str = "W",
) -> pd.DataFrame:
    """One RFM row per customer, each summarised up to their own end time (in DuckDB SQL).

    The definitions of :func:`rfm_summary` with a calibration end per customer: the orders
    of a customer with ``timestamp < end`` count, and the last observed day (inclusive) is
    the day of the last instant before ``end``, so ``T`` runs from the first occasion's day
    to that day. An experiment's users are summarised at the end of their own test window
    this way (:mod:`clvmodels.experiments.value`).

    Parameters
    ----------
    orders : pandas.DataFrame, path or OrdersSource
        Orders as for :func:`rfm_summary` (they go through the orders contract).
    ends : pandas.DataFrame
        ``customer_id`` (one row each) and ``end`` (datetime64, the exclusive end of the
        customer's observation). Its ids are matched to the orders' by the rule of
        :func:`clvmodels.data.columns.id_match_keys`: as they are when both are numbers or
        both text, as text (integers in their decimal digits) when one is a number and the
        other text, so ``"007"`` never matches 7.
    time_unit : {"D", "W", "M"}
        Unit of ``recency`` and ``T``.

    Returns
    -------
    pandas.DataFrame
        ``customer_id`` (as ``ends`` has it), ``frequency, recency, T, monetary_value``
        for the customers of ``ends`` with at least one order before their end (the
        others have no row), sorted by customer; ``attrs`` holds ``time_unit``,
        ``n_orders`` and ``revenue`` (and ``value_per_order``) as :func:`rfm_summary`
        records them. Without revenue the ``monetary_value`` is 0.

    Raises
    ------
    DataError
        For orders that break the contract, and revenue sums that overflow.
    """
    unit = check_time_unit(time_unit)
    with duckdb_connection() as con:
        info = register_orders(con, orders)
        con.register("clv_ends", ends[["customer_id", "end"]])
        has_revenue = info.revenue != "none"
        sql = _RFM_TO_ENDS_SQL.format(
            revenue="SUM(revenue)" if has_revenue else "0.0", match=_id_match(con)
        )
        rfm = con.execute(sql, {"days_per_unit": DAYS_PER_UNIT[unit]}).df()
    if has_revenue:
        _check_overflow(rfm, info.revenue_col or "revenue")
    rfm = rfm.drop(columns="clv_overflow")
    rfm["frequency"] = rfm["frequency"].astype("int64")
    rfm.attrs = {
        "time_unit": unit,
        "n_orders": info.n_rows,
        "revenue": info.revenue,
        **({"value_per_order": info.value_per_order} if info.value_per_order else {}),
    }
    return rfm


def _id_match(con: Any) -> str:
    """The join condition of the orders' and the ends' ids (the rule of ``id_match_keys``)."""
    numeric = []
    for table in ("clv_orders", "clv_ends"):
        row = con.execute(
            "SELECT column_type FROM (DESCRIBE SELECT customer_id FROM " + table + ")"
        ).fetchone()
        numeric.append(not any(t in str(row[0]).upper() for t in ("CHAR", "STRING", "TEXT")))
    if numeric[0] == numeric[1]:
        return "o.customer_id = e.customer_id"
    return "CAST(o.customer_id AS VARCHAR) = CAST(e.customer_id AS VARCHAR)"
