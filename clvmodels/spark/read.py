"""Reading orders in Spark: a table as it is, the validated orders, their extent and dates.

:func:`read_orders_spark` is :func:`clvmodels.data.io.read_orders` on Spark: the same
orders contract (``docs/orders.md``; validated by :mod:`clvmodels.spark.validate`) on any path
Spark reads or a table of its catalog. Order times become ``TIMESTAMP_NTZ`` (wall-clock
time, no zone), as the DuckDB engine keeps them, and a purchase day is the calendar day of
that wall-clock time. :func:`order_period_spark` is
:func:`clvmodels.summaries.period.order_period` for a Spark orders table.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from clvmodels.data.io import Refunds
from clvmodels.data.readers import first_line
from clvmodels.errors import DataError
from clvmodels.spark.validate import validate_orders_spark
from clvmodels.summaries.period import DateLike, Period, resolve_period

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

_CSV_SUFFIXES = {".csv", ".tsv", ".txt"}
_PARQUET_SUFFIXES = {".parquet", ".pq"}
_OTHER_SUFFIXES = {".orc": "orc", ".json": "json", ".jsonl": "json", ".avro": "avro"}


def read_table_spark(
    spark: SparkSession,
    source: str,
    *,
    fmt: str | None = None,
    encoding: str = "utf-8",
    infer_schema: bool = True,
) -> DataFrame:
    """Read a table as it is: a Parquet/CSV file or folder at any path Spark reads, or a table.

    Parameters
    ----------
    spark : SparkSession
    source : str
        A path or URI (``orders.parquet``, ``data/orders/``, ``hdfs:///...``, ``s3a://...``)
        or the name of a table in Spark's catalog (``sales.orders``).
    fmt : str, optional
        ``parquet``, ``csv``, ``table`` or any other Spark data source (``orc``, ``json``,
        ``delta``). By default it follows the suffix (``.csv``/``.tsv``/``.txt`` are CSV),
        the files in a local folder, or the catalog; otherwise Parquet.
    encoding : str
        Text encoding of CSV files.
    infer_schema : bool
        Let Spark type CSV columns (otherwise every column is text).

    Raises
    ------
    DataError
        When the path or table does not exist or cannot be read in that format.
    """
    from pyspark.errors import AnalysisException

    kind = _source_kind(spark, source, fmt)
    try:
        if kind == "table":
            return spark.table(source)
        if kind == "csv":
            sep = "\t" if source.rstrip("/").lower().endswith(".tsv") else ","
            return spark.read.csv(
                source, header=True, inferSchema=infer_schema, sep=sep, encoding=encoding
            )
        if kind == "parquet":
            return _read_parquet(spark, source)
        return spark.read.format(kind).load(source)
    except AnalysisException as exc:
        text = str(exc)
        if "PATH_NOT_FOUND" in text:
            raise DataError(f"file not found: {source}") from None
        if "TABLE_OR_VIEW_NOT_FOUND" in text:
            raise DataError(f"no table '{source}' in the Spark catalog") from None
        raise DataError(f"{source} could not be read as a {kind} table: {first_line(exc)}") from exc


def _read_parquet(spark: SparkSession, source: str) -> DataFrame:
    from pyspark.errors import AnalysisException

    try:
        return spark.read.parquet(source)
    except AnalysisException as exc:
        if "TIMESTAMP(NANOS" not in str(exc):
            raise
    # A session not made by spark_session: nanosecond timestamps (as pandas writes them)
    # are readable only as integers. The setting must stay on for the query to run.
    spark.conf.set("spark.sql.legacy.parquet.nanosAsLong", "true")
    return spark.read.parquet(source)


def _source_kind(spark: SparkSession, source: str, fmt: str | None) -> str:
    if fmt:
        return fmt.lower()
    suffix = PurePosixPath(source.rstrip("/")).suffix.lower()
    if suffix in _CSV_SUFFIXES:
        return "csv"
    if suffix in _PARQUET_SUFFIXES:
        return "parquet"
    if suffix in _OTHER_SUFFIXES:
        return _OTHER_SUFFIXES[suffix]
    local = _local_path(source)
    if local is not None and local.is_dir():
        data_files = sorted(
            p for p in local.rglob("*") if p.is_file() and not p.name.startswith(("_", "."))
        )
        suffixes = {p.suffix.lower() for p in data_files}
        if suffixes and suffixes <= _CSV_SUFFIXES | {".gz", ".bz2"} and not suffixes <= {".gz"}:
            return "csv"
        return "parquet"
    if local is not None and local.is_file():
        with open(local, "rb") as handle:
            return "parquet" if handle.read(4) == b"PAR1" else "csv"
    if re.fullmatch(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*){0,2}", source):
        try:
            if spark.catalog.tableExists(source):
                return "table"
        except Exception:  # a catalog that cannot answer: fall through to a path
            pass
    return "parquet"


def _local_path(source: str) -> Path | None:
    if source.startswith("file:"):
        return Path(re.sub(r"^file:(//)?", "", source))
    if re.match(r"^[A-Za-z][\w+.-]*://", source):
        return None
    return Path(source)


def read_orders_spark(
    spark: SparkSession,
    path_or_table: str,
    *,
    customer_col: str = "customer_id",
    date_col: str = "timestamp",
    revenue_col: str | None = "revenue",
    fmt: str | None = None,
    date_format: str | None = None,
    date_unit: str | None = None,
    time_zone: str = "UTC",
    encoding: str = "utf-8",
    refunds: Refunds = "error",
    dedupe: bool = False,
    query: str | None = None,
    value_per_order: float | None = None,
) -> DataFrame:
    """Read and validate an orders table in Spark; return ``customer_id, timestamp, revenue``.

    The rules and messages are those of the orders contract (``docs/orders.md``,
    :data:`clvmodels.data.rules.RULES`), written in Spark SQL by
    :mod:`clvmodels.spark.orders`.

    Parameters
    ----------
    spark : SparkSession
    path_or_table : str
        What :func:`read_table_spark` reads: a path or URI, or a catalog table.
    customer_col, date_col : str
        The names of these columns in the table.
    revenue_col : str or None
        The revenue column; ``None`` needs ``value_per_order`` on Spark (the Spark RFM
        always has a monetary value).
    fmt, encoding
        Passed to :func:`read_table_spark`. CSV columns are read as text (no schema
        inference), so ids and dates follow the contract's rules.
    date_format, date_unit, time_zone
        As :func:`clvmodels.data.io.read_orders`; a ``strftime`` format is translated to
        Spark's pattern (a directive without a Spark equivalent is refused). Integer
        columns of a local Parquet file that pandas wrote as nanosecond timestamps
        (which Spark reads as integers) are read as such.
    refunds : {"error", "net"}
        Negative revenue is an error, or is netted within the customer's purchase day.
    dedupe : bool
        Drop exact duplicate rows, saying how many. Unlike the DuckDB engine, the Spark
        engine does not count duplicates otherwise: that takes a shuffle of every order
        (about as long as the RFM itself).
    query : str, optional
        Spark SQL run on the table, which it sees as the view ``orders``.
    value_per_order : float, optional
        With ``revenue_col=None``: every order's revenue.

    Returns
    -------
    pyspark.sql.DataFrame
        ``customer_id`` (string, or long when every id is a canonical integer),
        ``timestamp`` (``TIMESTAMP_NTZ``), ``revenue`` (double). Validation runs now, in one
        pass over the table (more only to find examples for an error, or with ``dedupe`` or
        ``refunds="net"``); the result is lazy.

    Raises
    ------
    DataError
        As :func:`clvmodels.data.io.read_orders`: the column, how many rows, a few examples.
    """
    if revenue_col is None and value_per_order is None:
        raise DataError(
            "Spark cannot read orders without revenue yet: give every order a value with "
            "--value-per-order (value_per_order), or use the DuckDB engine for --no-revenue"
        )
    raw = read_table_spark(spark, path_or_table, fmt=fmt, encoding=encoding, infer_schema=False)
    if query is not None:
        raw.createOrReplaceTempView("orders")
        raw = spark.sql(query)
    return validate_orders_spark(
        raw,
        customer_col=customer_col,
        date_col=date_col,
        revenue_col=revenue_col,
        date_format=date_format,
        date_unit=date_unit,
        time_zone=time_zone,
        refunds=refunds,
        dedupe=dedupe,
        value_per_order=value_per_order,
        nanoseconds=_nanosecond_column(path_or_table, date_col),
    )


def _nanosecond_column(source: str, column: str) -> bool:
    """Whether ``column`` of a local Parquet file is a nanosecond timestamp (read as long)."""
    local = _local_path(source)
    if local is None or not local.exists():
        return False
    import pyarrow.parquet as pq

    files = [local] if local.is_file() else sorted(local.rglob("*.parquet"))
    try:
        schema = pq.read_schema(files[0]) if files else None
    except Exception:  # not Parquet
        return False
    if schema is None or column not in schema.names:
        return False
    kind = schema.field(column).type
    return str(kind).startswith("timestamp[ns")


@dataclass(frozen=True)
class OrdersExtent:
    """How many orders a table holds and the days of its first and last order."""

    n_orders: int
    first_order: dt.date
    last_order: dt.date


def orders_extent_spark(orders: DataFrame) -> OrdersExtent:
    """Count the orders and find their first and last day (one pass over the table).

    Raises
    ------
    DataError
        When the table has no rows.
    """
    from pyspark.sql import functions as F

    day = F.col("timestamp").cast("date")
    row = orders.agg(F.count(F.lit(1)), F.min(day), F.max(day)).first()
    if row is None or row[0] == 0:
        raise DataError("the orders table has no rows")
    return OrdersExtent(n_orders=int(row[0]), first_order=row[1], last_order=row[2])


def order_period_spark(
    orders: DataFrame | OrdersExtent,
    *,
    observation_end: DateLike = None,
    calibration_end: DateLike = None,
) -> Period:
    """:func:`clvmodels.summaries.period.order_period` for a Spark orders table (or its extent)."""
    extent = orders if isinstance(orders, OrdersExtent) else orders_extent_spark(orders)
    return resolve_period(
        extent.first_order,
        extent.last_order,
        observation_end=observation_end,
        calibration_end=calibration_end,
    )
