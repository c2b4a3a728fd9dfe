"""The main job end to end: orders -> RFM -> fitted models -> scored customers -> files.

The transaction model is chosen by ``--model auto`` (:mod:`clvmodels.selection`) unless a
model is named; the comparison is saved in the model folder's ``model.json``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from clvmodels.backtest import backtest
from clvmodels.data.io import write_json, write_table
from clvmodels.jobs.backtest import write_backtest
from clvmodels.jobs.experiment_demo import run_experiment_demo
from clvmodels.jobs.files import PipelineFiles
from clvmodels.jobs.fit import FitSettings, fit_model, fitted_input, repeat_customers
from clvmodels.jobs.marketing_demo import run_acquisition_demo
from clvmodels.jobs.subscriptions_demo import run_subscriptions_demo
from clvmodels.model import MODEL_LABELS, CLVModel
from clvmodels.models.settings import Method, Priors, TransactionModelName
from clvmodels.persistence import load_model, read_metadata, save_model
from clvmodels.report.build import write_report
from clvmodels.segments.assign import segment_customers, segment_summary
from clvmodels.selection import comparison_lines
from clvmodels.summaries.rfm import rfm_summary
from clvmodels.units import UNIT_NAMES, TimeUnit

Echo = Callable[[str], None]


@dataclass
class PipelineResult:
    """What :func:`run_pipeline` produced: the fitted model, the scores and the files."""

    model: CLVModel
    rfm: pd.DataFrame
    scores: pd.DataFrame
    summary: dict[str, Any]
    paths: dict[str, Path] = field(default_factory=dict)


def run_pipeline(
    orders: pd.DataFrame,
    output_dir: str | Path,
    *,
    time_unit: TimeUnit = "W",
    observation_end: str | None = None,
    method: Method = "map",
    priors: Priors = "default",
    horizon: str = "12M",
    annual_discount_rate: float = 0.1,
    margin: float = 1.0,
    n_draws: int = 200,
    seed: int = 0,
    transaction_model: TransactionModelName | Literal["auto"] = "auto",
    candidates: str | None = None,
    progress: bool = False,
    echo: Echo = lambda _: None,
) -> PipelineResult:
    """Summarise, fit, save, score and write, reporting each step through ``echo``.

    ``transaction_model="auto"`` (the default) chooses the model among ``candidates``
    (:func:`clvmodels.selection.choose_model`; None: the default candidates).

    Writes ``rfm.parquet``, ``model/``, ``scores.parquet`` and ``summary.json`` into
    ``output_dir`` (:class:`clvmodels.jobs.files.PipelineFiles`). The model records the
    fingerprint of the orders up to the observation end, the orders it was fitted on.
    """
    files = PipelineFiles(Path(output_dir))
    files.folder.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    started = time.perf_counter()
    rfm = rfm_summary(
        orders, time_unit=time_unit, observation_end=observation_end, with_fingerprint=True
    )
    paths["rfm"] = write_table(rfm, files.rfm)
    echo(
        f"RFM: {len(orders):,} orders -> {len(rfm):,} customers ({repeat_customers(rfm):,} "
        f"repeat), {rfm.attrs['first_order']} to {rfm.attrs['calibration_end']}, time unit "
        f"{UNIT_NAMES[time_unit]} [{time.perf_counter() - started:.1f} s]"
    )

    settings = FitSettings(
        time_unit=time_unit,
        transaction_model=transaction_model,
        method=method,
        priors=priors,
        seed=seed,
        candidates=candidates,
    )
    model = _fit_and_save(orders, rfm, settings, files, paths, progress=progress, echo=echo)
    if not model.converged_:
        echo("WARNING: a fit did not converge; see `clv show` on the model directory")

    started = time.perf_counter()
    scores = model.score(
        rfm,
        horizon=horizon,
        annual_discount_rate=annual_discount_rate,
        margin=margin,
        n_draws=n_draws,
        progress=progress,
    )
    paths["scores"] = write_table(scores, files.scores)
    echo(
        f"scores: {len(scores):,} customers over {horizon}, annual discount rate "
        f"{annual_discount_rate:g}, margin {margin:g}, {scores.attrs['n_draws']} draws "
        f"[{time.perf_counter() - started:.1f} s]"
    )
    summary = {"n_orders": len(orders)} | _run_numbers(
        rfm,
        scores,
        model,
        {
            "time_unit": time_unit,
            "observation_end": rfm.attrs["calibration_end"],
            "horizon": horizon,
            "annual_discount_rate": annual_discount_rate,
            "margin": margin,
            "method": method,
            "priors": priors,
        },
    )
    echo(
        f"predicted: {summary['total_expected_purchases']:,.0f} purchases and "
        f"{summary['total_clv']:,.0f} of discounted value over {horizon}; "
        f"mean P(alive) {summary['mean_p_alive']:.3f}"
    )
    paths["summary"] = write_json(summary, files.summary)
    return PipelineResult(model=model, rfm=rfm, scores=scores, summary=summary, paths=paths)


def _fit_and_save(
    orders: pd.DataFrame,
    rfm: pd.DataFrame,
    settings: FitSettings,
    files: PipelineFiles,
    paths: dict[str, Path],
    *,
    progress: bool,
    echo: Echo,
) -> CLVModel:
    """Fit (or choose, ``"auto"``) the model, save it with its comparison, say what it is."""
    started = time.perf_counter()
    model, comparison = fit_model(orders, rfm, settings, progress=progress, echo=echo)
    extra: dict[str, Any] = {"input": fitted_input(rfm)}
    if comparison is not None:
        extra["model_comparison"] = comparison
        for line in comparison_lines(comparison):
            echo(line)
    paths["model"] = save_model(model, files.model, extra=extra)
    echo(
        f"fit ({settings.method}, {settings.priors} priors) "
        f"[{time.perf_counter() - started:.1f} s]: "
        f"{MODEL_LABELS[model.transaction_model]} {_params(model.transaction_model_.params_)}; "
        f"Gamma-Gamma {_params(model.require_spend_model().params_)}"
    )
    return model


def _run_numbers(
    rfm: pd.DataFrame, scores: pd.DataFrame, model: CLVModel, settings: dict[str, Any]
) -> dict[str, Any]:
    """The numbers of ``summary.json`` after ``n_orders``: data, settings, fits, totals."""
    return {
        "n_customers": len(rfm),
        "n_repeat_customers": repeat_customers(rfm),
        **settings,
        "transaction_model": model.transaction_model,
        model.transaction_model: model.transaction_model_.params_,
        "gamma_gamma": model.require_spend_model().params_,
        "total_expected_purchases": float(scores["expected_purchases"].sum()),
        "total_clv": float(scores["clv"].sum()),
        "total_clv_interval_of_means": [
            float(scores["clv_low"].sum()),
            float(scores["clv_high"].sum()),
        ],
        "mean_p_alive": float(scores["p_alive"].mean()),
    }


def run_demo(
    output_dir: str | Path,
    *,
    n_customers: int = 20_000,
    seed: int = 42,
    method: Method = "laplace",
    priors: Priors = "flat",
    progress: bool = False,
    echo: Echo = lambda _: None,
) -> PipelineResult:
    """Simulate a customer base, run :func:`run_pipeline` on it, and compare with the truth.

    Flat priors by default, so that the fit is the maximum-likelihood estimate and its
    distance from the true parameters is sampling error, not prior shrinkage.
    """
    from clvmodels.examples.simulate import simulate_orders

    files = PipelineFiles(Path(output_dir))
    started = time.perf_counter()
    orders, truth = simulate_orders(n_customers=n_customers, seed=seed)
    orders_path = write_table(orders, files.orders)
    echo(
        f"simulated {n_customers:,} customers, {len(orders):,} orders "
        f"({truth.start.date()} to {truth.last_day.date()}) [{time.perf_counter() - started:.1f} s]"
    )
    result = run_pipeline(
        orders,
        files.folder,
        time_unit=truth.time_unit,
        observation_end=truth.last_day.date().isoformat(),
        method=method,
        priors=priors,
        seed=seed,
        progress=progress,
        echo=echo,
    )
    result.paths = {"orders": orders_path, **result.paths}
    echo("fitted vs true parameters:")
    pairs_of = [("Gamma-Gamma", result.model.require_spend_model().params_, truth.gamma_gamma)]
    if result.model.transaction_model == "bgnbd":
        pairs_of.insert(0, ("BG/NBD", result.model.transaction_model_.params_, truth.bgnbd))
    else:
        echo(
            f"  the customers were simulated with BG/NBD ({_params(truth.bgnbd)}); the chosen "
            f"{MODEL_LABELS[result.model.transaction_model]} has other parameters"
        )
    for label, fitted, true in pairs_of:
        pairs = ", ".join(f"{k} {fitted[k]:.3g} (true {true[k]:.3g})" for k in true)
        echo(f"  {label}: {pairs}")
    result.paths["segments"] = _segments(result.scores, files, echo)

    echo("acquisition sources, payback and budget (a second simulated shop, 4 ad sources):")
    result.paths.update(
        run_acquisition_demo(
            files.marketing,
            n_buyers=n_customers // 2,
            seed=seed,
            method="map",
            progress=progress,
            echo=echo,
        )
    )
    echo("subscriptions (a simulated SaaS service, 3 plans, billed monthly):")
    result.paths.update(
        run_subscriptions_demo(
            files.subscriptions, n_companies=max(n_customers // 4, 1_000), seed=seed, echo=echo
        )
    )
    result.paths.update(_product_analytics(result.paths, files, echo))
    echo("an A/B test (simulated: B converts fewer users who buy more often):")
    result.paths.update(run_experiment_demo(files.ab_test, files.experiment, seed=seed, echo=echo))
    result.paths["published"] = _publish(orders_path, files, truth.time_unit, echo)
    shop_orders = pd.read_parquet(result.paths["mkt_orders"])
    _backtest_shop(shop_orders, files, priors=priors, seed=seed, echo=echo)
    result.paths["report"] = _report(shop_orders, files, result.paths, echo)
    return result


def _product_analytics(paths: dict[str, Path], files: PipelineFiles, echo: Echo) -> dict[str, Path]:
    """``clv engagement``, ``clv conversion`` and ``clv kpis`` on the second shop's tables."""
    from clvmodels.data.contract import OrdersSource
    from clvmodels.jobs.conversion import run_conversion
    from clvmodels.jobs.engagement import engagement_job
    from clvmodels.jobs.kpis import run_kpis

    started = time.perf_counter()
    out = files.marketing
    used = engagement_job(paths["visits"], out / "engagement").summary
    conversion = run_conversion(
        paths["visits"], OrdersSource(paths["mkt_orders"]), out / "conversion"
    )
    kpis = run_kpis(OrdersSource(paths["mkt_orders"]), out / "kpis", period="week")
    converted = conversion.result.summary
    echo(
        f"engagement: DAU {used['dau']:,.0f}, WAU {used['wau']:,.0f}, MAU {used['mau']:,.0f}, "
        f"sticky (DAU/MAU) {used['sticky_mau']:.1%}, median session "
        f"{used['session_seconds_median']:,.0f} s; "
        f"conversion: {converted['buyers']:,} of {converted['visitors']:,} visitors bought "
        f"({converted['conversion_rate']:.1%}), median {converted['median_conversion_day']:g} days "
        f"from the first visit; weekly KPIs of {kpis.summary['periods']} weeks "
        f"[{time.perf_counter() - started:.1f} s]"
    )
    return {
        "engagement": out / "engagement",
        "conversion": out / "conversion",
        "kpis": out / "kpis",
    }


def _publish(orders: Path, files: PipelineFiles, time_unit: TimeUnit, echo: Echo) -> Path:
    """``clv publish`` of the simulated orders with the fitted model into a DuckDB file.

    Running the demo again replaces the tables and views and adds a row to ``runs``.
    """
    from clvmodels.data.contract import OrdersSource
    from clvmodels.jobs.publish import PublishSettings, publish

    published = publish(
        OrdersSource(orders),
        f"duckdb:///{files.published}",
        settings=PublishSettings(time_unit=time_unit),
        model_dir=files.model,
    )
    echo(
        f"published {len(published.written)} presentation tables and views into "
        f"{files.published} (clv publish): {', '.join(published.written)}; query them with "
        f"DuckDB, e.g. python -c \"import duckdb; print(duckdb.connect('{files.published}', "
        "read_only=True).sql('SELECT * FROM clv.m1_retention'))\""
    )
    return files.published


def _segments(scores: pd.DataFrame, files: PipelineFiles, echo: Echo) -> Path:
    """Segment the scored customers, write them and say how many each segment has."""
    segmented = segment_customers(scores)
    summary = segment_summary(segmented)
    path = write_table(segmented, files.segments)
    echo(
        "segments: "
        + ", ".join(
            f"{row.segment} {row.customers:,}" for row in summary.itertuples() if row.customers
        )
    )
    return path


def _backtest_shop(
    shop_orders: pd.DataFrame, files: PipelineFiles, *, priors: Priors, seed: int, echo: Echo
) -> None:
    """Backtest BG/NBD on the second shop with its last 3 months held out."""
    started = time.perf_counter()
    last_day = shop_orders["timestamp"].max().normalize()
    tested = backtest(
        shop_orders,
        calibration_end=(last_day - pd.DateOffset(months=3)).date(),
        models=("bgnbd",),
        priors=priors,
        seed=seed,
    )
    write_backtest(tested, files.backtest)
    row = tested.totals.set_index("model").loc["bgnbd"]
    echo(
        f"backtest (last 3 months held out): BG/NBD predicted {row.predicted_purchases:,.0f} "
        f"holdout purchases, actual {row.actual_purchases:,.0f} "
        f"({row.purchases_error_pct:+.1f}%) [{time.perf_counter() - started:.1f} s]"
    )


def _report(
    shop_orders: pd.DataFrame, files: PipelineFiles, paths: dict[str, Path], echo: Echo
) -> Path:
    """The second shop's HTML report: model, backtest, acquisition, engagement, conversion.

    With the subscriptions and the experiment sections of the demo's other parts.
    """
    started = time.perf_counter()
    write_report(
        files.report,
        shop_orders,
        model=load_model(paths["mkt_model"]),
        model_metadata=read_metadata(paths["mkt_model"]),
        backtest=files.backtest,
        visits=paths["visits"],
        costs=paths["costs"],
        subscriptions=paths["churn"],
        engagement=paths["engagement"],
        conversion=paths["conversion"],
        experiment=paths["experiment"],
    )
    echo(f"report [{time.perf_counter() - started:.1f} s]")
    return files.report


def _params(params: dict[str, float]) -> str:
    return ", ".join(f"{k}={v:.3g}" for k, v in params.items())
