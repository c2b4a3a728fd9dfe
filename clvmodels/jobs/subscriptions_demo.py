"""The subscription part of ``clv demo``: a simulated SaaS service, end to end.

:func:`run_subscriptions_demo` simulates the four tables of a SaaS service (billing,
companies, activities, people; :func:`clvmodels.examples.subscriptions.simulate_subscriptions`)
with a known sBG per plan and known hazard ratios, writes them as CSV, runs
``clv subscriptions`` and ``clv churn`` on them (the same library calls), and says how the
fitted values compare with the truth.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from clvmodels.data.io import write_table
from clvmodels.jobs.churn import ChurnInputs, run_churn
from clvmodels.jobs.subscriptions import subscriptions_file
from clvmodels.subscriptions.settings import ChurnSettings

Echo = Callable[[str], None]


def run_subscriptions_demo(
    folder: str | Path,
    *,
    n_companies: int = 5_000,
    seed: int = 42,
    echo: Echo = lambda _: None,
) -> dict[str, Path]:
    """Simulate, summarise the billing table, analyse churn; return the paths written."""
    from clvmodels.examples.subscriptions import simulate_subscriptions

    started = time.perf_counter()
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tables = simulate_subscriptions(n_companies=n_companies, seed=seed)
    paths = {
        name: write_table(getattr(tables, name), folder / f"{name}.csv")
        for name in ("billing", "companies", "activities", "people")
    }
    echo(
        f"simulated a SaaS service: {n_companies:,} companies, {len(tables.billing):,} billing "
        f"rows [{time.perf_counter() - started:.1f} s]"
    )
    started = time.perf_counter()
    summary = subscriptions_file(
        paths["billing"],
        folder / "subs.parquet",
        billing_period="month",
        status_col="status",
        observation_end=str(tables.truth["observation_end"]),
    )
    report = summary.report
    echo(
        f"subscriptions: {len(summary.subs):,} customers from {report['rows_read']:,} billing "
        f"rows [{time.perf_counter() - started:.1f} s]"
    )
    outcome = run_churn(
        ChurnInputs(
            summary.target,
            companies=paths["companies"],
            activities=paths["activities"],
            people=paths["people"],
        ),
        folder / "churn",
        ChurnSettings(
            by=("plan",), priors="flat", method="map", seed=seed, activity_measures=("invoices",)
        ),
    )
    echo(f"churn: sBG per plan, survival, drivers [{sum(outcome.seconds.values()):.1f} s]")
    _compare(outcome.result.params, outcome.result.drivers, tables.truth, echo)
    return {
        **{f"saas_{name}": path for name, path in paths.items()},
        "subs": summary.target,
        "churn": folder / "churn",
    }


def _compare(params: pd.DataFrame, drivers: pd.DataFrame, truth: dict, echo: Echo) -> None:
    """Fitted vs true sBG per plan, and Cox hazard ratios vs the true ones."""
    true_plans = truth.get("plans", {})
    echo("  sBG per plan (true values hold for the reference companies, 1-10 staff and normal")
    echo("  activity; bigger companies churn less, so a plan's whole base has a larger beta):")
    for row in params.itertuples():
        true = true_plans.get(row.plan)
        known = f" (reference truth {true['alpha']:.3g}, {true['beta']:.3g})" if true else ""
        echo(f"    {row.plan}: alpha {row.alpha:.3g}, beta {row.beta:.3g}{known}")
    ratios = truth.get("hazard_ratios", {})
    sizes = ", ".join(f"{k} {v:g}" for k, v in ratios.get("size_band", {}).items())
    echo(
        f"  Cox hazard ratios (true: size band {sizes}; low activity {ratios.get('low_activity')}:"
        " low-activity companies send far fewer invoices, and the Cox row is per doubling):"
    )
    for row in drivers[drivers["source"] == "cox"].itertuples():
        echo(
            f"    {row.covariate}: {row.hazard_ratio:.2f} (94% {row.hr_low:.2f}-{row.hr_high:.2f})"
        )
