"""Empirical cohort LTV: the baseline every analyst computes, aggregated in DuckDB SQL.

Definitions (docs/definitions.md, "Empirical cohort LTV"):

* **cohort**: the period of a customer's first order — a calendar month, or with
  ``period="week"`` an ISO week (Monday to Sunday). It is labelled by the period's first day.
* **age** k: whole periods from the cohort's period to the order's period, counted on the
  calendar. An order in the cohort's own month is age 0, one in the next calendar month age 1
  (so 31 January to 1 February is one month).
* ``cohort_size``: customers whose first order falls in the cohort's period.
* ``active_customers``: customers of the cohort with at least one order at age k.
* ``retention`` = ``active_customers / cohort_size`` (so 1 at age 0).
* ``orders``: order rows at age k (each row counts; same-day orders are not merged).
* ``revenue``: their revenue; ``margin`` = ``revenue * margin rate``.
* ``ltv`` = ``margin / cohort_size``: margin per cohort customer earned at age k.
* ``cumulative_ltv`` = (margin at ages 0..k) / ``cohort_size``: the cohort's LTV_k.
* ``complete``: whether the age's calendar period is fully observed. The period that
  contains the observation end is partial unless the observation end is its last day.

Every age from 0 to the period of the observation end appears for every cohort (ages
without orders are zeros), so ``cumulative_ltv`` is defined at every age. Orders after the
observation end (default: the day of the last order) are not used.

An average over cohorts at age k uses only cohorts whose age k is complete (right-censoring):
see :func:`average_ltv_curve`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd

from clvmodels.data.contract import OrdersSource
from clvmodels.data.io import duckdb_connection, register_orders
from clvmodels.errors import DataError
from clvmodels.ranges import check_margin
from clvmodels.summaries.calendar import (
    CohortPeriod,
    check_period,
    period_index_sql,
    period_start_sql,
)
from clvmodels.summaries.period import DateLike, resolve_period

ORDER_COLUMNS = ("customer_id", "timestamp", "revenue")
COHORT_COLUMNS = (
    "cohort",
    "age",
    "cohort_size",
    "active_customers",
    "retention",
    "orders",
    "revenue",
    "margin",
    "ltv",
    "cumulative_ltv",
    "complete",
)
CURVE_COLUMNS = ("age", "n_cohorts", "customers", "cumulative_ltv", "retention")


_COHORT_SQL = """
WITH bounds AS (
    SELECT {end_index} AS end_p,          -- the period that contains the observation end
           {open_index} AS first_open_p   -- the one holding the day after: periods before
                                          -- it are fully observed
),
customer_period AS (
    SELECT customer_id, {order_index} AS p, COUNT(*) AS n_orders, SUM(revenue) AS revenue
    FROM (SELECT customer_id, CAST("timestamp" AS DATE) AS day, revenue FROM orders)
    WHERE day <= $observation_end
    GROUP BY customer_id, p
),
first_period AS (
    SELECT customer_id, MIN(p) AS cohort_p
    FROM customer_period
    GROUP BY customer_id
),
cells AS (
    SELECT f.cohort_p, c.p - f.cohort_p AS age,
           COUNT(*) AS active_customers,
           SUM(c.n_orders) AS orders,
           SUM(c.revenue) AS revenue
    FROM customer_period c JOIN first_period f USING (customer_id)
    GROUP BY f.cohort_p, age
),
sizes AS (
    SELECT cohort_p, COUNT(*) AS cohort_size
    FROM first_period
    GROUP BY cohort_p
),
grid AS (
    SELECT s.cohort_p, s.cohort_size, b.first_open_p,
           UNNEST(range(0, b.end_p - s.cohort_p + 1)) AS age
    FROM sizes s CROSS JOIN bounds b
),
filled AS (
    SELECT g.cohort_p, g.age, g.cohort_size, g.first_open_p,
           COALESCE(c.active_customers, 0) AS active_customers,
           COALESCE(c.orders, 0) AS orders,
           COALESCE(c.revenue, 0.0) AS revenue
    FROM grid g LEFT JOIN cells c USING (cohort_p, age)
)
SELECT {cohort_start} AS cohort,
       age,
       cohort_size,
       active_customers,
       active_customers / cohort_size AS retention,
       orders,
       revenue,
       revenue * $margin AS margin,
       revenue * $margin / cohort_size AS ltv,
       SUM(revenue * $margin) OVER (
           PARTITION BY cohort_p ORDER BY age ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
       ) / cohort_size AS cumulative_ltv,
       cohort_p + age < first_open_p AS complete
FROM filled
ORDER BY cohort_p, age
"""


def cohort_table(
    orders: pd.DataFrame | OrdersSource,
    *,
    period: CohortPeriod = "month",
    margin: float = 1.0,
    observation_end: DateLike = None,
) -> pd.DataFrame:
    """Empirical LTV and retention of each acquisition cohort at each age, in DuckDB SQL.

    Parameters
    ----------
    orders : pandas.DataFrame or OrdersSource
        Validated orders (``customer_id, timestamp, revenue``; see
        :func:`clvmodels.data.io.read_orders`), which are not modified, or an
        :class:`~clvmodels.data.contract.OrdersSource` that DuckDB reads itself.
    period : {"month", "week"}
        Length of a cohort and of one unit of age: a calendar month, or an ISO week
        starting on Monday.
    margin : float
        Share of revenue that is margin, within (0, 1].
    observation_end : date, optional
        Orders after this day are not used. Defaults to the day of the last order.

    Returns
    -------
    pandas.DataFrame
        One row per cohort and age, sorted by both: ``cohort`` (datetime64, the first day of
        the cohort's period), ``age`` (periods since the cohort's period), ``cohort_size``,
        ``active_customers``, ``retention``, ``orders``, ``revenue``, ``margin``, ``ltv``,
        ``cumulative_ltv`` and ``complete`` (False for the partly observed period that
        contains the observation end). See the module docstring for the definitions.
        ``attrs`` holds ``period``, ``margin``, ``first_order``, ``observation_end`` and
        ``last_period_complete``.

    Raises
    ------
    DataError
        When a column is missing, the table has no rows, or the observation end is before
        the first order.
    ValueError
        When ``period`` is not month or week, or ``margin`` is not within (0, 1].
    """
    unit = check_period(period)
    rate = check_margin(margin)
    if isinstance(orders, pd.DataFrame):
        _require_columns(orders, ORDER_COLUMNS, "orders table")
        if len(orders) == 0:
            raise DataError("the orders table has no rows")
    sql = _COHORT_SQL.format(
        end_index=period_index_sql("CAST($observation_end AS DATE)", unit),
        open_index=period_index_sql("CAST($observation_end AS DATE) + 1", unit),
        order_index=period_index_sql("day", unit),
        cohort_start=period_start_sql("cohort_p", unit),
    )
    with duckdb_connection() as con:
        # A frame is scanned in place and a file read by DuckDB: the orders contract's view
        info = register_orders(con, orders, "orders")
        if info.revenue == "none":
            raise DataError(
                "cohort LTV needs revenue: read a revenue column, or give every order a "
                "value with --value-per-order (value_per_order)"
            )
        span = con.execute(
            'SELECT MIN(CAST("timestamp" AS DATE)), MAX(CAST("timestamp" AS DATE)) FROM orders'
        ).fetchone()
        assert span is not None
        dates = resolve_period(span[0], span[1], observation_end=observation_end)
        end = dates.observation_end
        table = con.execute(sql, {"observation_end": end, "margin": rate}).df()
    table = _with_dtypes(table)
    table.attrs = cohort_attrs(table, unit, rate, dates.first_order, end)
    return table


def cohort_attrs(
    table: pd.DataFrame, period: str, margin: float, first_order: dt.date, end: dt.date
) -> dict[str, Any]:
    """The ``attrs`` of a cohort table (both engines): settings, data span, last period state."""
    return {
        "period": period,
        "margin": margin,
        "first_order": first_order.isoformat(),
        "observation_end": end.isoformat(),
        "last_period_complete": bool(table["complete"].iloc[-1]) if len(table) else True,
    }


def _with_dtypes(table: pd.DataFrame) -> pd.DataFrame:
    out = table.loc[:, list(COHORT_COLUMNS)].copy()
    out["cohort"] = pd.to_datetime(out["cohort"]).astype("datetime64[ns]")
    for column in ("age", "cohort_size", "active_customers", "orders"):
        out[column] = out[column].astype("int64")
    for column in ("retention", "revenue", "margin", "ltv", "cumulative_ltv"):
        out[column] = out[column].astype("float64")
    out["complete"] = out["complete"].astype(bool)
    return out


def average_ltv_curve(cohort_table: pd.DataFrame) -> pd.DataFrame:
    """Average cumulative LTV and retention by age over the cohorts that fully reached it.

    At age k only cohorts whose age-k period is complete are used (right-censoring), so a
    young cohort never pulls an average down with a period it has not lived through. The
    set of cohorts therefore shrinks with age, and the curve can dip where it changes.

    Parameters
    ----------
    cohort_table : pandas.DataFrame
        The output of :func:`cohort_table`. It is not modified.

    Returns
    -------
    pandas.DataFrame
        One row per age with at least one complete cohort: ``age``, ``n_cohorts`` (cohorts
        used), ``customers`` (their total size), ``cumulative_ltv`` (mean cumulative LTV
        weighted by cohort size: total cumulative margin / total customers) and
        ``retention`` (mean retention weighted by cohort size: total active customers /
        total customers).
    """
    _require_columns(cohort_table, COHORT_COLUMNS, "cohort table")
    used = cohort_table.loc[cohort_table["complete"].astype(bool)]
    size = used["cohort_size"].astype("float64")
    parts = pd.DataFrame(
        {
            "age": used["age"].astype("int64"),
            "n_cohorts": 1,
            "customers": used["cohort_size"].astype("int64"),
            "weighted_ltv": used["cumulative_ltv"].astype("float64") * size,
            "active": used["active_customers"].astype("int64"),
        }
    )
    sums = parts.groupby("age", sort=True).sum().reset_index()
    curve = pd.DataFrame(
        {
            "age": sums["age"].astype("int64"),
            "n_cohorts": sums["n_cohorts"].astype("int64"),
            "customers": sums["customers"].astype("int64"),
            "cumulative_ltv": sums["weighted_ltv"] / sums["customers"],
            "retention": sums["active"] / sums["customers"],
        }
    )
    curve.attrs = dict(cohort_table.attrs)
    return curve


def cohort_ltv_wide(cohort_table: pd.DataFrame, *, complete_only: bool = False) -> pd.DataFrame:
    """Pivot cumulative LTV into a cohort × age matrix (the table read as a heatmap).

    Parameters
    ----------
    cohort_table : pandas.DataFrame
        The output of :func:`cohort_table`. It is not modified.
    complete_only : bool
        Leave partly observed periods out (NaN) instead of showing their value so far.

    Returns
    -------
    pandas.DataFrame
        Index ``cohort`` (first day of the cohort's period), one column per ``age``
        (integers 0, 1, ...), values ``cumulative_ltv``; NaN where a cohort has not
        reached that age (or, with ``complete_only``, not fully reached it).
    """
    _require_columns(cohort_table, COHORT_COLUMNS, "cohort table")
    rows = cohort_table
    if complete_only:
        rows = rows.loc[rows["complete"].astype(bool)]
    wide = rows.pivot(index="cohort", columns="age", values="cumulative_ltv")
    all_ages = range(int(cohort_table["age"].max()) + 1) if len(cohort_table) else range(0)
    wide = wide.reindex(
        index=pd.Index(sorted(cohort_table["cohort"].unique()), name="cohort"),
        columns=pd.Index(list(all_ages), name="age"),
    ).astype("float64")
    wide.attrs = dict(cohort_table.attrs)
    return wide


def partial_cells(cohort_table: pd.DataFrame) -> pd.DataFrame:
    """Cohort × age matrix of booleans: True where the cell's period is only partly observed.

    Shaped like :func:`cohort_ltv_wide`; cells a cohort has not reached are False.
    """
    _require_columns(cohort_table, COHORT_COLUMNS, "cohort table")
    flags = cohort_table.assign(partial=(~cohort_table["complete"].astype(bool)).astype(float))
    wide = flags.pivot(index="cohort", columns="age", values="partial")
    all_ages = range(int(cohort_table["age"].max()) + 1) if len(cohort_table) else range(0)
    wide = wide.reindex(
        index=pd.Index(sorted(cohort_table["cohort"].unique()), name="cohort"),
        columns=pd.Index(list(all_ages), name="age"),
    )
    return wide.fillna(0.0) > 0.5


def period_label(cohort: pd.Timestamp | np.datetime64, period: str) -> str:
    """Label a cohort: ``2024-03`` for a month, ``2024-W10`` (ISO week) for a week."""
    stamp = pd.Timestamp(cohort)
    if check_period(period) == "month":
        return stamp.strftime("%Y-%m")
    year, week, _ = stamp.isocalendar()
    return f"{year}-W{week:02d}"


def _require_columns(frame: pd.DataFrame, columns: tuple[str, ...], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(
            f"the {what} has no column {', '.join(repr(m) for m in missing)}",
            hint=f"its columns are: {', '.join(map(str, frame.columns))}",
        )
