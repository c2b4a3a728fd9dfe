"""Customer segments from a scores table: ordered rules, first match wins, RFM quartiles.

A segment rule is a name, a description and conditions on fields of the scores table
(:data:`clvmodels.predict.columns.SCORE_COLUMNS`) or on fields derived from it. Rules are tried in
order and a customer gets the first segment whose conditions all hold; the last rule has no
conditions, so every customer gets exactly one segment. The default rules (high_value, loyal,
promising_new, at_risk, occasional, hibernating, lost) are documented in
``clvmodels/segment_rules.toml``; a TOML file of the same form replaces them.

Scores without CLV (a model fitted on orders without revenue: no ``expected_spend`` or
``clv`` columns, and no ``monetary_value`` when the orders have no revenue) get the no-CLV
rules of
``clvmodels/segment_rules_no_clv.toml`` by default, which use only P(alive), expected
purchases, frequency, recency and tenure; such tables have no ``clv_percentile``,
``m_score`` or ``rfm_score``, and rules that need them are refused.

Derived fields (computed for every customer; ties share a value, independent of row order):

* ``since_last = T - recency``: time since the last purchase, in the table's time unit.
* ``is_repeat = frequency > 0``.
* ``clv_percentile``, ``T_percentile``, ``purchases_percentile`` (of ``expected_purchases``):
  percent of customers with a strictly smaller value, 0 to <100 (``clv_percentile >= 90`` is
  the top CLV decile; a missing clv has none).
* ``r_score``, ``f_score``, ``m_score``: the classic RFM quartile scores 1-4, 4 best, of
  ``since_last`` (smaller is better), ``frequency`` and ``monetary_value``. A score is
  ``1 + floor(4 * share of customers with a strictly worse value)``; with heavy ties the
  quartiles are unequal (customers without a repeat purchase all have f_score 1 and, since
  their monetary_value is 0, m_score 1).
* ``rfm_score``: the three scores as text, ``"431"``.

Rules file (TOML)::

    [[segment]]
    name = "high_value"
    description = "Top 10% of predicted CLV and probably still a customer."
    clv_percentile = { min = 90 }      # min/max: >= / <=; above/below: > / <
    p_alive = { min = 0.5 }            # equals = v, in = [v, ...]
    is_repeat = true                   # short for { equals = true }; `field = [...]`: in

    [[segment]]
    name = "everyone_else"             # no conditions: the catch-all, last

What is an error (a :class:`~clvmodels.errors.DataError` naming the file, line and rule):
invalid TOML; a key other than ``segment`` at the top level; an unknown field or operator; a
value of the wrong type; a bound given twice in a condition (``min`` with ``above``, ``max``
with ``below``, ``equals``/``in`` with anything); a condition no value can meet
(``min > max``); a field given twice in a rule (TOML rejects the duplicate key); duplicate
segment names; no catch-all last, or a catch-all before the last rule; and a rule that can
never match because an earlier rule's conditions contain all of its own (an *overlapping*
rule: overlaps are otherwise expected, since the first match wins). tomllib gives no line
numbers, so lines are found by scanning the text for ``[[segment]]`` headers and keys.
"""

from __future__ import annotations

import difflib
import math
import os
import re
import tomllib
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from clvmodels.errors import DataError, DataQualityWarning, Label
from clvmodels.models.inputs import RFM_COLUMNS, validate_rfm
from clvmodels.predict.columns import SCORE_COLUMNS

#: Where the default rules live, as shown to users.
DEFAULT_RULES_NAME = "clvmodels/segment_rules.toml"
#: The default rules for scores without CLV (a model fitted without revenue).
NO_CLV_RULES_NAME = "clvmodels/segment_rules_no_clv.toml"

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
#: Fields clvmodels derives from the scores table, in the order they are added.
DERIVED_COLUMNS = (
    "since_last",
    "is_repeat",
    "T_percentile",
    "purchases_percentile",
    "clv_percentile",
    "r_score",
    "f_score",
    "m_score",
    "rfm_score",
)
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

#: Every field a rule may use, and its kind: "number", "bool" or "text".
FIELDS: dict[str, str] = {
    **{name: "number" for name in SCORE_COLUMNS if name != "customer_id"},
    **{name: "number" for name in DERIVED_COLUMNS},
    "is_repeat": "bool",
    "rfm_score": "text",
}
OPERATORS = ("min", "max", "above", "below", "equals", "in")
_SPEND_COLUMNS = ("expected_spend", "clv", "clv_low", "clv_high")
#: Fields that need revenue: absent from (or not derivable for) scores without CLV.
CLV_FIELDS = ("monetary_value", *_SPEND_COLUMNS, "clv_percentile", "m_score", "rfm_score")
#: Columns every scores table without CLV needs.
NO_CLV_REQUIRED_COLUMNS = tuple(c for c in REQUIRED_COLUMNS if c not in CLV_FIELDS)

type Value = float | bool | str


# --------------------------------------------------------------------------------------
# rules
# --------------------------------------------------------------------------------------
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
            shown = [_show_value(v) for v in self.values]
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


def _show_value(value: Value) -> str:
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


def load_rules(path: str | os.PathLike[str] | None = None) -> list[SegmentRule]:
    """Read segment rules from a TOML file, or the default rules shipped with clvmodels.

    Parameters
    ----------
    path : path, optional
        A rules file (see the module docstring); None reads ``clvmodels/segment_rules.toml``.

    Returns
    -------
    list of SegmentRule
        In file order; the last is the catch-all.

    Raises
    ------
    DataError
        When the file is missing or not UTF-8, or the rules are invalid; the message names the
        line.
    """
    if path is None:
        return default_rules()
    target = Path(path)
    if not target.is_file():
        raise DataError(f"rules file not found: {target}")
    try:
        text = target.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        line = target.read_bytes()[: exc.start].count(b"\n") + 1
        raise DataError(f"segment rules {target}, line {line}: not UTF-8 text") from None
    return parse_rules(text, source=str(target))


def default_rules(*, clv: bool = True) -> list[SegmentRule]:
    """The rules shipped with clvmodels, for scores with CLV or without.

    :data:`DEFAULT_RULES_NAME`, or :data:`NO_CLV_RULES_NAME` (P(alive), expected purchases,
    frequency, recency, tenure) for scores without CLV.
    """
    name = DEFAULT_RULES_NAME if clv else NO_CLV_RULES_NAME
    text = resources.files("clvmodels").joinpath(Path(name).name).read_text("utf-8")
    return parse_rules(text, source=name)


def parse_rules(text: str, *, source: str = "<rules>") -> list[SegmentRule]:
    """Parse segment rules from TOML text; ``source`` names it in messages.

    Raises
    ------
    DataError
        Naming ``source``, the line and the rule; see the module docstring for what is checked.
    """
    try:
        data = tomllib.loads(text)
    except RecursionError:
        raise DataError(
            f"segment rules {source}: not valid rules: arrays or tables nested too deeply"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        where = re.search(r"\s*\(at line (\d+), column (\d+)\)", message)
        if where is None:
            raise DataError(f"segment rules {source}: not valid TOML: {message}") from None
        problem = message[: where.start()] + message[where.end() :]
        twice = "overwrite" in problem or "twice" in problem
        raise DataError(
            f"segment rules {source}, line {where.group(1)}: not valid TOML: {problem} "
            f"(column {where.group(2)})",
            hint="A key is given twice: a rule names each field once, with all its bounds "
            "in one table, such as p_alive = { min = 0.2, below = 0.5 }"
            if twice
            else None,
        ) from None
    except ValueError as exc:  # tomllib's own limits, such as integers of 4,300+ digits
        raise DataError(f"segment rules {source}: not valid TOML: {exc}") from None
    lines = _Lines(text)
    for key in data:
        if key != "segment":
            raise _error(
                source,
                lines.top_level(key),
                f"unknown top-level key '{key}'; a rules file holds only [[segment]] tables",
            )
    raw_rules = data.get("segment")
    if raw_rules is None:
        raise _error(source, None, "no rules: add [[segment]] tables (see the default rules)")
    if not isinstance(raw_rules, list) or not all(isinstance(r, dict) for r in raw_rules):
        raise _error(
            source,
            lines.top_level("segment"),
            "'segment' must be an array of tables: write each rule under [[segment]]",
        )
    rules = [_parse_rule(i, raw, lines, source) for i, raw in enumerate(raw_rules)]
    check_rules(rules, source=source)
    return rules


def _parse_rule(index: int, raw: dict[str, Any], lines: _Lines, source: str) -> SegmentRule:
    label = f"rule {index + 1}"
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        raise _error(
            source,
            lines.key(index, "name") or lines.rule(index),
            f'{label} needs a name (name = "...")',
        )
    label = f"rule '{name}'"
    description = raw.get("description", "")
    if not isinstance(description, str):
        raise _error(
            source,
            lines.key(index, "description") or lines.rule(index),
            f"{label}: description must be text",
        )
    conditions = []
    for key, spec in raw.items():
        if key in ("name", "description"):
            continue
        line = lines.key(index, key) or lines.rule(index)
        conditions.append(_parse_condition(key, spec, label=label, source=source, line=line))
    return SegmentRule(
        name=name,
        description=description,
        conditions=tuple(conditions),
        line=lines.key(index, "name") or lines.rule(index),
    )


def _parse_condition(
    key: str, spec: Any, *, label: str, source: str, line: int | None
) -> Condition:
    def fail(problem: str) -> DataError:
        return _error(source, line, problem)

    if key not in FIELDS:
        close = difflib.get_close_matches(key, FIELDS, n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        raise fail(
            f"{label}: unknown field '{key}'; {hint}fields a rule may use: {', '.join(FIELDS)}"
        )
    kind = FIELDS[key]
    if isinstance(spec, list):
        spec = {"in": spec}
    elif not isinstance(spec, dict):
        spec = {"equals": spec}
    if not spec:
        raise fail(f"{label}: field '{key}' has no operator ({', '.join(OPERATORS)})")
    for op in spec:
        if op not in OPERATORS:
            close = difflib.get_close_matches(op, OPERATORS, n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            raise fail(
                f"{label}: unknown operator '{op}' for '{key}'; {hint}"
                f"operators are: {', '.join(OPERATORS)}"
            )
    for pair in (("min", "above"), ("max", "below")):
        if all(op in spec for op in pair):
            raise fail(f"{label}: '{key}' gives both {pair[0]} and {pair[1]}; give one")
    if ("equals" in spec or "in" in spec) and len(spec) > 1:
        raise fail(f"{label}: '{key}' combines {' and '.join(spec)}; equals/in stand alone")
    if "equals" in spec or "in" in spec:
        values = [spec["equals"]] if "equals" in spec else spec["in"]
        if not isinstance(values, list) or not values:
            raise fail(f"{label}: '{key}' in = [...] needs a non-empty list of values")
        for value in values:
            if _kind_of(value) != kind:
                raise fail(
                    f"{label}: '{key}' is a {kind} field; {_show_any(value)} is not a {kind}"
                )
            if kind == "number" and not _finite(value):
                raise fail(f"{label}: '{key}' takes finite numbers, not {_show_huge(value)}")
        condition = Condition(key, values=tuple(values))
    else:
        if kind != "number":
            raise fail(
                f"{label}: '{key}' is a {kind} field; use equals or in, not {', '.join(spec)}"
            )
        bounds = {}
        for op, value in spec.items():
            if _kind_of(value) != "number":
                raise fail(f"{label}: '{key}' {op} must be a number, not {_show_any(value)}")
            if not _finite(value):
                raise fail(
                    f"{label}: '{key}' {op} must be a finite number, not {_show_huge(value)}"
                )
            bounds[op] = float(value)
        condition = Condition(
            key,
            low=bounds.get("min", bounds.get("above")),
            low_inclusive="above" not in bounds,
            high=bounds.get("max", bounds.get("below")),
            high_inclusive="below" not in bounds,
        )
    if condition.is_empty():
        raise fail(f"{label}: no value can meet {condition.describe()} (check min and max)")
    return condition


def _finite(value: float) -> bool:
    """Whether a TOML number is finite as a float (an integer too large for one is not)."""
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False


def _show_huge(value: float) -> str:
    """A number that is not finite as a float: inf, nan, or an integer with too many digits."""
    text = str(value)
    return text if len(text) <= 20 else f"{text[:12]}... ({len(text)} digits)"


def _kind_of(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "text"
    return type(value).__name__


def _show_any(value: Any) -> str:
    return _show_value(value) if _kind_of(value) in ("bool", "number", "text") else repr(value)


def check_rules(rules: Sequence[SegmentRule], *, source: str | None = None) -> None:
    """Check a rule set as a whole; raise a DataError naming the rule and its line.

    Checks: at least one rule; known fields; conditions some value can meet; unique names;
    the last rule, and only it, is a catch-all; no rule is contained in an earlier one.
    """
    if not rules:
        raise _error(source, None, "no rules: the last rule at least must be a catch-all")
    seen: dict[str, SegmentRule] = {}
    for rule in rules:
        for condition in rule.conditions:
            if condition.field not in FIELDS:
                raise _error(
                    source, rule.line, f"rule '{rule.name}': unknown field '{condition.field}'"
                )
            if condition.is_empty():
                raise _error(
                    source,
                    rule.line,
                    f"rule '{rule.name}': no value can meet {condition.describe()}",
                )
        if rule.name in seen:
            first = seen[rule.name]
            at = f" (line {first.line})" if first.line else ""
            raise _error(
                source,
                rule.line,
                f"duplicate segment name '{rule.name}': already the name of an earlier rule{at}",
            )
        seen[rule.name] = rule
    for position, rule in enumerate(rules[:-1]):
        if rule.is_catch_all:
            later = ", ".join(f"'{r.name}'" for r in rules[position + 1 :])
            raise _error(
                source,
                rule.line,
                f"rule '{rule.name}' has no conditions, so it takes everyone and {later} can "
                "never match; only the last rule may be a catch-all",
            )
    last = rules[-1]
    if not last.is_catch_all:
        raise _error(
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
                raise _error(
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


def _error(
    source: str | None, line: int | None, problem: str, hint: str | None = None
) -> DataError:
    where = "".join(
        [f" {source}" if source else "", f"{',' if source else ''} line {line}" if line else ""]
    )
    return DataError(f"segment rules{where}: {problem}", hint=hint)


class _Lines:
    """Line numbers of ``[[segment]]`` tables and their keys in a rules file's text."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()
        header = re.compile(r"^\s*\[\[\s*segment\s*\]\]")
        self.headers = [i for i, line in enumerate(self.lines) if header.match(line)]

    def rule(self, index: int) -> int | None:
        """1-based line of the ``index``-th ``[[segment]]`` header."""
        return self.headers[index] + 1 if index < len(self.headers) else None

    def key(self, index: int, key: str) -> int | None:
        """1-based line where the ``index``-th rule sets ``key``."""
        if index >= len(self.headers):
            return None
        start = self.headers[index]
        stop = self.headers[index + 1] if index + 1 < len(self.headers) else len(self.lines)
        name = re.escape(key)
        pattern = re.compile(
            rf"""^\s*(?:{name}|"{name}"|'{name}')\s*[.=]|^\s*\[\s*segment\s*\.\s*{name}\s*\]"""
        )
        for i in range(start + 1, stop):
            if pattern.match(self.lines[i]):
                return i + 1
        return None

    def top_level(self, key: str) -> int | None:
        """1-based line of a top-level key or table."""
        name = re.escape(key)
        pattern = re.compile(rf"""^\s*(?:(?:{name}|"{name}")\s*[.=]|\[+\s*{name}\s*[.\]])""")
        for i, line in enumerate(self.lines):
            if pattern.match(line):
                return i + 1
        return None


# --------------------------------------------------------------------------------------
# segmenting
# --------------------------------------------------------------------------------------
def derived_fields(scores: pd.DataFrame) -> pd.DataFrame:
    """The fields clvmodels derives for rules: :data:`DERIVED_COLUMNS`, indexed like ``scores``.

    See the module docstring for definitions. ``scores`` needs finite ``frequency``,
    ``recency``, ``T`` and ``monetary_value``; a missing ``clv`` gets no ``clv_percentile``.
    Scores without a ``clv`` column (no revenue) get neither ``clv_percentile`` nor
    ``m_score`` nor ``rfm_score``.
    """
    frequency = scores["frequency"].to_numpy(dtype="float64")
    T = scores["T"].to_numpy(dtype="float64")
    # rounded so that float noise in T - recency does not break ties
    since_last = np.round(T - scores["recency"].to_numpy(dtype="float64"), 9)
    r_score = _quartile_score(-since_last)
    f_score = _quartile_score(frequency)
    columns: dict[str, Any] = {
        "since_last": since_last,
        "is_repeat": frequency > 0,
        "T_percentile": _percentile_rank(T),
        "purchases_percentile": _percentile_rank(
            scores["expected_purchases"].to_numpy(dtype="float64")
            if "expected_purchases" in scores.columns
            else np.full(len(scores), np.nan)
        ),
        "r_score": r_score,
        "f_score": f_score,
    }
    if has_clv(scores):
        m_score = _quartile_score(scores["monetary_value"].to_numpy(dtype="float64"))
        columns["clv_percentile"] = _percentile_rank(scores["clv"].to_numpy(dtype="float64"))
        columns["m_score"] = m_score
        columns["rfm_score"] = (100 * r_score + 10 * f_score + m_score).astype(str)
    order = [c for c in DERIVED_COLUMNS if c in columns]
    return pd.DataFrame({c: columns[c] for c in order}, index=scores.index)


def has_clv(scores: pd.DataFrame) -> bool:
    """Whether a scores table is one with CLV.

    Scores of a model without a spend model have none of ``expected_spend`` and the ``clv``
    columns; a table with any of them is taken to be a CLV table (and then needs ``clv``).
    """
    return any(c in scores.columns for c in _SPEND_COLUMNS)


def _percentile_rank(values: np.ndarray) -> np.ndarray:
    """Percent of the non-missing values strictly smaller than each value (NaN stays NaN)."""
    series = pd.Series(values)
    n = int(series.notna().sum())
    if n == 0:
        return np.full(len(values), np.nan)
    below = series.rank(method="min").to_numpy(dtype="float64") - 1.0
    return below / n * 100.0


def _quartile_score(values: np.ndarray) -> np.ndarray:
    """1 + floor(4 * share of values strictly smaller): 1-4, ties share a score."""
    n = len(values)
    if n == 0:
        return np.empty(0, dtype="int64")
    below = pd.Series(values).rank(method="min").to_numpy(dtype="int64") - 1
    return 1 + (4 * below) // n


def segment_customers(
    scores: pd.DataFrame,
    *,
    rules: Sequence[SegmentRule] | str | os.PathLike[str] | None = None,
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

    Returns
    -------
    pandas.DataFrame
        ``scores`` (derived columns and ``segment`` already in it are replaced) with
        :data:`DERIVED_COLUMNS` and ``segment`` (categorical, categories in rule order).

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
    derived = derived_fields(frame)
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
    frame.attrs = {**scores.attrs, "segment_rules_need_clv": clv}
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
            why = " (scored without a spend model?)" if column in _SPEND_COLUMNS else ""
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
