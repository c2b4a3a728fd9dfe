"""The rfm command: orders -> one RFM row per customer (:func:`clvmodels.jobs.rfm.rfm_orders`)."""

from __future__ import annotations

import functools
from typing import Any

import click

from clvmodels.cli.common import (
    DATE,
    TIME_UNIT,
    day_text,
    guarded,
    observation_end_option,
    orders_options,
    orders_source,
    pop_orders_options,
    say,
)
from clvmodels.cli.outputs import check_outputs, output_path
from clvmodels.cli.spark import engine_options, pop_engine_options, spark_rfm
from clvmodels.data.paths import input_tables
from clvmodels.jobs.rfm import RfmResult, rfm_orders
from clvmodels.units import UNIT_NAMES


@click.command()
@click.argument("orders", type=click.Path())
@orders_options
@engine_options
@click.option(
    "--time-unit",
    type=TIME_UNIT,
    default="W",
    show_default=True,
    help="Unit of recency, T and durations: D (day), W (7 days), M (365.25/12 days).",
)
@observation_end_option()
@click.option(
    "--calibration-end",
    type=DATE,
    help="End of calibration; adds holdout columns for the days after it.",
)
@click.option(
    "-o",
    "--output",
    required=True,
    help="Output file (.parquet, .csv or .json) or database table (URL#schema.table, e.g. "
    "postgresql://host/db#clv.rfm, duckdb:///shop.duckdb#clv.rfm).",
)
@guarded
def rfm(
    orders: str,
    time_unit: str,
    observation_end: Any,
    calibration_end: Any,
    output: str,
    **kwargs: Any,
) -> None:
    """Summarise orders into recency, frequency and monetary value per customer.

    Same-day orders are one purchase occasion. Writes customer_id, frequency, recency, T,
    monetary_value, and with --calibration-end also frequency_holdout,
    monetary_value_holdout, duration_holdout. The aggregation runs in DuckDB, or with
    --engine spark in Apache Spark (ORDERS: any path Spark reads, or a catalog table).

    Example:

    \b
      clv rfm orders.csv --time-unit W --calibration-end 1997-09-30 -o rfm.parquet
      clv rfm orders_parquet_dir/ --engine spark --spark-master 'local[4]' -o rfm.parquet
    """
    target = output_path(output)
    check_outputs(
        inputs={"ORDERS": orders},
        outputs={"--output": target},
        tables=input_tables("ORDERS", kwargs),
    )
    engine, spark_master = pop_engine_options(kwargs)
    opts = pop_orders_options(kwargs)
    dates: dict[str, Any] = {
        "time_unit": time_unit.upper(),
        "observation_end": day_text(observation_end),
        "calibration_end": day_text(calibration_end),
    }
    source = (
        functools.partial(spark_rfm, orders, opts, **dates, master=spark_master)
        if engine == "spark"
        else orders_source(orders, opts)
    )
    _print_rfm(rfm_orders(source, target, **dates))


def _print_rfm(result: RfmResult) -> None:
    attrs = result.summary.attrs
    say(
        f"RFM of {result.n_orders:,} orders: {len(result.summary):,} customers, "
        f"{result.n_repeat:,} with repeat purchases"
    )
    say(
        f"  time unit: {UNIT_NAMES[attrs['time_unit']]} ({attrs['time_unit']}); "
        f"first order {attrs['first_order']}; calibration end {attrs['calibration_end']}; "
        f"observation end {attrs['observation_end']}"
    )
    if attrs.get("revenue") == "none":
        say("  revenue: none (--no-revenue): no monetary_value columns")
    elif attrs.get("revenue") == "value_per_order":
        say(f"  revenue: {attrs['value_per_order']:g} per order (--value-per-order)")
    say(f"wrote {result.target}")
