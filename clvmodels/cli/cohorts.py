"""The cohorts command: empirical cohort LTV and retention, with a heatmap and curves."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import pandas as pd

from clvmodels.cli.common import (
    UserError,
    guarded,
    load_orders,
    margin_option,
    observation_end_option,
    orders_options,
    period_option,
    pop_orders_options,
    say,
)
from clvmodels.cli.display import NO_PLOTS_BESIDE_TABLE
from clvmodels.cli.outputs import check_outputs, folder_output, one_destination, output_path
from clvmodels.cli.spark import engine_options, pop_engine_options, spark_cohort_table
from clvmodels.data.database_url import DatabaseURL
from clvmodels.data.io import write_tables
from clvmodels.data.paths import input_tables, output_key
from clvmodels.summaries.calendar import check_period
from clvmodels.summaries.cohorts import (
    average_ltv_curve,
    cohort_ltv_wide,
    cohort_table,
    period_label,
)


@click.command()
@click.argument("orders", type=click.Path())
@orders_options
@engine_options
@click.option(
    "-o",
    "--output",
    required=True,
    help="Long cohort table to write: .parquet, .csv or .json, or a database table "
    "URL#schema.table.",
)
@period_option("Cohort and age unit: calendar month, or ISO week (Monday to Sunday).")
@margin_option
@observation_end_option()
@click.option(
    "--wide",
    "wide_output",
    help="Also write the cohort x age pivot of cumulative LTV (.parquet, .csv or .json; with a "
    "database -o, a table URL#schema.table of the same database, written in one transaction).",
)
@click.option(
    "--plots",
    "plots_dir",
    type=click.Path(file_okay=False),
    help="Folder for the PNG plots (default: beside OUTPUT; with a database -o, none unless "
    "--plots is given).",
)
@click.option("--no-plots", is_flag=True, help="Write no PNG plots.")
@guarded
def cohorts(
    orders: str,
    output: str,
    period: str,
    margin: float,
    observation_end: Any,
    wide_output: str | None,
    plots_dir: str | None,
    no_plots: bool,
    **kwargs: Any,
) -> None:
    """Empirical LTV and retention of each acquisition cohort, by age.

    A cohort is the month (or --period week) of a customer's first order; age k counts whole
    calendar periods since then. Writes one row per cohort and age: cohort, age,
    cohort_size, active_customers, retention, orders, revenue, margin, ltv, cumulative_ltv
    (margin per cohort customer) and complete (False for the period that holds the
    observation end when that period is only partly observed). Also draws a cumulative-LTV
    heatmap and retention curves (OUTPUT's name + _heatmap.png, _retention.png). The
    average curve uses, at each age, only the cohorts that have fully reached it. With
    --engine spark the orders are aggregated in Apache Spark.

    Example:

    \b
      clv cohorts orders.csv --margin 0.3 -o cohorts.parquet --wide cohorts_wide.csv
    """
    folder_output(plots_dir, "--plots", "PNG plots into a folder")
    target = output_path(output)
    wide_target = output_path(wide_output, flag="--wide") if wide_output else None
    one_destination(target, {"--wide": wide_target})
    skipped_plots = False
    if isinstance(target, DatabaseURL):
        assert target.table is not None
        skipped_plots = not (no_plots or plots_dir)  # there is no folder beside a table
        no_plots = no_plots or not plots_dir
        stem, plot_folder = target.table.name, Path(plots_dir or ".")
    else:
        stem, plot_folder = target.stem, Path(plots_dir) if plots_dir else target.parent
    plot_paths = {
        "heatmap": plot_folder / f"{stem}_heatmap.png",
        "retention": plot_folder / f"{stem}_retention.png",
    }
    outputs = [target, *([wide_target] if wide_target else []), *plot_paths.values()]
    if len({output_key(path) for path in outputs}) < len(outputs):
        raise UserError("the output files must have different names")
    plot_files = [] if no_plots else list(plot_paths.values())
    check_outputs(
        inputs={"ORDERS": orders},
        outputs={
            "--output": [target, *([] if plots_dir else plot_files)],
            "--wide": wide_target,
            "--plots": plot_files if plots_dir else None,
        },
        tables=input_tables("ORDERS", kwargs),
    )

    # matplotlib is imported by the commands that draw, once the outputs are checked
    from clvmodels.plots.base import save_figure
    from clvmodels.plots.cohorts import plot_cohort_heatmap, plot_retention_curves

    engine, spark_master = pop_engine_options(kwargs)
    opts = pop_orders_options(kwargs)
    end = observation_end.date().isoformat() if observation_end is not None else None
    if engine == "spark":
        result, n_orders = spark_cohort_table(
            orders, opts, period=period, margin=margin, observation_end=end, master=spark_master
        )
    else:
        table = load_orders(orders, opts)
        n_orders = len(table)
        result = cohort_table(
            table, period=check_period(period), margin=margin, observation_end=end
        )
    curve = average_ltv_curve(result)
    wide = cohort_ltv_wide(result) if wide_target else None
    axes = (
        {}
        if no_plots
        else {"heatmap": plot_cohort_heatmap(result), "retention": plot_retention_curves(result)}
    )

    tables = [(result, target)]
    if wide is not None and wide_target is not None:
        tables.append((_wide_for_file(wide), wide_target))
    written: list[Any] = list(write_tables(tables))
    for name, ax in axes.items():
        written.append(save_figure(ax, plot_paths[name]))
    _print_summary(result, curve, n_orders=n_orders)
    for path in written:
        say(f"wrote {path}")
    if skipped_plots:
        say(NO_PLOTS_BESIDE_TABLE)


def _wide_for_file(wide: pd.DataFrame) -> pd.DataFrame:
    """The pivot as a plain table: a ``cohort`` column, then one column per age ("0", "1")."""
    flat = wide.copy()
    flat.columns = [str(age) for age in flat.columns]
    return flat.reset_index()


def _print_summary(result: pd.DataFrame, curve: pd.DataFrame, *, n_orders: int) -> None:
    attrs = result.attrs
    period = attrs["period"]
    cohorts = result["cohort"].drop_duplicates().sort_values()
    n_periods = int(result["age"].max()) + 1
    say(
        f"cohorts of {n_orders:,} orders: {_count(len(cohorts), period + 'ly cohort')} "
        f"({period_label(cohorts.iloc[0], period)} to {period_label(cohorts.iloc[-1], period)}, "
        f"{int(result.loc[result['age'] == 0, 'cohort_size'].sum()):,} customers), "
        f"{_count(n_periods, period)} observed up to {attrs['observation_end']}, "
        f"margin {attrs['margin']:g}"
    )
    if not attrs["last_period_complete"]:
        say(
            f"  the last {period} is partly observed: marked complete=False and left out of "
            "the averages"
        )
    label = f"{period[0].upper()}1"
    at_one = curve.loc[curve["age"] == 1]
    if len(at_one):
        row = at_one.iloc[0]
        say(
            f"  {label} retention (average of "
            f"{_count(int(row['n_cohorts']), 'fully observed cohort')}): "
            f"{row['retention']:.1%}; cumulative LTV at age 1: {row['cumulative_ltv']:,.2f}"
        )
    else:
        say(f"  {label} retention: no cohort has fully reached age 1 yet")
    if len(curve):
        last = curve.iloc[-1]
        say(
            f"  cumulative LTV at age {int(last['age'])} (oldest fully observed age, "
            f"{_count(int(last['n_cohorts']), 'cohort')}): "
            f"{last['cumulative_ltv']:,.2f} per customer"
        )


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"
