"""The publish command: the whole job into a database or folder (:mod:`clvmodels.jobs.publish`).

The modelling stack is imported when the command runs, not by ``--help``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from clvmodels.cli.common import (
    TIME_UNIT,
    UserError,
    discount_option,
    guarded,
    horizon_option,
    margin_option,
    orders_options,
    orders_source,
    period_option,
    pop_orders_options,
    say,
)
from clvmodels.cli.fit import print_model_description
from clvmodels.cli.marketing_options import (
    pop_visits_costs_options,
    read_visits_and_costs,
    visits_costs_options,
)
from clvmodels.models.settings import TRANSACTION_MODEL_NAMES

if TYPE_CHECKING:
    import pandas as pd

    from clvmodels.data.contract import OrdersSource
    from clvmodels.jobs.publish import PublishResult, PublishSettings


@click.command()
@click.argument("orders")
@orders_options
@click.option(
    "--to",
    "to",
    required=True,
    help="Database URL (postgresql://user@host/db, duckdb:///file.duckdb, "
    "sqlite:///file.sqlite) or a folder for Parquet files.",
)
@click.option(
    "--schema",
    default="clv",
    show_default=True,
    help="Schema of the tables and views (created when missing; on SQLite a name prefix clv_).",
)
@click.option(
    "--model",
    "model_dir",
    type=click.Path(file_okay=False),
    help="A fitted model folder (clv fit) to score with; without it the models are fitted.",
)
@click.option(
    "--model-type",
    type=click.Choice([*TRANSACTION_MODEL_NAMES, "auto"]),
    default="auto",
    show_default=True,
    help="Transaction model fitted without --model (as clv fit --model; auto: the candidate "
    "with the lowest holdout MAE, docs/backtest.md).",
)
@click.option(
    "--method",
    type=click.Choice(["map", "laplace", "mcmc"]),
    default="map",
    show_default=True,
    help="How the models are fitted without --model (as clv fit --method).",
)
@click.option(
    "--time-unit",
    type=TIME_UNIT,
    default="W",
    show_default=True,
    help="Time unit of the fit (a --model keeps its own).",
)
@margin_option
@discount_option
@horizon_option("How far ahead the scores look: 90D, 39W, 12M.")
@period_option("Cohort and age unit of the cohorts, payback and budget tables.")
@visits_costs_options(required=False)
@click.option(
    "--dimension-col",
    help="An orders column (e.g. partner_id) for the top_dimensions and "
    "customer_favourite_dimension views and customers.favourite_<column>.",
)
@guarded
def publish(orders: str, to: str, model_dir: str | None, **kwargs: Any) -> None:
    """Run the whole job and write presentation tables and views to a database or folder.

    Reads ORDERS once, fits the models (or scores with --model MODEL_DIR), scores and
    segments the customers, builds the cohort table and, with --visits and --costs, the
    payback and budget tables. Writes the tables customers (RFM, scores, RFM scores,
    segment, favourite_<dimension>), cohorts (as clv cohorts writes it), segment_summary,
    payback and budget (with visits and costs), orders (with --dimension-col: customer_id,
    timestamp, revenue and the column, for the dimension views) and runs (one row per
    successful run: run_at in UTC, version, input fingerprint, settings as JSON, target);
    and the views m1_retention, retention_curve, top_customers and, with --dimension-col,
    top_dimensions and customer_favourite_dimension. Into a database everything is written
    in one transaction (a failed run leaves the previous tables, views and runs as they
    were; the schema is created when missing); into a folder one Parquet file per table
    and view, the views computed with the same SQL in DuckDB. A password in --to is never
    printed or stored: better, leave it to PGPASSWORD or ~/.pgpass.

    Example:

    \b
      clv publish orders.csv --to postgresql://analyst@db.shop/shop --schema clv
      clv publish postgresql://analyst@db.shop/shop#sales.orders --to \\
          postgresql://analyst@db.shop/shop --dimension-col partner_id --margin 0.3
      clv publish orders.parquet --to duckdb:///clv.duckdb --model model/ \\
          --visits visits.csv --costs costs.csv
      clv publish orders.csv --to published/ --dimension-col partner_id
    """
    from clvmodels.jobs.publish import PublishSettings

    opts = pop_orders_options(kwargs)
    columns = pop_visits_costs_options(kwargs)
    visits_path, costs_path = kwargs.pop("visits_path"), kwargs.pop("costs_path")
    if (visits_path is None) != (costs_path is None):
        raise UserError("--visits and --costs go together (payback and budget need both)")
    if model_dir is not None and not Path(model_dir).is_dir():
        raise UserError(f"--model {model_dir} is not a model folder")
    settings = PublishSettings(
        schema=kwargs.pop("schema"),
        time_unit=kwargs.pop("time_unit").upper(),
        margin=kwargs.pop("margin"),
        annual_discount_rate=kwargs.pop("annual_discount_rate"),
        horizon=kwargs.pop("horizon"),
        model_type=kwargs.pop("model_type"),
        method=kwargs.pop("method"),
        dimension_col=kwargs.pop("dimension_col"),
        period=kwargs.pop("period"),
    )
    visits, costs = (
        read_visits_and_costs(visits_path, costs_path, columns) if visits_path else (None, None)
    )
    publish_and_report(
        orders_source(orders, opts),
        to,
        settings,
        model_dir=model_dir,
        visits=visits,
        costs=costs,
    )


def publish_and_report(
    source: OrdersSource,
    to: str,
    settings: PublishSettings,
    *,
    model_dir: str | None = None,
    visits: pd.DataFrame | None = None,
    costs: pd.DataFrame | None = None,
    origins: Mapping[str, str] | None = None,
) -> PublishResult:
    """Publish and print what was written: the hook ``clv run`` calls with its settings.

    ``origins`` (setting name -> where it came from: the command line, a job file, the
    default) is printed before the job, for the settings it names.
    """
    from clvmodels.jobs.publish import publish

    for name, origin in (origins or {}).items():
        say(f"  {name} = {getattr(settings, name, '?')!r} ({origin})")
    result = publish(
        source,
        to,
        settings=settings,
        model_dir=model_dir,
        visits=visits,
        costs=costs,
        echo=say,
    )
    if result.model_description:
        print_model_description(result.model_description)
    say(f"published to {result.target} (model {result.model_source}):")
    width = max(len(name) for name in result.written)
    for name in result.written:
        kind = result.kinds.get(name, "table")
        rows = result.rows.get(name)
        count = f"{rows:,} row{'' if rows == 1 else 's'}" if rows is not None else ""
        if kind == "append":
            kind, count = "table", "1 row appended"
        say(f"  {name:<{width}}  {kind:<5}  {count}".rstrip())
    return result
