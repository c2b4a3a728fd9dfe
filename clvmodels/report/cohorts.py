"""The report's ``cohorts`` section: cumulative LTV by cohort and age, and retention curves.

From :func:`clvmodels.summaries.cohorts.cohort_table`, drawn with :mod:`clvmodels.plots.cohorts`.
"""

from __future__ import annotations

import pandas as pd

from clvmodels.plots.cohorts import plot_cohort_heatmap, plot_retention_curves
from clvmodels.report.html import esc, img, table
from clvmodels.report.inputs import orders_input
from clvmodels.summaries.calendar import check_period
from clvmodels.summaries.cohorts import average_ltv_curve, cohort_table

#: Ages of the average cohort curve listed in the cohorts table.
MAX_CURVE_ROWS = 25


def cohorts_section(orders: pd.DataFrame, period: str, margin: float) -> str:
    """The heatmap, the retention curves and the average curve of fully observed cohorts."""
    cohorts = cohort_table(orders_input(orders), period=check_period(period), margin=margin)
    curve = average_ltv_curve(cohorts)
    n_cohorts = cohorts["cohort"].nunique()
    caption = (
        f"{n_cohorts} {period}ly cohorts (a cohort is the {period} of a customer's first "
        f"order; age counts whole {period}s since then), margin {margin:.0%} of revenue, orders "
        f"up to {cohorts.attrs['observation_end']}. The average curve uses, at each age, only "
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
        f"<p class='caption'>{esc(caption)}</p>"
        + img(plot_cohort_heatmap(cohorts), "cumulative LTV by cohort and age")
        + "<div class='grid'>"
        + img(plot_retention_curves(cohorts), "retention curves by cohort")
        + "<div><h3>Average curve of fully observed cohorts</h3>"
        + table(header, rows, numeric=range(5))
        + more
        + "</div></div>"
    )
