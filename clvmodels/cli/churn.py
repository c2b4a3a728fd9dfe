"""The churn command: sBG retention, survival, drivers and residual value of subscriptions."""

from __future__ import annotations

from typing import Any

import click

from clvmodels.cli.common import (
    PERIODS,
    discount_option,
    fit_method_options,
    guarded,
    say,
    show_progress,
)
from clvmodels.cli.outputs import check_outputs, folder_not_file, folder_output
from clvmodels.models.settings import Method, Priors


def _names(value: str | None) -> tuple[str, ...]:
    return tuple(name.strip() for name in (value or "").split(",") if name.strip())


@click.command()
@click.argument("subs", type=click.Path())
@click.option("-o", "--output", "out_dir", required=True, help="Folder to write the outputs into.")
@click.option(
    "--by",
    help="Columns of SUBS to fit one sBG per group of, e.g. --by plan or --by plan,cohort.",
)
@fit_method_options
@click.option(
    "--horizon-periods",
    type=PERIODS,
    default=12,
    show_default=True,
    help="Billing periods of the retention table and of residual_value_horizon.",
)
@discount_option
@click.option("--companies", type=click.Path(), help="Companies table (covariates, profile).")
@click.option("--company-key", default="id", show_default=True, help="Company id column.")
@click.option(
    "--covariates",
    default="industry,size_band",
    show_default=True,
    help="Company columns used as churn drivers (categorical), e.g. --covariates size_band.",
)
@click.option("--activity", type=click.Path(), help="Monthly activity table (churn drivers).")
@click.option("--activity-key", default="company_id", show_default=True, help="Its company id.")
@click.option("--activity-month-col", default="month", show_default=True, help="Its month.")
@click.option(
    "--activity-measures",
    help="Activity columns (default: every numeric one), e.g. --activity-measures invoices.",
)
@click.option(
    "--baseline-periods",
    type=PERIODS,
    default=3,
    show_default=True,
    help="Activity is measured in each customer's first N periods (never just before churn).",
)
@click.option("--people", type=click.Path(), help="People table (users per company, profile).")
@click.option("--people-key", default="company_id", show_default=True, help="Its company id.")
@click.option("--no-plots", is_flag=True, help="Write no PNG plots.")
@guarded
def churn(
    subs: str,
    out_dir: str,
    by: str | None,
    method: Method,
    priors: Priors,
    chains: int,
    draws: int,
    tune: int,
    seed: int,
    horizon_periods: int,
    annual_discount_rate: float,
    companies: str | None,
    company_key: str,
    covariates: str,
    activity: str | None,
    activity_key: str,
    activity_month_col: str,
    activity_measures: str | None,
    baseline_periods: int,
    people: str | None,
    people_key: str,
    no_plots: bool,
) -> None:
    """Fit the sBG per group and write retention, survival, churn drivers and residual value.

    SUBS is the table `clv subscriptions` writes (one row per customer). OUT_DIR gets
    sbg_params.csv (alpha, beta per group with 94% intervals; empty for MAP),
    retention.csv (Kaplan-Meier beside the sBG's survival and retention by period),
    customers.parquet (P(renew next), discounted expected residual lifetime in billing
    periods, residual value, and the same cut at --horizon-periods), logrank.csv,
    drivers.csv (Cox hazard ratios and the sBG with dropout covariates, with --companies or
    --activity), profile.csv, plots and summary.json. The annual discount rate becomes a
    per-period rate: (1 + r)^(1/12) - 1 for monthly billing, r for yearly. See
    docs/subscriptions.md.

    Example:

    \b
      clv churn subs.parquet -o churn/ --by plan
      clv churn subs.parquet -o churn/ --by plan --companies companies.csv \\
          --activity activities.csv --people people.csv --method laplace
    """
    from clvmodels.jobs.churn import ChurnInputs, churn_files, run_churn
    from clvmodels.subscriptions.settings import ChurnSettings

    inputs = ChurnInputs(subs, companies=companies, activities=activity, people=people)
    given = {"SUBS": subs, "--companies": companies, "--activity": activity, "--people": people}
    folder_output(out_dir, "-o", "a folder of files")
    check_outputs(
        inputs=given,
        outputs={"--output": [out_dir, *churn_files(out_dir, plots=not no_plots).values()]},
    )
    folder_not_file(out_dir)
    settings = ChurnSettings(
        by=_names(by),
        method=method,
        priors=priors,
        horizon_periods=horizon_periods,
        annual_discount_rate=annual_discount_rate,
        company_key=company_key,
        covariates=_names(covariates),
        activity_key=activity_key,
        activity_month_col=activity_month_col,
        activity_measures=_names(activity_measures) or None,
        baseline_periods=baseline_periods,
        people_key=people_key,
        chains=chains,
        draws=draws,
        tune=tune,
        seed=seed,
    )
    progress = (lambda step: click.echo(f"  {step}...", err=True)) if show_progress() else None
    outcome = run_churn(inputs, out_dir, settings, plots=not no_plots, progress=progress)
    for line in churn_lines(outcome.result):
        say(line)
    for path in outcome.files.values():
        if path.exists():
            say(f"wrote {path}")


def churn_lines(result: Any) -> list[str]:
    """What ``clv churn`` prints: the settings it used, the fit, each group's sBG."""
    summary = result.summary
    fit = summary["fit"]
    lines = [
        f"{summary['customers']:,} customers ({summary['active']:,} active), "
        f"billing period: {summary['billing_period']}",
        f"discount: {summary['per_period_discount_rate']:.6f} per period "
        f"({summary['discount_rule']})",
        f"fit: {fit.get('method', '')}, converged: {fit.get('converged')}; "
        f"intervals: {summary['intervals']}",
    ]
    for _, row in result.params.iterrows():
        group = ", ".join(f"{c}={row[c]}" for c in result.group_cols)
        lines.append(
            f"  {group}: alpha {row['alpha']:.3f}, beta {row['beta']:.3f} "
            f"({row['customers']:,} customers, {row['churned']:,} churned)"
        )
    lines.extend(_driver_lines(result.drivers))
    cox = summary.get("cox") or {}
    if cox.get("fitted_rows", 0) < cox.get("total_rows", 0):
        lines.append(
            f"Cox fitted on a random sample of {cox['fitted_rows']:,} of {cox['total_rows']:,} "
            "customers (statsmodels' PHReg is slow beyond); its intervals are the sample's"
        )
    for warning in fit.get("warnings", []):
        lines.append(f"WARNING: {warning}")
    return lines


def _driver_lines(drivers: Any, most: int = 5) -> list[str]:
    """The strongest Cox hazard ratios (largest |log HR|), with their 94% intervals."""
    import numpy as np

    cox = drivers[drivers["source"] == "cox"]
    if cox.empty:
        return []
    strongest = cox.iloc[np.argsort(-np.abs(np.log(cox["hazard_ratio"].to_numpy(float))))][:most]
    lines = ["strongest churn drivers (Cox hazard ratio, 94% interval; > 1 churns sooner):"]
    for row in strongest.itertuples():
        lines.append(
            f"  {row.covariate}: {row.hazard_ratio:.2f} ({row.hr_low:.2f}-{row.hr_high:.2f})"
        )
    return lines
