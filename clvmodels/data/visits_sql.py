"""The visits contract in DuckDB SQL: a visits table becomes the view ``clv_visits``.

:func:`register_visits` reads any source (CSV, Parquet, DuckDB or SQLite file, database URL
or DataFrame) straight into DuckDB, checks it in two SQL passes and makes the view
:data:`VISITS_VIEW` — no pandas copy of the table is made, so ``clv engagement`` and ``clv
conversion`` read ten million sessions in a few hundred megabytes.

The lenient rules of ``clv engagement`` and ``clv conversion`` (``read_visits(...,
problems="report")`` is this function with the view fetched into pandas):

* **uid**: the orders contract's id rules (:func:`clvmodels.data.orders_sql.customer_checks`);
  integer columns stay integers (BIGINT), text stays text exactly as written (stripped of
  surrounding white space; ``007`` stays ``"007"``). Rows without an id (empty, ``nan``,
  ``none``, ``null``) are dropped and counted (``missing_uid``); ids that cannot be kept
  exactly (``1.5`` in a float column, ``1.23E+20`` written by a spreadsheet) are an error.
* **start** and **end**: the orders contract's date rules
  (:func:`clvmodels.data.orders_sql.date_checks`: native types, ISO 8601, ``YYYYMMDD``; a
  ``--visits-date-format``; day/month dates without a format, bare numbers and mixed UTC
  offsets are errors). Rows whose start is missing or cannot be parsed are dropped and
  counted (``missing_start``). An end that is missing or cannot be parsed is kept as NULL
  and counted (``missing_end``); an end before its start is kept as written and counted
  (``negative_length``). Nanosecond timestamps keep their nanoseconds.
* **source_id**: text; integral numbers lose their ``.0`` (``7`` and ``7.0`` are ``"7"``);
  missing ones (empty, ``nan``, ``none``, ``null``) are kept as NULL and counted
  (``missing_source``).
* **device**: text as written; NULL when the table has no device column.

Counts are of the rows kept (a row without uid is counted once, as ``missing_uid``); the
examples are row numbers counted from 1 in the input, at most five a problem.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pandas as pd

from clvmodels.data.columns import require_named_columns
from clvmodels.data.orders_sql import (
    _FLOAT_TYPES,
    _INTEGER_TYPES,
    _WIDE_INTEGER_TYPES,
    STAGE_VIEW,
    ColumnChecks,
    DateColumn,
    _text,
    customer_checks,
    date_checks,
    is_decimal,
)
from clvmodels.data.readers import quote
from clvmodels.data.rules import RULES
from clvmodels.data.table_source import register_table
from clvmodels.errors import DataError

VISITS_VIEW = "clv_visits"
#: The input as read (its own name: the orders may be read on the same connection).
VISITS_RAW = "clv_visits_raw"
#: The counts of :attr:`VisitsInfo.problems`, in the order they are reported.
VISIT_PROBLEMS = (
    "missing_uid",
    "missing_start",
    "missing_end",
    "negative_length",
    "missing_source",
)
_MISSING_WORDS = "('nan', 'none', 'null')"
#: Date rules that drop (start) or blank (end) a row instead of stopping the read.
_LENIENT_DATE_CHECKS = ("date_missing", "date_bad")
_STAGES = ("clv_visits_stage1", "clv_visits_stage2")


@dataclass(frozen=True)
class VisitsSource:
    """Where the visits are and their columns (the ``--visits-*`` options).

    ``path`` is a table file, a database URL or a DataFrame; ``table`` and ``query`` pick a
    database's table or run a read-only SELECT; the device column is optional.
    """

    path: str | os.PathLike[str] | pd.DataFrame = field(compare=False)
    uid_col: str = "uid"
    start_col: str = "start_ts"
    end_col: str = "end_ts"
    source_col: str = "source_id"
    device_col: str = "device"
    table: str | None = None
    query: str | None = None
    date_format: str | None = None
    encoding: str = "utf-8"
    allow_file_access: bool = False

    @property
    def flags(self) -> dict[str, str]:
        """Each required column and the option that names it."""
        return {
            self.uid_col: "--visits-uid-col",
            self.start_col: "--visits-start-col",
            self.end_col: "--visits-end-col",
            self.source_col: "--visits-source-col",
        }


@dataclass(frozen=True)
class VisitsInfo:
    """What :func:`register_visits` found: rows kept, the id type, the problems counted.

    Found in the same pass: ``last_start_ns``, the last start of the rows kept (nanoseconds
    since 1970-01-01), and ``values``, the devices and sources written (``device``,
    ``source_id``: every value of the input, a superset of the view's).
    """

    n_rows: int
    uid_type: str
    problems: dict[str, Any]
    last_start_ns: int = 0
    values: dict[str, list] = field(default_factory=dict)


def register_visits(
    con: duckdb.DuckDBPyConnection, source: VisitsSource, name: str = VISITS_VIEW
) -> VisitsInfo:
    """Check ``source`` against the visits contract and make it the view ``name`` on ``con``.

    The view has ``uid`` (BIGINT or VARCHAR as written), ``device`` and ``source_id``
    (VARCHAR), ``start_ts`` and ``end_ts`` (TIMESTAMP_NS; ``end_ts`` NULL when missing).

    Raises
    ------
    DataError
        Missing columns, no rows (or none with a uid and a start), ids that cannot be kept
        exactly, and dates no rule reads unambiguously; see the module docstring.
    """
    types = register_table(con, source, VISITS_RAW)
    require_named_columns(types, source.flags, "visits table")
    chain = _Chain(
        uid=customer_checks(source.uid_col, types[source.uid_col]),
        start=_dates(con, source, source.start_col, types[source.start_col]),
        end=_dates(con, source, source.end_col, types[source.end_col]),
        source_sql=_source_sql(con, source, types),
        device_sql=quote(source.device_col) if source.device_col in types else "NULL",
    )
    con.execute(chain.stage_sql(VISITS_RAW, ""))
    seen = {
        "last_start_ns": f"max(epoch_ns(clv_ts)) FILTER (WHERE {chain.kept_condition})",
        "sources": "list(DISTINCT clv_source) FILTER (WHERE clv_source IS NOT NULL)",
        "devices": f"list(DISTINCT CAST({chain.device_sql} AS VARCHAR)) "
        f"FILTER (WHERE {chain.device_sql} IS NOT NULL)",
    }
    counts = _count(con, _STAGES[0], chain.start_conditions(), seen)
    if counts["n_rows"] == 0:
        raise RULES["no_rows"].error(None, where=" (visits table)")
    _raise_fatal(con, [chain.uid, chain.start], counts, _STAGES[0])
    chain.uid_type = _uid_type(types[source.uid_col], counts)
    con.execute(chain.kept_sql(""))
    end_counts = _count(con, _STAGES[1], chain.end_conditions())
    _raise_fatal(con, [chain.end], end_counts, _STAGES[1])
    if end_counts["n_rows"] == 0:
        raise DataError(
            "no visit has both a user id and a session start",
            column=source.start_col,
            n_rows=counts["n_rows"],
            hint="Check --visits-uid-col and --visits-start-col",
        )
    con.execute(
        f"""CREATE OR REPLACE TEMP VIEW {quote(name)} AS
        SELECT clv_uid AS uid, clv_device AS device, clv_source AS source_id,
            clv_start AS start_ts, clv_end AS end_ts
        FROM {_STAGES[1]}"""
    )
    problems = {
        "missing_uid": counts["missing_uid"],
        "missing_start": counts["n_rows"] - counts["missing_uid"] - end_counts["n_rows"],
        "missing_end": end_counts["missing_end"],
        "negative_length": end_counts["negative_length"],
        "missing_source": end_counts["missing_source"],
    }
    examples = _examples(con, chain, problems) if any(problems.values()) else {}
    return VisitsInfo(
        n_rows=end_counts["n_rows"],
        uid_type=chain.uid_type,
        problems={**problems, "examples": examples},
        last_start_ns=int(counts["last_start_ns"]),
        values={"device": counts["devices"] or [], "source_id": counts["sources"] or []},
    )


@dataclass
class _Chain:
    """The SQL of the visits views: stage (uid, start, source), kept rows, end."""

    uid: ColumnChecks
    start: ColumnChecks
    end: ColumnChecks
    source_sql: str
    device_sql: str
    uid_type: str = "VARCHAR"

    def stage_sql(self, relation: str, tag: str) -> str:
        prep = [*self.uid.prep, *self.start.prep, ("clv_source", self.source_sql)]
        columns = "".join(f", {expr} AS {alias}" for alias, expr in prep)
        return f"CREATE OR REPLACE TEMP VIEW {_STAGES[0]}{tag} AS SELECT *{columns} FROM {relation}"

    def kept_sql(self, tag: str) -> str:
        """The rows with a uid and a start, then the end's columns (``_STAGES[1]``)."""
        row = "clv_visit_row, " if tag else ""
        prep = "".join(f", {expr} AS {alias}" for alias, expr in self.end.prep)
        return f"""CREATE OR REPLACE TEMP VIEW {_STAGES[1]}{tag} AS
            SELECT *, CAST({self.end.value()} AS TIMESTAMP_NS) AS clv_end FROM (
                SELECT *{prep} FROM (
                    SELECT {row}{self.uid.value(self.uid_type)} AS clv_uid,
                        CAST({self.device_sql} AS VARCHAR) AS clv_device, clv_source,
                        CAST({self.start.value()} AS TIMESTAMP_NS) AS clv_start,
                        {self.end_column}
                    FROM {_STAGES[0]}{tag}
                    WHERE {self.kept_condition}))"""

    @property
    def end_column(self) -> str:
        return quote(self.end.column)

    @property
    def kept_condition(self) -> str:
        return f"NOT ({self.missing_uid}) AND clv_ts IS NOT NULL"

    @property
    def missing_uid(self) -> str:
        return f"coalesce(({self.uid.counts['id_missing']}), false)"

    def start_conditions(self) -> dict[str, str]:
        conditions = {n: c for check in (self.uid, self.start) for n, c in check.counts.items()}
        return {**conditions, "missing_uid": self.missing_uid}

    def end_conditions(self) -> dict[str, str]:
        return {
            **self.end.counts,
            "missing_end": "clv_ts IS NULL",
            "negative_length": "clv_ts IS NOT NULL AND clv_end < clv_start",
            "missing_source": "clv_source IS NULL",
        }

    def problem_conditions(self) -> dict[str, tuple[str, str]]:
        """Each problem: the view (of the examples' chain) and its condition."""
        first, kept = (f"{stage}{_ROWS}" for stage in _STAGES)
        conditions = self.end_conditions()
        return {
            "missing_uid": (first, self.missing_uid),
            "missing_start": (first, f"NOT ({self.missing_uid}) AND clv_ts IS NULL"),
            **{name: (kept, conditions[name]) for name in VISIT_PROBLEMS[2:]},
        }


_ROWS = "_rows"


def _dates(
    con: duckdb.DuckDBPyConnection, source: VisitsSource, column: str, sql_type: str
) -> ColumnChecks:
    """The orders contract's date checks; nanosecond columns keep their nanoseconds."""
    checks = date_checks(con, DateColumn(column, source.date_format), sql_type)
    if sql_type == "TIMESTAMP_NS" and source.date_format is None:
        checks.prep = [(a, quote(column) if a == "clv_ts" else e) for a, e in checks.prep]
    return checks


def _source_sql(con: duckdb.DuckDBPyConnection, source: VisitsSource, types: dict[str, str]) -> str:
    """SQL of the source id as text, NULL when missing (``7.0`` -> ``"7"``)."""
    c = quote(source.source_col)
    sql_type = types[source.source_col]
    if sql_type in _INTEGER_TYPES | _WIDE_INTEGER_TYPES:
        return f"CAST({c} AS VARCHAR)"
    if sql_type in _FLOAT_TYPES or is_decimal(sql_type):
        nan = f"isnan({c})" if sql_type in _FLOAT_TYPES else "false"
        row = con.execute(
            f"SELECT bool_and({c} = floor({c})) FROM {VISITS_RAW} "
            f"WHERE {c} IS NOT NULL AND NOT {nan}"
        ).fetchone()
        whole = row is None or row[0] is None or bool(row[0])
        text = f"CAST(CAST({c} AS HUGEINT) AS VARCHAR)" if whole else f"CAST({c} AS VARCHAR)"
        return f"CASE WHEN {c} IS NULL OR {nan} THEN NULL ELSE {text} END"
    text = _text(c)
    return f"CASE WHEN {text} = '' OR lower({text}) IN {_MISSING_WORDS} THEN NULL ELSE {text} END"


def _count(
    con: duckdb.DuckDBPyConnection,
    stage: str,
    conditions: dict[str, str],
    extras: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The rows of ``stage`` and how many meet each condition, in one pass.

    ``extras`` are further aggregates (name: SQL), returned as they come.
    """
    extras = extras or {}
    select = ", ".join(
        ["count(*)"]
        + [f"count_if(coalesce(({cond}), false))" for cond in conditions.values()]
        + list(extras.values())
    )
    row = con.execute(f"SELECT {select} FROM {stage}").fetchone()
    assert row is not None
    n = 1 + len(conditions)
    counts: dict[str, Any] = dict(
        zip(["n_rows", *conditions], (int(v or 0) for v in row[:n]), strict=True)
    )
    counts.update(zip(extras, row[n:], strict=True))
    return counts


def _raise_fatal(
    con: duckdb.DuckDBPyConnection, checks: list[ColumnChecks], counts: dict[str, Any], stage: str
) -> None:
    """Raise the first broken rule that makes a row unreadable (not one only counted).

    The orders contract's checks show their examples from its stage view: it becomes the
    visits' stage only when a rule is broken (orders read on the same connection keep theirs).
    """
    fatal = {
        check.column: [
            c for c in check.checks if c.count not in ("id_missing", *_LENIENT_DATE_CHECKS)
        ]
        for check in checks
    }
    broken = any(counts.get(c.count, 0) for found in fatal.values() for c in found)
    mixed = counts.get("date_offset", 0) and counts.get("date_naive", 0)
    if not (broken or mixed or counts.get("date_range", 0)):
        return
    con.execute(f"CREATE OR REPLACE TEMP VIEW {STAGE_VIEW} AS SELECT * FROM {stage}")
    for check in checks:
        ColumnChecks(
            check.column,
            check.prep,
            check.counts,
            fatal[check.column],
            check.value_sql,
            extra=check.extra,
        ).raise_first(con, counts)


def _uid_type(sql_type: str, counts: dict[str, Any]) -> str:
    """BIGINT for integer (and whole float) ids; text stays text as written."""
    numeric = sql_type in _INTEGER_TYPES | _WIDE_INTEGER_TYPES | _FLOAT_TYPES
    if (numeric or is_decimal(sql_type)) and not counts.get("id_noncanonical", 0):
        return "BIGINT"
    return "VARCHAR"


def _examples(
    con: duckdb.DuckDBPyConnection, chain: _Chain, problems: dict[str, int]
) -> dict[str, list[str]]:
    """``row N`` (from 1, in the input's order) of the first five rows of each problem.

    The views are built again over the input with its row numbers (only when some problem
    was counted: numbering the rows costs a pass the counts do not need).
    """
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW clv_visits_numbered AS "
        f"SELECT row_number() OVER () AS clv_visit_row, * FROM {VISITS_RAW}"
    )
    con.execute(chain.stage_sql("clv_visits_numbered", _ROWS))
    con.execute(chain.kept_sql(_ROWS))
    examples = {}
    for name, (stage, condition) in chain.problem_conditions().items():
        if problems[name]:
            rows = con.execute(
                f"SELECT clv_visit_row FROM {stage} WHERE coalesce(({condition}), false) "
                "ORDER BY clv_visit_row LIMIT 5"
            ).fetchall()
            examples[name] = [f"row {r[0]}" for r in rows]
    return examples
