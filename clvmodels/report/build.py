"""One self-contained HTML report of the whole job, for people who do not run Python.

The report has seven sections, an eighth for subscriptions, a ninth for product analytics
and a tenth for an experiment, each a ``<section>`` with a fixed id:

``data``
    Orders, customers, date range, revenue, orders per customer, repeat share, and the
    data-quality findings met while reading the orders (:class:`DataQualityWarning`).
``model``
    Each fitted model's parameters (posterior mean, sd, 94% interval) and diagnostics (the
    optimiser's status, or r-hat, ESS and divergences), with convergence highlighted.
``matrices``
    Expected purchases in the next time unit and P(alive) over a grid of frequency and
    recency at the largest observed T
    (:func:`clvmodels.plots.matrices.plot_frequency_recency_matrix`,
    :func:`clvmodels.plots.matrices.plot_probability_alive_matrix`).
``backtest``
    The totals, conditional expectations and tracking of a ``clv backtest`` output folder.
``cohorts``
    Cumulative LTV by cohort and age, and retention curves (:mod:`clvmodels.summaries.cohorts`).
``acquisition``
    CAC, ROMI and payback by source (:func:`clvmodels.marketing.payback.payback_analysis`) and,
    with a model, the budget recommendation
    (:func:`clvmodels.marketing.budget.budget_recommendation`),
    from visits and costs.
``segments``
    The segment summary of the model's scores (:mod:`clvmodels.segments.assign`).
``subscriptions`` (only with ``subscriptions=``)
    Survival, retention, log-rank tests, churn drivers and the typical customer per group of
    a ``clv churn`` output folder (:mod:`clvmodels.report.subscriptions`).
``analytics`` (only with ``engagement=`` or ``conversion=``)
    "Engagement and conversion": DAU, WAU, MAU, stickiness and session lengths of a
    ``clv engagement`` folder, and visitors, buyers, conversion rate and days to the first
    order of a ``clv conversion`` folder, by device and source, with their data problems
    (:mod:`clvmodels.report.analytics`).
``experiment`` (only with ``experiment=``)
    "Experiment": the groups, the sample-ratio verdict, the tests per metric, the normality
    checks, the predicted-CLV comparison and the forest plot of a ``clv experiment`` folder
    (:mod:`clvmodels.report.experiment`).

A section whose inputs were not given still appears, with a note saying what to pass (the
subscriptions, analytics and experiment sections, whose inputs are other commands' folders,
are left out instead); a section that cannot be computed from the inputs says why, and the
rest of the report still renders. Images are PNGs embedded as base64 data URIs and the CSS is
inline, so the file opens anywhere without JavaScript or a network.

Each section is built by its own module (:mod:`clvmodels.report.data`, ``.model``,
``.matrices``, ``.backtest``, ``.cohorts``, ``.acquisition``, ``.segments``,
``.subscriptions``, ``.analytics``, ``.experiment``) and the page by
:mod:`clvmodels.report.html`; this module puts them together.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from clvmodels.data.io import atomic_path
from clvmodels.errors import ClvError, DataError
from clvmodels.model import CLVModel
from clvmodels.ranges import check_margin
from clvmodels.report.acquisition import ACQUISITION_TITLE, acquisition_section
from clvmodels.report.analytics import (
    ANALYTICS_ID,
    ANALYTICS_TITLE,
    AnalyticsOutputs,
    analytics_section,
    read_conversion,
    read_engagement,
)
from clvmodels.report.backtest import BacktestOutputs, backtest_section, read_backtest
from clvmodels.report.cohorts import cohorts_section
from clvmodels.report.data import data_section
from clvmodels.report.experiment import (
    EXPERIMENT_ID,
    EXPERIMENT_TITLE,
    ExperimentOutputs,
    experiment_section,
    read_experiment,
)
from clvmodels.report.html import Section, document, missing
from clvmodels.report.inputs import ModelRFM, Source
from clvmodels.report.matrices import matrices_section
from clvmodels.report.model import model_section
from clvmodels.report.segments import segments_section
from clvmodels.report.subscriptions import (
    SUBSCRIPTIONS_ID,
    SUBSCRIPTIONS_TITLE,
    ChurnOutputs,
    read_churn,
    subscriptions_section,
)
from clvmodels.summaries.calendar import check_period
from clvmodels.units import parse_duration

SECTION_IDS = ("data", "model", "matrices", "backtest", "cohorts", "acquisition", "segments")
#: Sections shown only when their input is given, after :data:`SECTION_IDS`.
OPTIONAL_SECTION_IDS = (SUBSCRIPTIONS_ID, ANALYTICS_ID, EXPERIMENT_ID)
REPORT_SUFFIXES = (".html", ".htm")


@dataclass(frozen=True)
class Report:
    """A rendered report: its sections and the whole HTML document."""

    sections: tuple[Section, ...]
    html: str


def build_report(
    orders: pd.DataFrame,
    *,
    findings: Sequence[str] = (),
    model: CLVModel | None = None,
    model_metadata: Mapping[str, Any] | None = None,
    backtest: BacktestOutputs | Source | None = None,
    visits: Source | pd.DataFrame | None = None,
    costs: Source | pd.DataFrame | None = None,
    margin: float = 1.0,
    horizon: str = "12M",
    annual_discount_rate: float = 0.1,
    cohort_period: str = "month",
    sources: Mapping[str, str] | None = None,
    subscriptions: ChurnOutputs | Source | None = None,
    engagement: AnalyticsOutputs | Source | None = None,
    conversion: AnalyticsOutputs | Source | None = None,
    experiment: ExperimentOutputs | Source | None = None,
    title: str = "Customer lifetime value report",
    customers: pd.DataFrame | None = None,
) -> str:
    """The report as one self-contained HTML document; see the module docstring.

    Parameters
    ----------
    orders : pandas.DataFrame
        Validated orders (:func:`clvmodels.data.io.read_orders`). Not modified.
    findings : sequence of str
        Data-quality findings from reading the orders (see
        :func:`clvmodels.report.inputs.capture_findings`).
    model : CLVModel, optional
        A fitted model: enables the model, matrices and segments sections.
    model_metadata : mapping, optional
        The saved model's ``model.json`` (:func:`clvmodels.persistence.read_metadata`): adds
        the versions it was saved with and whether it was fitted on these orders.
    backtest : BacktestOutputs or path, optional
        A ``clv backtest`` output folder, or what
        :func:`clvmodels.report.backtest.read_backtest` read from one.
    visits, costs : path or DataFrame, optional
        Visits and marketing costs by source, for the acquisition section (read and
        validated with :func:`clvmodels.report.acquisition.read_acquisition_inputs`).
    margin : float
        Share of revenue that is margin, within (0, 1], for cohort LTV and CLV.
    horizon : str
        The CLV horizon of the segment table (such as ``12M``).
    annual_discount_rate : float
        Yearly discount rate of future margin in the CLV of the segment table.
    cohort_period : {"month", "week"}
        Cohort and age unit of the cohort section.
    sources : mapping of str to str, optional
        Where the inputs came from (``orders``, ``model``, ``backtest``, ...), shown as is.
    subscriptions : ChurnOutputs or path, optional
        A ``clv churn`` output folder, or what
        :func:`clvmodels.report.subscriptions.read_churn` read from one: adds the
        subscriptions section (absent without it).
    engagement, conversion : AnalyticsOutputs or path, optional
        A ``clv engagement`` and a ``clv conversion`` output folder, or what
        :func:`clvmodels.report.analytics.read_engagement` and ``read_conversion`` read from
        them: either or both add the engagement and conversion section (absent without).
    experiment : ExperimentOutputs or path, optional
        A ``clv experiment`` output folder, or what
        :func:`clvmodels.report.experiment.read_experiment` read from one: adds the
        experiment section (absent without it).
    title : str
        The report's title.
    customers : pandas.DataFrame, optional
        For a model fitted with covariates: the customers table holding them
        (:func:`clvmodels.data.customers.read_customers`), for the segments and acquisition
        sections (without it they say it is needed; the matrices are the reference
        customer's either way).

    Returns
    -------
    str
        The HTML document.
    """
    return make_report(
        orders,
        findings=findings,
        model=model,
        model_metadata=model_metadata,
        backtest=backtest,
        visits=visits,
        costs=costs,
        margin=margin,
        horizon=horizon,
        annual_discount_rate=annual_discount_rate,
        cohort_period=cohort_period,
        sources=sources,
        subscriptions=subscriptions,
        engagement=engagement,
        conversion=conversion,
        experiment=experiment,
        title=title,
        customers=customers,
    ).html


def write_report(path: Source, orders: pd.DataFrame, **kwargs: Any) -> Report:
    """Build the report (arguments as :func:`build_report`) and write it to ``path`` atomically.

    The report is built completely before anything is written, and written to a temporary
    file renamed into place, so a failure leaves an existing report untouched.

    Returns
    -------
    Report
        The sections and the HTML written.
    """
    target = Path(path)
    if target.suffix.lower() not in REPORT_SUFFIXES:
        raise DataError(f"the report {target} must end in .html (got '{target.suffix}')")
    report = make_report(orders, **kwargs)
    with atomic_path(target) as tmp:
        tmp.write_text(report.html, encoding="utf-8")
    return report


def make_report(
    orders: pd.DataFrame,
    *,
    findings: Sequence[str] = (),
    model: CLVModel | None = None,
    model_metadata: Mapping[str, Any] | None = None,
    backtest: BacktestOutputs | Source | None = None,
    visits: Source | pd.DataFrame | None = None,
    costs: Source | pd.DataFrame | None = None,
    margin: float = 1.0,
    horizon: str = "12M",
    annual_discount_rate: float = 0.1,
    cohort_period: str = "month",
    sources: Mapping[str, str] | None = None,
    subscriptions: ChurnOutputs | Source | None = None,
    engagement: AnalyticsOutputs | Source | None = None,
    conversion: AnalyticsOutputs | Source | None = None,
    experiment: ExperimentOutputs | Source | None = None,
    title: str = "Customer lifetime value report",
    customers: pd.DataFrame | None = None,
) -> Report:
    """Like :func:`build_report`, but also return the sections (for a summary of what is in)."""
    rate = check_margin(margin)
    period = check_period(cohort_period)
    duration = parse_duration(horizon)
    if isinstance(backtest, str | os.PathLike):
        backtest = read_backtest(backtest)
    if isinstance(subscriptions, str | os.PathLike):
        subscriptions = read_churn(subscriptions)
    if isinstance(engagement, str | os.PathLike):
        engagement = read_engagement(engagement)
    if isinstance(conversion, str | os.PathLike):
        conversion = read_conversion(conversion)
    if isinstance(experiment, str | os.PathLike):
        experiment = read_experiment(experiment)
    if model is not None:
        model._check_fitted()
    rfm = ModelRFM(orders, model, customers)
    sections: tuple[Section, ...] = (
        _guarded("data", "Data", lambda: data_section(orders, findings, sources or {})),
        _guarded("model", "Model", lambda: model_section(model, model_metadata, orders)),
        _guarded("matrices", "Frequency-recency matrices", lambda: matrices_section(model, rfm)),
        _guarded("backtest", "Backtest", lambda: backtest_section(backtest)),
        _guarded("cohorts", "Cohorts", lambda: cohorts_section(orders, period, rate)),
        _guarded(
            "acquisition",
            ACQUISITION_TITLE,
            lambda: acquisition_section(
                orders,
                visits=visits,
                costs=costs,
                model=model,
                margin=rate,
                period=period,
                horizon_months=duration.months,
                annual_discount_rate=annual_discount_rate,
                customers=customers,
            ),
        ),
        _guarded(
            "segments",
            "Segments",
            lambda: segments_section(model, rfm, str(duration), annual_discount_rate, rate),
        ),
    )
    if subscriptions is not None:
        churn = subscriptions
        sections += (
            _guarded(SUBSCRIPTIONS_ID, SUBSCRIPTIONS_TITLE, lambda: subscriptions_section(churn)),
        )
    if engagement is not None or conversion is not None:
        used, converted = engagement, conversion
        sections += (
            _guarded(ANALYTICS_ID, ANALYTICS_TITLE, lambda: analytics_section(used, converted)),
        )
    if experiment is not None:
        tested = experiment
        sections += (_guarded(EXPERIMENT_ID, EXPERIMENT_TITLE, lambda: experiment_section(tested)),)
    return Report(sections=sections, html=document(title, sections))


def _guarded(section_id: str, title: str, build: Callable[[], Section | str]) -> Section:
    """Build a section; a problem with the inputs becomes a note in the section."""
    try:
        built = build()
    except ClvError as exc:
        return missing(section_id, title, f"could not be computed from these inputs: {exc}")
    if isinstance(built, Section):
        return built
    return Section(section_id, title, built)
