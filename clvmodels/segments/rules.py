"""Segment rules: a name, a description and conditions on fields; a rule set checked as a whole.

A segment rule is a name, a description and conditions on fields of the scores table
(:data:`clvmodels.predict.scoring.SCORE_COLUMNS`) or on fields derived from it
(:data:`clvmodels.segments.scores.DERIVED_COLUMNS`). Rules are tried in order and a customer
gets the first segment whose conditions all hold; the last rule has no conditions, so every
customer gets exactly one segment.

A condition is ``field`` within an interval (``min``/``max``: ``>=``/``<=``; ``above``/``below``:
``>``/``<``) or among listed values (``equals``/``in``). :func:`check_rules` refuses a rule set
with an unknown field, a condition no value can meet, duplicate segment names, no catch-all
last or a catch-all before the last rule, and a rule that can never match because an earlier
rule's conditions contain all of its own (an *overlapping* rule: overlaps are otherwise
expected, since the first match wins). Rules files are read by
:mod:`clvmodels.segments.rules_file`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from clvmodels.errors import DataError
from clvmodels.predict.columns import SCORE_COLUMNS
from clvmodels.segments.scores import DERIVED_COLUMNS

#: Where the default rules live, as shown to users.
DEFAULT_RULES_NAME = "clvmodels/segment_rules.toml"
#: The default rules for scores without CLV (a model fitted without revenue).
NO_CLV_RULES_NAME = "clvmodels/segment_rules_no_clv.toml"

#: Every field a rule may use, and its kind: "number", "bool" or "text".
FIELDS: dict[str, str] = {
    **{name: "number" for name in SCORE_COLUMNS if name != "customer_id"},
    **{name: "number" for name in DERIVED_COLUMNS},
    "is_repeat": "bool",
    "p_alive_known": "bool",
    "rfm_score": "text",
}
OPERATORS = ("min", "max", "above", "below", "equals", "in")

type Value = float | bool | str


@dataclass(frozen=True)
class Condition:
    """One condition of a rule: ``field`` within an interval, or one of ``values``.

    Attributes
    ----------
    field : str
        A key of :data:`FIELDS`.
    low, high : float or None
        Bounds of the interval (None: unbounded).
    low_inclusive, high_inclusive : bool
        Whether a bound itself meets the condition (``min``/``max``) or not (``above``/``below``).
    values : tuple or None
        The allowed values (``equals``/``in``); then there are no bounds.
    """

    field: str
    low: float | None = None
    low_inclusive: bool = True
    high: float | None = None
    high_inclusive: bool = True
    values: tuple[Value, ...] | None = None

    def mask(self, frame: pd.DataFrame) -> np.ndarray:
        """Which rows of ``frame`` meet the condition (a missing value never does)."""
        column = frame[self.field]
        if self.values is not None:
            return np.asarray(column.isin(list(self.values)), dtype=bool)
        x = column.to_numpy(dtype="float64")
        met = ~np.isnan(x)
        with np.errstate(invalid="ignore"):
            if self.low is not None:
                met &= x >= self.low if self.low_inclusive else x > self.low
            if self.high is not None:
                met &= x <= self.high if self.high_inclusive else x < self.high
        return met

    def contains(self, other: Condition) -> bool:
        """Whether every value that meets ``other`` also meets this condition."""
        if self.field != other.field:
            return False
        if self.values is not None:
            return other.values is not None and set(other.values) <= set(self.values)
        if other.values is not None:
            return all(isinstance(v, int | float) and self._admits(float(v)) for v in other.values)
        return _bound_within(
            other.low, other.low_inclusive, self.low, self.low_inclusive, lower=True
        ) and _bound_within(
            other.high, other.high_inclusive, self.high, self.high_inclusive, lower=False
        )

    def _admits(self, x: float) -> bool:
        if self.low is not None and not (x >= self.low if self.low_inclusive else x > self.low):
            return False
        return self.high is None or (x <= self.high if self.high_inclusive else x < self.high)

    def is_empty(self) -> bool:
        """Whether no value can meet the condition (``min`` above ``max``, no ``in`` values)."""
        if self.values is not None:
            return len(self.values) == 0
        if self.low is None or self.high is None:
            return False
        if self.low == self.high:
            return not (self.low_inclusive and self.high_inclusive)
        return self.low > self.high

    def describe(self) -> str:
        """The condition as text: ``p_alive >= 0.5``, ``0.2 <= p_alive < 0.5``."""
        if self.values is not None:
            shown = [show_value(v) for v in self.values]
            return (
                f"{self.field} = {shown[0]}"
                if len(shown) == 1
                else (f"{self.field} in [{', '.join(shown)}]")
            )
        low_op = "<=" if self.low_inclusive else "<"
        high_op = "<=" if self.high_inclusive else "<"
        if self.low is not None and self.high is not None:
            return f"{self.low:g} {low_op} {self.field} {high_op} {self.high:g}"
        if self.low is not None:
            return f"{self.field} {'>=' if self.low_inclusive else '>'} {self.low:g}"
        if self.high is not None:
            return f"{self.field} {high_op} {self.high:g}"
        return f"{self.field} (any value)"


def _bound_within(
    inner: float | None, inner_incl: bool, outer: float | None, outer_incl: bool, *, lower: bool
) -> bool:
    """Whether the bound ``inner`` is at least as tight as ``outer`` (same side)."""
    if outer is None:
        return True
    if inner is None:
        return False
    if inner == outer:
        return outer_incl or not inner_incl
    return inner > outer if lower else inner < outer


def show_value(value: Value) -> str:
    """A rule value as TOML shows it: ``true``, ``"431"``, ``0.5``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    return f"{value:g}"


@dataclass(frozen=True)
class SegmentRule:
    """A segment: its name, what it means, and the conditions (joined by AND) that select it.

    A rule without conditions is the catch-all; it must be the last rule.

    Attributes
    ----------
    name : str
        The segment's name, written to the ``segment`` column.
    description : str
        What the segment means, in a sentence.
    conditions : tuple of Condition
        All must hold; none: everyone.
    line : int or None
        Line of the rule in its TOML file (for messages); not part of equality.
    """

    name: str
    description: str = ""
    conditions: tuple[Condition, ...] = ()
    line: int | None = field(default=None, compare=False)

    @property
    def is_catch_all(self) -> bool:
        """Whether the rule has no conditions and so takes every customer left."""
        return not self.conditions

    def matches(self, frame: pd.DataFrame) -> np.ndarray:
        """Which rows of ``frame`` (scores plus derived fields) meet every condition."""
        met = np.ones(len(frame), dtype=bool)
        for condition in self.conditions:
            met &= condition.mask(frame)
        return met

    def describe(self) -> str:
        """The conditions as text, ``clv_percentile >= 90 and p_alive >= 0.5``."""
        if self.is_catch_all:
            return "everyone else"
        return " and ".join(c.describe() for c in self.conditions)


def check_rules(rules: Sequence[SegmentRule], *, source: str | None = None) -> None:
    """Check a rule set as a whole; raise a DataError naming the rule and its line.

    Checks: at least one rule; known fields; conditions some value can meet; unique names;
    the last rule, and only it, is a catch-all; no rule is contained in an earlier one.
    """
    if not rules:
        raise rules_error(source, None, "no rules: the last rule at least must be a catch-all")
    seen: dict[str, SegmentRule] = {}
    for rule in rules:
        for condition in rule.conditions:
            if condition.field not in FIELDS:
                raise rules_error(
                    source, rule.line, f"rule '{rule.name}': unknown field '{condition.field}'"
                )
            if condition.is_empty():
                raise rules_error(
                    source,
                    rule.line,
                    f"rule '{rule.name}': no value can meet {condition.describe()}",
                )
        if rule.name in seen:
            first = seen[rule.name]
            at = f" (line {first.line})" if first.line else ""
            raise rules_error(
                source,
                rule.line,
                f"duplicate segment name '{rule.name}': already the name of an earlier rule{at}",
            )
        seen[rule.name] = rule
    for position, rule in enumerate(rules[:-1]):
        if rule.is_catch_all:
            later = ", ".join(f"'{r.name}'" for r in rules[position + 1 :])
            raise rules_error(
                source,
                rule.line,
                f"rule '{rule.name}' has no conditions, so it takes everyone and {later} can "
                "never match; only the last rule may be a catch-all",
            )
    last = rules[-1]
    if not last.is_catch_all:
        raise rules_error(
            source,
            last.line,
            f"the last rule '{last.name}' has conditions ({last.describe()}); the last rule "
            "must have none, so that every customer gets a segment",
            hint='Add a final [[segment]] with only a name, such as name = "other"',
        )
    for position, rule in enumerate(rules):
        for earlier in rules[:position]:
            if _shadows(earlier, rule):
                at = f" (line {earlier.line})" if earlier.line else ""
                raise rules_error(
                    source,
                    rule.line,
                    f"rule '{rule.name}' can never match: every customer it selects is taken "
                    f"first by the earlier rule '{earlier.name}'{at} ({earlier.describe()})",
                )


def _shadows(earlier: SegmentRule, later: SegmentRule) -> bool:
    """Whether each condition of ``earlier`` holds for every customer ``later`` selects."""
    if later.is_catch_all or earlier.is_catch_all:
        return False  # reported as a misplaced catch-all
    by_field = {c.field: c for c in later.conditions}
    return all(c.field in by_field and c.contains(by_field[c.field]) for c in earlier.conditions)


def rules_error(
    source: str | None, line: int | None, problem: str, hint: str | None = None
) -> DataError:
    """The error about a rule set: ``segment rules <source>, line <line>: <problem>``."""
    where = "".join(
        [f" {source}" if source else "", f"{',' if source else ''} line {line}" if line else ""]
    )
    return DataError(f"segment rules{where}: {problem}", hint=hint)
