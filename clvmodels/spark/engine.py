"""The Spark engine: the DuckDB engine's RFM, cohort and scoring computations on Apache Spark.

Every function here computes exactly what its DuckDB counterpart computes, with the same
definitions (docs/definitions.md, :mod:`clvmodels.summaries.rfm`,
:mod:`clvmodels.summaries.cohorts`), so the two
engines agree: ids and counts exactly, values to rounding (1e-9).

===============================  ==============================================
Spark engine                     DuckDB / pandas engine
===============================  ==============================================
:func:`read_orders_spark`        :func:`clvmodels.data.io.read_orders`
:func:`order_period_spark`       :func:`clvmodels.summaries.period.order_period`
:func:`rfm_summary_spark`        :func:`clvmodels.summaries.rfm.rfm_summary`
:func:`cohort_table_spark`       :func:`clvmodels.summaries.cohorts.cohort_table`
:func:`payback_orders_spark`     :func:`clvmodels.marketing.payback.payback_orders`
:func:`score_spark`              :func:`clvmodels.predict.scoring.score_customers`
===============================  ==============================================

What runs where. Per-order work (reading, validating, aggregating orders into purchase
occasions, per-customer RFM and per-cohort cells) runs in Spark and scales with the cluster.
Results that are small by construction (the cohort table: cohorts x ages rows) come back as
pandas DataFrames, so everything built on them
(:func:`clvmodels.summaries.cohorts.average_ltv_curve`,
plots, payback) is the same code for both engines. Per-customer results (RFM, scores) stay
Spark DataFrames, except payback's buyers table, which payback needs on the driver.
Scoring ships the fitted posterior draws (a few small numpy arrays) to the executors as a
broadcast variable and runs :func:`clvmodels.predict.scoring.score_customers` on each partition with
``mapInPandas``: the math is the same code, not a port.

pyspark is an optional dependency (``pip install 'clvmodels[spark]'``; Spark 4 needs Java
17). It is imported inside the functions, so ``import clvmodels`` never needs it.

Time zones: order times become ``TIMESTAMP_NTZ`` (wall-clock time, no zone), as the DuckDB
engine keeps them, and a purchase day is the calendar day of that wall-clock time. Sessions
made by :func:`spark_session` use UTC, so zone-aware inputs are read as UTC wall-clock time.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import sys
import tempfile
import uuid
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from clvmodels.data.io import Refunds, check_order_columns
from clvmodels.data.rules import RULES
from clvmodels.errors import ClvError, DataError, DataQualityWarning
from clvmodels.models.inputs import RFM_COLUMNS
from clvmodels.predict.columns import SCORE_COLUMNS
from clvmodels.predict.scoring import monthly_steps
from clvmodels.ranges import check_margin
from clvmodels.summaries.calendar import (
    WEEK_ORIGIN,
    CohortPeriod,
    check_period,
    day_index,
    period_index,
    period_start,
)
from clvmodels.summaries.cohorts import COHORT_COLUMNS, cohort_attrs
from clvmodels.summaries.period import DateLike, Period, resolve_period
from clvmodels.units import DAYS_PER_UNIT, check_time_unit, parse_duration

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

    from clvmodels.marketing.payback import PaybackOrders
    from clvmodels.model import CLVModel

INSTALL_HINT = (
    "install Java 17 (e.g. apt-get install openjdk-17-jre-headless) "
    "and pip install 'clvmodels[spark]'"
)

#: Settings of every session :func:`spark_session` builds.
SESSION_CONFIG: dict[str, str] = {
    # a purchase day is a calendar day of wall-clock time, as in DuckDB
    "spark.sql.session.timeZone": "UTC",
    # pandas writes nanosecond timestamps, which Spark reads only as integers (ns since epoch)
    "spark.sql.legacy.parquet.nanosAsLong": "true",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
}
#: Extra settings for a ``local[...]`` master (one machine: no UI, few shuffle partitions).
LOCAL_CONFIG: dict[str, str] = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.shuffle.partitions": "8",
}

#: Spark's logging on a local master: errors only, so a command's own report is what shows.
_QUIET_LOG4J2 = """\
rootLogger.level = error
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{yy/MM/dd HH:mm:ss} %p %c{1}: %m%n%ex
"""

_CSV_SUFFIXES = {".csv", ".tsv", ".txt"}
_PARQUET_SUFFIXES = {".parquet", ".pq"}
_OTHER_SUFFIXES = {".orc": "orc", ".json": "json", ".jsonl": "json", ".avro": "avro"}
_ROW_BITS = 33  # monotonically_increasing_id = partition index << 33 | row within partition


# --------------------------------------------------------------------------------------
# the session
# --------------------------------------------------------------------------------------
def spark_session(
    master: str | None = "local[2]",
    app_name: str = "clvmodels",
    *,
    config: Mapping[str, str] | None = None,
) -> SparkSession:
    """Start (or return the running) Spark session, with the settings clvmodels relies on.

    Parameters
    ----------
    master : str or None
        ``local[2]``, ``local[*]``, ``yarn``, ``spark://host:7077``, ``k8s://...``; None
        leaves it to Spark (``spark-defaults.conf``, ``local[*]``). Under ``spark-submit``
        its ``--master`` is used and this is ignored.
    app_name : str
        The application's name in the cluster's UI.
    config : mapping, optional
        More Spark settings (``{"spark.driver.memory": "4g"}``), applied last.

    Returns
    -------
    pyspark.sql.SparkSession
        With :data:`SESSION_CONFIG` (UTC session time zone, Arrow transfers, nanosecond
        Parquet timestamps readable) and, for a local master, :data:`LOCAL_CONFIG`. A session
        that is already running is returned as it is.

    Raises
    ------
    ClvError
        When pyspark is not installed or the JVM cannot start (no Java, wrong version),
        saying how to install them.
    """
    pyspark_sql = _import_pyspark()
    session_class = pyspark_sql.SparkSession
    active = session_class.getActiveSession()
    if active is not None:
        return active
    under_submit = "PYSPARK_GATEWAY_PORT" in os.environ  # the JVM launched this Python
    if not under_submit:
        problem = _java_problem()
        if problem is not None:
            raise ClvError(f"the Spark engine cannot start: {problem}. To use it, {INSTALL_HINT}")
    builder = session_class.builder.appName(app_name)
    is_local = False
    if master is not None and not under_submit:
        builder = builder.master(master)
        is_local = master.startswith("local")
    settings = dict(SESSION_CONFIG)
    if is_local:
        settings.update(LOCAL_CONFIG)
    settings.update(config or {})
    log_folder = None
    if is_local and "spark.driver.extraJavaOptions" not in settings:
        log_folder = tempfile.mkdtemp(prefix="clvmodels-spark-")
        log_config = Path(log_folder) / "log4j2.properties"
        log_config.write_text(_QUIET_LOG4J2)
        settings["spark.driver.extraJavaOptions"] = (
            f"-Dlog4j2.configurationFile={log_config.as_uri()}"
        )
    for key, value in settings.items():
        builder = builder.config(key, value)
    try:
        spark = builder.getOrCreate()
    except Exception as exc:  # py4j and pyspark raise many kinds when the JVM will not start
        raise ClvError(
            f"the Spark engine cannot start: the Java process failed ({_first_line(exc)}). "
            f"Spark {_pyspark_version()} needs Java 17 or newer: {INSTALL_HINT}"
        ) from exc
    finally:
        if log_folder is not None:  # read once, when the JVM started
            shutil.rmtree(log_folder, ignore_errors=True)
    context = spark.sparkContext
    if context.master.startswith("local") and "PYSPARK_PYTHON" not in os.environ:
        # Python workers default to `python3` on PATH, which need not have clvmodels;
        # on this machine they run this interpreter.
        context.pythonExec = sys.executable
    return spark


def running_session() -> SparkSession | None:
    """The active Spark session, if there is one (None also when pyspark is missing)."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        return None
    return SparkSession.getActiveSession()


def _import_pyspark() -> Any:
    try:
        import pyspark.sql as pyspark_sql
    except ImportError as exc:
        raise ClvError(
            f"the Spark engine needs pyspark, which is not installed: {INSTALL_HINT}"
        ) from exc
    return pyspark_sql


def _pyspark_version() -> str:
    import pyspark

    return str(pyspark.__version__)


def _java_problem() -> str | None:
    """Why Spark's launcher will not find Java (it uses $JAVA_HOME/bin/java, else PATH)."""
    java_home = os.environ.get("JAVA_HOME")
    if java_home:
        if not (Path(java_home) / "bin" / "java").exists():
            return f"JAVA_HOME is {java_home}, which has no bin/java"
        return None
    if shutil.which("java") is None:
        return "no Java runtime found (java is not on PATH and JAVA_HOME is not set)"
    return None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


# --------------------------------------------------------------------------------------
# reading and validating
# --------------------------------------------------------------------------------------
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
        raise DataError(
            f"{source} could not be read as a {kind} table: {_first_line(exc)}"
        ) from exc


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
    """Validate a raw Spark orders table; see :func:`read_orders_spark` for the rules."""
    from pyspark.sql import functions as F

    from clvmodels.data.contract import OrdersSource
    from clvmodels.spark.orders import validate

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
    orders, counts = validate(
        raw,
        customer_col=customer_col,
        date_col=date_col,
        revenue_col=revenue_col,
        date_format=date_format,
        date_unit=date_unit,
        time_zone=time_zone,
        value_per_order=value_per_order,
        nanoseconds=nanoseconds,
    )
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


def _quote(name: str) -> str:
    """A column name quoted for Spark SQL (backticks)."""
    return "`" + name.replace("`", "``") + "`"


_STRFTIME = {
    "Y": "yyyy",
    "y": "yy",
    "m": "MM",
    "d": "dd",
    "H": "HH",
    "I": "hh",
    "M": "mm",
    "S": "ss",
    "f": "SSSSSS",
    "p": "a",
    "b": "MMM",
    "B": "MMMM",
    "a": "EEE",
    "A": "EEEE",
    "j": "DDD",
    "z": "Z",
    "Z": "z",
}


def strftime_to_spark(date_format: str) -> str:
    """Translate a ``strftime`` format (``%d.%m.%Y``) into Spark's pattern (``dd'.'MM'.'yyyy``).

    Raises
    ------
    DataError
        For a directive Spark has no equivalent of.
    """
    out: list[str] = []
    literal: list[str] = []

    def flush() -> None:
        if literal:
            out.append("'" + "".join(literal).replace("'", "''") + "'")
            literal.clear()

    i = 0
    while i < len(date_format):
        char = date_format[i]
        if char == "%" and i + 1 < len(date_format):
            code = date_format[i + 1]
            if code == "%":
                literal.append("%")
            elif code in _STRFTIME:
                flush()
                out.append(_STRFTIME[code])
            else:
                raise DataError(
                    f"Spark cannot read %{code} of the date format {date_format!r}: the Spark "
                    f"engine translates {', '.join('%' + k for k in _STRFTIME)}"
                )
            i += 2
            continue
        literal.append(char)
        i += 1
    flush()
    return "".join(out)


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
    return [row[0] for row in raw.filter(condition).select(_quote(column)).limit(k).collect()]


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


# --------------------------------------------------------------------------------------
# the orders' dates
# --------------------------------------------------------------------------------------
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


# --------------------------------------------------------------------------------------
# RFM
# --------------------------------------------------------------------------------------
def rfm_summary_spark(
    orders: DataFrame,
    *,
    time_unit: str = "W",
    observation_end: DateLike = None,
    calibration_end: DateLike = None,
    extent: OrdersExtent | None = None,
    order_columns: bool = False,
) -> DataFrame:
    """:func:`clvmodels.summaries.rfm.rfm_summary` in Spark: one RFM row per customer.

    The definitions are those of :mod:`clvmodels.summaries.rfm`: same-day orders are one purchase
    occasion (revenue summed); ``frequency`` counts repeat occasions up to the calibration
    end; ``recency`` runs from the first to the last occasion and ``T`` from the first
    occasion to the calibration end (inclusive end day); ``monetary_value`` is the mean
    revenue of the repeat occasions (0 without one); with a calibration end, customers whose
    first occasion is on or before it, plus ``frequency_holdout`` (occasions in
    (calibration end, observation end]), ``monetary_value_holdout`` (their mean revenue, 0
    without one) and ``duration_holdout``.

    Parameters
    ----------
    orders : pyspark.sql.DataFrame
        Validated orders (``customer_id, timestamp, revenue``; see
        :func:`read_orders_spark`).
    time_unit : {"D", "W", "M"}
        Unit of ``recency``, ``T`` and ``duration_holdout``.
    observation_end, calibration_end : date, optional
        As in :func:`clvmodels.summaries.rfm.rfm_summary`.
    extent : OrdersExtent, optional
        The orders' extent if already known (:func:`orders_extent_spark`): saves a pass.
    order_columns : bool
        Also ``first_order`` (time of the customer's first order) and ``n_orders`` (their
        order rows up to the observation end), in the same pass.

    Returns
    -------
    pyspark.sql.DataFrame
        The columns of :func:`clvmodels.summaries.rfm.rfm_summary`, in no particular order (a global
        sort costs another shuffle; ``.orderBy("customer_id")`` when it matters). All
        orders pass through one shuffle, by customer.
    """
    from pyspark.sql import functions as F

    unit = check_time_unit(time_unit)
    period = order_period_spark(
        extent or orders, observation_end=observation_end, calibration_end=calibration_end
    )
    per_unit = F.lit(DAYS_PER_UNIT[unit])
    obs, cal = F.lit(period.observation_end), F.lit(period.calibration_end)
    day, revenue = F.col("day"), F.col("revenue")
    in_calibration = day <= cal

    per_day = [F.sum("revenue").alias("revenue")]
    per_customer_extra = []
    if order_columns:
        per_day += [F.min("timestamp").alias("first_ts"), F.count(F.lit(1)).alias("rows")]
        per_customer_extra = [
            F.min("first_ts").alias("first_order"),
            F.sum("rows").alias("n_orders"),
        ]
    # Partitioning by customer serves both aggregations below: one shuffle in all.
    occasions = (
        orders.select(
            "customer_id", F.col("timestamp").cast("date").alias("day"), "timestamp", "revenue"
        )
        .filter(day <= obs)
        .repartition("customer_id")
        .groupBy("customer_id", "day")
        .agg(*per_day)
    )
    per_customer = (
        occasions.groupBy("customer_id")
        .agg(
            (F.count(F.when(in_calibration, 1)) - 1).alias("frequency"),
            F.min("day").alias("first_day"),
            F.max(F.when(in_calibration, day)).alias("last_day"),
            (F.sum(F.when(in_calibration, revenue)) - F.min_by(revenue, day)).alias(
                "repeat_revenue"
            ),
            F.count(F.when(~in_calibration, 1)).alias("n_holdout"),
            F.avg(F.when(~in_calibration, revenue)).alias("mean_holdout"),
            *per_customer_extra,
        )
        .filter(F.col("first_day") <= cal)
    )
    frequency = F.col("frequency")
    columns = [
        F.col("customer_id"),
        frequency,
        (F.datediff(F.col("last_day"), F.col("first_day")) / per_unit).alias("recency"),
        (F.datediff(cal, F.col("first_day")) / per_unit).alias("T"),
        F.when(frequency > 0, F.col("repeat_revenue") / frequency)
        .otherwise(F.lit(0.0))
        .alias("monetary_value"),
    ]
    if calibration_end is not None:
        columns += [
            F.col("n_holdout").alias("frequency_holdout"),
            F.coalesce(F.col("mean_holdout"), F.lit(0.0)).alias("monetary_value_holdout"),
            (F.datediff(obs, cal) / per_unit).alias("duration_holdout"),
        ]
    if order_columns:
        columns += [F.col("first_order"), F.col("n_orders")]
    return per_customer.select(*columns)


def rfm_attrs(period: Period, time_unit: str) -> dict[str, str]:
    """The ``attrs`` of :func:`clvmodels.summaries.rfm.rfm_summary`, for a collected Spark RFM."""
    return {
        "time_unit": check_time_unit(time_unit),
        "first_order": period.first_order.isoformat(),
        "calibration_end": period.calibration_end.isoformat(),
        "observation_end": period.observation_end.isoformat(),
    }


# --------------------------------------------------------------------------------------
# cohorts
# --------------------------------------------------------------------------------------
def cohort_table_spark(
    orders: DataFrame,
    *,
    period: CohortPeriod = "month",
    margin: float = 1.0,
    observation_end: DateLike = None,
    extent: OrdersExtent | None = None,
) -> pd.DataFrame:
    """:func:`clvmodels.summaries.cohorts.cohort_table` with the per-order work in Spark.

    Orders are aggregated in Spark into one row per cohort and age (active customers, order
    rows, revenue); that table has at most cohorts x ages rows, so it comes back to the
    driver, where the zero-filled grid, margins, LTV and the ``complete`` flags are added
    exactly as the DuckDB query adds them.

    Parameters
    ----------
    orders : pyspark.sql.DataFrame
        Validated orders (see :func:`read_orders_spark`).
    period, margin, observation_end
        As in :func:`clvmodels.summaries.cohorts.cohort_table`.
    extent : OrdersExtent, optional
        The orders' extent if already known: saves a pass.

    Returns
    -------
    pandas.DataFrame
        The table :func:`clvmodels.summaries.cohorts.cohort_table` returns, with the same columns,
        dtypes and ``attrs``.
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    unit = check_period(period)
    rate = check_margin(margin)
    dates = order_period_spark(extent or orders, observation_end=observation_end)
    end = dates.observation_end
    end_p = day_index(end, unit)
    first_open_p = day_index(end + dt.timedelta(days=1), unit)

    day = F.col("timestamp").cast("date")
    customer_period = (
        orders.filter(day <= F.lit(end))
        .select("customer_id", _period_index_column(day, unit).alias("p"), "revenue")
        .repartition("customer_id")  # serves the aggregation and the window: one shuffle
        .groupBy("customer_id", "p")
        .agg(F.count(F.lit(1)).alias("n_orders"), F.sum("revenue").alias("revenue"))
        .withColumn("cohort_p", F.min("p").over(Window.partitionBy("customer_id")))
    )
    cells = (
        customer_period.groupBy("cohort_p", (F.col("p") - F.col("cohort_p")).alias("age"))
        .agg(
            F.count(F.lit(1)).alias("active_customers"),
            F.sum("n_orders").alias("orders"),
            F.sum("revenue").alias("revenue"),
        )
        .toPandas()
    )
    table = _fill_cohort_grid(cells, end_p=end_p, first_open_p=first_open_p, unit=unit, rate=rate)
    table.attrs = cohort_attrs(table, unit, rate, dates.first_order, end)
    return table


def _period_index_column(day: Column, period: CohortPeriod) -> Column:
    from pyspark.sql import functions as F

    if period == "month":
        return (F.year(day) * 12 + F.month(day) - 1).cast("int")
    return F.floor(F.datediff(day, F.lit(WEEK_ORIGIN)) / F.lit(7)).cast("int")


def _fill_cohort_grid(
    cells: pd.DataFrame, *, end_p: int, first_open_p: int, unit: CohortPeriod, rate: float
) -> pd.DataFrame:
    """The grid, zero-filled cells and LTV columns of the DuckDB query, on the cells table."""
    cells = cells.astype({"cohort_p": "int64", "age": "int64"})
    sizes = cells.loc[cells["age"] == 0, ["cohort_p", "active_customers"]]
    sizes = sizes.rename(columns={"active_customers": "cohort_size"}).sort_values("cohort_p")
    n_ages = (end_p - sizes["cohort_p"] + 1).to_numpy()
    grid = pd.DataFrame(
        {
            "cohort_p": np.repeat(sizes["cohort_p"].to_numpy(), n_ages),
            "cohort_size": np.repeat(sizes["cohort_size"].to_numpy(), n_ages),
            "age": np.concatenate([np.arange(n) for n in n_ages]) if len(n_ages) else [],
        }
    ).astype({"cohort_p": "int64", "age": "int64"})
    table = grid.merge(cells, on=["cohort_p", "age"], how="left", validate="one_to_one")
    table = table.sort_values(["cohort_p", "age"], ignore_index=True)
    table[["active_customers", "orders"]] = table[["active_customers", "orders"]].fillna(0)
    table["revenue"] = table["revenue"].fillna(0.0).astype("float64")
    size = table["cohort_size"].astype("float64")
    margin = table["revenue"] * rate
    out = pd.DataFrame(
        {
            "cohort": pd.Series(period_start(table["cohort_p"].to_numpy(), unit)),
            "age": table["age"],
            "cohort_size": table["cohort_size"],
            "active_customers": table["active_customers"],
            "retention": table["active_customers"].astype("float64") / size,
            "orders": table["orders"],
            "revenue": table["revenue"],
            "margin": margin,
            "ltv": margin / size,
            "cumulative_ltv": margin.groupby(table["cohort_p"]).cumsum() / size,
            "complete": (table["cohort_p"] + table["age"]) < first_open_p,
        }
    )
    out["cohort"] = pd.to_datetime(out["cohort"]).astype("datetime64[ns]")
    for column in ("age", "cohort_size", "active_customers", "orders"):
        out[column] = out[column].astype("int64")
    for column in ("retention", "revenue", "margin", "ltv", "cumulative_ltv"):
        out[column] = out[column].astype("float64")
    out["complete"] = out["complete"].astype(bool)
    return out.loc[:, list(COHORT_COLUMNS)]


# --------------------------------------------------------------------------------------
# payback
# --------------------------------------------------------------------------------------
def payback_orders_spark(
    orders: DataFrame,
    visits: pd.DataFrame,
    *,
    attribution: str = "first-touch",
    period: CohortPeriod = "month",
    margin: float = 1.0,
    observation_end: DateLike = None,
    extent: OrdersExtent | None = None,
) -> PaybackOrders:
    """:func:`clvmodels.marketing.payback.payback_orders` with the per-order work in Spark.

    1. One pass over the orders (one shuffle, by customer) gives each customer's RFM in
       days, first order and order count (:func:`rfm_summary_spark`); it comes to the
       driver, one row per buyer, as payback's buyers table does anyway.
    2. On the driver, :func:`clvmodels.marketing.attribution.attribute_buyers` finds each buyer's
       source from the visits and the buyer's first order (all the rules read of the
       orders), so attribution is the same code for both engines.
    3. The buyers' sources and cohorts go to Spark (one row per buyer); a second pass
       aggregates the orders into (source, cohort, age) cells, which come back (at most
       sources x cohorts x ages rows) and are filled into per-source cohort tables as
       :func:`cohort_table_spark` fills its table.

    Parameters
    ----------
    orders : pyspark.sql.DataFrame
        Validated orders (see :func:`read_orders_spark`).
    visits : pandas.DataFrame
        Validated visits (:func:`clvmodels.data.marketing.read_visits`).
    attribution, period, margin, observation_end
        As in :func:`clvmodels.marketing.payback.payback_analysis`.
    extent : OrdersExtent, optional
        The orders' extent if already known: saves a pass.

    Returns
    -------
    clvmodels.marketing.payback.PaybackOrders
        Equal to what :func:`clvmodels.marketing.payback.payback_orders` returns for the same
        orders (ids and counts exactly, values to rounding); pass it to
        :func:`clvmodels.marketing.payback.payback_analysis` in place of the orders.
    """
    from clvmodels.marketing.attribution import attribute_buyers, check_attribution
    from clvmodels.marketing.payback import PaybackOrders, buyer_table

    rule = check_attribution(attribution)
    unit = check_period(period)
    rate = check_margin(margin)
    extent = extent or orders_extent_spark(orders)
    dates = order_period_spark(extent, observation_end=observation_end)
    end = dates.observation_end

    per_customer: pd.DataFrame = rfm_summary_spark(
        orders, time_unit="D", observation_end=end, extent=extent, order_columns=True
    ).toPandas()
    first_orders = pd.DataFrame(
        {
            "customer_id": per_customer["customer_id"],
            "timestamp": per_customer["first_order"].astype("datetime64[ns]"),
        }
    )
    attributed = attribute_buyers(
        first_orders, visits, attribution=rule, period=unit, observation_end=end
    )
    buyers = buyer_table(attributed, per_customer.loc[:, list(RFM_COLUMNS)])
    stacked = _source_cohort_cells_spark(orders, buyers, period=unit, margin=rate, end=end)
    return PaybackOrders(
        dates=dates,
        n_orders=int(per_customer["n_orders"].sum()),
        buyers=buyers,
        stacked=stacked,
        attribution_report=dict(attributed.attrs),
        attribution=rule,
        period=unit,
        margin=rate,
    )


def _source_cohort_cells_spark(
    orders: DataFrame, buyers: pd.DataFrame, *, period: CohortPeriod, margin: float, end: dt.date
) -> pd.DataFrame:
    """:func:`clvmodels.marketing.attribution.source_cohort_table`, aggregated in Spark."""
    from pyspark.sql import functions as F

    spark = orders.sparkSession
    sources = spark.createDataFrame(
        pd.DataFrame(
            {
                "customer_id": buyers["customer_id"].to_numpy(),
                "source_id": buyers["source_id"].astype(str).to_numpy(dtype=object),
                "cohort_p": period_index(buyers["cohort"], period),
            }
        )
    )
    day = F.col("timestamp").cast("date")
    cells: pd.DataFrame = (
        orders.filter(day <= F.lit(end))
        .select("customer_id", _period_index_column(day, period).alias("p"), "revenue")
        .repartition("customer_id")  # serves the aggregation and the join: one shuffle
        .groupBy("customer_id", "p")
        .agg(F.count(F.lit(1)).alias("n_orders"), F.sum("revenue").alias("revenue"))
        .join(sources, on="customer_id", how="inner")
        .groupBy("source_id", "cohort_p", (F.col("p") - F.col("cohort_p")).alias("age"))
        .agg(
            F.count(F.lit(1)).alias("active_customers"),
            F.sum("n_orders").alias("orders"),
            F.sum("revenue").alias("revenue"),
        )
        .toPandas()
    )
    end_p = day_index(end, period)
    first_open_p = day_index(end + dt.timedelta(days=1), period)
    parts = [
        _fill_cohort_grid(
            rows.drop(columns="source_id"),
            end_p=end_p,
            first_open_p=first_open_p,
            unit=period,
            rate=margin,
        ).assign(source_id=source_id)
        for source_id, rows in cells.groupby("source_id", sort=True)
    ]
    if not parts:
        raise DataError("no buyer has an order up to the observation end")
    stacked = pd.concat(parts, ignore_index=True)
    return stacked.loc[:, ["source_id", *COHORT_COLUMNS]]


# --------------------------------------------------------------------------------------
# scoring
# --------------------------------------------------------------------------------------
def score_spark(
    rfm: DataFrame,
    model: CLVModel,
    *,
    horizon: str = "12M",
    annual_discount_rate: float = 0.1,
    margin: float = 1.0,
    n_draws: int | None = 200,
    rows_per_batch: int = 100_000,
) -> DataFrame:
    """:func:`clvmodels.predict.scoring.score_customers` on every partition of a Spark RFM table.

    The posterior draws (thinned on the driver to ``n_draws``, a few numpy arrays) go to the
    executors once, as a broadcast variable; each executor rebuilds the two models from them
    and scores its partition in batches with :func:`clvmodels.predict.scoring.score_customers`, so
    every score is computed by the same code as on one machine. Executors need clvmodels and
    its dependencies installed (see the README).

    Parameters
    ----------
    rfm : pyspark.sql.DataFrame
        ``customer_id, frequency, recency, T, monetary_value`` in the model's time unit
        (e.g. from :func:`rfm_summary_spark`); it is not validated again here.
    model : CLVModel
        A fitted (or loaded) model.
    horizon, annual_discount_rate, margin, n_draws
        As in :func:`clvmodels.predict.scoring.score_customers`.
    rows_per_batch : int
        Customers scored together on an executor (memory: about draws x rows x 8 bytes per
        intermediate array, bounded by scoring's own chunking).

    Returns
    -------
    pyspark.sql.DataFrame
        :data:`clvmodels.predict.columns.SCORE_COLUMNS`, row for row in the order of ``rfm``.
    """
    from pyspark.sql import types as T

    model._check_fitted()
    duration = parse_duration(horizon)
    monthly_steps(duration.months, annual_discount_rate)  # bad arguments fail on the driver
    transaction = model.transaction_model_
    payload = {
        "time_unit": check_time_unit(model.time_unit),
        "transaction_name": transaction.name,
        "transaction_draws": transaction.param_draws(n_draws),
        "spend_draws": model.require_spend_model().param_draws(n_draws),
        "horizon": str(duration),
        "annual_discount_rate": float(annual_discount_rate),
        "margin": float(margin),
    }
    spark = rfm.sparkSession
    shared = spark.sparkContext.broadcast(payload)
    inputs = rfm.select(*RFM_COLUMNS)
    schema = T.StructType(
        [*inputs.schema.fields]
        + [T.StructField(name, T.DoubleType()) for name in SCORE_COLUMNS[len(RFM_COLUMNS) :]]
    )

    def score_partition(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        from clvmodels.spark.engine import score_payload

        for frame in _regroup(batches, rows_per_batch):
            yield score_payload(frame, shared.value)

    return inputs.mapInPandas(score_partition, schema)


def score_payload(rfm: pd.DataFrame, payload: Mapping[str, Any]) -> pd.DataFrame:
    """Score a pandas RFM batch with models rebuilt from broadcast draws (runs on executors)."""
    from clvmodels.model import MODELS
    from clvmodels.models.gamma_gamma import GammaGammaModel
    from clvmodels.predict.scoring import score_customers

    transaction = MODELS[payload["transaction_name"]].model_class.from_posterior(
        payload["transaction_draws"]
    )
    spend = GammaGammaModel.from_posterior(payload["spend_draws"])
    scores = score_customers(
        rfm,
        transaction,
        spend,
        time_unit=payload["time_unit"],
        horizon=payload["horizon"],
        annual_discount_rate=payload["annual_discount_rate"],
        margin=payload["margin"],
        n_draws=None,  # thinned on the driver
    )
    return scores.loc[:, list(SCORE_COLUMNS)]


def _regroup(batches: Iterator[pd.DataFrame], rows: int) -> Iterator[pd.DataFrame]:
    """Arrow's batches (10,000 rows) joined into batches of about ``rows``."""
    pending: list[pd.DataFrame] = []
    size = 0
    for batch in batches:
        if len(batch) == 0:
            continue
        pending.append(batch)
        size += len(batch)
        if size >= rows:
            yield pd.concat(pending, ignore_index=True)
            pending, size = [], 0
    if pending:
        yield pd.concat(pending, ignore_index=True)


def draws_used(model: CLVModel, n_draws: int | None) -> int:
    """How many posterior draws :func:`score_spark` uses (the ``n_draws`` attr of scores)."""
    return len(next(iter(model.transaction_model_.param_draws(n_draws).values())))


# --------------------------------------------------------------------------------------
# writing
# --------------------------------------------------------------------------------------
def write_spark_table(frame: DataFrame, path: str, *, fmt: str = "parquet") -> str:
    """Write a Spark DataFrame as a folder of part files, replacing ``path`` only on success.

    Spark writes into a hidden sibling (``.NAME.tmp-...``) and the folder is renamed into
    place through Hadoop's file system (atomic on HDFS and local disks; a copy on object
    stores), so a failed job leaves the previous output as it was.

    Parameters
    ----------
    frame : pyspark.sql.DataFrame
    path : str
        Any path Spark writes (local, ``hdfs://``, ``s3a://``, ...).
    fmt : {"parquet", "csv", "json", "orc"}
        CSV gets a header row.
    """
    spark = frame.sparkSession
    jvm = spark.sparkContext._jvm
    assert jvm is not None
    target = jvm.org.apache.hadoop.fs.Path(path)
    fs = target.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    staging = jvm.org.apache.hadoop.fs.Path(
        target.getParent(), f".{target.getName()}.tmp-{uuid.uuid4().hex[:12]}"
    )
    writer = frame.write.mode("error")
    if fmt == "csv":
        writer = writer.option("header", True)
    try:
        writer.format(fmt).save(staging.toString())
        if fs.exists(target):
            backup = jvm.org.apache.hadoop.fs.Path(
                target.getParent(), f".{target.getName()}.old-{uuid.uuid4().hex[:12]}"
            )
            fs.rename(target, backup)
            fs.rename(staging, target)
            fs.delete(backup, True)
        elif not fs.rename(staging, target):
            raise OSError(f"could not move the output into place at {path}")
    finally:
        if fs.exists(staging):
            fs.delete(staging, True)
    return path
