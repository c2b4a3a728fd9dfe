"""Cohorts in Spark: :func:`clvmodels.summaries.cohorts.cohort_table`, aggregated in Spark.

Orders are aggregated in Spark into (cohort, age) cells; that table is small by construction
(cohorts x ages rows), so it comes back as pandas and everything built on it
(:func:`clvmodels.summaries.cohorts.average_ltv_curve`, plots, payback) is the same code for
both engines.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from clvmodels.ranges import check_margin
from clvmodels.spark.read import OrdersExtent, order_period_spark
from clvmodels.summaries.calendar import (
    WEEK_ORIGIN,
    CohortPeriod,
    check_period,
    day_index,
    period_start,
)
from clvmodels.summaries.cohorts import COHORT_COLUMNS, cohort_attrs
from clvmodels.summaries.period import DateLike

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame


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
        Validated orders (see :func:`clvmodels.spark.read.read_orders_spark`).
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
        .select("customer_id", period_index_column(day, unit).alias("p"), "revenue")
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
    table = fill_cohort_grid(cells, end_p=end_p, first_open_p=first_open_p, unit=unit, rate=rate)
    table.attrs = cohort_attrs(table, unit, rate, dates.first_order, end)
    return table


def period_index_column(day: Column, period: CohortPeriod) -> Column:
    """The month or week index of a date column (:func:`clvmodels.summaries.calendar.day_index`)."""
    from pyspark.sql import functions as F

    if period == "month":
        return (F.year(day) * 12 + F.month(day) - 1).cast("int")
    return F.floor(F.datediff(day, F.lit(WEEK_ORIGIN)) / F.lit(7)).cast("int")


def fill_cohort_grid(
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
