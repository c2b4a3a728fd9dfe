"""The report's ``acquisition`` section: CAC, ROMI and payback by source, and the budget.

From visits and costs with :func:`clvmodels.marketing.payback.payback_analysis` (first-touch
attribution) and, with a model, :func:`clvmodels.marketing.budget.budget_recommendation`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import pandas as pd

from clvmodels.data.marketing import read_costs, read_visits
from clvmodels.errors import DataError
from clvmodels.model import CLVModel
from clvmodels.report.html import (
    NEED_MODEL,
    Section,
    bullets,
    caption,
    esc,
    missing,
    note_html,
    num,
    table,
)
from clvmodels.report.inputs import Source, capture_findings
from clvmodels.summaries.calendar import CohortPeriod

if TYPE_CHECKING:
    from clvmodels.marketing.payback import PaybackResult

ACQUISITION_TITLE = "Acquisition: ROMI, payback and budget"
NEED_ACQUISITION = "not available: pass --visits and --costs (and --model for predictions)."

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


def read_acquisition_inputs(
    visits: Source | pd.DataFrame | None, costs: Source | pd.DataFrame | None
) -> tuple[Source | pd.DataFrame | None, Source | pd.DataFrame | None]:
    """Read and validate visits and costs, when both are given.

    Returns the validated tables; returns the inputs unchanged when one is missing (the
    report's section then says so).

    Raises
    ------
    DataError
        For a visits or costs table clvmodels cannot use (missing columns, bad dates, ...).
    """
    if visits is None or costs is None:
        return visits, costs
    return read_visits(visits), read_costs(costs)


def acquisition_section(
    orders: pd.DataFrame,
    *,
    visits: Source | pd.DataFrame | None,
    costs: Source | pd.DataFrame | None,
    model: CLVModel | None,
    margin: float,
    period: CohortPeriod,
    horizon_months: float,
    annual_discount_rate: float,
    customers: pd.DataFrame | None = None,
) -> Section | str:
    """ROMI and payback by source, and the budget recommendation, from visits and costs.

    Uses :func:`clvmodels.marketing.payback.payback_analysis` (first-touch attribution; CAC,
    ROMI and payback per source, predicted with a model) and, with a model,
    :func:`clvmodels.marketing.budget.budget_recommendation`. Without visits and costs, or
    when those modules cannot be imported, the section says it is not available; their
    documented errors (:class:`ClvError`, ``ValueError``) become a note in the section.
    ``customers``: the customers table of a model fitted with covariates.
    """
    section_id, title = "acquisition", ACQUISITION_TITLE
    if visits is None or costs is None:
        return missing(section_id, title, NEED_ACQUISITION)
    try:
        import clvmodels.marketing.budget as budget
        import clvmodels.marketing.payback as payback
    except ImportError as exc:
        note = (
            f"not available: this version of clvmodels has no {exc.name or 'acquisition'} "
            "module, so the visits and costs were not read."
        )
        return missing(section_id, title, note)
    visits, costs = read_acquisition_inputs(visits, costs)
    lines: list[str] = []
    try:
        result, findings = capture_findings(
            lambda: payback.payback_analysis(
                orders,
                visits,
                costs,
                model=model,
                margin=margin,
                period=period,
                customers=customers,
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
    parts = [caption(_caption(result, margin, period))]
    notes = [*findings, *result.summary.get("notes", [])]
    if notes:
        parts.append(bullets(notes))
    parts.append("<h3>ROMI and payback by source</h3>")
    parts.append(_picked_table(result.by_source, _SOURCE_COLUMNS))
    parts.append(_budget_part(recommendation, lines))
    return "".join(parts)


def _caption(result: PaybackResult, margin: float, period: str) -> str:
    """How buyers were attributed and what ROMI and payback mean here."""
    summary = result.summary
    return (
        f"Buyers attributed to the source of their first visit ({summary.get('attribution')}); "
        f"{period}ly cohorts; margin {margin:.0%} of revenue; orders, visits and costs up to "
        f"{summary.get('observation_end')}; total costs "
        f"{num(summary.get('total_costs'), ',.2f')}. "
        "ROMI = cumulative margin / costs; ROMI at k is empirical, for cohorts that fully "
        f"reached age k {period}s; payback age is the first age with ROMI >= 1."
    )


def _budget_part(recommendation: pd.DataFrame | None, lines: Sequence[str]) -> str:
    """The budget recommendation in words and as a table; without a model, what to pass."""
    if recommendation is None:
        return note_html(NEED_MODEL.format(what="predicted ROMI and the budget recommendation"))
    parts = ["<h3>Budget recommendation</h3>"]
    if lines:
        parts.append(f"<p>{esc(lines[0].strip())}</p><ul>")
        parts.append("".join(f"<li>{esc(line.strip())}</li>" for line in lines[1:]))
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
                cells.append("" if pd.isna(value) else num(value, spec))
        rows.append(cells)
    numeric = [i for i, (_, _, spec) in enumerate(shown) if spec is not None]
    return table([label for _, label, _ in shown], rows, numeric=numeric)


def _interval(row: pd.Series, name: str) -> str:
    value = row[name]
    if pd.isna(value):
        return ""
    low, high = row.get(f"{name}_low"), row.get(f"{name}_high")
    if low is None or high is None or pd.isna(low) or pd.isna(high) or low == high:
        return num(value, ",.2f")
    return f"{num(value, ',.2f')} [{num(low, ',.2f')}, {num(high, ',.2f')}]"
