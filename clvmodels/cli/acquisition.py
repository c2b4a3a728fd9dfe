"""The acquisition commands: payback (CAC, ROMI, payback per cohort and source) and budget."""

from __future__ import annotations

import math
from typing import Any

import click
import pandas as pd

from clvmodels.cli.common import (
    MONTHS,
    PERIODS,
    UserError,
    discount_option,
    draws_option,
    guarded,
    load_orders,
    margin_option,
    observation_end_option,
    orders_options,
    period_option,
    pop_orders_options,
    say,
)
from clvmodels.cli.customers_options import customers_options, pop_customers_source
from clvmodels.cli.display import NO_PLOTS_BESIDE_TABLE
from clvmodels.cli.marketing_options import read_visits_and_costs, visits_costs_options
from clvmodels.cli.outputs import check_outputs, folder_output, output_path
from clvmodels.cli.spark import engine_options, pop_engine_options, spark_payback_orders
from clvmodels.data.customers import read_model_customers
from clvmodels.data.database_url import DatabaseURL, is_database_url, shown_source
from clvmodels.data.paths import OutputTarget, input_tables, output_key
from clvmodels.jobs.marketing_files import (
    budget_files,
    payback_files,
    read_payback,
    write_budget,
    write_payback,
)
from clvmodels.marketing.budget import budget_recommendation, recommendation_lines, revenue_forecast
from clvmodels.marketing.payback import PaybackOrders, PaybackResult, payback_analysis
from clvmodels.persistence import load_model


def _horizons(value: str) -> tuple[int, ...]:
    try:
        ages = tuple(int(part) for part in value.split(",") if part.strip())
    except ValueError:
        ages = ()
    if not ages or min(ages) < PERIODS.min or max(ages) > PERIODS.max:  # type: ignore[operator]
        raise UserError(
            f"--horizons takes whole numbers from {PERIODS.min} to {PERIODS.max} such as "
            f"6,12,24; got {value!r}"
        )
    return ages


def _distinct(paths: list[OutputTarget]) -> None:
    if len({output_key(path) for path in paths}) < len(paths):
        raise UserError("the output files must have different names")


# ------------------------------------------------------------------------------- payback
@click.command()
@click.option(
    "--orders",
    "orders_path",
    required=True,
    help="Orders file (with --engine spark: any path Spark reads, or a catalog table).",
)
@orders_options
@engine_options
@visits_costs_options(required=True)
@click.option(
    "--model",
    "model_dir",
    type=click.Path(),
    help="A fitted model directory (clv fit): adds predicted LTV, ROMI and payback.",
)
@margin_option
@period_option("Cohort and age unit: calendar month or ISO week.")
@click.option(
    "--attribution",
    type=click.Choice(["first-touch", "last-touch"]),
    default="first-touch",
    show_default=True,
    help="A buyer's source: first visit, or last visit before the first order.",
)
@observation_end_option()
@click.option(
    "--horizons",
    default="6,12,24",
    show_default=True,
    help="Ages (periods) at which ROMI and predicted LTV are reported.",
)
@draws_option("Posterior draws for the predicted intervals.")
@click.option(
    "--no-source-adjustment",
    is_flag=True,
    help="Predict with the pooled model only (no per-source parameters).",
)
@customers_options
@click.option(
    "-o",
    "--output",
    required=True,
    help="Per (cohort, source) table: .parquet, .csv or .json, or a database table "
    "URL#schema.table (the other tables beside it, in one transaction).",
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
def payback(
    orders_path: str,
    visits_path: str,
    costs_path: str,
    model_dir: str | None,
    margin: float,
    period: str,
    attribution: str,
    observation_end: Any,
    horizons: str,
    n_draws: int,
    no_source_adjustment: bool,
    output: str,
    plots_dir: str | None,
    no_plots: bool,
    **kwargs: Any,
) -> None:
    """CAC, ROMI and payback per acquisition cohort and ad source, realised and predicted.

    Each buyer belongs to the source of their first visit (or, with --attribution
    last-touch, of their last visit before the first order); buyers without a visit are
    source 'unknown'. A cohort is the month (or week) of the first order. Per (cohort,
    source) OUTPUT holds new_buyers, costs (that source's costs in that period), cac,
    ltv_to_date, romi_to_date, payback_age and payback_status ('paid back', 'not yet',
    'no costs', 'no buyers'), romi_<h> at each horizon, and with --model predicted_ltv_<h>,
    predicted_romi_<h> (+ _low, _high: 94% interval), predicted_payback_age and
    predicted_payback_status. Predicted LTV = margin realised so far + the model's expected
    margin for the cohort's customers, with each source's parameters fitted on its own
    customers and shrunk toward the model (--no-source-adjustment turns this off). ROMI and
    payback are not discounted. A model fitted with covariates needs --customers (and
    --customer-key): each buyer is predicted at their own covariates, and _buyers keeps them.

    Also writes, beside OUTPUT: _by_age (curves by age), _by_source and _by_cohort
    (totals), _buyers (each buyer's source and RFM in days; `clv budget` reads it),
    _summary.json, and the plots _romi.png (ROMI curves by source) and _cac.png (CAC over
    time by source). OUTPUT may be a database table (URL#schema.table): then the tables are
    <table>_by_age, ... beside it and the summary the one-row table <table>_summary (nested
    entries as JSON text), all written in one transaction; plots only with --plots DIR.

    With --engine spark the orders are read and aggregated in Apache Spark: --orders is any
    path Spark reads (a Parquet or CSV file or folder, hdfs://, s3a://) or a Spark catalog
    table. Each buyer's first order and RFM and the per-source cohort tables come back to
    this machine, which reads the visits and costs and does the rest as with DuckDB: the
    outputs are the same.

    Example:

    \b
      clv payback --orders orders.csv --visits visits.csv --costs costs.csv \\
          --model model/ --margin 0.4 -o payback.parquet
      clv payback --orders s3a://shop/orders/ --engine spark --spark-master yarn \\
          --visits visits.csv --costs costs.csv -o payback.parquet
    """
    inputs = {
        "--orders": orders_path,
        "--visits": visits_path,
        "--costs": costs_path,
        "--model": model_dir,
    }
    target = _payback_target(
        output,
        inputs,
        plots_dir=plots_dir,
        no_plots=no_plots,
        read=input_tables("--orders", kwargs),
    )
    ages = _horizons(horizons)
    model = load_model(model_dir) if model_dir else None
    customers = read_model_customers(model, pop_customers_source(kwargs))

    engine, spark_master = pop_engine_options(kwargs)
    opts = pop_orders_options(kwargs)
    orders: pd.DataFrame | PaybackOrders | None = None
    if engine == "duckdb":
        orders = load_orders(orders_path, opts)
    visits, costs = read_visits_and_costs(visits_path, costs_path, kwargs)
    end = observation_end.date().isoformat() if observation_end is not None else None
    if orders is None:  # --engine spark, after the visits and costs: their errors need no JVM
        orders = spark_payback_orders(
            orders_path,
            opts,
            visits,
            attribution=attribution,
            period=period,
            margin=margin,
            observation_end=end,
            master=spark_master,
        )
    result = payback_analysis(
        orders,
        visits,
        costs,
        model=model,
        attribution=attribution,  # type: ignore[arg-type]
        margin=margin,
        period=period,  # type: ignore[arg-type]
        observation_end=end,
        horizons=ages,
        n_draws=n_draws,
        source_adjustment=not no_source_adjustment,
        customers=customers,
    )
    report = _payback_lines(result, predicted=model is not None)
    extra = {
        "orders": shown_source(orders_path),
        "visits": shown_source(visits_path),
        "costs": shown_source(costs_path),
        "model_dir": str(model_dir) if model_dir else None,
    }
    written = write_payback(result, target, plots=not no_plots, plots_dir=plots_dir, extra=extra)
    for line in report:
        say(line)
    for path in written:
        say(f"wrote {path}")
    if isinstance(target, DatabaseURL) and not (plots_dir or no_plots):
        say(NO_PLOTS_BESIDE_TABLE)


def _payback_target(
    output: str,
    inputs: dict[str, str | None],
    *,
    plots_dir: str | None,
    no_plots: bool,
    read: dict[str, str | None],
) -> OutputTarget:
    """OUTPUT as a path or table, once no output would overwrite an input or another output."""
    folder_output(plots_dir, "--plots", "PNG plots into a folder")
    target = output_path(output)
    files = payback_files(target, plots_dir=plots_dir)
    _distinct([path for name, path in files.items() if not (no_plots and "plot" in name)])
    plots = [] if no_plots else [path for name, path in files.items() if "plot" in name]
    tables = [path for name, path in files.items() if "plot" not in name]
    check_outputs(
        inputs=inputs,
        outputs={
            "--output": tables + ([] if plots_dir else plots),
            "--plots": plots if plots_dir else None,
        },
        tables=read,
    )
    return target


def _payback_lines(result: PaybackResult, *, predicted: bool) -> list[str]:
    info = result.summary
    lines: list[str] = []
    say = lines.append
    cohorts = result.by_cohort["cohort"]
    fmt = "%Y-%m" if info["period"] == "month" else "%Y-%m-%d"
    say(
        f"payback of {info['n_buyers']:,} buyers from {len(info['sources'])} sources "
        f"({info['attribution']}), {info['period']}ly cohorts {cohorts.min():{fmt}} to "
        f"{cohorts.max():{fmt}}, observed up to {info['observation_end']}, margin "
        f"{info['margin']:g}; total costs {info['total_costs']:,.2f}"
    )
    if info.get("n_unknown"):
        say(f"  {info['n_unknown']:,} buyers have no visit: source 'unknown'")
    horizon = 12 if 12 in info["horizons"] else max(info["horizons"])
    for row in result.by_source.itertuples(index=False):
        parts = [f"  {row.source_id}: {row.new_buyers:,} buyers"]
        if math.isfinite(row.cac):
            parts.append(f"CAC {row.cac:,.2f}")
        if math.isfinite(row.romi_to_date):
            parts.append(f"ROMI to date {row.romi_to_date:.2f}")
        status = row.payback_status
        if status == "paid back":
            status = f"pays back at age {row.payback_age}"
        parts.append(status)
        if predicted:
            value = getattr(row, f"predicted_romi_{horizon}")
            if math.isfinite(value):
                parts.append(f"predicted ROMI at age {horizon} {value:.2f}")
            if not pd.isna(row.predicted_payback_age):
                parts.append(f"predicted payback age {row.predicted_payback_age}")
        say(", ".join(parts))
    if predicted:
        young = result.cells.loc[result.cells["predicted_payback_status"] == "predicted"]
        say(f"  {len(young):,} (cohort, source) cells have not paid back yet but are predicted to")
        covariates = (info.get("model") or {}).get("covariates")
        if covariates:
            say(f"  each buyer predicted at their own covariates ({', '.join(covariates)})")
    else:
        say("  add --model MODEL_DIR for predicted LTV, ROMI and payback of young cohorts")
    return lines


# ------------------------------------------------------------------------------- budget
@click.command()
@click.option("--model", "model_dir", required=True, type=click.Path(), help="Model directory.")
@click.option(
    "--payback",
    "payback_path",
    required=True,
    type=click.Path(dir_okay=False),
    help="The OUTPUT of `clv payback` (its _buyers and _summary.json files are read too).",
)
@click.option(
    "--target-payback-months",
    type=MONTHS,
    default=6,
    show_default=True,
    help="A new customer should pay back their CAC within this many months.",
)
@click.option(
    "--horizon-months",
    type=MONTHS,
    default=12,
    show_default=True,
    help="Months of the revenue forecast and of the longer-term value.",
)
@discount_option
@click.option(
    "--recent-periods",
    type=PERIODS,
    default=3,
    show_default=True,
    help="Latest cohort periods whose costs and buyers give the current CAC.",
)
@draws_option("Posterior draws for the intervals.")
@click.option(
    "--no-source-adjustment",
    is_flag=True,
    help="Value every source's new customers with the pooled model.",
)
@click.option(
    "-o",
    "--output",
    required=True,
    help="Per-source table: .parquet, .csv or .json, or a database table URL#schema.table "
    "(with <table>_forecast beside it, one transaction, and no plot).",
)
@click.option("--no-plots", is_flag=True, help="Write no PNG plot of the forecast.")
@customers_options
@guarded
def budget(
    model_dir: str,
    payback_path: str,
    target_payback_months: int,
    horizon_months: int,
    annual_discount_rate: float,
    recent_periods: int,
    n_draws: int,
    no_source_adjustment: bool,
    output: str,
    no_plots: bool,
    **kwargs: Any,
) -> None:
    """How much a new customer from each source is worth, and where to move the budget.

    Per source OUTPUT holds the predicted value of a newly acquired customer within the
    target payback months and within the horizon (margin and discounting applied, with
    the source's own model parameters; + _low, _high: 94% interval), max_affordable_cac
    (the value within the target: a higher CAC does not pay back in time), current_cac
    (costs / new buyers over the latest --recent-periods cohorts), headroom,
    headroom_share, romi_at_horizon, payback_months at the current CAC, and a direction
    (increase, hold, decrease). Also writes OUTPUT's name + _forecast: the existing
    customers' expected purchases and revenue month by month with 94% intervals (and
    _forecast.png), and prints a short recommendation. With a model fitted with covariates
    the buyers' covariates come from the _buyers table of `clv payback --customers`, or from
    --customers; a source's new-customer value averages over its buyers' covariate profiles.

    Example:

    \b
      clv budget --model model/ --payback payback.parquet --target-payback-months 6 \\
          -o budget.csv
    """
    if is_database_url(payback_path):
        raise UserError(
            "--payback takes the OUTPUT file of `clv payback`; its tables in a database are "
            "not read back: write clv payback's output to a file for clv budget"
        )
    target = output_path(output)
    files = budget_files(target)
    _distinct([path for name, path in files.items() if not (no_plots and "plot" in name)])
    read = payback_files(payback_path)
    check_outputs(
        inputs={
            "--model": model_dir,
            "--payback": [read["cells"], read["buyers"], read["summary"]],
        },
        outputs={
            "--output": [path for name, path in files.items() if not (no_plots and "plot" in name)]
        },
    )
    model = load_model(model_dir)
    customers = read_model_customers(model, pop_customers_source(kwargs))
    cells, buyers, info = read_payback(payback_path)

    table = budget_recommendation(
        model,
        cells,
        buyers,
        target_payback_months=target_payback_months,
        horizon_months=horizon_months,
        annual_discount_rate=annual_discount_rate,
        margin=float(info.get("margin", 1.0)),
        period=info.get("period", "month"),
        recent_periods=recent_periods,
        n_draws=n_draws,
        source_adjustment=not no_source_adjustment,
        customers=customers,
    )
    forecast = revenue_forecast(
        model,
        buyers,
        observation_end=info["observation_end"],
        horizon_months=horizon_months,
        n_draws=n_draws,
        source_adjustment=not no_source_adjustment,
        customers=customers,
    )
    advice = recommendation_lines(table, forecast)
    if table.attrs.get("new_customer_covariates"):
        covariates = ", ".join(table.attrs["covariates"])
        advice.append(f"With covariates ({covariates}): {table.attrs['new_customer_covariates']}.")
    written = write_budget(table, forecast, target, plots=not no_plots)
    for line in advice:
        say(line)
    for path in written:
        say(f"wrote {path}")
