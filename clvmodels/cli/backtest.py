"""The backtest command: fit on a calibration period, hold the predictions against the holdout."""

from __future__ import annotations

from typing import Any

import click

from clvmodels.cli.common import (
    DATE,
    TIME_UNIT,
    guarded,
    load_orders,
    orders_options,
    pop_orders_options,
    say,
)
from clvmodels.cli.customers_options import (
    covariate_options,
    customers_options,
    pop_covariates,
    pop_customers_source,
)
from clvmodels.cli.outputs import check_outputs, folder_output
from clvmodels.models.settings import Method, Priors


@click.command()
@click.argument("orders", type=click.Path(dir_okay=False))
@orders_options
@click.option("--calibration-end", type=DATE, required=True, help="Last day of calibration.")
@click.option("--observation-end", type=DATE, help="Last day of the holdout (default: last order).")
@click.option(
    "--time-unit",
    type=TIME_UNIT,
    default="W",
    show_default=True,
    help="Unit of the fits and of the tracking table's periods.",
)
@click.option(
    "--models",
    default="bgnbd,pareto,mbgnbd",
    show_default=True,
    help="Comma-separated transaction models to compare.",
)
@click.option(
    "--method", type=click.Choice(["map", "laplace", "mcmc"]), default="map", show_default=True
)
@click.option(
    "--priors", type=click.Choice(["default", "flat"]), default="default", show_default=True
)
@click.option("-o", "--output-dir", required=True, help="Folder for the backtest's outputs.")
@customers_options
@covariate_options
@guarded
def backtest(
    orders: str,
    calibration_end: Any,
    observation_end: Any,
    time_unit: str,
    models: str,
    method: Method,
    priors: Priors,
    output_dir: str,
    **kwargs: Any,
) -> None:
    """Fit each model on the calibration period and compare its holdout predictions.

    Two baselines run beside the models: the naive rate (x / T times the holdout length) and the
    cohort curve (older cohorts' empirical curves at the same ages). Writes to DIR: metrics.json
    (with the best model by per-customer MAE, the rule of --model auto), totals.csv,
    conditional.csv (mean holdout purchases by calibration frequency 0..7+), tracking.csv
    (cumulative repeat purchases per period), customers.parquet, and the plots tracking.png
    (cumulative), tracking_incremental.png (per period) and conditional.png (calibration vs
    holdout by calibration frequency). Per model: aggregate error, bias, MAE, RMSE of the
    holdout purchases and the calibration log-likelihood (docs/backtest.md). Orders without
    revenue give the purchase metrics only. With --customers and --covariates (as for clv fit)
    every model is fitted with those covariates.

    Example:

    \b
      clv backtest orders.csv --calibration-end 1997-09-30 --models bgnbd,pareto -o backtest/
    """
    from clvmodels.backtest import backtest as run_backtest
    from clvmodels.jobs.backtest import backtest_files, write_backtest

    folder_output(output_dir, "-o", "a folder of files")
    check_outputs(
        inputs={"ORDERS": orders}, outputs={"--output-dir": backtest_files(output_dir).values()}
    )
    customers = pop_customers_source(kwargs)
    purchase, dropout = pop_covariates(kwargs)
    opts = pop_orders_options(kwargs)
    table = load_orders(orders, opts)
    names = [m.strip() for m in models.split(",") if m.strip()]
    result = run_backtest(
        table,
        calibration_end=calibration_end.date(),
        observation_end=observation_end.date() if observation_end else None,
        time_unit=time_unit.upper(),
        models=names,
        method=method,
        priors=priors,
        value_per_order=opts.get("value_per_order") if opts.get("no_revenue") else None,
        customers=customers,
        purchase_covariates=purchase,
        dropout_covariates=dropout,
    )
    written = write_backtest(result, output_dir)
    settings = result.settings
    say(
        f"backtest of {settings['n_customers']:,} customers: calibration to "
        f"{settings['calibration_end']}, holdout to {settings['observation_end']} "
        f"({settings['holdout_length']:.1f} {settings['time_unit']})"
    )
    say(
        f"  {'model':<8}{'predicted':>12}{'actual':>10}{'error %':>10}{'bias':>9}{'MAE':>8}"
        f"{'RMSE':>8}{'log-lik':>13}"
    )
    for row in result.totals.itertuples():
        ll = f"{row.log_likelihood:>13,.1f}" if row.kind == "model" else f"{'':>13}"
        say(
            f"  {row.model:<8}{row.predicted_purchases:>12,.0f}{row.actual_purchases:>10,.0f}"
            f"{row.purchases_error_pct:>10.1f}{row.bias_purchases:>+9.3f}"
            f"{row.mae_purchases:>8.3f}{row.rmse_purchases:>8.3f}{ll}"
        )
    say(f"best by per-customer MAE of holdout purchases: {result.best}")
    if not settings.get("revenue", True):
        say("the orders have no revenue: purchase metrics only (no spend model, no revenue totals)")
    elif settings.get("value_per_order") is not None:
        from clvmodels.models.spend import ConstantSpendModel

        spend = next(iter(result.models.values())).spend_model_
        if isinstance(spend, ConstantSpendModel):
            say(
                f"revenue: {settings['value_per_order']:g} per order (--value-per-order); "
                f"spend: {spend.description()}"
            )
    for path in written:
        say(f"wrote {path}")
