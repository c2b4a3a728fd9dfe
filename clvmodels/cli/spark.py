"""``--engine spark`` for the rfm, cohorts, payback and score commands.

Each function here does what its command does between reading the orders and writing the
output, on Spark (one job of :mod:`clvmodels.spark.jobs`), and returns the same pandas table
with the same ``attrs`` as the DuckDB engine. The command then writes it as it writes the DuckDB
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

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from clvmodels.cli.common import UserError
from clvmodels.data.database_url import is_database_url, shown_source

if TYPE_CHECKING:
    import pandas as pd

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


def read_options(orders: str, opts: dict[str, Any]) -> dict[str, Any]:
    """The ``orders_options`` as keyword arguments of Spark's ``read_orders_spark``.

    A database URL as ORDERS is refused here, before Spark starts: Spark reads files and
    its catalog's tables, not PostgreSQL, DuckDB or SQLite.
    """
    if is_database_url(orders):
        raise UserError(
            f"--engine spark does not read databases ({shown_source(orders)}); read them with "
            "the default engine (--engine duckdb), or give Spark a file or catalog table"
        )
    if opts.get("table"):
        raise UserError(
            "--table names a table in a DuckDB or SQLite file; with --engine spark, give a "
            "Spark catalog table as ORDERS (e.g. clv rfm sales.orders --engine spark ...)"
        )
    return {
        "customer_col": opts["customer_col"],
        "date_col": opts["date_col"],
        "revenue_col": None if opts.get("no_revenue") else opts["revenue_col"],
        "date_format": opts["date_format"],
        "date_unit": opts.get("date_unit"),
        "time_zone": opts.get("time_zone") or "UTC",
        "encoding": opts["encoding"],
        "refunds": opts["refunds"],
        "dedupe": opts["dedupe"],
        "query": opts["query"],
        "value_per_order": opts.get("value_per_order"),
    }


def spark_rfm(
    orders: str,
    opts: dict[str, Any],
    *,
    time_unit: str,
    observation_end: str | None,
    calibration_end: str | None,
    master: str = DEFAULT_MASTER,
) -> tuple[pd.DataFrame, int]:
    """The rfm command's work on Spark: :func:`clvmodels.spark.jobs.rfm_job`."""
    from clvmodels.spark.jobs import rfm_job

    return rfm_job(
        orders,
        read_options(orders, opts),
        time_unit=time_unit,
        observation_end=observation_end,
        calibration_end=calibration_end,
        master=master,
    )


def spark_cohort_table(
    orders: str,
    opts: dict[str, Any],
    *,
    period: str,
    margin: float,
    observation_end: str | None,
    master: str = DEFAULT_MASTER,
) -> tuple[pd.DataFrame, int]:
    """The cohorts command's table on Spark: :func:`clvmodels.spark.jobs.cohorts_job`."""
    from clvmodels.spark.jobs import cohorts_job

    return cohorts_job(
        orders,
        read_options(orders, opts),
        period=period,
        margin=margin,
        observation_end=observation_end,
        master=master,
    )


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
    """The payback command's orders on Spark: :func:`clvmodels.spark.jobs.payback_job`."""
    from clvmodels.spark.jobs import payback_job

    return payback_job(
        orders,
        read_options(orders, opts),
        visits,
        attribution=attribution,
        period=period,
        margin=margin,
        observation_end=observation_end,
        master=master,
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
    """The score command's work on Spark: :func:`clvmodels.spark.jobs.scores_job`."""
    from clvmodels.spark.jobs import ScoreSettings, scores_job

    settings = ScoreSettings(
        horizon=horizon,
        annual_discount_rate=annual_discount_rate,
        margin=margin,
        n_draws=n_draws,
    )
    return scores_job(
        model,
        orders,
        read_options(orders, opts),
        settings,
        observation_end=observation_end,
        master=master,
    )
