"""The fit and show commands: orders -> fitted models (:func:`clvmodels.jobs.fit.fit_orders`).

The modelling stack (SciPy, xarray, PyMC) is imported when a command runs, not by ``--help``.
"""

from __future__ import annotations

import json
from typing import Any, Literal

import click

from clvmodels.cli.common import (
    DATE,
    TIME_UNIT,
    UserError,
    day_text,
    fit_method_options,
    guarded,
    orders_options,
    orders_source,
    pop_orders_options,
    say,
    show_progress,
)
from clvmodels.cli.customers_options import (
    covariate_options,
    customers_options,
    pop_covariates,
    pop_customers_source,
)
from clvmodels.cli.outputs import check_outputs, folder_output
from clvmodels.models.settings import (
    TRANSACTION_MODEL_NAMES,
    Method,
    Priors,
    TransactionModelName,
)
from clvmodels.units import UNIT_NAMES, check_time_unit


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
    type=click.Choice([*TRANSACTION_MODEL_NAMES, "auto"]),
    default="bgnbd",
    show_default=True,
    help="Transaction model: BG/NBD, Pareto/NBD, MBG/NBD, BG/CNBD-k or MBG/CNBD-k (Erlang-k "
    "inter-purchase times, for regular buyers), or auto: the candidate with the lowest holdout "
    "MAE on a calibration split (docs/backtest.md).",
)
@click.option(
    "--k",
    "k",
    type=click.IntRange(1, 10),
    default=None,
    help="Erlang shape of bgcnbd and mbgcnbd (default: chosen by likelihood over 1..10).",
)
@click.option(
    "--candidates",
    help="With --model auto: the models to compare, comma-separated, or all (default: those "
    "whose P(alive) means something for one-time buyers, i.e. not BG/NBD nor BG/CNBD-k).",
)
@click.option(
    "--holdout",
    help="With --model auto: the holdout's length, e.g. 13W (default: the last quarter of "
    "the orders' span, at least 8 weeks).",
)
@fit_method_options
@customers_options
@covariate_options
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
    transaction_model: TransactionModelName | Literal["auto"],
    candidates: str | None,
    holdout: str | None,
    k: int | None,
    **kwargs: Any,
) -> None:
    """Fit a purchase model (BG/NBD by default, or --model ...) and Gamma-Gamma for spend.

    Models: bgnbd (BG/NBD), pareto (Pareto/NBD), mbgnbd (MBG/NBD), bgcnbd and mbgcnbd
    (BG/CNBD-k, MBG/CNBD-k, for regular buyers), or auto (chosen on a holdout).

    --model auto holds out the last quarter of the orders' span (at least 8 weeks), fits
    each candidate on the rest, picks the one with the lowest per-customer MAE of holdout
    purchases, refits it on all the orders, and prints and saves the comparison
    (model_comparison in model.json). The default candidates are Pareto/NBD, MBG/NBD and
    MBG/CNBD-k (models whose customers can drop out right after the first purchase);
    --candidates all adds BG/NBD and BG/CNBD-k, which give every one-time buyer P(alive) = 1.

    For regular buyers, --model bgcnbd or mbgcnbd (BG/CNBD-k, MBG/CNBD-k: Erlang-k
    inter-purchase times, k chosen by likelihood over 1..10 or given with --k).

    Writes MODEL_DIR with the posteriors (netCDF) and model.json: versions, time unit,
    observation end, a fingerprint of the input, and the optimiser's status or the
    sampler's diagnostics (r-hat, ESS, divergences). Gamma-Gamma leaves out repeat customers
    whose repeat orders are worth 0 (counted; scored at the population mean spend); a fit
    with a parameter at a bound or Gamma-Gamma q <= 1 is marked not usable and `clv score`
    refuses it. With --no-revenue only the purchase model is fitted; with --no-revenue
    --value-per-order X the spend is not modelled but constant: X per purchase occasion
    (X times the mean orders per repeat occasion when same-day orders merge). See
    docs/models.md.

    Covariates (time-invariant, per customer; docs/models.md "Covariates"): --customers
    CUSTOMERS --covariates channel,gender,first_order_value puts them on both processes;
    --purchase-covariates / --dropout-covariates on one. Categorical columns are one-hot
    encoded against their most frequent level, numeric ones standardised; the encoding is
    saved with the model. A customer missing from the table, a duplicated key or a missing
    value is an error.

    Example:

    \b
      clv fit orders.csv -o model/ --time-unit W --method map --priors flat
      clv fit orders.csv -o model/ --customers customers.csv --covariates channel,gender
    clv fit orders.csv -o model/ --model auto
    clv fit orders.csv -o model/ --model mbgcnbd --k 3
    """
    if transaction_model != "auto" and (candidates or holdout):
        raise UserError("--candidates and --holdout go with --model auto")
    folder_output(model_dir, "-o", "a model folder")
    check_outputs(inputs={"ORDERS": orders}, outputs={}, model_dirs={"--output": model_dir})
    # the modelling stack (SciPy, xarray, PyMC) is imported by the commands that use it
    from clvmodels.jobs.fit import FitData, FitSettings, fit_orders

    if k is not None and transaction_model not in ("bgcnbd", "mbgcnbd"):
        raise click.UsageError(
            f"--k is an option of bgcnbd and mbgcnbd, not of {transaction_model}"
        )
    customers = pop_customers_source(kwargs)
    purchase, dropout = pop_covariates(kwargs)
    settings = FitSettings(
        time_unit=check_time_unit(time_unit.upper()),
        transaction_model=transaction_model,
        method=method,
        priors=priors,
        chains=chains,
        draws=draws,
        tune=tune,
        seed=seed,
        candidates=candidates,
        holdout=holdout,
        purchase_covariates=purchase,
        dropout_covariates=dropout,
        k=k,
    )

    def announce(data: FitData) -> None:
        say(
            f"fitting on {data.n_customers:,} customers ({data.n_repeat:,} repeat) with orders "
            f"up to {data.up_to}; time unit {UNIT_NAMES[settings.time_unit]}; "
            f"model {transaction_model}, method {method}, {priors} priors"
            + (
                f"; covariates: purchase {', '.join(purchase) or 'none'}, dropout "
                f"{', '.join(dropout) or 'none'}"
                if purchase or dropout
                else ""
            )
        )

    result = fit_orders(
        orders_source(orders, pop_orders_options(kwargs)),
        model_dir,
        settings,
        observation_end=day_text(observation_end),
        progress=show_progress(),
        announce=announce,
        echo=say,
        customers=customers,
    )
    say(f"fitted in {result.seconds:.1f} s")
    if result.comparison is not None:
        from clvmodels.selection import comparison_lines

        for line in comparison_lines(result.comparison):
            say(line)
    print_model_description(result.model.describe())
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
            "model_comparison",
            "encoding",
            "coefficients",
            "library_versions",
            "clvmodels_version",
        )
        click.echo(json.dumps({k: metadata[k] for k in keep if k in metadata}, indent=2))
        return
    print_model_description(metadata)
    if metadata.get("model_comparison"):
        from clvmodels.selection import comparison_lines

        for line in comparison_lines(metadata["model_comparison"]):
            say(line)
    say(
        f"saved with clvmodels {metadata['clvmodels_version']}, pymc-marketing "
        f"{metadata['library_versions'].get('pymc-marketing')}"
    )


def print_model_description(description: dict[str, Any]) -> None:
    """Print a model's time unit, parameters with 94% intervals, and convergence per part."""
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
        if "k" in report:
            say("  " + _k_line(report))
        say("  " + _diagnostics_line(report))
        if part.get("log_likelihood") is not None:
            say(
                f"  log-likelihood {part['log_likelihood']:,.2f} (the fitted customers, at "
                "the posterior means)"
            )
        if report.get("usable") is False:
            say(f"  NOT USABLE (scoring refuses it): {report.get('not_usable_reason')}")
        excluded = report.get("zero_value_exclusions")
        if excluded and excluded.get("n_customers"):
            say("  " + _exclusions_line(excluded))
        if key == "transaction_model" and description.get("coefficients"):
            print_coefficients(description["encoding"], description["coefficients"])
            if report.get("n_tuples") is not None:
                say(
                    f"  fitted on {report['n_tuples']:,} distinct (x, t_x, T, covariates) "
                    f"tuples of {report.get('n_customers', 0):,} customers"
                )


def print_coefficients(encoding: dict[str, Any], coefficients: dict[str, Any]) -> None:
    """Print the covariates' encoding and the coefficient table with its effects."""
    references = ", ".join(
        f"{c['name']} = {c['reference']}"
        if c["kind"] == "categorical"
        else f"{c['name']} at its mean"
        for c in encoding["columns"]
    )
    say(f"  covariates (reference customer: {references}; numeric: 1 unit = 1 sd)")
    say(f"  {'process':<10}{'feature':<24}{'coef':>9}{'94% interval':>22}   effect")
    for row in coefficients["rows"]:
        interval = f"[{row['low_94']:.3g}, {row['high_94']:.3g}]"
        if "multiplier_mean" in row:
            rate = "purchase rate" if row["process"] == "purchase" else "dropout rate"
            effect = (
                f"x{row['multiplier_mean']:.3g} {rate} "
                f"[{row['multiplier_low_94']:.3g}, {row['multiplier_high_94']:.3g}]"
            )
        elif "dropout_p_up_mean" in row:
            effect = (
                f"P(drop) {row['dropout_p_reference_mean']:.3g} -> {row['dropout_p_up_mean']:.3g} "
                f"[{row['dropout_p_up_low_94']:.3g}, {row['dropout_p_up_high_94']:.3g}]"
            )
        else:
            effect = "(its P(drop) effect is on the dropout_a row)"
        say(
            f"  {row['process']:<10}{row['feature']:<24}{row['mean']:>9.3g}{interval:>22}"
            f"   {effect}"
        )
    say(f"  intervals: {coefficients['interval']}")


def _exclusions_line(excluded: dict[str, Any]) -> str:
    """The Gamma-Gamma exclusions of customers whose mean repeat value is 0, as one line."""
    mean = excluded.get("population_mean_spend")
    shown = f" (posterior mean {mean:,.2f})" if mean is not None else ""
    examples = ", ".join(str(e) for e in excluded.get("examples", []))
    return (
        f"left out of the fit: {excluded['n_customers']:,} repeat customers whose mean repeat "
        f"value is 0 (e.g. {examples}); scoring gives them {excluded.get('spend_used')}{shown}"
    )


def _k_line(report: dict[str, Any]) -> str:
    """BG/CNBD-k's and MBG/CNBD-k's Erlang shape: given, or chosen, with its log-likelihoods."""
    line = f"k = {report['k']} ({report.get('k_selection', 'given')})"
    per_k = report.get("k_log_likelihood") or {}
    if len(per_k) > 1:
        shown = ", ".join(f"{k}: {v:,.1f}" for k, v in per_k.items())
        line += f"; log-likelihood by k: {shown}"
    return line


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
