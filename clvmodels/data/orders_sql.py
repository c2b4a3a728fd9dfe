"""The SQL of the orders contract, one column at a time (see ``docs/orders.md``).

Each ``*_checks`` function looks at a column's DuckDB type and returns a
:class:`ColumnChecks`: helper columns for the staging view, the conditions that one SQL
aggregate counts, which rule each count breaks, and the SQL of the converted value.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import duckdb

from clvmodels.data.readers import first_line, quote
from clvmodels.data.rules import DAY_MONTH_TIME, RULES, day_month_formats
from clvmodels.errors import Label

STAGE_VIEW = "clv_stage"
_INTEGER_TYPES = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT", "UINTEGER"}
_WIDE_INTEGER_TYPES = {"UBIGINT", "HUGEINT", "UHUGEINT"}
_FLOAT_TYPES = {"FLOAT", "DOUBLE", "REAL"}
_WHITESPACE = "' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13)"
_MIN_DAY, _END_DAY = "1900-01-01", "2201-01-01"  # accepted: [1900-01-01, 2200-12-31]
#: ISO 8601: a date, optionally a time with 'T' or ' ', fractional seconds, 'Z' or ±HH[:MM]
_ISO = r"^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)(Z|[+-]\d{2}(?::?\d{2})?)?)?$"
_DAY_MONTH = r"^(\d{1,2})([./-])(\d{1,2})[./-](\d{4})(?:[ T]\d{1,2}:\d{2}(?::\d{2})?)?$"
_NUMBER = r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?"
#: microseconds per unit, and the unit's zero as microseconds since 1970-01-01
_UNITS = {"s": (1e6, 0.0), "ms": (1e3, 0.0), "us": (1.0, 0.0), "excel": (86400e6, -25569.0)}


def is_decimal(sql_type: str) -> bool:
    """Whether a DuckDB type name is a DECIMAL(p, s)."""
    return sql_type.startswith("DECIMAL")


@dataclass
class Check:
    """A count of rows that break a rule, and how the rule's error shows examples."""

    count: str
    rule: str
    examples: str | None  # a SQL value to show, or None for ``row N`` labels
    fields: Callable[[duckdb.DuckDBPyConnection], dict[str, Any]] | None = None


@dataclass
class ColumnChecks:
    """The contract's SQL for one source column."""

    column: str
    prep: list[tuple[str, str]]
    counts: dict[str, str]
    checks: list[Check]
    value_sql: str
    text_value_sql: str | None = None  # customer ids: the exact text when not all are integers
    extra: list[Callable[[duckdb.DuckDBPyConnection, dict[str, int]], None]] = field(
        default_factory=list
    )

    def value(self, customer_type: str = "BIGINT") -> str:
        """SQL of the converted value (for ids: as BIGINT or as text)."""
        if customer_type == "VARCHAR" and self.text_value_sql is not None:
            return self.text_value_sql
        return self.value_sql

    def raise_first(self, con: duckdb.DuckDBPyConnection, counts: dict[str, int]) -> None:
        """Raise the DataError of the first rule broken (by the counts), with examples."""
        for check in self.checks:
            n = counts.get(check.count, 0)
            if not n:
                continue
            condition = self.counts[check.count]
            examples: list[Any] = (
                row_labels(con, condition)
                if check.examples is None
                else example_values(con, condition, check.examples)
            )
            fields = check.fields(con) if check.fields else {}
            raise RULES[check.rule].error(self.column, n_rows=n, examples=examples, **fields)
        for extra in self.extra:
            extra(con, counts)


def row_labels(con: duckdb.DuckDBPyConnection, condition: str) -> list[Label]:
    """``row N`` (1-based, in the source's order) of the first five rows matching ``condition``."""
    return [Label(f"row {r}") for r in _first(con, condition, "clv_row")]


def example_values(con: duckdb.DuckDBPyConnection, condition: str, column: str) -> list[Any]:
    """The first five values of ``column`` (in the source's order) where ``condition`` holds."""
    return _first(con, condition, column)


def _first(con: duckdb.DuckDBPyConnection, condition: str, column: str) -> list[Any]:
    rows = con.execute(
        f"SELECT {column} FROM (SELECT row_number() OVER () AS clv_row, * FROM {STAGE_VIEW}) "
        f"WHERE coalesce(({condition}), false) ORDER BY clv_row LIMIT 5"
    ).fetchall()
    return [r[0] for r in rows]


def _text(column_sql: str) -> str:
    return f"trim(CAST({column_sql} AS VARCHAR), {_WHITESPACE})"


# ------------------------------------------------------------------------------ ids
def customer_checks(name: str, sql_type: str) -> ColumnChecks:
    """Ids: exact text, or BIGINT when every id is a canonical int64 (never through a float)."""
    c = quote(name)
    missing = Check("id_missing", "missing_id", None)
    if sql_type in _INTEGER_TYPES:
        return ColumnChecks(
            name, [], {"id_missing": f"{c} IS NULL"}, [missing], f"CAST({c} AS BIGINT)"
        )
    if sql_type in _FLOAT_TYPES or is_decimal(sql_type):
        nan = f" OR isnan({c})" if sql_type in _FLOAT_TYPES else ""
        inexact = (
            f"{c} IS NOT NULL AND NOT ({c} = floor({c}) AND abs({c}) <= 9007199254740992)"
            if sql_type in _FLOAT_TYPES
            else f"{c} IS NOT NULL AND {c} <> floor({c})"
        )
        counts = {
            "id_missing": f"{c} IS NULL{nan}",
            "id_inexact": f"NOT ({c} IS NULL{nan}) AND {inexact}",
        }
        if is_decimal(sql_type):
            counts["id_noncanonical"] = f"TRY_CAST({c} AS BIGINT) IS NULL AND {c} IS NOT NULL"
        return ColumnChecks(
            name,
            [],
            counts,
            [missing, Check("id_inexact", "float_id", c)],
            f"CAST({c} AS BIGINT)",
            text_value_sql=f"CAST(CAST({c} AS HUGEINT) AS VARCHAR)",
        )
    if sql_type in _WIDE_INTEGER_TYPES:
        return ColumnChecks(
            name,
            [],
            {
                "id_missing": f"{c} IS NULL",
                "id_noncanonical": f"{c} IS NOT NULL AND TRY_CAST({c} AS BIGINT) IS NULL",
            },
            [missing],
            f"CAST({c} AS BIGINT)",
            text_value_sql=f"CAST({c} AS VARCHAR)",
        )
    # text (and anything else, as its text): kept exactly, stripped of surrounding white space
    bad = "clv_id IS NULL OR clv_id = '' OR lower(clv_id) IN ('nan', 'none', 'null')"
    canonical = (
        r"regexp_full_match(clv_id, '-?(0|[1-9][0-9]{0,18})') "
        "AND TRY_CAST(clv_id AS BIGINT) IS NOT NULL"
    )
    # Excel writes long numbers as 1.23E+20: the digits it dropped cannot be restored
    scientific = r"regexp_full_match(clv_id, '[+-]?\d+(\.\d+)?[eE][+-]\d+')"
    return ColumnChecks(
        name,
        [("clv_id", _text(c))],
        {
            "id_missing": bad,
            "id_scientific": f"NOT ({bad}) AND {scientific}",
            "id_noncanonical": f"NOT ({bad}) AND NOT ({canonical})",
        },
        [missing, Check("id_scientific", "scientific_id", "clv_id")],
        "CAST(clv_id AS BIGINT)",
        text_value_sql="clv_id",
    )


# ------------------------------------------------------------------------------ revenue
def revenue_checks(name: str, sql_type: str) -> ColumnChecks:
    """Revenue: a number, or text that is a plain number; finite; negative only when netted."""
    c = quote(name)
    if sql_type in _INTEGER_TYPES | _WIDE_INTEGER_TYPES | _FLOAT_TYPES or is_decimal(sql_type):
        value = f"CAST({c} AS DOUBLE)"
        prep = [("clv_rev", value)]
        counts = {
            "revenue_missing": "clv_rev IS NULL OR isnan(clv_rev) OR isinf(clv_rev)",
        }
        checks = [Check("revenue_missing", "missing_revenue", None)]
    else:
        plain = f"regexp_full_match(clv_rev_text, '{_NUMBER}')"
        prep = [
            ("clv_rev_text", _text(c)),
            ("clv_rev", f"CASE WHEN {plain} THEN TRY_CAST(clv_rev_text AS DOUBLE) END"),
        ]
        nonfinite = (
            "lower(clv_rev_text) IN ('nan', '+nan', '-nan', 'inf', '+inf', '-inf', "
            "'infinity', '+infinity', '-infinity')"
        )
        missing = (
            f"clv_rev_text IS NULL OR clv_rev_text = '' OR {nonfinite} "
            "OR coalesce(isinf(clv_rev), false)"
        )
        comma = r"regexp_full_match(clv_rev_text, '[+-]?\d[\d.]*,\d+')"
        counts = {
            "revenue_comma": f"NOT ({missing}) AND clv_rev IS NULL AND {comma}",
            "revenue_not_number": f"NOT ({missing}) AND clv_rev IS NULL",
            "revenue_missing": missing,
        }
        checks = [
            Check("revenue_comma", "decimal_comma", c),
            Check("revenue_not_number", "not_number", c),
            Check("revenue_missing", "missing_revenue", None),
        ]
    counts["revenue_negative"] = "clv_rev < 0"
    return ColumnChecks(name, prep, counts, checks, "clv_rev")


# ------------------------------------------------------------------------------ dates
@dataclass(frozen=True)
class DateColumn:
    """The order-time column and how to read it (the date options of an orders source)."""

    date_col: str
    date_format: str | None = None
    date_unit: str | None = None
    time_zone: str = "UTC"


def date_checks(con: duckdb.DuckDBPyConnection, source: DateColumn, sql_type: str) -> ColumnChecks:
    """Order times by explicit rules: a format, native types, ISO 8601, YYYYMMDD, units."""
    c = quote(source.date_col)
    tz = source.time_zone.replace("'", "''")
    if source.date_format is not None:
        return _formatted_dates(con, source, sql_type, c, tz)
    numeric = sql_type in _INTEGER_TYPES | _WIDE_INTEGER_TYPES | _FLOAT_TYPES or is_decimal(
        sql_type
    )
    if sql_type == "DATE" or sql_type.startswith("TIMESTAMP"):
        if sql_type == "TIMESTAMP WITH TIME ZONE":
            value = f"timezone('{tz}', {c})"
        elif sql_type == "TIMESTAMP_NS":
            value = _floor_to_microseconds(c)
        else:
            value = f"CAST({c} AS TIMESTAMP)"
        return _finish(source.date_col, [("clv_ts", value)], {"date_missing": f"{c} IS NULL"}, [])
    if numeric:
        return _numeric_dates(source, sql_type, c)
    return _text_dates(source, c, tz)


def _finish(
    name: str,
    prep: list[tuple[str, str]],
    counts: dict[str, str],
    checks: list[Check],
    extra: list[Callable[[duckdb.DuckDBPyConnection, dict[str, int]], None]] | None = None,
) -> ColumnChecks:
    """Add the missing-date and date-range rules around a date column's own checks."""
    counts["date_range"] = f"clv_ts < TIMESTAMP '{_MIN_DAY}' OR clv_ts >= TIMESTAMP '{_END_DAY}'"
    all_checks = [Check("date_missing", "missing_date", None), *checks]
    result = ColumnChecks(name, prep, counts, all_checks, "clv_ts", extra=list(extra or []))
    result.extra.append(_range_check(quote(name)))
    return result


def _range_check(c: str) -> Callable[[duckdb.DuckDBPyConnection, dict[str, int]], None]:
    def check(con: duckdb.DuckDBPyConnection, counts: dict[str, int]) -> None:
        n = counts.get("date_range", 0)
        if n:
            condition = f"clv_ts < TIMESTAMP '{_MIN_DAY}' OR clv_ts >= TIMESTAMP '{_END_DAY}'"
            raise RULES["date_range"].error(
                c.strip('"').replace('""', '"'),
                n_rows=n,
                examples=example_values(con, condition, c),
            )

    return check


def _floor_to_microseconds(c: str) -> str:
    """A TIMESTAMP_NS column floored to the microsecond, in integer arithmetic."""
    return f"make_timestamp((epoch_ns({c}) - ((epoch_ns({c}) % 1000) + 1000) % 1000) // 1000)"


def _unit_value(number_sql: str, unit: str) -> str:
    """Numbers in ``unit`` as TIMESTAMP; out of range -> year 1 (caught by the range rule)."""
    per, zero = _UNITS[unit]
    micros = f"(({number_sql}) + ({zero})) * {per}"
    low, high = -2208988800e6, 7289654400e6  # 1900-01-01, 2201-01-01 in microseconds
    return (
        f"CASE WHEN {micros} >= {low} AND {micros} < {high} "
        f"THEN make_timestamp(CAST(round({micros}) AS BIGINT)) "
        f"WHEN {number_sql} IS NOT NULL THEN TIMESTAMP '0001-01-01' END"
    )


def _numeric_dates(source: DateColumn, sql_type: str, c: str) -> ColumnChecks:
    is_float = sql_type in _FLOAT_TYPES
    missing = f"{c} IS NULL" + (f" OR isnan({c})" if is_float else "")
    if source.date_unit is not None:
        value = _unit_value(f"CAST({c} AS DOUBLE)", source.date_unit)
        return _finish(
            source.date_col,
            [("clv_ts", f"CASE WHEN NOT ({missing}) THEN {value} END")],
            {"date_missing": missing},
            [],
        )
    whole = f"{c} = floor({c})" if is_float or is_decimal(sql_type) else "true"
    eight = f"{whole} AND {c} BETWEEN 10000101 AND 99991231"
    value = (
        f"CASE WHEN {eight} THEN try_strptime(CAST(CAST({c} AS BIGINT) AS VARCHAR), '%Y%m%d') END"
    )
    counts = {
        "date_missing": missing,
        "date_bad": f"NOT ({missing}) AND ({eight}) AND clv_ts IS NULL",
        "date_number": f"NOT ({missing}) AND NOT ({eight})",
    }
    checks = [Check("date_bad", "bad_date", c), Check("date_number", "number_date", c)]
    return _finish(source.date_col, [("clv_ts", value)], counts, checks)


def check_date_format(con: duckdb.DuckDBPyConnection, date_format: str, column: str) -> None:
    """Raise the ``bad_format`` rule's error unless ``date_format`` is a valid strftime format."""
    literal = date_format.replace("'", "''")
    try:
        con.execute(f"SELECT try_strptime('', '{literal}')").fetchall()
    except duckdb.Error as exc:
        reason = first_line(exc).split(f"{date_format}: ", 1)[-1].split("Error: ", 1)[-1]
        raise RULES["bad_format"].error(column, date_format=date_format, reason=reason) from None


def check_date_format_alone(date_format: str, column: str) -> None:
    """:func:`check_date_format` on a DuckDB connection of its own (for the Spark reader)."""
    with duckdb.connect() as con:
        check_date_format(con, date_format, column)


def _formatted_dates(
    con: duckdb.DuckDBPyConnection, source: DateColumn, sql_type: str, c: str, tz: str
) -> ColumnChecks:
    fmt = source.date_format or ""
    literal = fmt.replace("'", "''")
    check_date_format(con, fmt, source.date_col)
    as_text = f"CAST({c} AS BIGINT)" if sql_type in _FLOAT_TYPES else c
    parsed = f"try_strptime(clv_dt, '{literal}')"
    if re.search(r"%[zZ]", fmt):
        parsed = f"timezone('{tz}', {parsed})"
    missing = "clv_dt IS NULL OR clv_dt = ''"
    counts = {"date_missing": missing, "date_mismatch": f"NOT ({missing}) AND clv_ts IS NULL"}
    checks = [
        Check(
            "date_mismatch",
            "format_mismatch",
            c,
            lambda _con: {"date_format": fmt},
        )
    ]
    prep = [("clv_dt", _text(as_text)), ("clv_ts", f"CASE WHEN NOT ({missing}) THEN {parsed} END")]
    return _finish(source.date_col, prep, counts, checks)


def _text_dates(source: DateColumn, c: str, tz: str) -> ColumnChecks:
    unit = source.date_unit
    offset_minutes = (
        "CASE WHEN clv_iso['o'] = 'Z' THEN 0 ELSE "
        "(CASE WHEN substr(clv_iso['o'], 1, 1) = '-' THEN -1 ELSE 1 END) * "
        "(CAST(substr(clv_iso['o'], 2, 2) AS INTEGER) * 60 + "
        "CASE WHEN length(replace(clv_iso['o'], ':', '')) = 5 "
        "THEN CAST(right(replace(clv_iso['o'], ':', ''), 2) AS INTEGER) ELSE 0 END) END"
    )
    naive = (
        "TRY_CAST(clv_iso['d'] || ' ' || CASE WHEN clv_iso['t'] = '' THEN '00:00:00' "
        "ELSE clv_iso['t'] END AS TIMESTAMP)"
    )
    iso_value = (
        f"CASE WHEN clv_iso['o'] = '' THEN {naive} ELSE timezone('{tz}', "
        f"timezone('UTC', {naive} - to_minutes({offset_minutes}))) END"
    )
    is_number = f"regexp_full_match(clv_dt, '{_NUMBER}')"
    eight = r"regexp_full_match(clv_dt, '\d{8}')"
    number_value = (
        _unit_value("TRY_CAST(clv_dt AS DOUBLE)", unit) if unit is not None else "NULL::TIMESTAMP"
    )
    yyyymmdd = "try_strptime(clv_dt, '%Y%m%d')"
    value = (
        f"CASE WHEN clv_iso['d'] <> '' THEN {iso_value} "
        + (f"WHEN {is_number} THEN {number_value} " if unit else f"WHEN {eight} THEN {yyyymmdd} ")
        + "END"
    )
    day_first = "clv_dm['y'] || '-' || clv_dm['b'] || '-' || clv_dm['a']"
    month_first = "clv_dm['y'] || '-' || clv_dm['a'] || '-' || clv_dm['b']"
    dm_valid = (
        f"clv_dm['a'] <> '' AND (TRY_CAST({day_first} AS DATE) IS NOT NULL "
        f"OR TRY_CAST({month_first} AS DATE) IS NOT NULL)"
    )
    missing = "clv_dt IS NULL OR clv_dt = ''"
    number_no_unit = f"NOT ({eight}) AND {is_number}" if unit is None else "false"
    prep = [
        ("clv_dt", _text(c)),
        ("clv_iso", f"regexp_extract(clv_dt, '{_ISO}', ['d', 't', 'o'])"),
        ("clv_dm", f"regexp_extract(clv_dt, '{_DAY_MONTH}', ['a', 's', 'b', 'y'])"),
        ("clv_ts", f"CASE WHEN NOT ({missing}) THEN {value} END"),
    ]
    unparsed = f"NOT ({missing}) AND clv_ts IS NULL"
    counts = {
        "date_missing": missing,
        "date_bad": f"{unparsed} AND NOT ({dm_valid}) AND NOT ({number_no_unit})",
        "date_day_month": f"{unparsed} AND {dm_valid}",
        "date_number": f"{unparsed} AND {number_no_unit}",
        "date_offset": "clv_ts IS NOT NULL AND clv_iso['o'] <> ''",
        "date_naive": "clv_ts IS NOT NULL AND clv_iso['o'] = ''",
    }
    checks = [
        Check("date_bad", "bad_date", c),
        Check("date_day_month", "day_month", c, _day_month_fields(counts["date_day_month"])),
        Check("date_number", "number_date", c),
    ]

    def mixed(con: duckdb.DuckDBPyConnection, n: dict[str, int]) -> None:
        if n.get("date_offset") and n.get("date_naive"):
            raise RULES["mixed_offsets"].error(
                source.date_col,
                n_rows=n["date_offset"],
                examples=example_values(con, counts["date_offset"], c),
                n_naive=n["date_naive"],
            )

    return _finish(source.date_col, prep, counts, checks, extra=[mixed])


def _day_month_fields(
    condition: str,
) -> Callable[[duckdb.DuckDBPyConnection], dict[str, Any]]:
    """The hint of the day/month rule: the format that values above 12 prove, if any."""

    def fields(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
        row = con.execute(
            "SELECT max(CAST(clv_dm['a'] AS INTEGER)), max(CAST(clv_dm['b'] AS INTEGER)), "
            f"any_value(clv_dm['s']), max(regexp_extract(clv_dt, '{DAY_MONTH_TIME}', 0)) "
            f"FROM {STAGE_VIEW} WHERE {condition}"
        ).fetchone()
        assert row is not None
        return {"formats": day_month_formats(int(row[0]), int(row[1]), str(row[2]), str(row[3]))}

    return fields
