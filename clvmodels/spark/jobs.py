"""Whole Spark jobs: read the orders in Spark, then RFM, scores, cohorts or payback orders.

Each job starts (or joins) a Spark session for itself (:func:`clvmodels.spark.session.
session_for_job`: Spark's errors become one-line :class:`clvmodels.errors.ClvError`), reads
and validates the orders with :func:`clvmodels.spark.read.read_orders_spark`, and returns the
same pandas table with the same ``attrs`` as the DuckDB engine; ``clv ... --engine spark``
runs one job per command. :func:`orders_rfm_spark` is the part they share, and what
``scripts/spark_rfm.py`` runs under spark-submit: the orders' RFM, left distributed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from clvmodels.spark.cohorts import cohort_table_spark
from clvmodels.spark.payback import payback_orders_spark
from clvmodels.spark.read import order_period_spark, orders_extent_spark, read_orders_spark
from clvmodels.spark.rfm import rfm_attrs, rfm_summary_spark
from clvmodels.spark.score import draws_used, score_spark
from clvmodels.spark.session import session_for_job
from clvmodels.summaries.calendar import check_period
from clvmodels.summaries.period import DateLike, Period
from clvmodels.units import parse_duration

if TYPE_CHECKING:
    import pandas as pd
    from pyspark.sql import DataFrame, SparkSession

    from clvmodels.marketing.payback import PaybackOrders
    from clvmodels.model import CLVModel


@dataclass(frozen=True)
class OrdersRFM:
    """The RFM of a Spark orders table, its dates and how many orders it was made of."""

    rfm: DataFrame
    period: Period
    n_orders: int


def orders_rfm_spark(
    spark: SparkSession,
    orders: str,
    read_options: Mapping[str, Any],
    *,
    time_unit: str,
    observation_end: DateLike = None,
    calibration_end: DateLike = None,
) -> OrdersRFM:
    """Read and validate ``orders`` in Spark, then summarise them per customer.

    Parameters
    ----------
    spark : SparkSession
    orders : str
        A path or URI Spark reads, or a table of its catalog.
    read_options : mapping
        Keyword arguments of :func:`clvmodels.spark.read.read_orders_spark`.
    time_unit, observation_end, calibration_end
        As in :func:`clvmodels.spark.rfm.rfm_summary_spark`.

    Returns
    -------
    OrdersRFM
        The RFM (a Spark DataFrame, not collected), the resolved period and the number of
        orders read; one pass for the orders' extent, one shuffle for the RFM.
    """
    table = read_orders_spark(spark, orders, **read_options)
    extent = orders_extent_spark(table)
    period = order_period_spark(
        extent, observation_end=observation_end, calibration_end=calibration_end
    )
    rfm = rfm_summary_spark(
        table,
        time_unit=time_unit,
        observation_end=observation_end,
        calibration_end=calibration_end,
        extent=extent,
    )
    return OrdersRFM(rfm=rfm, period=period, n_orders=extent.n_orders)


def rfm_job(
    orders: str,
    read_options: Mapping[str, Any],
    *,
    time_unit: str,
    observation_end: DateLike,
    calibration_end: DateLike,
    master: str | None,
) -> tuple[pd.DataFrame, int]:
    """The RFM of ``orders`` computed on Spark and collected.

    Returns
    -------
    (pandas.DataFrame, int)
        The RFM table exactly as :func:`clvmodels.summaries.rfm.rfm_summary` returns it
        (sorted by customer, same ``attrs``), and the number of orders read.
    """
    with session_for_job(master) as spark:
        result = orders_rfm_spark(
            spark,
            orders,
            read_options,
            time_unit=time_unit,
            observation_end=observation_end,
            calibration_end=calibration_end,
        )
        summary = result.rfm.toPandas()
    summary = _sorted(summary)
    summary.attrs = rfm_attrs(result.period, time_unit)
    return summary, result.n_orders


def cohorts_job(
    orders: str,
    read_options: Mapping[str, Any],
    *,
    period: str,
    margin: float,
    observation_end: DateLike,
    master: str | None,
) -> tuple[pd.DataFrame, int]:
    """The cohort table of ``orders``, aggregated on Spark.

    Returns
    -------
    (pandas.DataFrame, int)
        The table :func:`clvmodels.summaries.cohorts.cohort_table` returns, and the number of
        orders.
    """
    with session_for_job(master) as spark:
        table = read_orders_spark(spark, orders, **read_options)
        extent = orders_extent_spark(table)
        result = cohort_table_spark(
            table,
            period=check_period(period),
            margin=margin,
            observation_end=observation_end,
            extent=extent,
        )
    return result, extent.n_orders


def payback_job(
    orders: str,
    read_options: Mapping[str, Any],
    visits: pd.DataFrame,
    *,
    attribution: str,
    period: str,
    margin: float,
    observation_end: DateLike,
    master: str | None,
) -> PaybackOrders:
    """Payback's work on the orders, on Spark.

    Returns
    -------
    clvmodels.marketing.payback.PaybackOrders
        What :func:`clvmodels.marketing.payback.payback_orders` returns for the orders and
        visits; :func:`clvmodels.marketing.payback.payback_analysis` does the rest.
    """
    with session_for_job(master) as spark:
        table = read_orders_spark(spark, orders, **read_options)
        return payback_orders_spark(
            table,
            visits,
            attribution=attribution,
            period=check_period(period),
            margin=margin,
            observation_end=observation_end,
        )


@dataclass(frozen=True)
class ScoreSettings:
    """How to score: the arguments of :func:`clvmodels.predict.scoring.score_customers`."""

    horizon: str
    annual_discount_rate: float
    margin: float
    n_draws: int | None


def scores_job(
    model: CLVModel,
    orders: str,
    read_options: Mapping[str, Any],
    settings: ScoreSettings,
    *,
    observation_end: DateLike,
    master: str | None,
) -> pd.DataFrame:
    """The RFM of ``orders`` and the model's scores of it, both in Spark, collected.

    Returns
    -------
    pandas.DataFrame
        The scores exactly as :meth:`clvmodels.model.CLVModel.score` returns them for
        :func:`clvmodels.summaries.rfm.rfm_summary` of the orders (sorted by customer), with
        ``attrs`` holding the scoring settings and the RFM table's dates.
    """
    duration = parse_duration(settings.horizon)
    with session_for_job(master) as spark:
        result = orders_rfm_spark(
            spark, orders, read_options, time_unit=model.time_unit, observation_end=observation_end
        )
        scores = score_spark(
            result.rfm,
            model,
            horizon=str(duration),
            annual_discount_rate=settings.annual_discount_rate,
            margin=settings.margin,
            n_draws=settings.n_draws,
        ).toPandas()
    scores = _sorted(scores)
    scores.attrs = {
        **rfm_attrs(result.period, model.time_unit),
        "horizon": str(duration),
        "annual_discount_rate": settings.annual_discount_rate,
        "margin": settings.margin,
        "n_draws": draws_used(model, settings.n_draws),
    }
    return scores


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows by customer id, as the DuckDB engine orders them (sorting here saves a shuffle)."""
    return frame.sort_values("customer_id", ignore_index=True, kind="stable")
