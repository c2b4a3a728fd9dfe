"""One self-contained HTML report of the whole job, for people who do not run Python.

The report has seven sections, each a ``<section>`` with a fixed id:

``data``
    Orders, customers, date range, revenue, orders per customer, repeat share, and the
    data-quality findings met while reading the orders (:class:`DataQualityWarning`).
``model``
    Each fitted model's parameters (posterior mean, sd, 94% interval) and diagnostics (the
    optimiser's status, or r-hat, ESS and divergences), with convergence highlighted.
``matrices``
    Expected purchases in the next time unit and P(alive) over a grid of frequency and
    recency at the largest observed T
    (:func:`clvmodels.plots.plotting.plot_frequency_recency_matrix`,
    :func:`clvmodels.plots.plotting.plot_probability_alive_matrix`).
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

A section whose inputs were not given still appears, with a note saying what to pass; a
section that cannot be computed from the inputs says why, and the rest of the report still
renders. Images are PNGs embedded as base64 data URIs and the CSS is inline, so the file
opens anywhere without JavaScript or a network.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import importlib
import io
import json
import math
import os
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from clvmodels._version import __version__
from clvmodels.data.contract import OrdersSource
from clvmodels.data.io import atomic_path, fingerprint
from clvmodels.errors import ClvError, DataError, DataQualityWarning
from clvmodels.model import MODEL_LABELS, CLVModel
from clvmodels.models.spend import ConstantSpendModel, constant_spend_line
from clvmodels.plots.plotting import (
    plot_cohort_heatmap,
    plot_conditional_expectations,
    plot_frequency_recency_matrix,
    plot_probability_alive_matrix,
    plot_retention_curves,
    plot_tracking,
)
from clvmodels.ranges import check_margin
from clvmodels.segments.assign import default_rules, segment_customers, segment_summary
from clvmodels.summaries.calendar import check_period
from clvmodels.summaries.cohorts import average_ltv_curve, cohort_table
from clvmodels.summaries.rfm import rfm_summary
from clvmodels.units import UNIT_NAMES, parse_duration

SECTION_IDS = ("data", "model", "matrices", "backtest", "cohorts", "acquisition", "segments")
REPORT_SUFFIXES = (".html", ".htm")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: The matrices stop at this frequency even when a customer bought more often.
MAX_MATRIX_FREQUENCY = 100
#: Posterior draws used to score customers for the segment table (thinned evenly).
SEGMENT_DRAWS = 200
#: Ages of the average cohort curve listed in the cohorts table.
MAX_CURVE_ROWS = 25
BACKTEST_FILES = (
    "metrics.json",
    "totals.csv",
    "conditional.csv",
    "tracking.csv",
    "tracking.png",
    "conditional.png",
)

NEED_MODEL = "Pass --model MODEL_DIR (a model from `clv fit`) to see {what}."
NEED_BACKTEST = (
    "Pass --backtest DIR (the output folder of `clv backtest`) to see the tracking and "
    "conditional-expectation plots and the holdout totals."
)
ACQUISITION_TITLE = "Acquisition: ROMI, payback and budget"
NEED_ACQUISITION = "not available: pass --visits and --costs (and --model for predictions)."

Source = str | os.PathLike[str]


# --------------------------------------------------------------------------------------
# what a report is made of
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Section:
    """One section of the report.

    Attributes
    ----------
    id : str
        The ``id`` of its ``<section>`` element (one of :data:`SECTION_IDS`).
    title : str
        Its heading.
    body : str
        Its HTML, everything from data already escaped.
    shown : bool
        Whether it shows results; False when it holds only a note about missing inputs or
        what could not be computed.
    note : str
        That note (empty when ``shown``).
    """

    id: str
    title: str
    body: str
    shown: bool = True
    note: str = ""


@dataclass(frozen=True)
class Report:
    """A rendered report: its sections and the whole HTML document."""

    sections: tuple[Section, ...]
    html: str


@dataclass(frozen=True)
class BacktestOutputs:
    """What :func:`read_backtest` found in a ``clv backtest`` output folder.

    Attributes
    ----------
    path : pathlib.Path
        The folder.
    metrics : dict
        ``metrics.json`` (empty when missing).
    tables : dict of str to DataFrame
        ``totals``, ``conditional`` and ``tracking`` from their CSV files, when present.
    images : dict of str to bytes
        ``tracking`` and ``conditional`` PNGs, when present and valid.
    problems : list of str
        Files that are missing or unreadable.
    """

    path: Path
    metrics: dict[str, Any] = field(default_factory=dict)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    images: dict[str, bytes] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def capture_findings[T](read: Callable[[], T]) -> tuple[T, list[str]]:
    """Call ``read`` and collect the :class:`DataQualityWarning` messages it issues.

    Other warnings pass through unchanged.

    Examples
    --------
    >>> orders, findings = capture_findings(lambda: read_orders("orders.csv"))  # doctest: +SKIP
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DataQualityWarning)
        result = read()
    findings = []
    for item in caught:
        if issubclass(item.category, DataQualityWarning):
            findings.append(str(item.message))
        else:
            warnings.warn_explicit(item.message, item.category, item.filename, item.lineno)
    return result, findings


def read_backtest(path: Source) -> BacktestOutputs:
    """Read the outputs ``clv backtest -o DIR`` wrote (metrics, tables and plots).

    Missing or unreadable files are listed in ``problems``; the report shows what is there.

    Raises
    ------
    DataError
        When ``path`` is not a folder or holds none of the backtest's outputs.
    """
    folder = Path(path)
    if not folder.is_dir():
        raise DataError(
            f"backtest folder not found: {folder}",
            hint="Pass the output folder of `clv backtest ... -o DIR`",
        )
    if not any((folder / name).is_file() for name in BACKTEST_FILES):
        raise DataError(
            f"{folder} holds no backtest outputs (none of {', '.join(BACKTEST_FILES)})",
            hint="Pass the output folder of `clv backtest ... -o DIR`",
        )
    outputs = BacktestOutputs(path=folder)
    metrics_path = folder / "metrics.json"
    if metrics_path.is_file():
        try:
            loaded = json.loads(metrics_path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError):
            outputs.problems.append("metrics.json is not valid JSON")
        else:
            if isinstance(loaded, dict):
                outputs.metrics.update(loaded)
            else:
                outputs.problems.append("metrics.json is not a JSON object")
    else:
        outputs.problems.append("metrics.json is missing")
    for name in ("totals", "conditional", "tracking"):
        csv_path = folder / f"{name}.csv"
        if not csv_path.is_file():
            outputs.problems.append(f"{name}.csv is missing")
            continue
        try:
            outputs.tables[name] = pd.read_csv(csv_path)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError):
            outputs.problems.append(f"{name}.csv is not a readable CSV table")
    for name in ("tracking", "conditional"):
        png_path = folder / f"{name}.png"
        if not png_path.is_file():
            continue  # redrawn from the CSV when that is there
        data = png_path.read_bytes()
        if data.startswith(PNG_SIGNATURE):
            outputs.images[name] = data
        else:
            outputs.problems.append(f"{name}.png is not a PNG image")
    return outputs


# --------------------------------------------------------------------------------------
# building
# --------------------------------------------------------------------------------------
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
    title: str = "Customer lifetime value report",
) -> str:
    """The report as one self-contained HTML document; see the module docstring.

    Parameters
    ----------
    orders : pandas.DataFrame
        Validated orders (:func:`clvmodels.data.io.read_orders`). Not modified.
    findings : sequence of str
        Data-quality findings from reading the orders (see :func:`capture_findings`).
    model : CLVModel, optional
        A fitted model: enables the model, matrices and segments sections.
    model_metadata : mapping, optional
        The saved model's ``model.json`` (:func:`clvmodels.persistence.read_metadata`): adds
        the versions it was saved with and whether it was fitted on these orders.
    backtest : BacktestOutputs or path, optional
        A ``clv backtest`` output folder, or what :func:`read_backtest` read from one.
    visits, costs : path or DataFrame, optional
        Visits and marketing costs by source, for the acquisition section (read and
        validated with :func:`read_acquisition_inputs`).
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
    title : str
        The report's title.

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
        title=title,
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
    title: str = "Customer lifetime value report",
) -> Report:
    """Like :func:`build_report`, but also return the sections (for a summary of what is in)."""
    rate = check_margin(margin)
    period = check_period(cohort_period)
    duration = parse_duration(horizon)
    if isinstance(backtest, str | os.PathLike):
        backtest = read_backtest(backtest)
    if model is not None:
        model._check_fitted()
    rfm = _ModelRFM(orders, model)
    sections = (
        _guarded("data", "Data", lambda: _data_section(orders, findings, sources or {})),
        _guarded("model", "Model", lambda: _model_section(model, model_metadata, orders)),
        _guarded("matrices", "Frequency-recency matrices", lambda: _matrices_section(model, rfm)),
        _guarded("backtest", "Backtest", lambda: _backtest_section(backtest)),
        _guarded("cohorts", "Cohorts", lambda: _cohorts_section(orders, period, rate)),
        _guarded(
            "acquisition",
            ACQUISITION_TITLE,
            lambda: _acquisition_section(
                orders,
                visits=visits,
                costs=costs,
                model=model,
                margin=rate,
                period=period,
                horizon_months=duration.months,
                annual_discount_rate=annual_discount_rate,
            ),
        ),
        _guarded(
            "segments",
            "Segments",
            lambda: _segments_section(model, rfm, str(duration), annual_discount_rate, rate),
        ),
    )
    return Report(sections=sections, html=_document(title, sections))


def _orders_input(orders: pd.DataFrame) -> pd.DataFrame | OrdersSource:
    """The validated orders as the readers take them: without revenue, read as such."""
    if "revenue" in orders.columns:
        return orders
    return OrdersSource(orders, revenue_col=None)  # read with --no-revenue


class _ModelRFM:
    """The RFM table a model scores: orders up to its observation end, in its time unit."""

    def __init__(self, orders: pd.DataFrame, model: CLVModel | None) -> None:
        self._orders = orders
        self._model = model
        self._rfm: pd.DataFrame | None = None

    def get(self) -> pd.DataFrame:
        if self._model is None:
            raise ValueError("no model")
        if self._rfm is None:
            self._rfm = rfm_summary(
                _orders_input(self._orders),
                time_unit=self._model.time_unit,
                observation_end=self._model.data_info_.get("calibration_end"),
            )
        return self._rfm


def _guarded(section_id: str, title: str, build: Callable[[], Section | str]) -> Section:
    """Build a section; a problem with the inputs becomes a note in the section."""
    try:
        built = build()
    except ClvError as exc:
        note = f"could not be computed from these inputs: {exc}"
        return Section(section_id, title, _note(note), shown=False, note=note)
    if isinstance(built, Section):
        return built
    return Section(section_id, title, built)


def _missing(section_id: str, title: str, note: str) -> Section:
    return Section(section_id, title, _note(note), shown=False, note=note)


# --------------------------------------------------------------------------------------
# sections
# --------------------------------------------------------------------------------------
def _data_section(orders: pd.DataFrame, findings: Sequence[str], sources: Mapping[str, str]) -> str:
    n_orders = len(orders)
    days = orders["timestamp"].dt.normalize()
    occasions = pd.DataFrame({"customer_id": orders["customer_id"], "day": days})
    per_customer = occasions.drop_duplicates().groupby("customer_id").size()
    n_customers = len(per_customer)
    if "revenue" in orders.columns:
        revenue = float(orders["revenue"].sum())
        revenue_rows = [
            ("revenue", f"{revenue:,.2f}"),
            ("revenue per order", f"{revenue / max(n_orders, 1):,.2f}"),
        ]
    else:
        revenue_rows = [("revenue", "none (read with --no-revenue)")]
    rows = [
        ("orders", f"{n_orders:,}"),
        ("customers", f"{n_customers:,}"),
        ("first order", f"{orders['timestamp'].min():%Y-%m-%d}"),
        ("last order", f"{orders['timestamp'].max():%Y-%m-%d}"),
        *revenue_rows,
        ("orders per customer", f"{n_orders / max(n_customers, 1):,.2f}"),
        (
            "repeat share",
            f"{float((per_customer > 1).mean()):.1%} of customers ordered on two or more days",
        ),
    ]
    source_rows = [(f"{name} input", value) for name, value in sources.items()]
    listed = (
        "<ul class='findings'>" + "".join(f"<li>{_esc(f)}</li>" for f in findings) + "</ul>"
        if findings
        else "<p>none</p>"
    )
    return (
        _key_values([*source_rows, *rows])
        + "<h3>Data-quality findings</h3>"
        + "<p class='caption'>What reading and checking the orders found (rows kept, dropped "
        "or changed).</p>" + listed
    )


def _model_section(
    model: CLVModel | None, metadata: Mapping[str, Any] | None, orders: pd.DataFrame
) -> Section | str:
    if model is None:
        return _missing("model", "Model", NEED_MODEL.format(what="its parameters and diagnostics"))
    description = model.describe()
    unit = description["time_unit"]
    rows = [
        ("time unit", f"{UNIT_NAMES.get(unit, unit)} ({unit})"),
        ("observation end", str(description.get("calibration_end"))),
        (
            "customers fitted",
            f"{_int(description.get('n_customers'))} "
            f"({_int(description.get('n_repeat_customers'))} with repeat purchases)",
        ),
    ]
    meta = metadata or {}
    if "clvmodels_version" in meta:
        versions = meta.get("library_versions", {})
        rows.append(
            (
                "saved with",
                f"clvmodels {meta['clvmodels_version']}, pymc-marketing "
                f"{versions.get('pymc-marketing', '?')}",
            )
        )
    matches = _fitted_on_these_orders(meta, orders, description.get("calibration_end"))
    if matches is not None:
        rows.append(
            (
                "fitted on these orders",
                "yes" if matches else "no: the orders differ from those the model was fitted on",
            )
        )
    parts = [_key_values(rows)]
    for key in ("transaction_model", "spend_model"):
        if description.get(key) is None:
            parts.append(f"<p>No spend model: {_esc(description.get('no_spend_model', ''))}</p>")
            continue
        if description[key].get("name") == ConstantSpendModel.name:
            line = constant_spend_line(description[key]["fit_report"])
            parts.append(
                f"<h3>Spend per purchase occasion: constant</h3><p>spend: {_esc(line)}</p>"
            )
            continue
        parts.append(_fit_block(description[key], _SUBTITLES[key]))
    return "".join(parts)


def _fitted_on_these_orders(
    metadata: Mapping[str, Any], orders: pd.DataFrame, observation_end: Any
) -> bool | None:
    stored = (metadata.get("input") or {}).get("fingerprint")
    if not stored or observation_end is None:
        return None
    return fingerprint(_orders_input(orders), up_to=observation_end) == stored


_SUBTITLES = {
    "transaction_model": "purchases",
    "spend_model": "spend per purchase",
}


def _fit_block(part: Mapping[str, Any], subtitle: str) -> str:
    name = str(part.get("name", "?"))
    report = part.get("fit_report", {}) or {}
    converged = bool(report.get("converged", True))
    flag = (
        "<span class='flag ok'>converged: yes</span>"
        if converged
        else "<span class='flag bad'>converged: NO</span>"
    )
    title = MODEL_LABELS.get(name, name)
    heading = (
        f"<h3>{_esc(title)}: {_esc(subtitle)} "
        f"<small>({_esc(part.get('method'))}, {_esc(part.get('priors'))} priors)</small> "
        f"{flag}</h3>"
    )
    is_mcmc = report.get("method") == "mcmc"
    header = ["parameter", "mean", "sd", "94% low", "94% high"]
    if is_mcmc:
        header += ["r-hat", "bulk ESS", "tail ESS"]
    rows = []
    for param, row in part.get("summary", {}).items():
        cells = [
            param,
            _num(row.get("mean")),
            _num(row.get("sd")),
            _num(row.get("low_94")),
            _num(row.get("high_94")),
        ]
        if is_mcmc:
            cells += [
                _num(report.get("r_hat", {}).get(param), ".3f"),
                _num(report.get("ess_bulk", {}).get(param), ",.0f"),
                _num(report.get("ess_tail", {}).get(param), ",.0f"),
            ]
        rows.append(cells)
    table = _table(header, rows, numeric=range(1, len(header)))
    point = (
        "<p class='caption'>A MAP fit is a single point: sd 0 and the interval is the estimate. "
        "Fit with --method laplace or mcmc for posterior intervals.</p>"
        if report.get("method") == "map"
        else ""
    )
    return heading + table + point + _key_values(_diagnostics(report))


def _diagnostics(report: Mapping[str, Any]) -> list[tuple[str, str]]:
    if report.get("method") == "mcmc":
        return [
            ("sampler", str(report.get("sampler", "?"))),
            (
                "chains x draws (tune)",
                f"{report.get('chains', '?')} x {report.get('draws', '?')} "
                f"({report.get('tune', '?')})",
            ),
            ("max r-hat", f"{_num(report.get('max_r_hat'), '.3f')} (want <= 1.01)"),
            (
                "min bulk ESS",
                f"{_num(report.get('min_ess_bulk'), ',.0f')} (want >= 100 per chain)",
            ),
            ("divergences", f"{_int(report.get('divergences'))} (want 0)"),
            ("seconds", _num(report.get("seconds"), ",.1f")),
        ]
    rows = [
        ("optimiser", str(report.get("optimizer", "?"))),
        ("status", f"{report.get('message', '?')} (success: {_yes(report.get('success'))})"),
        ("iterations", _int(report.get("iterations"))),
        ("function evaluations", _int(report.get("function_evaluations"))),
        ("log posterior", _num(report.get("log_posterior"), ",.2f")),
    ]
    if report.get("method") == "laplace":
        rows.append(("Laplace draws", f"{report.get('chains', '?')} x {report.get('draws', '?')}"))
    rows.append(("seconds", _num(report.get("seconds"), ",.1f")))
    return rows


def _matrices_section(model: CLVModel | None, rfm_source: _ModelRFM) -> Section | str:
    if model is None:
        return _missing(
            "matrices",
            "Frequency-recency matrices",
            NEED_MODEL.format(what="the frequency-recency and P(alive) matrices"),
        )
    rfm = rfm_source.get()
    unit = UNIT_NAMES.get(model.time_unit, model.time_unit)
    T = float(rfm["T"].max())
    if T <= 0:
        raise DataError("every customer's first order is on the observation end: T is 0")
    observed = int(rfm["frequency"].max())
    max_frequency = max(1, min(observed, MAX_MATRIX_FREQUENCY))
    transactions = model.transaction_model_
    expected = plot_frequency_recency_matrix(transactions, T=T, t=1.0, max_frequency=max_frequency)
    expected.set_title(
        f"Expected purchases in the next {unit[:-1]}\nby frequency and recency (T = {T:.1f} {unit})"
    )
    alive = plot_probability_alive_matrix(transactions, T=T, max_frequency=max_frequency)
    alive.set_title(f"P(alive) by frequency and recency\n(T = {T:.1f} {unit})")
    _relabel_colorbar(expected, f"expected purchases in the next {unit[:-1]}")
    for ax in (expected, alive):
        ax.set_ylabel(f"recency t_x ({unit} from first to last purchase)")
    capped = (
        f" (the largest observed frequency is {observed}; the grid stops at {max_frequency})"
        if observed > max_frequency
        else ""
    )
    caption = (
        f"A customer first seen {T:.1f} {unit} ago (the longest-observed customer) with x "
        f"repeat purchases, the last one t_x {unit} after the first. Left: expected purchases "
        f"in the next {unit[:-1]}; right: the probability the customer is still active "
        f"(posterior means). Frequencies 0 to {max_frequency}{capped}; customers without "
        "repeat purchases (x = 0) have recency 0."
    )
    return (
        f"<p class='caption'>{_esc(caption)}</p><div class='grid'>"
        + _img(expected, "expected purchases by frequency and recency")
        + _img(alive, "P(alive) by frequency and recency")
        + "</div>"
    )


def _relabel_colorbar(ax: Axes, label: str) -> None:
    colorbar = ax.images[0].colorbar if ax.images else None
    if colorbar is not None:
        colorbar.set_label(label)


def _backtest_section(backtest: BacktestOutputs | None) -> Section | str:
    if backtest is None:
        return _missing("backtest", "Backtest", NEED_BACKTEST)
    metrics = backtest.metrics
    rows = [
        (label, str(metrics[key]))
        for key, label in (
            ("calibration_end", "calibration end"),
            ("observation_end", "holdout end"),
            ("method", "fit method"),
        )
        if key in metrics
    ]
    if "n_customers" in metrics:
        rows.append(("customers", _int(metrics["n_customers"])))
    if "holdout_length" in metrics:
        unit = str(metrics.get("time_unit", ""))
        rows.append(
            (
                "holdout length",
                f"{_num(metrics['holdout_length'], '.1f')} {UNIT_NAMES.get(unit, unit)}",
            )
        )
    if "best_model" in metrics:
        rows.append(("best", f"{metrics['best_model']} ({metrics.get('best_by', '')})"))
    parts = [_key_values(rows) if rows else ""]
    if backtest.problems:
        parts.append(_note("In the backtest folder: " + "; ".join(backtest.problems) + "."))
    images = []
    for name, alt in (("tracking", "tracking plot"), ("conditional", "conditional expectations")):
        if name in backtest.images:
            images.append(_img_bytes(backtest.images[name], alt))
        elif name in backtest.tables:
            images.append(_img(_redraw(name, backtest), alt))
    if images:
        parts.append("<div class='grid'>" + "".join(images) + "</div>")
    totals = backtest.tables.get("totals")
    if totals is not None:
        parts.append("<h3>Holdout totals, predicted vs actual</h3>")
        parts.append(_frame_table(totals, highlight=str(metrics.get("best_model", ""))))
    conditional = backtest.tables.get("conditional")
    if conditional is not None:
        parts.append("<h3>Mean holdout purchases by calibration frequency</h3>")
        parts.append(_frame_table(conditional))
    return "".join(parts)


def _redraw(name: str, backtest: BacktestOutputs) -> Axes:
    table = backtest.tables[name]
    if name == "tracking":
        return plot_tracking(table, calibration_end=backtest.metrics.get("calibration_end"))
    return plot_conditional_expectations(table)


def _cohorts_section(orders: pd.DataFrame, period: str, margin: float) -> str:
    table = cohort_table(_orders_input(orders), period=check_period(period), margin=margin)
    curve = average_ltv_curve(table)
    n_cohorts = table["cohort"].nunique()
    caption = (
        f"{n_cohorts} {period}ly cohorts (a cohort is the {period} of a customer's first "
        f"order; age counts whole {period}s since then), margin {margin:.0%} of revenue, orders "
        f"up to {table.attrs['observation_end']}. The average curve uses, at each age, only "
        "the cohorts that fully reached it."
    )
    shown = curve.head(MAX_CURVE_ROWS)
    rows = [
        [
            str(int(r.age)),
            f"{int(r.n_cohorts):,}",
            f"{int(r.customers):,}",
            f"{r.retention:.1%}",
            f"{r.cumulative_ltv:,.2f}",
        ]
        for r in shown.itertuples()
    ]
    header = ["age", "cohorts", "customers", "retention", "cumulative LTV per customer"]
    more = (
        f"<p class='caption'>First {MAX_CURVE_ROWS} of {len(curve)} ages.</p>"
        if len(curve) > MAX_CURVE_ROWS
        else ""
    )
    return (
        f"<p class='caption'>{_esc(caption)}</p>"
        + _img(plot_cohort_heatmap(table), "cumulative LTV by cohort and age")
        + "<div class='grid'>"
        + _img(plot_retention_curves(table), "retention curves by cohort")
        + "<div><h3>Average curve of fully observed cohorts</h3>"
        + _table(header, rows, numeric=range(5))
        + more
        + "</div></div>"
    )


def read_acquisition_inputs(
    visits: Source | pd.DataFrame | None, costs: Source | pd.DataFrame | None
) -> tuple[Source | pd.DataFrame | None, Source | pd.DataFrame | None]:
    """Read and validate visits and costs, when both are given and clvmodels can read them.

    Returns the validated tables; returns the inputs unchanged when one is missing or this
    clvmodels has no acquisition analysis (the report's section then says so).

    Raises
    ------
    DataError
        For a visits or costs table clvmodels cannot use (missing columns, bad dates, ...).
    """
    if visits is None or costs is None:
        return visits, costs
    try:
        marketing_io = importlib.import_module("clvmodels.data.marketing")
    except ImportError:
        return visits, costs
    return marketing_io.read_visits(visits), marketing_io.read_costs(costs)


#: Columns of the by-source payback table (those the analysis produced are shown).
_SOURCE_COLUMNS = (
    ("source_id", "source", None),
    ("new_buyers", "new buyers", ",.0f"),
    ("costs", "costs", ",.2f"),
    ("cac", "CAC", ",.2f"),
    ("ltv_to_date", "LTV to date", ",.2f"),
    ("romi_to_date", "ROMI to date", ".2f"),
    ("payback_age", "payback age", ".0f"),
    ("payback_status", "payback", None),
    ("romi_6", "ROMI at 6", ".2f"),
    ("romi_12", "ROMI at 12", ".2f"),
    ("predicted_romi_12", "predicted ROMI at 12", "interval"),
    ("predicted_payback_age", "predicted payback age", ".0f"),
    ("predicted_payback_status", "predicted payback", None),
)
_BUDGET_COLUMNS = (
    ("source_id", "source", None),
    ("direction", "direction", None),
    ("current_cac", "current CAC", ",.2f"),
    ("max_affordable_cac", "max affordable CAC", "interval"),
    ("headroom_share", "headroom", "+.0%"),
    ("value_at_horizon", "value of a new customer at the horizon", "interval"),
    ("payback_months", "payback (months)", ".0f"),
)


def _acquisition_section(
    orders: pd.DataFrame,
    *,
    visits: Source | pd.DataFrame | None,
    costs: Source | pd.DataFrame | None,
    model: CLVModel | None,
    margin: float,
    period: str,
    horizon_months: float,
    annual_discount_rate: float,
) -> Section | str:
    """ROMI and payback by source, and the budget recommendation, from visits and costs.

    Uses :func:`clvmodels.marketing.payback.payback_analysis` (first-touch attribution; CAC, ROMI
    and payback per source, predicted with a model) and, with a model,
    :func:`clvmodels.marketing.budget.budget_recommendation`. Without visits and costs, or in a
    clvmodels without those modules, the section says it is not available; their
    documented errors (:class:`ClvError`, ``ValueError``) become a note in the section.
    """
    section_id, title = "acquisition", ACQUISITION_TITLE
    if visits is None or costs is None:
        return _missing(section_id, title, NEED_ACQUISITION)
    try:
        # imported by name: optional modules, written beside this one
        acquisition = importlib.import_module("clvmodels.marketing.payback")
        budget = importlib.import_module("clvmodels.marketing.budget")
    except ImportError as exc:
        note = (
            f"not available: this version of clvmodels has no {exc.name or 'acquisition'} "
            "module, so the visits and costs were not read."
        )
        return _missing(section_id, title, note)
    except Exception as exc:  # a module broken on import must not take the report with it
        note = f"not available: the acquisition modules fail to import ({type(exc).__name__})."
        return _missing(section_id, title, note)
    visits, costs = read_acquisition_inputs(visits, costs)
    lines: list[str] = []
    try:
        result, findings = capture_findings(
            lambda: acquisition.payback_analysis(
                orders, visits, costs, model=model, margin=margin, period=period
            )
        )
        recommendation = None
        if model is not None:
            recommendation = budget.budget_recommendation(
                model,
                result.cells,
                result.buyers,
                horizon_months=max(1, round(horizon_months)),
                annual_discount_rate=annual_discount_rate,
                margin=margin,
                period=period,
            )
            lines = budget.recommendation_lines(recommendation)
    except ValueError as exc:  # documented for bad settings; DataError is one too
        raise DataError(str(exc)) from exc
    summary = result.summary
    caption = (
        f"Buyers attributed to the source of their first visit ({summary.get('attribution')}); "
        f"{period}ly cohorts; margin {margin:.0%} of revenue; orders, visits and costs up to "
        f"{summary.get('observation_end')}; total costs "
        f"{_num(summary.get('total_costs'), ',.2f')}. "
        "ROMI = cumulative margin / costs; ROMI at k is empirical, for cohorts that fully "
        f"reached age k {period}s; payback age is the first age with ROMI >= 1."
    )
    parts = [f"<p class='caption'>{_esc(caption)}</p>"]
    notes = [*findings, *summary.get("notes", [])]
    if notes:
        parts.append("<ul class='findings'>" + "".join(f"<li>{_esc(n)}</li>" for n in notes))
        parts.append("</ul>")
    parts.append("<h3>ROMI and payback by source</h3>")
    parts.append(_picked_table(result.by_source, _SOURCE_COLUMNS))
    if recommendation is None:
        parts.append(_note(NEED_MODEL.format(what="predicted ROMI and the budget recommendation")))
    else:
        parts.append("<h3>Budget recommendation</h3>")
        if lines:
            parts.append(f"<p>{_esc(lines[0].strip())}</p><ul>")
            parts.append("".join(f"<li>{_esc(line.strip())}</li>" for line in lines[1:]))
            parts.append("</ul>")
        parts.append(_picked_table(recommendation, _BUDGET_COLUMNS))
    return "".join(parts)


def _picked_table(frame: pd.DataFrame, columns: Sequence[tuple[str, str, str | None]]) -> str:
    """The listed columns that ``frame`` has, formatted; ``interval`` adds ``_low``/``_high``."""
    shown = [(name, label, spec) for name, label, spec in columns if name in frame.columns]
    rows = []
    for _, row in frame.iterrows():
        cells = []
        for name, _, spec in shown:
            value = row[name]
            if spec is None:
                cells.append("" if pd.isna(value) else str(value))
            elif spec == "interval":
                cells.append(_interval(row, name))
            else:
                cells.append("" if pd.isna(value) else _num(value, spec))
        rows.append(cells)
    numeric = [i for i, (_, _, spec) in enumerate(shown) if spec is not None]
    return _table([label for _, label, _ in shown], rows, numeric=numeric)


def _interval(row: pd.Series, name: str) -> str:
    value = row[name]
    if pd.isna(value):
        return ""
    low, high = row.get(f"{name}_low"), row.get(f"{name}_high")
    if low is None or high is None or pd.isna(low) or pd.isna(high) or low == high:
        return _num(value, ",.2f")
    return f"{_num(value, ',.2f')} [{_num(low, ',.2f')}, {_num(high, ',.2f')}]"


def _segments_section(
    model: CLVModel | None,
    rfm_source: _ModelRFM,
    horizon: str,
    annual_discount_rate: float,
    margin: float,
) -> Section | str:
    if model is None:
        return _missing("segments", "Segments", NEED_MODEL.format(what="the customer segments"))
    rfm = rfm_source.get()
    scores = model.score(
        rfm,
        horizon=horizon,
        annual_discount_rate=annual_discount_rate,
        margin=margin,
        n_draws=SEGMENT_DRAWS,
    )
    clv = model.spend_model_ is not None
    rules = default_rules(clv=clv)
    summary = segment_summary(segment_customers(scores, rules=rules), rules=rules)
    meaning = {rule.name: rule.description for rule in rules}
    rows = [
        [
            str(r["segment"]),
            f"{int(r['customers']):,}",
            f"{r['share']:.1%}",
            *([_num(r["total_clv"], ",.2f"), _num(r["mean_clv"], ",.2f")] if clv else []),
            _num(r["mean_p_alive"], ".3f"),
            _num(r["mean_expected_purchases"], ".2f"),
            meaning.get(str(r["segment"]), ""),
        ]
        for r in summary.to_dict(orient="records")
    ]
    header = [
        "segment",
        "customers",
        "share",
        *(["total CLV", "mean CLV"] if clv else []),
        "mean P(alive)",
        "mean purchases",
        "meaning",
    ]
    scored = f"{len(scores):,} customers scored with orders up to {rfm.attrs['calibration_end']}: "
    if clv:
        caption = (
            f"{scored}CLV over {horizon} at an annual discount rate of "
            f"{annual_discount_rate:.1%} and a margin of {margin:.0%} of revenue; purchases over "
            "the same horizon. Segments by the default rules (clvmodels/segment_rules.toml), "
            f"first match wins. Total CLV: {float(scores['clv'].sum()):,.2f}."
        )
    else:
        caption = (
            f"{scored}purchases over {horizon}; no CLV (the model was fitted without revenue). "
            "Segments by the no-CLV rules (clvmodels/segment_rules_no_clv.toml), first match "
            "wins."
        )
    return f"<p class='caption'>{_esc(caption)}</p>" + _table(
        header, rows, numeric=range(1, len(header) - 1)
    )


# --------------------------------------------------------------------------------------
# HTML
# --------------------------------------------------------------------------------------
_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
       sans-serif; line-height: 1.45; color: #1f2328; max-width: 1100px; margin: 0 auto;
       padding: 1.5rem 1rem 4rem; background: #fff; }
h1 { font-size: 1.8rem; margin-bottom: 0.2rem; }
h2 { font-size: 1.35rem; border-bottom: 2px solid #d0d7de; padding-bottom: 0.2rem;
     margin-top: 2.2rem; }
h3 { font-size: 1.05rem; margin: 1.2rem 0 0.4rem; }
h3 small { font-weight: normal; color: #57606a; }
.meta, .caption { color: #57606a; font-size: 0.92rem; }
nav ul { list-style: none; padding: 0; display: flex; flex-wrap: wrap; gap: 0.4rem 1.2rem; }
nav a { color: #0969da; text-decoration: none; }
table { border-collapse: collapse; margin: 0.5rem 0 1rem; font-size: 0.92rem; }
th, td { border: 1px solid #d0d7de; padding: 0.25rem 0.6rem; text-align: left;
         vertical-align: top; }
th { background: #f6f8fa; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.best td { background: #eef7ee; font-weight: 600; }
table.kv th { width: 14rem; font-weight: 600; }
img { max-width: 100%; height: auto; display: block; margin: 0.5rem 0; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr));
        gap: 1rem; align-items: start; }
.note { background: #fff8c5; border: 1px solid #d4a72c; border-radius: 4px;
        padding: 0.5rem 0.8rem; }
.flag { font-size: 0.85rem; padding: 0.1rem 0.5rem; border-radius: 999px;
        margin-left: 0.4rem; }
.flag.ok { background: #dafbe1; color: #116329; border: 1px solid #4ac26b; }
.flag.bad { background: #ffebe9; color: #a40e26; border: 1px solid #ff8182; }
"""


def _document(title: str, sections: Sequence[Section]) -> str:
    created = dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    nav = "".join(f"<li><a href='#{s.id}'>{_esc(s.title)}</a></li>" for s in sections)
    body = "".join(
        f"<section id='{s.id}'><h2>{_esc(s.title)}</h2>{s.body}</section>\n" for s in sections
    )
    return (
        "<!DOCTYPE html>\n<html lang='en'>\n<head>\n<meta charset='utf-8'>\n"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>\n"
        f"<title>{_esc(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        f"<header><h1>{_esc(title)}</h1>"
        f"<p class='meta'>Made by clvmodels {_esc(__version__)} on {_esc(created)}.</p>"
        f"<nav><ul>{nav}</ul></nav></header>\n<main>\n{body}</main>\n</body>\n</html>\n"
    )


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _note(text: str) -> str:
    return f"<p class='note'>{_esc(text)}</p>"


def _key_values(rows: Sequence[tuple[str, str]]) -> str:
    cells = "".join(f"<tr><th>{_esc(k)}</th><td>{_esc(v)}</td></tr>" for k, v in rows)
    return f"<table class='kv'>{cells}</table>"


def _table(
    header: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    numeric: Sequence[int] | range = (),
    highlight: Callable[[Sequence[str]], bool] | None = None,
) -> str:
    numbers = set(numeric)
    head = "".join(f"<th>{_esc(h)}</th>" for h in header)
    lines = []
    for row in rows:
        cells = "".join(
            f"<td class='num'>{_esc(c)}</td>" if i in numbers else f"<td>{_esc(c)}</td>"
            for i, c in enumerate(row)
        )
        marked = " class='best'" if highlight is not None and highlight(row) else ""
        lines.append(f"<tr{marked}>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(lines)}</tbody></table>"


def _frame_table(frame: pd.DataFrame, *, highlight: str = "") -> str:
    """A table as read from CSV: each number column in one format, ``highlight`` row marked."""
    formats = [_column_format(frame[c], str(c)) for c in frame.columns]
    numeric = [i for i, spec in enumerate(formats) if spec is not None]
    rows = [
        [_cell(value, spec) for value, spec in zip(row, formats, strict=True)]
        for row in frame.itertuples(index=False)
    ]
    return _table(
        [str(c).replace("_", " ") for c in frame.columns],
        rows,
        numeric=numeric,
        highlight=(lambda row: row[0] == highlight) if highlight else None,
    )


def _column_format(column: pd.Series, name: str) -> str | None:
    """A format for a column's numbers: by its name and size; None for text and flags."""
    if pd.api.types.is_bool_dtype(column) or not pd.api.types.is_numeric_dtype(column):
        return None
    if name.endswith("_pct"):
        return "+.1f"
    values = column.to_numpy(dtype="float64")
    finite = values[np.isfinite(values)]
    if finite.size and bool((finite % 1 == 0).all()):
        return ",.0f"
    return ",.2f" if finite.size and float(np.abs(finite).max()) >= 100 else ".3f"


def _cell(value: Any, spec: str | None) -> str:
    if spec is None:
        missing = value is None or (isinstance(value, float) and math.isnan(value))
        return "" if missing else str(value)
    number = float(value)
    if not math.isfinite(number):
        return ""
    return f"{number:{spec}}%" if spec.startswith("+") else f"{number:{spec}}"


def _num(value: Any, spec: str = ".4g") -> str:
    if value is None:
        return "?"
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    return format(number, spec) if math.isfinite(number) else "n/a"


def _int(value: Any) -> str:
    return f"{int(value):,}" if isinstance(value, int | float | np.integer) else "?"


def _yes(value: Any) -> str:
    return "yes" if value else "no"


def _png(ax: Axes, dpi: int = 100) -> bytes:
    figure = ax.get_figure(root=True)
    if figure is None:
        raise ValueError("the Axes belongs to no figure")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def _img(ax: Axes, alt: str) -> str:
    return _img_bytes(_png(ax), alt)


def _img_bytes(data: bytes, alt: str) -> str:
    encoded = base64.b64encode(data).decode("ascii")
    return f"<img src='data:image/png;base64,{encoded}' alt='{_esc(alt)}'>"
