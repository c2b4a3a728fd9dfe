"""The conversion command: from the first visit to the first order, by source, device, cohort."""

from __future__ import annotations

from typing import Any

import click

from clvmodels.cli.common import (
    day_text,
    guarded,
    observation_end_option,
    orders_options,
    orders_source,
    pop_orders_options,
    say,
)
from clvmodels.cli.marketing_options import pop_visits_options, visits_column_options
from clvmodels.cli.outputs import check_outputs, folder_not_file, folder_output
from clvmodels.data.database_url import shown_source
from clvmodels.data.paths import input_tables


@click.command()
@click.option(
    "--visits", "visits_path", required=True, type=click.Path(dir_okay=False), help="Visits."
)
@visits_column_options
@click.option("--orders", "orders_path", required=True, help="Orders file or database URL.")
@orders_options
@observation_end_option(
    "Last day used; later visits and orders are counted and left out "
    "(default: the later of the last visit's and the last order's day)."
)
@click.option("-o", "--output", "out_dir", required=True, help="Folder to write the outputs into.")
@click.option("--no-plots", is_flag=True, help="Write no PNG plots.")
@guarded
def conversion(
    visits_path: str,
    orders_path: str,
    observation_end: Any,
    out_dir: str,
    no_plots: bool,
    **kwargs: Any,
) -> None:
    """How many visitors buy, how soon after the first visit, by source, device and cohort.

    A user's first visit gives their source, device and cohort (its calendar month); a
    buyer is a visitor with an order, and conversion_day counts calendar days from the first
    visit's day to the first order's day (0 = the same day). Customers with orders but no
    visit (buyers_without_visit) and those whose first order comes before their first visit
    (buyers_ordering_before_first_visit) are counted apart and left out of every rate. User
    ids and customer ids are compared exactly as written ("007" never matches 7).

    OUT_DIR gets buyers.csv (uid, first_visit, first_order, conversion_day, source_id,
    device), by_source.csv, by_device.csv and by_cohort.csv (visitors, buyers,
    conversion_rate, median_conversion_day), orders_by_cohort.csv (orders per buyer and
    average order value by cohort and month age), summary.json (with data_problems: visits
    without uid or start, which are dropped; missing ends; sessions ending before they
    start; rows after --observation-end; orders by users never seen) and the plots
    conversion_days.png, conversion_by_source.png and conversion_by_device.png.

    Example:

    \b
      clv conversion --visits visits.csv --orders orders.csv -o conversion/
      clv conversion --visits visits_log.csv --visits-uid-col Uid \\
          --visits-start-col "Start Ts" --orders orders_log.csv --customer-col Uid \\
          --date-col "Buy Ts" --revenue-col Revenue --observation-end 2018-05-31 -o conv/
    """
    from clvmodels.jobs.conversion import conversion_files, run_conversion

    visits_columns = pop_visits_options(kwargs)
    opts = pop_orders_options(kwargs)
    folder_output(out_dir, "-o", "a folder of files")
    check_outputs(
        inputs={"--visits": visits_path, "--orders": orders_path},
        outputs={"--output": [out_dir, *conversion_files(out_dir, plots=not no_plots).values()]},
        tables=input_tables("--orders", opts),
    )
    folder_not_file(out_dir)
    outcome = run_conversion(
        visits_path,
        orders_source(orders_path, opts),
        out_dir,
        visits_columns=visits_columns,
        observation_end=day_text(observation_end),
        plots=not no_plots,
        extra={"visits": shown_source(visits_path), "orders": shown_source(orders_path)},
    )
    for line in conversion_lines(outcome.result.summary):
        say(line)
    for path in outcome.files.values():
        say(f"wrote {path}")


def _share(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def conversion_lines(summary: dict[str, Any]) -> list[str]:
    """What ``clv conversion`` prints: the headline, then every data problem counted."""
    median = summary["median_conversion_day"]
    lines = [
        f"observation end: {summary['observation_end']}",
        f"{summary['visitors']:,} visitors, {summary['buyers']:,} buyers: conversion rate "
        f"{_share(summary['conversion_rate'])}; median conversion day "
        f"{'n/a' if median is None else f'{median:g}'}",
        "buyers converted by day 0 / 1 / 7 / 30: "
        + " / ".join(_share(summary[f"share_day_{k}"]) for k in (0, 1, 7, 30)),
        f"left out of the rates: {summary['buyers_without_visit']:,} buyers without a visit, "
        f"{summary['buyers_ordering_before_first_visit']:,} ordering before their first visit",
    ]
    problems = [
        f"{table} {name.replace('_', ' ')}: {count:,}"
        for table, counts in summary["data_problems"].items()
        for name, count in counts.items()
        if isinstance(count, int) and count
    ]
    lines.append("data problems: " + ("; ".join(problems) if problems else "none"))
    return lines
