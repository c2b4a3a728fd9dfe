"""Customer segments from a scores table: ordered rules, first match wins, a summary per segment.

A segment rule (:class:`clvmodels.segments.rules.SegmentRule`) is a name, a description and
conditions on fields of the scores table (:data:`clvmodels.predict.columns.SCORE_COLUMNS`) or
on fields derived from it (:mod:`clvmodels.segments.scores`: percentiles, RFM quartile
scores). Rules are tried in order and a customer gets the first segment whose conditions all
hold; the last rule has no conditions, so every customer gets exactly one segment. The
default rules (high_value, loyal, promising_new, at_risk, occasional, one_time, hibernating,
lost) are documented in ``clvmodels/segment_rules.toml``; a TOML file of the same form
replaces them (:mod:`clvmodels.segments.rules_file`). The active segments (high_value, loyal,
occasional) need a repeat purchase; one-time buyers are placed by their tenure percentile
and by P(alive) only where it means something (the derived ``p_alive_known``: not BG/NBD's
P(alive) = 1 for every customer without a repeat purchase).

Scores without CLV (a model fitted on orders without revenue: no ``expected_spend`` or
``clv`` columns, and no ``monetary_value`` when the orders have no revenue) get the no-CLV
rules of
``clvmodels/segment_rules_no_clv.toml`` by default, which use only P(alive), expected
purchases, frequency, recency and tenure; such tables have no ``clv_percentile``,
``m_score`` or ``rfm_score``, and rules that need them are refused.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd

from clvmodels.errors import DataError, DataQualityWarning, Label
from clvmodels.models.inputs import RFM_COLUMNS, validate_rfm
from clvmodels.predict.columns import SCORE_COLUMNS
from clvmodels.segments.rules import NO_CLV_RULES_NAME, SegmentRule, check_rules
from clvmodels.segments.rules_file import default_rules, load_rules
from clvmodels.segments.scores import (
    CLV_FIELDS,
    DERIVED_COLUMNS,
    SPEND_COLUMNS,
    derived_fields,
    has_clv,
    one_time_p_alive_known,
)

#: Columns every scores table needs (rules may need more of :data:`SCORE_COLUMNS`).
REQUIRED_COLUMNS = (
    "customer_id",
    "frequency",
    "recency",
    "T",
    "monetary_value",
    "p_alive",
    "expected_purchases",
    "clv",
)
#: Columns every scores table without CLV needs.
NO_CLV_REQUIRED_COLUMNS = tuple(c for c in REQUIRED_COLUMNS if c not in CLV_FIELDS)
SEGMENT_COLUMN = "segment"
SUMMARY_COLUMNS = (
    "segment",
    "customers",
    "share",
    "total_clv",
    "mean_clv",
    "mean_p_alive",
    "mean_expected_purchases",
)


def segment_customers(
    scores: pd.DataFrame,
    *,
    rules: Sequence[SegmentRule] | str | os.PathLike[str] | None = None,
    one_time_p_alive: bool | None = None,
) -> pd.DataFrame:
    """Give every scored customer exactly one segment: the first rule it meets.

    Parameters
    ----------
    scores : pandas.DataFrame
        A scores table (:data:`clvmodels.predict.columns.SCORE_COLUMNS`; at least
        :data:`REQUIRED_COLUMNS` and the score columns the rules use). Not modified.
    rules : sequence of SegmentRule, or path, optional
        The rules, or a TOML file of them; None uses the default rules
        (``clvmodels/segment_rules.toml``).
    one_time_p_alive : bool, optional
        Whether P(alive) means something for one-time buyers (the ``p_alive_known`` field).
        None decides it by :func:`clvmodels.segments.scores.one_time_p_alive_known`: from the
        model's ``dropout_at_zero`` recorded in ``scores.attrs``, else from the values.

    Returns
    -------
    pandas.DataFrame
        ``scores`` (derived columns and ``segment`` already in it are replaced) with
        :data:`DERIVED_COLUMNS` and ``segment`` (categorical, categories in rule order).
        ``attrs`` adds ``segment_rules_need_clv``, ``one_time_p_alive_known`` and
        ``one_time_p_alive_basis`` (a sentence: why).

    Raises
    ------
    DataError
        For missing columns, an empty table, non-numeric or inconsistent values
        (``0 <= recency <= T``, integer ``frequency``, ``0 <= p_alive <= 1``), invalid rules.

    Warns
    -----
    DataQualityWarning
        When a column the rules use has missing values (those customers meet no condition
        on it), e.g. ``clv`` scored without a spend model.
    """
    clv = has_clv(scores)
    rule_list = default_rules(clv=clv) if rules is None else _resolve_rules(rules)
    used = {c.field for rule in rule_list for c in rule.conditions}
    if not clv:
        _refuse_clv_fields(used)
    required = REQUIRED_COLUMNS if clv else NO_CLV_REQUIRED_COLUMNS
    needed = [*required, *(c for c in SCORE_COLUMNS if c in used and c not in required)]
    frame = _validated(scores, needed, used)
    if one_time_p_alive is None:
        known, basis = one_time_p_alive_known(frame)
    else:
        known, basis = bool(one_time_p_alive), "as asked (one_time_p_alive)"
    derived = derived_fields(frame, one_time_known=known)
    for column in derived.columns:
        frame[column] = derived[column].to_numpy()
    names = [rule.name for rule in rule_list]
    codes = np.full(len(frame), len(rule_list) - 1, dtype="int64")
    unassigned = np.ones(len(frame), dtype=bool)
    for code, rule in enumerate(rule_list[:-1]):
        hit = unassigned & rule.matches(frame)
        codes[hit] = code
        unassigned &= ~hit
    frame[SEGMENT_COLUMN] = pd.Categorical.from_codes(codes, categories=names)
    frame.attrs = {
        **scores.attrs,
        "segment_rules_need_clv": clv,
        "one_time_p_alive_known": known,
        "one_time_p_alive_basis": basis,
    }
    return frame


def _refuse_clv_fields(used: set[str]) -> None:
    """Refuse rules on fields that need revenue, for scores without CLV."""
    needs = sorted(used & set(CLV_FIELDS))
    if needs:
        raise DataError(
            f"the scores have no CLV (the model was fitted without revenue), but the rules use "
            f"{', '.join(needs)}",
            hint=f"use rules without them, such as the default no-CLV rules ({NO_CLV_RULES_NAME})",
        )


def _resolve_rules(
    rules: Sequence[SegmentRule] | str | os.PathLike[str] | None,
) -> list[SegmentRule]:
    if rules is None or isinstance(rules, str | os.PathLike):
        return load_rules(rules)
    rule_list = list(rules)
    check_rules(rule_list)
    return rule_list


def _validated(scores: pd.DataFrame, needed: list[str], used: set[str]) -> pd.DataFrame:
    """A copy of ``scores`` without old derived columns, its numeric columns checked."""
    missing = [c for c in needed if c not in scores.columns]
    if missing:
        raise DataError(
            f"the scores table has no column {', '.join(repr(m) for m in missing)}",
            hint=f"its columns are: {', '.join(map(str, scores.columns))}. "
            "Make a scores table with `clv score`",
        )
    if len(scores) == 0:
        raise DataError("the scores table has no rows")
    stale = [c for c in (*DERIVED_COLUMNS, SEGMENT_COLUMN) if c in scores.columns]
    frame = scores.drop(columns=stale)
    ids = frame["customer_id"].to_numpy()
    for column in needed[1:]:
        values = frame[column]
        if pd.api.types.is_bool_dtype(values.dtype):
            raise DataError("true/false values where numbers belong", column=column)
        if not pd.api.types.is_numeric_dtype(values.dtype):
            numeric = pd.to_numeric(values, errors="coerce")
            bad = (numeric.isna() & values.notna()).to_numpy()
            if bad.any():
                raise DataError(
                    "values that are not numbers",
                    column=column,
                    n_rows=int(bad.sum()),
                    examples=values[bad].head(5).tolist(),
                )
            frame[column] = numeric.astype("float64")
    validate_rfm(frame)
    if "monetary_value" in needed:
        _require_finite(frame, "monetary_value", ids)
    p_alive = frame["p_alive"].to_numpy(dtype="float64")
    outside = (p_alive < 0) | (p_alive > 1)
    if outside.any():
        raise DataError(
            "P(alive) outside 0 to 1",
            column="p_alive",
            n_rows=int(outside.sum()),
            examples=[Label(f"customer {i}") for i in ids[outside][:5]],
        )
    for column in needed:
        if column in RFM_COLUMNS or (column not in used and column != "clv"):
            continue
        nan = np.isnan(frame[column].to_numpy(dtype="float64"))
        if nan.any():
            why = " (scored without a spend model?)" if column in SPEND_COLUMNS else ""
            also = " or clv_percentile" if column == "clv" else ""
            warnings.warn(
                f"column '{column}' is missing for {int(nan.sum()):,} of {len(frame):,} "
                f"customers{why}; they meet no rule condition on {column}{also}",
                DataQualityWarning,
                stacklevel=3,
            )
    return frame


def _require_finite(frame: pd.DataFrame, column: str, ids: np.ndarray) -> None:
    values = frame[column].to_numpy(dtype="float64")
    bad = ~np.isfinite(values)
    if bad.any():
        raise DataError(
            "missing (NaN) or infinite values",
            column=column,
            n_rows=int(bad.sum()),
            examples=[Label(f"customer {i}") for i in ids[bad][:5]],
        )


def segment_summary(
    segmented: pd.DataFrame, *, rules: Sequence[SegmentRule] | None = None
) -> pd.DataFrame:
    """Customers, share, total and mean CLV, mean P(alive) and expected purchases per segment.

    Parameters
    ----------
    segmented : pandas.DataFrame
        The result of :func:`segment_customers`.
    rules : sequence of SegmentRule, optional
        Lists segments in this order, empty ones included. Without it: the categories of a
        categorical ``segment`` column, else the order segments first appear in.

    Returns
    -------
    pandas.DataFrame
        :data:`SUMMARY_COLUMNS`, one row a segment. ``share`` is a fraction of all customers
        (0 to 1); an empty segment has 0 customers and total CLV, and NaN means. Without a
        ``clv`` column (scores without revenue) there are no ``total_clv`` and ``mean_clv``.
    """
    clv = has_clv(segmented)
    missing = [
        c
        for c in (SEGMENT_COLUMN, "p_alive", "expected_purchases", *(["clv"] if clv else []))
        if c not in segmented.columns
    ]
    if missing:
        raise DataError(
            f"the segmented table has no column {', '.join(repr(m) for m in missing)}",
            hint="Make it with segment_customers (clv segment)",
        )
    labels = segmented[SEGMENT_COLUMN]
    if isinstance(labels.dtype, pd.CategoricalDtype):
        labels = labels.cat.rename_categories([str(c) for c in labels.cat.categories])
        present = [
            str(c) for c in labels.cat.categories[np.unique(labels.cat.codes[labels.notna()])]
        ]
    else:
        labels = labels.astype(str)
        present = [str(v) for v in pd.unique(labels)]
    if rules is not None:
        order = [rule.name for rule in rules]
    elif isinstance(labels.dtype, pd.CategoricalDtype):
        order = [str(c) for c in labels.cat.categories]
    else:
        order = present
    unknown = sorted(set(present) - set(order))
    if unknown:
        raise DataError(f"segments not among the rules: {', '.join(unknown)}")
    key = pd.Categorical(labels, categories=order)
    values = ["clv", "p_alive", "expected_purchases"] if clv else ["p_alive", "expected_purchases"]
    grouped = segmented[values].astype("float64").groupby(key, observed=False)
    customers = grouped.size().to_numpy(dtype="int64")
    summary = pd.DataFrame(
        {
            "segment": order,
            "customers": customers,
            "share": customers / max(len(segmented), 1),
            "mean_p_alive": grouped["p_alive"].mean().to_numpy(dtype="float64"),
            "mean_expected_purchases": grouped["expected_purchases"]
            .mean()
            .to_numpy(dtype="float64"),
        }
    )
    if clv:
        total_clv = np.array(grouped["clv"].sum(min_count=1), dtype="float64")
        total_clv[customers == 0] = 0.0
        summary.insert(3, "total_clv", total_clv)
        summary.insert(4, "mean_clv", grouped["clv"].mean().to_numpy(dtype="float64"))
    return summary
