"""The pipeline commands: rfm, fit, show, score, and the demo that runs them all."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pandas as pd

from clvmodels.cli.common import (
    CHAINS,
    CUSTOMERS,
    DATE,
    DRAWS,
    SEED,
    TIME_UNIT,
    TUNE,
    UserError,
    check_outputs,
    discount_option,
    draws_option,
    guarded,
    horizon_option,
    margin_option,
    observation_end_option,
    orders_options,
    orders_source,
    output_path,
    pop_orders_options,
    say,
    show_progress,
)
from clvmodels.cli.spark import engine_options, pop_engine_options, spark_rfm, spark_scores
from clvmodels.data.io import write_table, write_table_chunks
from clvmodels.models.settings import (
    TRANSACTION_MODEL_NAMES,
    Method,
    Priors,
    TransactionModelName,
)
from clvmodels.summaries.rfm import rfm_summary
from clvmodels.units import UNIT_NAMES, check_time_unit


def _day(value: Any) -> str | None:
    return value.date().isoformat() if value is not None else None


# ------------------------------------------------------------------------------- rfm
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
@click.option("-o", "--output", required=True, help="Output file: .parquet, .csv or .json.")
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
    check_outputs(inputs={"ORDERS": orders}, outputs={"--output": target})
    engine, spark_master = pop_engine_options(kwargs)
    opts = pop_orders_options(kwargs)
    if engine == "spark":
        summary, n_orders = spark_rfm(
            orders,
            opts,
            time_unit=time_unit.upper(),
            observation_end=_day(observation_end),
            calibration_end=_day(calibration_end),
            master=spark_master,
        )
    else:
        summary = rfm_summary(
            orders_source(orders, opts),
            time_unit=time_unit.upper(),
            observation_end=_day(observation_end),
            calibration_end=_day(calibration_end),
        )
        n_orders = summary.attrs["n_orders"]
    write_table(summary, target)
    attrs = summary.attrs
    say(
        f"RFM of {n_orders:,} orders: {len(summary):,} customers, "
        f"{int((summary['frequency'] > 0).sum()):,} with repeat purchases"
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
    say(f"wrote {target}")


# ------------------------------------------------------------------------------- fit
@click.command()
@click.argument("orders", type=click.Path(dir_okay=False))
@orders_options
@click.option("-o", "--output", "model_dir", required=True, help="Model directory to write.")
@click.option(
    "--time-unit",
    type=TIME_UNIT,
    default="W",
    show_default=True,
    help="Time unit the models are fitted in.",
)
@click.option(
    "--observation-end",
    type=DATE,
    help="Orders after this day are not used (default: last order's day).",
)
@click.option(
    "--model",
    "transaction_model",
    type=click.Choice(TRANSACTION_MODEL_NAMES),
    default="bgnbd",
    show_default=True,
    help="Transaction model: BG/NBD, Pareto/NBD or MBG/NBD.",
)
@click.option(
    "--method",
    type=click.Choice(["map", "laplace", "mcmc"]),
    default="map",
    show_default=True,
    help="map: posterior mode (fast); laplace: Gaussian at the mode; mcmc: NUTS.",
)
@click.option(
    "--priors",
    type=click.Choice(["default", "flat"]),
    default="default",
    show_default=True,
    help="pymc-marketing's default priors, or flat (MAP = maximum likelihood).",
)
@click.option("--chains", type=CHAINS, default=4, show_default=True)
@click.option(
    "--draws",
    type=DRAWS,
    default=1000,
    show_default=True,
    help="Draws per chain (laplace, mcmc).",
)
@click.option(
    "--tune",
    type=TUNE,
    default=1000,
    show_default=True,
    help="Tuning steps per chain (mcmc).",
)
@click.option("--seed", type=SEED, default=0, show_default=True)
@guarded
def fit(
    orders: str,
    model_dir: str,
    time_unit: str,
    observation_end: Any,
    method: Method,
    priors: Priors,
    chains: int,
    draws: int,
    tune: int,
    seed: int,
    transaction_model: TransactionModelName,
    **kwargs: Any,
) -> None:
    """Fit BG/NBD (or --model pareto, mbgnbd) for purchases and Gamma-Gamma for spend.

    Writes MODEL_DIR with the posteriors (netCDF) and model.json: versions, time unit,
    observation end, a fingerprint of the input, and the optimiser's status or the
    sampler's diagnostics (r-hat, ESS, divergences). Gamma-Gamma leaves out repeat customers
    whose repeat orders are worth 0 (counted; scored at the population mean spend); a fit
    with a parameter at a bound or Gamma-Gamma q <= 1 is marked not usable and `clv score`
    refuses it. With --no-revenue only the purchase model is fitted; with --no-revenue
    --value-per-order X the spend is not modelled but constant: X per purchase occasion
    (X times the mean orders per repeat occasion when same-day orders merge). See
    docs/models.md.

    Example:

    \b
      clv fit orders.csv -o model/ --time-unit W --method map --priors flat
    """
    check_outputs(inputs={"ORDERS": orders}, outputs={}, model_dirs={"--output": model_dir})
    # the modelling stack (SciPy, xarray, PyMC) is imported by the commands that use it
    from clvmodels.model import CLVModel
    from clvmodels.persistence import save_model

    summary = rfm_summary(
        orders_source(orders, pop_orders_options(kwargs)),
        time_unit=time_unit.upper(),
        observation_end=_day(observation_end),
        with_fingerprint=True,
    )
    say(
        f"fitting on {len(summary):,} customers "
        f"({int((summary['frequency'] > 0).sum()):,} repeat) with orders up to "
        f"{summary.attrs['calibration_end']}; time unit {UNIT_NAMES[time_unit.upper()]}; "
        f"model {transaction_model}, method {method}, {priors} priors"
    )
    started = time.perf_counter()
    model = CLVModel(
        time_unit=check_time_unit(time_unit.upper()),
        transaction_model=transaction_model,
        method=method,
        priors=priors,
        chains=chains,
        draws=draws,
        tune=tune,
        seed=seed,
        progressbar=show_progress(),
    ).fit(summary)
    extra = {
        "input": {
            "path": str(Path(orders).resolve()),
            "n_orders": summary.attrs["n_orders_used"],
            "fingerprint": summary.attrs["fingerprint"],
        },
    }
    save_model(model, model_dir, extra=extra)
    say(f"fitted in {time.perf_counter() - started:.1f} s")
    _print_description(model.describe())
    say(f"wrote {model_dir}")


# ------------------------------------------------------------------------------- show
@click.command()
@click.argument("model_dir", type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="Print the description as JSON.")
@guarded
def show(model_dir: str, as_json: bool) -> None:
    """Print a fitted model's parameters (mean, sd, 94% interval) and diagnostics.

    Example:

    \b
      clv show model/ --json
    """
    from clvmodels.persistence import read_metadata

    metadata = read_metadata(model_dir)
    if as_json:
        keep = (
            "time_unit",
            "calibration_end",
            "n_customers",
            "n_repeat_customers",
            "revenue",
            "transaction_model",
            "spend_model",
            "no_spend_model",
            "input",
            "library_versions",
            "clvmodels_version",
        )
        click.echo(json.dumps({k: metadata[k] for k in keep if k in metadata}, indent=2))
        return
    _print_description(metadata)
    say(
        f"saved with clvmodels {metadata['clvmodels_version']}, pymc-marketing "
        f"{metadata['library_versions'].get('pymc-marketing')}"
    )


def _print_description(description: dict[str, Any]) -> None:
    from clvmodels.model import MODEL_LABELS
    from clvmodels.models.spend import ConstantSpendModel, constant_spend_line

    say(
        f"time unit: {UNIT_NAMES[description['time_unit']]} ({description['time_unit']}); "
        f"observation end: {description.get('calibration_end')}"
    )
    for key in ("transaction_model", "spend_model"):
        part = description.get(key)
        if part is None:
            say(f"no spend model: {description.get('no_spend_model', 'none was fitted')}")
            continue
        if part.get("name") == ConstantSpendModel.name:
            say(f"spend: {constant_spend_line(part['fit_report'])}")
            continue
        title = MODEL_LABELS.get(part["name"], part["name"])
        report = part.get("fit_report", {})
        say(
            f"{title} ({part['method']}, {part['priors']} priors; "
            f"{report.get('n_customers', '?'):,} customers)"
        )
        say(f"  {'parameter':<10}{'mean':>12}{'sd':>12}{'94% interval':>28}")
        for name, row in part["summary"].items():
            interval = f"[{row['low_94']:.4g}, {row['high_94']:.4g}]"
            say(f"  {name:<10}{row['mean']:>12.4g}{row['sd']:>12.3g}{interval:>28}")
        say("  " + _diagnostics_line(report))
        if report.get("usable") is False:
            say(f"  NOT USABLE (scoring refuses it): {report.get('not_usable_reason')}")
        excluded = report.get("zero_value_exclusions")
        if excluded and excluded.get("n_customers"):
            say("  " + _exclusions_line(excluded))


def _exclusions_line(excluded: dict[str, Any]) -> str:
    """The Gamma-Gamma exclusions of customers whose mean repeat value is 0, as one line."""
    mean = excluded.get("population_mean_spend")
    shown = f" (posterior mean {mean:,.2f})" if mean is not None else ""
    examples = ", ".join(str(e) for e in excluded.get("examples", []))
    return (
        f"left out of the fit: {excluded['n_customers']:,} repeat customers whose mean repeat "
        f"value is 0 (e.g. {examples}); scoring gives them {excluded.get('spend_used')}{shown}"
    )


def _diagnostics_line(report: dict[str, Any]) -> str:
    status = "converged" if report.get("converged", True) else "NOT CONVERGED"
    if report.get("method") == "mcmc":
        return (
            f"{status}: max r-hat {report.get('max_r_hat', float('nan')):.3f}, "
            f"min bulk ESS {report.get('min_ess_bulk', float('nan')):.0f}, "
            f"{report.get('divergences', 0)} divergences ({report.get('sampler')})"
        )
    message, iterations = report.get("message"), report.get("iterations")
    return f"{status}: optimiser says '{message}' after {iterations} iterations"


# ------------------------------------------------------------------------------- score
@click.command()
@click.argument("model_dir", type=click.Path())
@click.argument("orders", type=click.Path())
@orders_options
@engine_options
@click.option("-o", "--output", required=True, help="Output file: .parquet, .csv or .json.")
@horizon_option("How far ahead: a number and D, W or M (90D, 39W, 12M).")
@discount_option
@margin_option
@observation_end_option("Score with orders up to this day (default: the model's observation end).")
@draws_option("Posterior draws used for the intervals (thinned evenly).")
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
    executors. ORDERS is the orders file, not an RFM table.

    Example:

    \b
      clv score model/ orders.csv --horizon 12M --annual-discount-rate 0.1 -o scores.parquet
    """
    from clvmodels.models.gamma_gamma import POPULATION_MEAN_RULE
    from clvmodels.models.spend import ConstantSpendModel
    from clvmodels.persistence import load_model

    target = output_path(output)
    check_outputs(inputs={"MODEL_DIR": model_dir, "ORDERS": orders}, outputs={"--output": target})
    engine, spark_master = pop_engine_options(kwargs)
    model = load_model(model_dir)
    end = _day(observation_end) or model.data_info_.get("calibration_end")
    source = "given with --observation-end" if observation_end else "the model's observation end"
    opts = pop_orders_options(kwargs)
    _refuse_rfm_table(orders, opts)
    model.check_usable()  # before reading the orders: a fit that is not usable is refused
    if engine == "spark":
        scored = spark_scores(
            model,
            orders,
            opts,
            observation_end=end,
            horizon=horizon,
            annual_discount_rate=annual_discount_rate,
            margin=margin,
            n_draws=n_draws,
            master=spark_master,
        )
        n_customers, up_to = len(scored), scored.attrs["calibration_end"]
        chunks: Iterator[pd.DataFrame] = iter([scored])
    else:
        summary = rfm_summary(
            orders_source(orders, opts), time_unit=model.time_unit, observation_end=end
        )
        n_customers, up_to = len(summary), summary.attrs["calibration_end"]
        chunks = model.iter_score(
            summary,
            horizon=horizon,
            annual_discount_rate=annual_discount_rate,
            margin=margin,
            n_draws=n_draws,
            progress=show_progress(),
        )
    say(
        f"scoring {n_customers:,} customers with orders up to {up_to} "
        f"({source}); horizon {horizon}, annual discount rate {annual_discount_rate:g}, "
        f"margin {margin:g}"
    )
    totals = {"customers": 0.0, "purchases": 0.0, "p_alive": 0.0, "clv": 0.0, "draws": 0.0}
    columns: list[str] = []

    def tallied(chunks: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for chunk in chunks:
            totals["customers"] += len(chunk)
            totals["purchases"] += float(chunk["expected_purchases"].sum())
            totals["p_alive"] += float(chunk["p_alive"].sum())
            if "clv" in chunk.columns:
                totals["clv"] += float(chunk["clv"].sum())
            totals["draws"] = chunk.attrs.get("n_draws", 1)
            totals["population_mean_spend"] = chunk.attrs.get("n_population_mean_spend", 0)
            columns[:] = [str(c) for c in chunk.columns]
            yield chunk

    write_table_chunks(tallied(chunks), target)
    _print_score_summary(totals, has_spend=model.spend_model_ is not None)
    say(f"  columns: {', '.join(columns)}")
    if model.spend_model_ is None:
        say(
            "  no expected_spend or clv columns: the model was fitted without revenue "
            "(no spend model), so it predicts purchases only"
        )
    elif isinstance(model.spend_model_, ConstantSpendModel):
        say(f"  spend: {model.spend_model_.description()}, the same for every customer")
    elif totals.get("population_mean_spend"):
        say(
            f"  {int(totals['population_mean_spend']):,} repeat customers whose mean repeat value "
            f"is 0 got {POPULATION_MEAN_RULE} as expected spend"
        )
    say(f"wrote {target}")


#: DuckDB's readers by file suffix, to look at a file's columns without reading it.
_READERS = {
    ".csv": "read_csv_auto",
    ".tsv": "read_csv_auto",
    ".txt": "read_csv_auto",
    ".parquet": "read_parquet",
    ".json": "read_json_auto",
}


def _refuse_rfm_table(path: str, opts: dict[str, Any]) -> None:
    """Refuse an RFM table (frequency, recency, T; no order dates) given as the orders."""
    reader = _READERS.get(Path(path).suffix.lower())
    if reader is None or opts.get("table") or opts.get("query") or not Path(path).is_file():
        return
    import duckdb

    try:
        with duckdb.connect() as con:
            described = con.execute(f"DESCRIBE SELECT * FROM {reader}(?)", [path]).fetchall()
    except duckdb.Error:
        return  # the orders reader says what is wrong with the file
    names = {str(row[0]) for row in described}
    if {"frequency", "recency", "T"} <= names and opts["date_col"] not in names:
        raise UserError(
            f"{path} is an RFM table (columns frequency, recency, T; no order dates in a "
            f"'{opts['date_col']}' column), not orders: clv score summarises the orders itself "
            "in the model's time unit, so pass the orders file (customer, date, revenue)"
        )


def _print_score_summary(totals: dict[str, float], *, has_spend: bool = True) -> None:
    n = max(totals["customers"], 1.0)
    say(
        f"  expected purchases over the horizon: {totals['purchases']:,.1f}; "
        f"mean P(alive) {totals['p_alive'] / n:.3f}"
    )
    if has_spend:
        say(f"  total CLV {totals['clv']:,.2f} (mean {totals['clv'] / n:,.2f} per customer)")
    if totals["draws"] == 1:
        say(
            "  note: a MAP fit has one draw, so _low/_high equal the estimate; "
            "fit with --method laplace or mcmc for intervals"
        )


# ------------------------------------------------------------------------------- demo
@click.command()
@click.option(
    "--output-dir", default="demo-output", show_default=True, help="Folder for the demo's outputs."
)
@click.option(
    "--customers",
    type=CUSTOMERS,
    default=20_000,
    show_default=True,
    help="Customers to simulate.",
)
@click.option("--seed", type=SEED, default=42, show_default=True)
@click.option(
    "--method", type=click.Choice(["map", "laplace", "mcmc"]), default="laplace", show_default=True
)
@guarded
def demo(output_dir: str, customers: int, seed: int, method: Method) -> None:
    """Run the whole pipeline on a simulated customer base and say where the outputs went.

    Simulates orders with known BG/NBD and Gamma-Gamma parameters, summarises them, fits
    the models, compares the fit with the truth, and scores every customer.

    Example:

    \b
      clv demo --output-dir demo-output --customers 20000
    """
    check_outputs(inputs={}, outputs={"--output-dir": output_dir})
    from clvmodels.jobs.pipeline import run_demo

    result = run_demo(
        output_dir,
        n_customers=customers,
        seed=seed,
        method=method,
        progress=show_progress(),
        echo=say,
    )
    say()
    say("outputs:")
    for label, path in result.paths.items():
        say(f"  {label:<12} {path}")
