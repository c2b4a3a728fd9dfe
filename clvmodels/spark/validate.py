"""Validating a raw Spark orders table against the orders contract, in one pass.

The per-column rules are the Spark SQL of :mod:`clvmodels.spark.orders`; here they are
counted in one aggregation over the table, the first broken rule is raised with the
contract's message (:data:`clvmodels.data.rules.RULES`: the column, how many rows, a few
examples, found only when a check fails), and the valid table is converted to
``customer_id, timestamp, revenue``, with duplicates dropped and refunds netted on request.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

from clvmodels.data.contract import OrdersSource, check_distinct_columns
from clvmodels.data.io import Refunds, check_order_columns
from clvmodels.data.rules import RULES, day_month_formats
from clvmodels.errors import DataError, DataQualityWarning, Label
from clvmodels.spark.orders import (
    SparkChecks,
    customer_checks,
    date_checks,
    quote,
    revenue_checks,
)

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

_ROW_BITS = 33  # monotonically_increasing_id = partition index << 33 | row within partition


def validate_orders_spark(
    raw: DataFrame,
    *,
    customer_col: str = "customer_id",
    date_col: str = "timestamp",
    revenue_col: str | None = "revenue",
    date_format: str | None = None,
    date_unit: str | None = None,
    time_zone: str = "UTC",
    refunds: Refunds = "error",
    dedupe: bool = False,
    value_per_order: float | None = None,
    nanoseconds: bool = False,
) -> DataFrame:
    """Validate a raw Spark orders table; see :func:`clvmodels.spark.read.read_orders_spark`."""
    from pyspark.sql import functions as F

    # the same option checks as the DuckDB reader (date unit, value per order)
    OrdersSource(
        "",
        revenue_col=revenue_col,
        date_unit=date_unit,
        refunds=refunds,
        value_per_order=value_per_order,
    )
    _check_zone(raw, time_zone)
    check_order_columns(raw.columns, customer_col, date_col, revenue_col)
    check_distinct_columns(
        {
            "--customer-col (customer_col)": customer_col,
            "--date-col (date_col)": date_col,
            "--revenue-col (revenue_col)": revenue_col,
        }
    )
    _check_session_zone(raw)
    types = {f.name: f.dataType.simpleString() for f in raw.schema.fields}
    dates = date_checks(
        date_col,
        types[date_col],
        date_format=date_format,
        date_unit=date_unit,
        time_zone=time_zone,
        nanoseconds=nanoseconds,
    )
    columns = [customer_checks(customer_col, types[customer_col]), dates]
    if revenue_col is not None:
        columns.append(revenue_checks(revenue_col, types[revenue_col]))
    counts = _count_violations(raw, columns)
    for col in columns:
        _raise_broken_rule(raw, col, counts)
        if col is dates:
            _raise_date_problems(raw, dates, counts)
    orders = raw.select(*_converted(columns, counts, value_per_order))
    if dedupe:
        orders = _drop_duplicates(orders, n_orders=counts["n_rows"])
    if counts.get("revenue_negative"):
        if refunds != "net":
            raise RULES["negative_revenue"].error(
                revenue_col,
                n_rows=counts["revenue_negative"],
                examples=_first_values(orders, F.col("revenue") < 0, "revenue"),
            )
        orders = _net_refunds(orders, n_refunds=counts["revenue_negative"])
    return orders


def _check_zone(raw: DataFrame, time_zone: str) -> None:
    import zoneinfo

    try:
        zoneinfo.ZoneInfo(time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise DataError(
            f"--time-zone (time_zone) {time_zone!r} is not an IANA time zone name",
            hint="Use names such as UTC, Europe/Berlin or America/New_York",
        ) from None


def _check_session_zone(raw: DataFrame) -> None:
    session_zone = raw.sparkSession.conf.get("spark.sql.session.timeZone")
    if session_zone != "UTC":
        raise DataError(
            f"the Spark engine reads orders only in a session whose time zone is UTC (this one: "
            f"{session_zone}); clvmodels.spark.session.spark_session sets it"
        )


def _count_violations(raw: DataFrame, columns: list[SparkChecks]) -> dict[str, int]:
    """How many rows break each condition of ``columns`` (and ``n_rows``): one pass."""
    from pyspark.sql import functions as F

    conditions = {n: cond for col in columns for n, cond in col.counts.items()}
    aggregates = [F.count(F.lit(1)).alias("n_rows")] + [
        F.sum(F.when(F.expr(f"coalesce(({cond}), false)"), 1).otherwise(0)).alias(n)
        for n, cond in conditions.items()
    ]
    row = raw.agg(*aggregates).first()
    assert row is not None
    counts = {k: int(v or 0) for k, v in row.asDict().items()}
    if counts["n_rows"] == 0:
        raise RULES["no_rows"].error(None, where="")
    return counts


def _condition(col: SparkChecks, count: str) -> Column:
    from pyspark.sql import functions as F

    return F.expr(f"coalesce(({col.counts[count]}), false)")


def _raise_broken_rule(raw: DataFrame, col: SparkChecks, counts: dict[str, int]) -> None:
    """Raise the error of the first of the column's rules that some rows break."""
    for count, rule, example in col.checks:
        n = counts.get(count, 0)
        if not n:
            continue
        condition = _condition(col, count)
        examples: list[Any] = (
            [Label(f"row {i}") for i in _first_rows(raw, condition)]
            if example is None
            else _first_values(raw, condition, col.column)
        )
        fields = dict(col.fields)
        if rule == "day_month":
            fields = {"formats": _day_month_formats(raw, condition, col.fields["day_month"])}
        raise RULES[rule].error(col.column, n_rows=n, examples=examples, **fields)


def _raise_date_problems(raw: DataFrame, dates: SparkChecks, counts: dict[str, int]) -> None:
    """Raise the errors of the whole date column: mixed UTC offsets, dates out of range."""
    if counts.get("date_offset") and counts.get("date_naive"):
        raise RULES["mixed_offsets"].error(
            dates.column,
            n_rows=counts["date_offset"],
            examples=_first_values(raw, _condition(dates, "date_offset"), dates.column),
            n_naive=counts["date_naive"],
        )
    if counts.get("date_range"):
        raise RULES["date_range"].error(
            dates.column,
            n_rows=counts["date_range"],
            examples=_first_values(raw, _condition(dates, "date_range"), dates.column),
        )


def _converted(
    columns: list[SparkChecks], counts: dict[str, int], value_per_order: float | None
) -> list[Column]:
    """``customer_id, timestamp, revenue`` of a valid table (ids as text when not canonical)."""
    from pyspark.sql import functions as F

    ids = columns[0]
    id_value = ids.text_value if counts.get("id_noncanonical") and ids.text_value else ids.value
    select = [F.expr(id_value).alias("customer_id"), F.expr(columns[1].value).alias("timestamp")]
    if len(columns) > 2:
        select.append(F.expr(columns[2].value).alias("revenue"))
    elif value_per_order is not None:
        select.append(F.lit(float(value_per_order)).alias("revenue"))
    return select


def _day_month_formats(raw: DataFrame, condition: Column, parts: tuple[str, str, str, str]) -> str:
    from pyspark.sql import functions as F

    a, b, sep, time = parts
    row = (
        raw.filter(condition)
        .agg(
            F.max(F.expr(f"CAST({a} AS INT)")),
            F.max(F.expr(f"CAST({b} AS INT)")),
            F.first(F.expr(sep)),
            F.max(F.expr(time)),
        )
        .first()
    )
    assert row is not None
    return day_month_formats(int(row[0]), int(row[1]), str(row[2]), str(row[3]))


def _first_rows(raw: DataFrame, condition: Column, k: int = 5) -> list[int]:
    """1-based numbers, in reading order, of the first ``k`` rows where ``condition`` holds.

    Runs only when a check fails: one pass counts the rows of each partition, one finds the
    first matches, and monotonically_increasing_id (partition << 33 | row) gives their place.
    """
    from pyspark.sql import functions as F

    tagged = raw.select(
        F.spark_partition_id().alias("part"),
        F.monotonically_increasing_id().alias("mid"),
        condition.alias("hit"),
    )
    sizes: dict[int, int] = {row[0]: row[1] for row in tagged.groupBy("part").count().collect()}
    offsets: dict[int, int] = {}
    total = 0
    for part in sorted(sizes):
        offsets[part] = total
        total += sizes[part]
    hits = tagged.filter("hit").orderBy("mid").limit(k).collect()
    mask = (1 << _ROW_BITS) - 1
    return [offsets[row["part"]] + (row["mid"] & mask) + 1 for row in hits]


def _first_values(raw: DataFrame, condition: Column, column: str, k: int = 5) -> list[Any]:
    return [row[0] for row in raw.filter(condition).select(quote(column)).limit(k).collect()]


def _drop_duplicates(orders: DataFrame, *, n_orders: int) -> DataFrame:
    """Drop exact duplicate rows and say how many there were (``dedupe``)."""
    deduped = orders.dropDuplicates()
    n_duplicates = n_orders - deduped.count()
    if n_duplicates:
        warnings.warn(
            f"dropped {n_duplicates:,} exact duplicate order rows (--dedupe)",
            DataQualityWarning,
            stacklevel=4,
        )
    return deduped


def _net_refunds(orders: DataFrame, *, n_refunds: int) -> DataFrame:
    """Net revenue within each customer's purchase day; drop days that are not positive."""
    from pyspark.sql import functions as F

    netted = orders.groupBy("customer_id", F.col("timestamp").cast("date").alias("day")).agg(
        F.min("timestamp").alias("timestamp"), F.sum("revenue").alias("revenue")
    )
    n_dropped = netted.filter(F.col("revenue") <= 0).count()
    warnings.warn(
        f"netted {n_refunds:,} refund rows within their purchase day; dropped {n_dropped:,} "
        "customer-days whose net revenue was zero or negative (--refunds net)",
        DataQualityWarning,
        stacklevel=4,
    )
    return netted.filter(F.col("revenue") > 0).select("customer_id", "timestamp", "revenue")
