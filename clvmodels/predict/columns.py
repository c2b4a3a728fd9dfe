"""The columns of a scores table: the RFM columns, then the per-customer statistics.

Scoring (:mod:`clvmodels.predict.scoring`) writes them in this order, and the compiled draw
summary (:mod:`clvmodels.predict.draw_summary`) returns its rows in the order of
:data:`SCORE_STATISTICS`.
"""

from __future__ import annotations

from clvmodels.models.inputs import RFM_COLUMNS

#: The per-customer statistics a score holds, in order (after the RFM columns).
SCORE_STATISTICS = (
    "p_alive",
    "expected_purchases",
    "expected_purchases_low",
    "expected_purchases_high",
    "expected_spend",
    "clv",
    "clv_low",
    "clv_high",
)
SCORE_COLUMNS = (*RFM_COLUMNS, *SCORE_STATISTICS)
#: The statistics that need a spend model: absent from scores without one.
SPEND_STATISTICS = ("expected_spend", "clv", "clv_low", "clv_high")
