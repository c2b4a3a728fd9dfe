"""The kpis command: revenue, orders and buyers per period, growth, rolling means, seasonality."""

from __future__ import annotations

from typing import Any

import click

from clvmodels.analytics.kpis import KPI_PERIODS
from clvmodels.cli.common import (
    day_text,
    guarded,
    observation_end_option,
    orders_options,
    orders_source,
    pop_orders_options,
    say,
)
from clvmodels.cli.outputs import check_outputs, folder_output
from clvmodels.data.paths import input_tables


@click.command()
@click.argument("orders", type=click.Path())
@orders_options
@click.option("-o", "--output", "out_dir", required=True, help="Folder to write the outputs into.")
@click.option(
    "--period",
    type=click.Choice(KPI_PERIODS),
    default="day",
    show_default=True,
    help="Calendar day, ISO week (Monday to Sunday) or calendar month.",
)
@observation_end_option(
    "Last day used (default: last order's day); later orders are counted and left out."
)
@click.option("--no-plots", is_flag=True, help="Write no PNG plots.")
@guarded
def kpis(
    orders: str,
    out_dir: str,
    period: str,
    observation_end: Any,
    no_plots: bool,
    **kwargs: Any,
) -> None:
    """Revenue, orders and buyers per period, with growth, rolling means and seasonality.

    OUT_DIR gets kpis.csv (one row per day, week or month from the first order's period to
    the observation end's: period_start, revenue, orders, buyers, new_buyers,
    returning_buyers, average_order_value, revenue_per_buyer, revenue_growth and
    buyers_growth (period-over-period relative change), trailing rolling means of revenue
    and orders over 7 and 28 days (4 and 13 weeks, 3 and 12 months; empty until the window
    is full), and complete (false for a partly observed last period)); seasonality.csv (the
    STL decomposition of the complete periods' revenue: weekly for days, and yearly too
    with more than two years; yearly for weeks and months with two years; only a header
    when there is not enough data); summary.json and PNG plots. Periods without orders
    are rows with 0. Orders after --observation-end are counted and left out.

    Example:

    \b
      clv kpis orders.csv -o kpis/
      clv kpis orders.parquet -o kpis_weekly/ --period week --observation-end 2025-06-30
      clv kpis shop.duckdb --table sales.orders --customer-col uid --date-col buy_ts -o kpis/
    """
    from clvmodels.jobs.kpis import kpis_files, run_kpis

    folder_output(out_dir, "-o", "a folder of files")
    check_outputs(
        inputs={"ORDERS": orders},
        outputs={"--output": [out_dir, *kpis_files(out_dir, plots=not no_plots).values()]},
        tables=input_tables("ORDERS", kwargs),
    )
    source = orders_source(orders, pop_orders_options(kwargs))
    outcome = run_kpis(
        source,
        out_dir,
        period=period,
        observation_end=day_text(observation_end),
        plots=not no_plots,
    )
    for line in kpis_lines(outcome.summary):
        say(line)
    for path in outcome.files.values():
        say(f"wrote {path}")


def kpis_lines(summary: dict[str, Any]) -> list[str]:
    """What ``clv kpis`` prints: periods, revenue, the last complete period, seasonality."""
    period = summary["period"]
    lines = [
        f"{summary['periods']:,} {period}s from {summary['first_period']} to "
        f"{summary['last_period']} ({summary['n_orders_used']:,} orders, "
        f"{summary['customers']:,} buyers, observed up to {summary['observation_end']}); "
        f"total revenue {summary['total_revenue']:,.2f}"
    ]
    last = summary["last_complete_period"]
    if last is None:
        lines.append(f"  no complete {period} yet")
    else:
        lines.append(
            f"  last complete {period} ({last['period_start']}): revenue "
            f"{last['revenue']:,.2f} ({_change(last['revenue_growth'])}), "
            f"{last['buyers']:,} buyers ({_change(last['buyers_growth'])})"
        )
    if not summary["last_period_complete"]:
        lines.append(f"  the last {period} is partly observed: marked complete=false")
    lines.append("  " + _seasonality_line(summary["seasonality"]))
    after = summary["data_problems"]["after_observation_end"]
    if after:
        lines.append(f"  {after:,} orders after the observation end were left out")
    return lines


def _change(growth: float | None) -> str:
    return "growth n/a: none the period before" if growth is None else f"{growth:+.1%}"


def _seasonality_line(info: dict[str, Any]) -> str:
    if not info["found"]:
        return f"seasonality: {info['reason']}"
    parts = ", ".join(
        f"period {p} (strength {info['strength'][str(p)]:.2f}, {info['cycles'][str(p)]} cycles)"
        for p in info["periods"]
    )
    return f"seasonality ({info['method']} of {info['column']}): {parts}"
