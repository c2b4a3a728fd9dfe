"""Segment rules files: the TOML form, the default rules shipped with clvmodels, line numbers.

The default rules (high_value, loyal, promising_new, at_risk, occasional, one_time,
hibernating, lost) are documented in ``clvmodels/segment_rules.toml``; a TOML file of the
same form replaces them. Scores without CLV get the no-CLV rules of
``clvmodels/segment_rules_no_clv.toml``, which use only P(alive), expected purchases,
frequency, recency and tenure.

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
(``min > max``); a field given twice in a rule (TOML rejects the duplicate key); and what
:func:`clvmodels.segments.rules.check_rules` refuses of the rule set as a whole (duplicate
names, a missing or misplaced catch-all, a rule an earlier one contains). tomllib gives no
line numbers, so lines are found by scanning the text for ``[[segment]]`` headers and keys.
"""

from __future__ import annotations

import difflib
import math
import os
import re
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

from clvmodels.errors import DataError
from clvmodels.segments.rules import (
    DEFAULT_RULES_NAME,
    FIELDS,
    NO_CLV_RULES_NAME,
    OPERATORS,
    Condition,
    SegmentRule,
    check_rules,
    rules_error,
    show_value,
)


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
            raise rules_error(
                source,
                lines.top_level(key),
                f"unknown top-level key '{key}'; a rules file holds only [[segment]] tables",
            )
    raw_rules = data.get("segment")
    if raw_rules is None:
        raise rules_error(source, None, "no rules: add [[segment]] tables (see the default rules)")
    if not isinstance(raw_rules, list) or not all(isinstance(r, dict) for r in raw_rules):
        raise rules_error(
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
        raise rules_error(
            source,
            lines.key(index, "name") or lines.rule(index),
            f'{label} needs a name (name = "...")',
        )
    label = f"rule '{name}'"
    description = raw.get("description", "")
    if not isinstance(description, str):
        raise rules_error(
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
        return rules_error(source, line, problem)

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
    return show_value(value) if _kind_of(value) in ("bool", "number", "text") else repr(value)


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
