"""Payback in Spark: :func:`clvmodels.marketing.payback.payback_orders`, aggregated in Spark.

Per-customer RFM and (source, cohort, age) cells are aggregated in Spark; payback's buyers
table (one row per buyer) and the cells come to the driver, where attribution and the rest of
payback are the same code for both engines.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import pandas as pd

from clvmodels.errors import DataError
from clvmodels.models.inputs import RFM_COLUMNS
from clvmodels.ranges import check_margin
from clvmodels.spark.cohorts import fill_cohort_grid, period_index_column
from clvmodels.spark.read import OrdersExtent, order_period_spark, orders_extent_spark
from clvmodels.spark.rfm import rfm_summary_spark
from clvmodels.summaries.calendar import CohortPeriod, check_period, day_index, period_index
from clvmodels.summaries.cohorts import COHORT_COLUMNS
from clvmodels.summaries.period import DateLike

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    from clvmodels.marketing.payback import PaybackOrders


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
       days, first order and order count (:func:`clvmodels.spark.rfm.rfm_summary_spark`);
       it comes to the driver, one row per buyer, as payback's buyers table does anyway.
    2. On the driver, :func:`clvmodels.marketing.attribution.attribute_buyers` finds each buyer's
       source from the visits and the buyer's first order (all the rules read of the
       orders), so attribution is the same code for both engines.
    3. The buyers' sources and cohorts go to Spark (one row per buyer); a second pass
       aggregates the orders into (source, cohort, age) cells, which come back (at most
       sources x cohorts x ages rows) and are filled into per-source cohort tables as
       :func:`clvmodels.spark.cohorts.cohort_table_spark` fills its table.

    Parameters
    ----------
    orders : pyspark.sql.DataFrame
        Validated orders (see :func:`clvmodels.spark.read.read_orders_spark`).
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
        .select("customer_id", period_index_column(day, period).alias("p"), "revenue")
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
        fill_cohort_grid(
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
