"""``--engine spark`` for the rfm, cohorts, payback and score commands.

Each function here does what its command does between reading the orders and writing the
output, on Spark (:mod:`clvmodels.spark.engine`), and returns the same pandas table with the
same ``attrs`` as the DuckDB engine. The command then writes it as it writes the DuckDB
engine's table: one Parquet/CSV/JSON file, written beside its target and renamed into place.
So the output is collected on the machine that runs ``clv`` (about 50 bytes per customer
for rfm, 120 for score); for per-customer outputs larger than that machine's memory, run
``scripts/spark_rfm.py`` under spark-submit, which leaves the result distributed.

ORDERS is any path Spark reads (a Parquet or CSV file or folder; ``hdfs://``, ``s3a://``) or
the name of a table in Spark's catalog. ``--query`` runs Spark SQL with ORDERS as the view
``orders``. ``--spark-master`` says where Spark runs: ``local[2]`` (the default) starts Spark
inside this process's machine; ``yarn``, ``spark://host:7077`` or ``k8s://...`` use a cluster
(client mode). Under spark-submit, spark-submit's ``--master`` wins.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import click
import pandas as pd

from clvmodels.cli.common import UserError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from clvmodels.marketing.payback import PaybackOrders
    from clvmodels.model import CLVModel

ENGINES = ("duckdb", "spark")
DEFAULT_MASTER = "local[2]"


def engine_options[F: Callable[..., Any]](func: F) -> F:
    """The ``--engine`` and ``--spark-master`` options."""
    options = [
        click.option(
            "--engine",
            type=click.Choice(ENGINES),
            default="duckdb",
            show_default=True,
            help="Where the aggregation runs: DuckDB on this machine, or Apache Spark "
            "(pip install 'clvmodels[spark]'; needs Java 17).",
        ),
        click.option(
            "--spark-master",
            default=DEFAULT_MASTER,
            show_default=True,
            help="With --engine spark: local[N], yarn, spark://host:7077 or k8s://... "
            "(under spark-submit, its --master is used).",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def pop_engine_options(kwargs: dict[str, Any]) -> tuple[str, str]:
    """Take ``engine`` and ``spark_master`` out of a command's keyword arguments."""
    return kwargs.pop("engine"), kwargs.pop("spark_master")


@contextlib.contextmanager
def spark_for_command(master: str) -> Iterator[SparkSession]:
    """A Spark session for one command, stopped at the end unless it was running before.

    Errors of the Spark job (a file it cannot read, a failed task) become a ClvError: a
    one-line message and exit code 2 instead of a Java stack trace.
    """
    from clvmodels.errors import ClvError
    from clvmodels.spark.engine import running_session, spark_session

    was_running = running_session() is not None
    spark = spark_session(master)
    try:
        yield spark
    except ClvError:
        raise
    except Exception as exc:
        if not _is_spark_error(exc):
            raise
        raise ClvError(f"the Spark job failed: {_first_line(exc)}") from exc
    finally:
        if not was_running:
            spark.stop()


def _is_spark_error(exc: BaseException) -> bool:
    from py4j.protocol import Py4JError
    from pyspark.errors import PySparkException

    return isinstance(exc, PySparkException | Py4JError)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def read_orders_for_command(spark: SparkSession, orders: str, opts: dict[str, Any]) -> DataFrame:
    """Read and validate ORDERS in Spark with the options of ``orders_options``."""
    from clvmodels.spark.engine import read_orders_spark

    if opts.get("table"):
        raise UserError(
            "--table names a table in a DuckDB or SQLite file; with --engine spark, give a "
            "Spark catalog table as ORDERS (e.g. clv rfm sales.orders --engine spark ...)"
        )
    return read_orders_spark(
        spark,
        orders,
        customer_col=opts["customer_col"],
        date_col=opts["date_col"],
        revenue_col=None if opts.get("no_revenue") else opts["revenue_col"],
        date_format=opts["date_format"],
        date_unit=opts.get("date_unit"),
        time_zone=opts.get("time_zone") or "UTC",
        encoding=opts["encoding"],
        refunds=opts["refunds"],
        dedupe=opts["dedupe"],
        query=opts["query"],
        value_per_order=opts.get("value_per_order"),
    )


def spark_rfm(
    orders: str,
    opts: dict[str, Any],
    *,
    time_unit: str,
    observation_end: str | None,
    calibration_end: str | None,
    master: str = DEFAULT_MASTER,
) -> tuple[pd.DataFrame, int]:
    """The rfm command's work on Spark.

    Returns
    -------
    (pandas.DataFrame, int)
        The RFM table exactly as :func:`clvmodels.summaries.rfm.rfm_summary` returns it (sorted by
        customer, same ``attrs``), and the number of orders read.
    """
    from clvmodels.spark.engine import (
        order_period_spark,
        orders_extent_spark,
        rfm_attrs,
        rfm_summary_spark,
    )

    with spark_for_command(master) as spark:
        table = read_orders_for_command(spark, orders, opts)
        extent = orders_extent_spark(table)
        period = order_period_spark(
            extent, observation_end=observation_end, calibration_end=calibration_end
        )
        summary = rfm_summary_spark(
            table,
            time_unit=time_unit,
            observation_end=observation_end,
            calibration_end=calibration_end,
            extent=extent,
        ).toPandas()
    summary = _sorted(summary)
    summary.attrs = rfm_attrs(period, time_unit)
    return summary, extent.n_orders


def spark_cohort_table(
    orders: str,
    opts: dict[str, Any],
    *,
    period: str,
    margin: float,
    observation_end: str | None,
    master: str = DEFAULT_MASTER,
) -> tuple[pd.DataFrame, int]:
    """The cohorts command's table on Spark.

    Returns
    -------
    (pandas.DataFrame, int)
        The table :func:`clvmodels.summaries.cohorts.cohort_table` returns, and the number of
        orders.
    """
    from clvmodels.spark.engine import cohort_table_spark, orders_extent_spark
    from clvmodels.summaries.calendar import check_period

    with spark_for_command(master) as spark:
        table = read_orders_for_command(spark, orders, opts)
        extent = orders_extent_spark(table)
        result = cohort_table_spark(
            table,
            period=check_period(period),
            margin=margin,
            observation_end=observation_end,
            extent=extent,
        )
    return result, extent.n_orders


def spark_payback_orders(
    orders: str,
    opts: dict[str, Any],
    visits: pd.DataFrame,
    *,
    attribution: str,
    period: str,
    margin: float,
    observation_end: str | None,
    master: str = DEFAULT_MASTER,
) -> PaybackOrders:
    """The payback command's work on the orders, on Spark.

    Returns
    -------
    clvmodels.marketing.payback.PaybackOrders
        What :func:`clvmodels.marketing.payback.payback_orders` returns for the orders and
        visits; :func:`clvmodels.marketing.payback.payback_analysis` does the rest.
    """
    from clvmodels.spark.engine import payback_orders_spark
    from clvmodels.summaries.calendar import check_period

    with spark_for_command(master) as spark:
        table = read_orders_for_command(spark, orders, opts)
        return payback_orders_spark(
            table,
            visits,
            attribution=attribution,
            period=check_period(period),
            margin=margin,
            observation_end=observation_end,
        )


def spark_scores(
    model: CLVModel,
    orders: str,
    opts: dict[str, Any],
    *,
    observation_end: str | None,
    horizon: str,
    annual_discount_rate: float,
    margin: float,
    n_draws: int | None,
    master: str = DEFAULT_MASTER,
) -> pd.DataFrame:
    """The score command's work on Spark: RFM of ORDERS, then scores, both in Spark.

    Returns
    -------
    pandas.DataFrame
        The scores exactly as :meth:`clvmodels.model.CLVModel.score` returns them for
        :func:`clvmodels.summaries.rfm.rfm_summary` of the orders (sorted by customer), with
        ``attrs``
        holding the scoring settings and the RFM table's dates.
    """
    from clvmodels.spark.engine import (
        draws_used,
        order_period_spark,
        orders_extent_spark,
        rfm_attrs,
        rfm_summary_spark,
        score_spark,
    )
    from clvmodels.units import parse_duration

    duration = parse_duration(horizon)
    with spark_for_command(master) as spark:
        table = read_orders_for_command(spark, orders, opts)
        extent = orders_extent_spark(table)
        period = order_period_spark(extent, observation_end=observation_end)
        rfm = rfm_summary_spark(
            table, time_unit=model.time_unit, observation_end=observation_end, extent=extent
        )
        scores = score_spark(
            rfm,
            model,
            horizon=str(duration),
            annual_discount_rate=annual_discount_rate,
            margin=margin,
            n_draws=n_draws,
        ).toPandas()
    scores = _sorted(scores)
    scores.attrs = {
        **rfm_attrs(period, model.time_unit),
        "horizon": str(duration),
        "annual_discount_rate": annual_discount_rate,
        "margin": margin,
        "n_draws": draws_used(model, n_draws),
    }
    return scores


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows by customer id, as the DuckDB engine orders them (sorting here saves a shuffle)."""
    return frame.sort_values("customer_id", ignore_index=True, kind="stable")
