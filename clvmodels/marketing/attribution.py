"""Attribution and cost cells: which source brought each buyer, what each cohort cost.

Definitions (docs/definitions.md "CAC"; cohorts as in :mod:`clvmodels.summaries.cohorts`):

* A **buyer** is a customer whose first order is on or before the observation end. The
  buyer belongs to the source of their first visit (``"first-touch"``, the default) or of
  their last visit that starts at or before the first order (``"last-touch"``; a buyer whose
  every visit starts after the first order falls back to the first visit, and is counted).
  Ties in time go to the smaller source id. Buyers with no visit belong to the source
  ``"unknown"``: counted and reported, never dropped. Visits after the observation end are
  not used.
* **cohort** = the period (calendar month, or ISO week) of the buyer's first order.
* The **costs** of a (cohort, source) cell are the source's costs dated within the
  cohort's period.

The per-source cohort tables are :func:`clvmodels.summaries.cohorts.cohort_table` run on each
source's buyers, so they add up to the overall table.
"""

from __future__ import annotations

import warnings
from typing import Literal

import pandas as pd

from clvmodels.data.columns import id_match_keys
from clvmodels.data.io import duckdb_connection, floor_to_microseconds
from clvmodels.errors import DataError, DataQualityWarning
from clvmodels.summaries.calendar import CohortPeriod, check_period, period_index, period_start
from clvmodels.summaries.cohorts import cohort_table
from clvmodels.summaries.period import DateLike, order_period

AttributionRule = Literal["first-touch", "last-touch"]
ATTRIBUTION_RULES: tuple[AttributionRule, ...] = ("first-touch", "last-touch")
#: The source of buyers who have no visit.
UNKNOWN_SOURCE = "unknown"


def check_attribution(attribution: str) -> AttributionRule:
    """Return the attribution rule, or raise ``ValueError`` naming the valid ones."""
    value = str(attribution).lower().replace("_", "-")
    if value not in ATTRIBUTION_RULES:
        raise ValueError(f"attribution must be 'first-touch' or 'last-touch'; got {attribution!r}")
    return value


# --------------------------------------------------------------------------------------
# date ranges, attribution, costs per cell
# --------------------------------------------------------------------------------------
def check_date_ranges(
    orders: pd.DataFrame,
    visits: pd.DataFrame | None = None,
    costs: pd.DataFrame | None = None,
    *,
    observation_end: DateLike = None,
) -> list[str]:
    """Warn (:class:`DataQualityWarning`) when visits or costs miss the orders' date range.

    Returns
    -------
    list of str
        The messages warned about (empty when the ranges overlap).
    """
    dates = order_period(orders, observation_end=observation_end)
    first, end = dates.first_order, dates.observation_end
    messages = []
    for what, frame, column, consequence in (
        ("visits", visits, "start_ts", f"every buyer will be '{UNKNOWN_SOURCE}'"),
        ("costs", costs, "dt", "no cohort has costs, so CAC and ROMI cannot be computed"),
    ):
        if frame is None or len(frame) == 0:
            continue
        low = pd.Timestamp(frame[column].min()).date()
        high = pd.Timestamp(frame[column].max()).date()
        if high < first or low > end:
            messages.append(
                f"the {what} ({low} to {high}) do not overlap the orders ({first} to {end}): "
                f"{consequence}"
            )
    for message in messages:
        warnings.warn(message, DataQualityWarning, stacklevel=2)
    return messages


_ATTRIBUTION_SQL = """
WITH buyers AS (
    SELECT customer_id, key, MIN("timestamp") AS first_order
    FROM orders
    WHERE CAST("timestamp" AS DATE) <= $observation_end
    GROUP BY customer_id, key
),
v AS (
    SELECT key, source_id, start_ts FROM visits
    WHERE CAST(start_ts AS DATE) <= $observation_end AND key IN (SELECT key FROM buyers)
),
first_touch AS (
    SELECT key, source_id FROM (
        SELECT key, source_id,
               ROW_NUMBER() OVER (PARTITION BY key ORDER BY start_ts, source_id) AS rn
        FROM v
    ) WHERE rn = 1
),
last_touch AS (
    SELECT key, source_id FROM (
        SELECT v.key, v.source_id,
               ROW_NUMBER() OVER (PARTITION BY v.key ORDER BY v.start_ts DESC, v.source_id) AS rn
        FROM v JOIN buyers b ON v.key = b.key
        WHERE v.start_ts <= b.first_order
    ) WHERE rn = 1
)
SELECT b.customer_id, b.first_order, f.source_id AS first_touch, l.source_id AS last_touch
FROM buyers b
LEFT JOIN first_touch f ON b.key = f.key
LEFT JOIN last_touch l ON b.key = l.key
ORDER BY b.first_order, b.customer_id
"""


def attribute_buyers(
    orders: pd.DataFrame,
    visits: pd.DataFrame,
    *,
    attribution: AttributionRule = "first-touch",
    period: CohortPeriod = "month",
    observation_end: DateLike = None,
) -> pd.DataFrame:
    """The acquisition source and cohort of every buyer (see the module docstring).

    Parameters
    ----------
    orders : pandas.DataFrame
        Validated orders (:func:`clvmodels.data.io.read_orders`).
    visits : pandas.DataFrame
        Validated visits (:func:`read_visits`); ``uid`` matches ``customer_id``. Visits
        starting after the observation end are not used.
    attribution : {"first-touch", "last-touch"}
        Which visit brings the buyer.
    period : {"month", "week"}
        The cohort's period.
    observation_end : date, optional
        Defaults to the day of the last order.

    Returns
    -------
    pandas.DataFrame
        One row per buyer, sorted by first order: ``customer_id``, ``source_id`` (by the
        rule; ``"unknown"`` without visits), ``cohort`` (first day of the first order's
        period), ``first_order``, and ``first_touch``, ``last_touch`` (the two rules'
        sources; missing without visits). ``attrs`` holds ``attribution``, ``n_buyers``,
        ``n_unknown``, ``n_last_touch_fallback`` (buyers whose visits all start after their
        first order) and ``n_rules_differ``.
    """
    rule = check_attribution(attribution)
    unit = check_period(period)
    dates = order_period(orders, observation_end=observation_end)
    order_ids = orders["customer_id"]
    visit_ids = visits["uid"]
    order_keys, visit_keys = id_match_keys(order_ids, visit_ids)
    with duckdb_connection() as con:
        con.register(
            "orders",
            pd.DataFrame(
                {
                    "customer_id": order_ids.to_numpy(),
                    "key": order_keys.to_numpy(),
                    "timestamp": floor_to_microseconds(orders["timestamp"]).to_numpy(),
                }
            ),
        )
        con.register(
            "visits",
            pd.DataFrame(
                {
                    "key": visit_keys.to_numpy(),
                    "source_id": visits["source_id"].astype(str).to_numpy(),
                    "start_ts": visits["start_ts"].to_numpy(),
                }
            ),
        )
        found = con.execute(_ATTRIBUTION_SQL, {"observation_end": dates.observation_end}).df()
    first_touch = found["first_touch"].astype(object)
    last_touch = found["last_touch"].astype(object)
    fallback = first_touch.notna() & last_touch.isna()
    chosen = first_touch if rule == "first-touch" else last_touch.where(~fallback, first_touch)
    source_id = chosen.where(chosen.notna(), UNKNOWN_SOURCE)
    first_order = pd.to_datetime(found["first_order"]).astype("datetime64[ns]")
    buyers = pd.DataFrame(
        {
            "customer_id": found["customer_id"].to_numpy(),
            "source_id": source_id.astype(str).to_numpy(dtype=object),
            "cohort": period_start(period_index(first_order, unit), unit),
            "first_order": first_order.to_numpy(),
            "first_touch": first_touch.where(first_touch.notna(), None).to_numpy(),
            "last_touch": last_touch.where(~fallback, first_touch).to_numpy(),
        }
    )
    buyers["customer_id"] = buyers["customer_id"].astype(orders["customer_id"].dtype)
    n_unknown = int(first_touch.isna().sum())
    buyers.attrs = {
        "attribution": rule,
        "n_buyers": len(buyers),
        "n_unknown": n_unknown,
        "n_last_touch_fallback": int(fallback.sum()),
        "n_rules_differ": int(
            (first_touch.notna() & (buyers["first_touch"] != buyers["last_touch"])).sum()
        ),
    }
    if n_unknown:
        warnings.warn(
            f"{n_unknown:,} of {len(buyers):,} buyers ({n_unknown / len(buyers):.1%}) have no "
            f"visit up to the observation end: they are reported as source '{UNKNOWN_SOURCE}' "
            "(no costs, so no CAC or ROMI)",
            DataQualityWarning,
            stacklevel=2,
        )
    return buyers


def costs_by_cohort(
    costs: pd.DataFrame, *, period: CohortPeriod = "month", observation_end: DateLike = None
) -> pd.DataFrame:
    """Total costs per (cohort period, source), from validated costs.

    Costs dated after ``observation_end`` are not used. Returns ``cohort`` (first day of the
    period), ``source_id``, ``costs``, sorted by both.
    """
    unit = check_period(period)
    frame = costs
    if observation_end is not None:
        frame = frame.loc[frame["dt"] <= pd.Timestamp(observation_end)]
    index = period_index(frame["dt"], unit)
    cells = (
        pd.DataFrame(
            {
                "p": index,
                "source_id": frame["source_id"].to_numpy(),
                "costs": frame["costs"].to_numpy(),
            }
        )
        .groupby(["p", "source_id"], sort=True, as_index=False)["costs"]
        .sum()
    )
    return pd.DataFrame(
        {
            "cohort": period_start(cells["p"].to_numpy(), unit),
            "source_id": cells["source_id"].astype(object).to_numpy(),
            "costs": cells["costs"].astype("float64").to_numpy(),
        }
    )


def check_cost_sources(cost_cells: pd.DataFrame, visits: pd.DataFrame) -> list[str]:
    """The sources with costs that no visit names (warned about: they bring no buyers).

    The warning points at the caller of the function that calls this one
    (:func:`clvmodels.marketing.payback.payback_analysis`).
    """
    visit_sources = set(visits["source_id"].astype(str))
    orphan = cost_cells.loc[~cost_cells["source_id"].isin(visit_sources)]
    orphan_sources = sorted(orphan["source_id"].unique().tolist())
    if orphan_sources:
        warnings.warn(
            f"the costs name {len(orphan_sources)} source(s) that never appear in the visits "
            f"({', '.join(map(repr, orphan_sources[:5]))}; {orphan['costs'].sum():,.2f} in "
            "total): they bring no buyers and are kept in the totals (ROMI 0)",
            DataQualityWarning,
            stacklevel=3,
        )
    return orphan_sources


def source_cohort_table(
    orders: pd.DataFrame,
    buyers: pd.DataFrame,
    *,
    period: CohortPeriod = "month",
    margin: float = 1.0,
    observation_end: DateLike = None,
) -> pd.DataFrame:
    """:func:`clvmodels.summaries.cohorts.cohort_table` for each source's buyers, stacked.

    Running the cohort table on each source's buyers keeps every definition (cohort, age,
    completeness, margin) identical to the overall table, so the per-source tables add up
    to it: summed over sources, ``cohort_size``, ``active_customers``, ``orders``,
    ``revenue`` and ``margin`` equal the overall table's at every (cohort, age).

    Returns
    -------
    pandas.DataFrame
        ``source_id`` followed by the columns of :data:`clvmodels.summaries.cohorts.COHORT_COLUMNS`,
        sorted by source, cohort and age.
    """
    end = order_period(orders, observation_end=observation_end).observation_end
    tagged = orders.merge(buyers[["customer_id", "source_id"]], on="customer_id", how="inner")
    parts = []
    for source_id, rows in tagged.groupby("source_id", sort=True):
        table = cohort_table(
            rows[["customer_id", "timestamp", "revenue"]],
            period=period,
            margin=margin,
            observation_end=end,
        )
        parts.append(table.assign(source_id=source_id))
    if not parts:
        raise DataError("no buyer has an order up to the observation end")
    stacked = pd.concat(parts, ignore_index=True)
    columns = ["source_id", *[c for c in stacked.columns if c != "source_id"]]
    return stacked.loc[:, columns]
