"""The report command: one self-contained HTML file with the data, model, plots and tables."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import click

from clvmodels.cli.common import (
    UserError,
    discount_option,
    guarded,
    horizon_option,
    load_orders,
    margin_option,
    orders_options,
    period_option,
    pop_orders_options,
    say,
)
from clvmodels.cli.customers_options import customers_options, pop_customers_source
from clvmodels.cli.outputs import check_outputs, output_path
from clvmodels.data.customers import read_model_customers
from clvmodels.data.database_url import is_database_url, shown_source
from clvmodels.errors import DataQualityWarning
from clvmodels.persistence import load_model, read_metadata
from clvmodels.report.acquisition import read_acquisition_inputs
from clvmodels.report.analytics import read_conversion, read_engagement
from clvmodels.report.backtest import read_backtest
from clvmodels.report.build import REPORT_SUFFIXES, write_report
from clvmodels.report.experiment import read_experiment
from clvmodels.report.inputs import capture_findings
from clvmodels.report.subscriptions import read_churn
from clvmodels.units import parse_duration


@click.command()
@click.option("-o", "--output", required=True, help="The HTML file to write (.html).")
@click.option(
    "--orders",
    "orders_path",
    required=True,
    type=click.Path(dir_okay=False),
    help="Orders table: CSV, Parquet, DuckDB or SQLite.",
)
@orders_options
@click.option(
    "--model",
    "model_dir",
    type=click.Path(),
    help="Model directory from `clv fit`: parameters, matrices and segments.",
)
@click.option(
    "--backtest",
    "backtest_dir",
    type=click.Path(),
    help="Output folder of `clv backtest`: tracking, conditional expectations, totals.",
)
@click.option(
    "--visits",
    type=click.Path(dir_okay=False),
    help="Visits (uid, start_ts, end_ts, source_id), with --costs: ROMI, payback, budget.",
)
@click.option(
    "--costs",
    type=click.Path(dir_okay=False),
    help="Marketing costs (source_id, dt, costs), with --visits.",
)
@click.option(
    "--subscriptions",
    "subscriptions_dir",
    type=click.Path(),
    help="Output folder of `clv churn`: survival, retention, churn drivers per group.",
)
@click.option(
    "--engagement",
    "engagement_dir",
    type=click.Path(),
    help="Output folder of `clv engagement`: DAU, WAU, MAU, stickiness, session lengths.",
)
@click.option(
    "--conversion",
    "conversion_dir",
    type=click.Path(),
    help="Output folder of `clv conversion`: visitors, buyers, conversion rate and days.",
)
@click.option(
    "--experiment",
    "experiment_dir",
    type=click.Path(),
    help="Output folder of `clv experiment`: groups, SRM, tests per metric, CLV, lifts.",
)
@margin_option
@horizon_option("CLV horizon of the segment table: a number and D, W or M.")
@discount_option
@period_option("Cohort and age unit of the cohort section.")
@customers_options
@guarded
def report(
    output: str,
    orders_path: str,
    model_dir: str | None,
    backtest_dir: str | None,
    visits: str | None,
    costs: str | None,
    subscriptions_dir: str | None,
    engagement_dir: str | None,
    conversion_dir: str | None,
    experiment_dir: str | None,
    margin: float,
    horizon: str,
    annual_discount_rate: float,
    period: str,
    **kwargs: Any,
) -> None:
    """Write one self-contained HTML report: data, model, matrices, backtest, cohorts, segments.

    Sections: the data summary and data-quality findings; the model's parameters (mean, sd,
    94% interval) and convergence diagnostics; the frequency-recency and P(alive) matrices;
    a backtest's tracking and conditional-expectation plots and holdout totals; cohort LTV
    heatmap and retention curves; ROMI, payback and budget by source (needs --visits and
    --costs); the customer segments of the model's scores; with --subscriptions, the
    survival, retention and churn drivers of a `clv churn` folder; and with --engagement
    and/or --conversion, the section "Engagement and conversion" of a `clv engagement` and a
    `clv conversion` folder (headline numbers, tables by device and source, data problems,
    plots); with --experiment, the section "Experiment" of a `clv experiment` folder (the
    groups, the sample-ratio verdict, the tests per metric with Holm-adjusted p-values, the
    normality checks, the predicted CLV with --model, the forest plot). A section whose
    inputs are not given says what to pass (the subscriptions, engagement and experiment
    sections are left out). Images are embedded, so the file opens in any
    browser without a network. With a model fitted with covariates the matrices are drawn
    for the reference customer (the caption says so), and --customers (with --customer-key)
    gives the segments and acquisition sections each customer's covariates.

    Example:

    \b
      clv report -o report.html --orders orders.csv --model model/ --backtest backtest/
      clv report -o report.html --orders orders.csv --subscriptions churn/
      clv report -o report.html --orders orders.csv --engagement engagement/ \\
          --conversion conversion/
      clv report -o report.html --orders orders.csv --experiment ab/
    """
    target = output_path(output, REPORT_SUFFIXES)
    folders = {
        "model": model_dir,
        "backtest": backtest_dir,
        "subscriptions": subscriptions_dir,
        "engagement": engagement_dir,
        "conversion": conversion_dir,
        "experiment": experiment_dir,
    }
    check_outputs(
        inputs={
            "--orders": orders_path,
            "--visits": visits,
            "--costs": costs,
            **{f"--{name}": folder for name, folder in folders.items()},
        },
        outputs={"--output": target},
    )
    duration = parse_duration(horizon)
    for name, path in (("--visits", visits), ("--costs", costs)):
        if path is not None and not is_database_url(path) and not Path(path).is_file():
            raise UserError(f"{name} file not found: {path}")
    visits_table, costs_table = read_acquisition_inputs(visits, costs)
    backtest = read_backtest(backtest_dir) if backtest_dir is not None else None
    churn = read_churn(subscriptions_dir) if subscriptions_dir is not None else None
    used = read_engagement(engagement_dir) if engagement_dir is not None else None
    converted = read_conversion(conversion_dir) if conversion_dir is not None else None
    tested = read_experiment(experiment_dir) if experiment_dir is not None else None
    model = load_model(model_dir) if model_dir is not None else None
    metadata = read_metadata(model_dir) if model_dir is not None else None
    customers = read_model_customers(model, pop_customers_source(kwargs))
    options = pop_orders_options(kwargs)
    orders, findings = capture_findings(lambda: load_orders(orders_path, options))
    for finding in findings:
        warnings.warn(finding, DataQualityWarning, stacklevel=1)
    sources = {"orders": shown_source(orders_path)}
    sources.update({name: folder for name, folder in folders.items() if folder is not None})
    result = write_report(
        target,
        orders,
        findings=findings,
        model=model,
        model_metadata=metadata,
        backtest=backtest,
        visits=visits_table,
        costs=costs_table,
        margin=margin,
        horizon=str(duration),
        annual_discount_rate=annual_discount_rate,
        cohort_period=period,
        sources=sources,
        subscriptions=churn,
        engagement=used,
        conversion=converted,
        experiment=tested,
        customers=customers,
    )
    say(f"report of {len(orders):,} orders with {len(result.sections)} sections:")
    for section in result.sections:
        say(f"  {section.id + ' ':<12}{'shown' if section.shown else section.note}")
    say(f"wrote {target}")
