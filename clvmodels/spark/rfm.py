"""RFM in Spark: :func:`clvmodels.summaries.rfm.rfm_summary` on a Spark orders table.

The definitions are those of :mod:`clvmodels.summaries.rfm` (docs/definitions.md); all
orders pass through one shuffle, by customer, and the result stays a Spark DataFrame.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from clvmodels.spark.read import OrdersExtent, order_period_spark
from clvmodels.summaries.period import DateLike, Period
from clvmodels.units import DAYS_PER_UNIT, check_time_unit

if TYPE_CHECKING:
    from pyspark.sql import DataFrame


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
        :func:`clvmodels.spark.read.read_orders_spark`).
    time_unit : {"D", "W", "M"}
        Unit of ``recency``, ``T`` and ``duration_holdout``.
    observation_end, calibration_end : date, optional
        As in :func:`clvmodels.summaries.rfm.rfm_summary`.
    extent : OrdersExtent, optional
        The orders' extent if already known
        (:func:`clvmodels.spark.read.orders_extent_spark`): saves a pass.
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
    from pyspark.sql import Window
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
        .withColumn(
            "gap", F.datediff(day, F.lag(day).over(Window.partitionBy("customer_id").orderBy(day)))
        )
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
            F.sum(F.when(in_calibration, F.log(F.col("gap") / per_unit))).alias("litt"),
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
        F.coalesce(F.col("litt"), F.lit(0.0)).alias("litt"),
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
