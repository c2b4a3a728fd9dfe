"""The report's ``segments`` section: the segment summary of the model's scores.

Customers scored with :meth:`clvmodels.model.CLVModel.score` and segmented by the default
rules of :mod:`clvmodels.segments.assign`.
"""

from __future__ import annotations

from clvmodels.model import CLVModel
from clvmodels.report.html import NEED_MODEL, Section, esc, missing, num, table
from clvmodels.report.inputs import ModelRFM
from clvmodels.segments.assign import segment_customers, segment_summary
from clvmodels.segments.rules_file import default_rules

#: Posterior draws used to score customers for the segment table (thinned evenly).
SEGMENT_DRAWS = 200


def segments_section(
    model: CLVModel | None,
    rfm_source: ModelRFM,
    horizon: str,
    annual_discount_rate: float,
    margin: float,
) -> Section | str:
    """Customers, share, CLV (when the model has spend), P(alive) and purchases per segment."""
    if model is None:
        return missing("segments", "Segments", NEED_MODEL.format(what="the customer segments"))
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
    segmented = segment_customers(scores, rules=rules)
    summary = segment_summary(segmented, rules=rules)
    meaning = {rule.name: rule.description for rule in rules}
    rows = [
        [
            str(r["segment"]),
            f"{int(r['customers']):,}",
            f"{r['share']:.1%}",
            *([num(r["total_clv"], ",.2f"), num(r["mean_clv"], ",.2f")] if clv else []),
            num(r["mean_p_alive"], ".3f"),
            num(r["mean_expected_purchases"], ".2f"),
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
    known = "means something" if segmented.attrs["one_time_p_alive_known"] else "says nothing"
    caption += (
        f" One-time buyers are never in the active segments "
        f"({'high_value' if clv else 'top_buyers'}, loyal, occasional); "
        f"their P(alive) {known} ({segmented.attrs['one_time_p_alive_basis']})."
    )
    return f"<p class='caption'>{esc(caption)}</p>" + table(
        header, rows, numeric=range(1, len(header) - 1)
    )
