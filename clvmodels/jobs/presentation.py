"""The presentation tables and views that ``clv publish`` writes, and the views' SQL.

The tables are built here from the job's results (scores, segments, cohorts, payback); the
views are plain SQL that PostgreSQL, DuckDB and SQLite run unchanged. A view's SELECT names
the tables it reads as ``{t[name]}``, placeholders that the writer
(:func:`clvmodels.data.database_write.write_database`) fills with the quoted, qualified
names on the target's engine, and :func:`clvmodels.data.frame_sql.run_selects` with the
tables in memory (a folder target, and the rows of every view before a database is
touched).

Views (columns in order):

* ``m1_retention``: ``cohort, cohort_size, retained_m1, m1_retention``, the cohorts whose
  age-1 period is complete (``complete`` of the cohort table; a period that holds the
  observation end is not complete), one row per cohort.
* ``retention_curve``: ``age, n_cohorts, customers, retention, cumulative_ltv`` per age over
  the complete cells, weighted by cohort size (as
  :func:`clvmodels.summaries.cohorts.average_ltv_curve`).
* ``top_customers``: ``rank`` (1 = highest predicted CLV; ties by customer_id; expected
  purchases for scores without CLV) and every column of ``customers``.
* with a dimension column D only: ``top_dimensions`` (``D, revenue, orders, buyers,
  revenue_rank, orders_rank, buyers_rank``; ranks by SQL ``RANK``, 1 = most) and
  ``customer_favourite_dimension`` (``customer_id, D, orders, revenue``: the value of D with
  the most orders per customer, ties broken by more revenue, then by the smaller value in
  byte order, a missing value last). Both read the ``orders`` table
  (``customer_id, timestamp, revenue, D``), published for them.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

import pandas as pd

from clvmodels._version import __version__
from clvmodels.data.database_url import quote_identifier
from clvmodels.errors import DataError

#: The views of every publish, then those of a dimension column.
BASE_VIEWS = ("m1_retention", "retention_curve", "top_customers")
DIMENSION_VIEWS = ("top_dimensions", "customer_favourite_dimension")
#: Column names the dimension views give beside the dimension's own.
_VIEW_COLUMNS = (
    "customer_id",
    "timestamp",
    "revenue",
    "orders",
    "buyers",
    "revenue_rank",
    "orders_rank",
    "buyers_rank",
    "rank",
)

M1_RETENTION_SQL = """SELECT cohort, cohort_size,
       active_customers AS retained_m1,
       retention AS m1_retention
FROM {t[cohorts]}
WHERE age = 1 AND complete
ORDER BY cohort"""

RETENTION_CURVE_SQL = """SELECT age,
       COUNT(*) AS n_cohorts,
       CAST(SUM(cohort_size) AS BIGINT) AS customers,
       CAST(SUM(active_customers) AS DOUBLE PRECISION) / SUM(cohort_size) AS retention,
       SUM(cumulative_ltv * cohort_size) / SUM(cohort_size) AS cumulative_ltv
FROM {t[cohorts]}
WHERE complete
GROUP BY age
ORDER BY age"""

TOP_CUSTOMERS_SQL = """SELECT ROW_NUMBER() OVER (
           ORDER BY c.{value} IS NULL, c.{value} DESC, c.customer_id
       ) AS "rank",
       c.*
FROM {t[customers]} AS c
ORDER BY 1"""

TOP_DIMENSIONS_SQL = """SELECT d AS {dimension}, revenue, orders, buyers,
       RANK() OVER (ORDER BY revenue DESC) AS revenue_rank,
       RANK() OVER (ORDER BY orders DESC) AS orders_rank,
       RANK() OVER (ORDER BY buyers DESC) AS buyers_rank
FROM (
    SELECT {dimension} AS d, SUM(revenue) AS revenue, COUNT(*) AS orders,
           COUNT(DISTINCT customer_id) AS buyers
    FROM {t[orders]}
    GROUP BY {dimension}
) AS per_value
ORDER BY revenue_rank, d IS NULL, d"""

FAVOURITE_SQL = """SELECT customer_id, d AS {dimension}, orders, revenue
FROM (
    SELECT customer_id, d, orders, revenue,
           ROW_NUMBER() OVER (
               PARTITION BY customer_id ORDER BY orders DESC, revenue DESC, d IS NULL, d
           ) AS pick
    FROM (
        SELECT customer_id, {dimension} AS d, COUNT(*) AS orders, SUM(revenue) AS revenue
        FROM {t[orders]}
        GROUP BY customer_id, {dimension}
    ) AS per_value
) AS ranked
WHERE pick = 1
ORDER BY customer_id"""


def check_dimension(dimension: str) -> None:
    """Refuse a dimension column whose name the published tables and views use already."""
    if dimension in _VIEW_COLUMNS or not dimension.strip():
        raise DataError(
            f"--dimension-col {dimension!r} is a name the published views use for another "
            f"column ({', '.join(_VIEW_COLUMNS)})",
            hint="Rename the column in a --query (SELECT ..., partner AS partner_id ...)",
        )


def _sql_name(name: str) -> str:
    """``name`` quoted, with braces doubled so that the writer's ``format`` keeps them."""
    return quote_identifier(name).replace("{", "{{").replace("}", "}}")


def view_selects(*, value: str, dimension: str | None) -> dict[str, str]:
    """The views' SELECTs (with ``{t[name]}`` placeholders), in the order they are made.

    ``value`` is the customers column ``top_customers`` ranks by (``clv``, or
    ``expected_purchases`` for scores without CLV); the dimension views exist only with
    a ``dimension`` column.
    """
    selects = {
        "m1_retention": M1_RETENTION_SQL,
        "retention_curve": RETENTION_CURVE_SQL,
        "top_customers": TOP_CUSTOMERS_SQL.replace("{value}", _sql_name(value)),
    }
    if dimension is not None:
        column = _sql_name(dimension)
        selects["top_dimensions"] = TOP_DIMENSIONS_SQL.replace("{dimension}", column)
        selects["customer_favourite_dimension"] = FAVOURITE_SQL.replace("{dimension}", column)
    return selects


def favourite_select(dimension: str) -> str:
    """The SELECT of ``customer_favourite_dimension`` for ``dimension`` (``{t[orders]}``)."""
    return FAVOURITE_SQL.replace("{dimension}", _sql_name(dimension))


def customers_table(
    segmented: pd.DataFrame, favourite: pd.DataFrame | None = None, dimension: str | None = None
) -> pd.DataFrame:
    """The ``customers`` table: one row per customer, its RFM, scores, RFM scores, segment.

    ``segmented`` is :func:`clvmodels.segments.assign.segment_customers` of the scores;
    ``favourite`` (the rows of ``customer_favourite_dimension``) adds
    ``favourite_<dimension>``.
    """
    table = segmented.reset_index(drop=True).copy()
    table.attrs = {}
    table["segment"] = table["segment"].astype("string")
    if favourite is not None and dimension is not None:
        picks = favourite.loc[:, ["customer_id", dimension]].rename(
            columns={dimension: f"favourite_{dimension}"}
        )
        picks["customer_id"] = picks["customer_id"].astype(table["customer_id"].dtype)
        table = table.merge(picks, on="customer_id", how="left", validate="one_to_one")
    return table


def orders_table(orders: pd.DataFrame, dimension: str) -> pd.DataFrame:
    """The ``orders`` table the dimension views read: customer_id, timestamp, revenue, D."""
    table = orders.loc[:, ["customer_id", "timestamp", "revenue", dimension]].copy()
    table[dimension] = table[dimension].astype("string")
    table.attrs = {}
    return table


def plain(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` as a table to publish: a fresh index and no ``attrs``."""
    table = frame.reset_index(drop=True).copy()
    table.attrs = {}
    return table


_PASSWORD_IN_URL = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^\s:/@\"]*):[^\s@\"]*@")
_PASSWORD_PARAM = re.compile(r"(?i)(password=)[^&\s\"]*")


def redact_text(text: str) -> str:
    """``text`` with the password of every URL in it (``user:pw@``, ``password=``) hidden."""
    return _PASSWORD_PARAM.sub(r"\1***", _PASSWORD_IN_URL.sub(r"\1:***@", text))


def runs_row(
    *, fingerprint: str, settings: dict[str, Any], target: str, n_orders: int, n_customers: int
) -> pd.DataFrame:
    """The one row a successful publish appends to ``runs``.

    ``run_at`` is the time in UTC (naive), ``settings`` JSON text; every URL in the
    settings and the target has its password hidden.
    """
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    return pd.DataFrame(
        {
            "run_at": pd.Series([now], dtype="datetime64[us]"),
            "clvmodels_version": [__version__],
            "input_fingerprint": [fingerprint],
            "n_orders": pd.Series([n_orders], dtype="int64"),
            "n_customers": pd.Series([n_customers], dtype="int64"),
            "settings": [redact_text(json.dumps(settings, sort_keys=True, default=str))],
            "target": [redact_text(target)],
        }
    )
