"""The score command: a fitted model + orders -> scores (:func:`clvmodels.jobs.score.score_orders`).

The modelling stack (SciPy, xarray, PyMC) is imported when the command runs, not by ``--help``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from clvmodels.cli.common import (
    day_text,
    discount_option,
    draws_option,
    guarded,
    horizon_option,
    margin_option,
    observation_end_option,
    orders_options,
    orders_source,
    pop_orders_options,
    say,
    show_progress,
)
from clvmodels.cli.customers_options import customers_options, pop_customers_source
from clvmodels.cli.outputs import check_outputs, output_path
from clvmodels.cli.spark import engine_options, pop_engine_options, spark_scores
from clvmodels.data.paths import input_tables

if TYPE_CHECKING:
    import pandas as pd

    from clvmodels.jobs.score import EngineOrders, ScoreResult, ScoreSettings, ScoreTotals
    from clvmodels.model import CLVModel


@click.command()
@click.argument("model_dir", type=click.Path())
@click.argument("orders", type=click.Path())
@orders_options
@engine_options
@click.option(
    "-o",
    "--output",
    required=True,
    help="Output file (.parquet, .csv or .json) or database table (URL#schema.table); "
    "a table is written chunk by chunk in one transaction.",
)
@horizon_option("How far ahead: a number and D, W or M (90D, 39W, 12M).")
@discount_option
@margin_option
@observation_end_option("Score with orders up to this day (default: the model's observation end).")
@draws_option("Posterior draws used for the intervals (thinned evenly).")
@customers_options
@guarded
def score(
    model_dir: str,
    orders: str,
    output: str,
    horizon: str,
    annual_discount_rate: float,
    margin: float,
    observation_end: Any,
    n_draws: int,
    **kwargs: Any,
) -> None:
    """Score customers: P(alive), expected purchases and spend, discounted CLV.

    Writes one row per customer with customer_id, frequency, recency, T, monetary_value,
    p_alive, expected_purchases (+ _low, _high), expected_spend, clv (+ _low, _high);
    low/high bound the 94% posterior interval. A model fitted without revenue has no spend
    model: then no expected_spend and clv columns. A model fitted with --value-per-order
    has a constant spend per purchase occasion, the same for every customer. With --engine
    spark the RFM and the scores run in Apache Spark, the posterior draws broadcast to the
    executors. ORDERS is the orders file, not an RFM table. A model fitted with covariates
    needs the customers table (--customers, --customer-key) holding them for every customer.

    Example:

    \b
      clv score model/ orders.csv --horizon 12M --annual-discount-rate 0.1 -o scores.parquet
    """
    from clvmodels.jobs.score import ScoreSettings, ScoringData, score_orders

    target = output_path(output)
    check_outputs(
        inputs={"MODEL_DIR": model_dir, "ORDERS": orders},
        outputs={"--output": target},
        tables=input_tables("ORDERS", kwargs),
    )
    engine, spark_master = pop_engine_options(kwargs)
    customers = pop_customers_source(kwargs)
    opts = pop_orders_options(kwargs)
    settings = ScoreSettings(horizon, annual_discount_rate, margin, n_draws)
    source = "given with --observation-end" if observation_end else "the model's observation end"

    def announce(data: ScoringData) -> None:
        say(
            f"scoring {data.n_customers:,} customers with orders up to {data.up_to} "
            f"({source}); horizon {horizon}, annual discount rate {annual_discount_rate:g}, "
            f"margin {margin:g}"
        )

    result = score_orders(
        model_dir,
        _spark_orders(orders, opts, settings, spark_master)
        if engine == "spark"
        else orders_source(orders, opts),
        target,
        settings,
        observation_end=day_text(observation_end),
        progress=show_progress(),
        announce=announce,
        customers=customers,
    )
    _print_score_result(result)


def _spark_orders(
    orders: str, opts: dict[str, Any], settings: ScoreSettings, master: str
) -> EngineOrders:
    """ORDERS as ``--engine spark`` reads, summarises and scores them."""
    from clvmodels.jobs.score import EngineOrders

    def scores(model: CLVModel, observation_end: str | None) -> pd.DataFrame:
        return spark_scores(
            model,
            orders,
            opts,
            observation_end=observation_end,
            horizon=settings.horizon,
            annual_discount_rate=settings.annual_discount_rate,
            margin=settings.margin,
            n_draws=settings.n_draws,
            master=master,
        )

    return EngineOrders(orders, opts["date_col"], opts.get("table"), opts.get("query"), scores)


def _print_score_result(result: ScoreResult) -> None:
    from clvmodels.models.gamma_gamma import POPULATION_MEAN_RULE
    from clvmodels.models.spend import ConstantSpendModel

    spend_model = result.model.spend_model_
    totals = result.totals
    _print_score_summary(totals, has_spend=spend_model is not None)
    say(f"  columns: {', '.join(totals.columns)}")
    if spend_model is None:
        say(
            "  no expected_spend or clv columns: the model was fitted without revenue "
            "(no spend model), so it predicts purchases only"
        )
    elif isinstance(spend_model, ConstantSpendModel):
        say(f"  spend: {spend_model.description()}, the same for every customer")
    elif totals.population_mean_spend:
        say(
            f"  {int(totals.population_mean_spend):,} repeat customers whose mean repeat value "
            f"is 0 got {POPULATION_MEAN_RULE} as expected spend"
        )
    say(f"wrote {result.target}")


def _print_score_summary(totals: ScoreTotals, *, has_spend: bool = True) -> None:
    n = max(totals.customers, 1)
    say(
        f"  expected purchases over the horizon: {totals.purchases:,.1f}; "
        f"mean P(alive) {totals.p_alive / n:.3f}"
    )
    if has_spend:
        say(f"  total CLV {totals.clv:,.2f} (mean {totals.clv / n:,.2f} per customer)")
    if totals.draws == 1:
        say(
            "  note: a MAP fit has one draw, so _low/_high equal the estimate; "
            "fit with --method laplace or mcmc for intervals"
        )
