"""The acquisition part of the demo: simulate sources, then payback and budget, against truth.

:func:`run_acquisition_demo` simulates visits, orders and costs of four sources
(:func:`clvmodels.examples.marketing.simulate_marketing`), keeps what an analyst would have nine
months
in (young cohorts included), fits the model, runs the payback analysis and the budget, writes
the same files as ``clv payback`` and ``clv budget``, and compares the predicted 12-month ROMI
of each source with the simulator's true value.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from clvmodels.data.io import write_table
from clvmodels.examples.marketing import simulate_marketing
from clvmodels.jobs.marketing_files import budget_files, payback_files, write_budget, write_payback
from clvmodels.marketing.budget import budget_recommendation, recommendation_lines, revenue_forecast
from clvmodels.marketing.payback import payback_analysis
from clvmodels.model import CLVModel
from clvmodels.models.settings import Method
from clvmodels.persistence import save_model
from clvmodels.summaries.rfm import rfm_summary


def run_acquisition_demo(
    output_dir: str | Path,
    *,
    n_buyers: int = 20_000,
    seed: int = 42,
    method: Method = "map",
    observed_months: int = 9,
    progress: bool = False,
    echo: Callable[[str], None] = lambda _: None,
) -> dict[str, Path]:
    """Simulate four sources and run payback and budget on the first ``observed_months``.

    Writes into ``output_dir``: ``visits.parquet``, ``orders.parquet``, ``costs.parquet``
    (what was observed), ``truth_sources.csv`` (the simulator's CAC, parameters and true
    12-month value and ROMI per source), ``model/``, the ``payback*`` files of
    ``clv payback`` and the ``budget*`` files of ``clv budget``.

    Returns
    -------
    dict of str to pathlib.Path
        The main outputs by label.
    """
    out = Path(output_dir)
    started = time.perf_counter()
    visits, orders, costs, truth = simulate_marketing(n_buyers, seed=seed)
    end = (truth.start + pd.DateOffset(months=observed_months) - pd.Timedelta(days=1)).normalize()
    seen = orders.loc[orders["timestamp"].dt.normalize() <= end]
    visits = visits.loc[visits["start_ts"].dt.normalize() <= end]
    costs = costs.loc[costs["dt"] <= end]
    paths = {
        "visits": write_table(visits, out / "visits.parquet"),
        "mkt_orders": write_table(seen, out / "orders.parquet"),
        "costs": write_table(costs, out / "costs.parquet"),
        "truth": write_table(truth.sources, out / "truth_sources.csv"),
    }
    echo(
        f"simulated {len(truth.sources)} acquisition sources, {n_buyers:,} buyers; observed "
        f"{truth.start.date()} to {end.date()}: {seen['customer_id'].nunique():,} buyers, "
        f"{len(visits):,} visits [{time.perf_counter() - started:.1f} s]"
    )

    started = time.perf_counter()
    rfm = rfm_summary(seen, time_unit="W", observation_end=end.date().isoformat())
    model = CLVModel(time_unit="W", method=method, seed=seed, progressbar=progress).fit(rfm)
    paths["mkt_model"] = save_model(model, out / "model")
    result = payback_analysis(seen, visits, costs, model=model, observation_end=end.date())
    write_payback(result, out / "payback.parquet")
    paths["payback"] = payback_files(out / "payback.parquet")["cells"]
    echo(f"payback per cohort and source, with predictions [{time.perf_counter() - started:.1f} s]")
    true_romi = truth.romi(12)
    for row in result.by_source.itertuples(index=False):
        payback = (
            f"pays back at age {row.predicted_payback_age}"
            if not pd.isna(row.predicted_payback_age)
            else "does not pay back within 24 months"
        )
        echo(
            f"  {row.source_id}: CAC {row.cac:,.2f}, predicted 12-month ROMI "
            f"{row.predicted_romi_12:.2f} (true {true_romi[row.source_id]:.2f}), {payback}"
        )

    table = budget_recommendation(model, result.cells, result.buyers, margin=1.0)
    forecast = revenue_forecast(model, result.buyers, observation_end=end.date())
    write_budget(table, forecast, out / "budget.parquet")
    files = budget_files(out / "budget.parquet")
    paths["budget"] = files["budget"]
    paths["forecast"] = files["forecast"]
    for line in recommendation_lines(table, forecast):
        echo(line)
    return paths
