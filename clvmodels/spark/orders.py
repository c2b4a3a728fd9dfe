"""The orders contract in Spark: the rules and messages of :data:`clvmodels.data.rules.RULES`.

The same id, date and revenue rules as the DuckDB reader (``docs/orders.md``), written as Spark
SQL expressions; what Spark cannot do the same way is refused with a message instead. A
``strftime`` date format becomes Spark's pattern (:func:`strftime_to_spark`). The checks are
counted and raised by :mod:`clvmodels.spark.validate`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from clvmodels.data.rules import DAY_MONTH_TIME
from clvmodels.errors import DataError

_ISO = (
    r"^([0-9]{4}-[0-9]{2}-[0-9]{2})"
    r"(?:[T ]([0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:[.][0-9]+)?)?)(Z|[+-][0-9]{2}(?::?[0-9]{2})?)?)?$"
)
_DAY_MONTH = (
    r"^([0-9]{1,2})([./-])([0-9]{1,2})[./-]([0-9]{4})(?:[ T][0-9]{1,2}:[0-9]{2}(?::[0-9]{2})?)?$"
)
_NUMBER = r"^[+-]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][+-]?[0-9]+)?$"
_UNITS = {"s": (1e6, 0.0), "ms": (1e3, 0.0), "us": (1.0, 0.0), "excel": (86400e6, -25569.0)}
_LOW_US, _HIGH_US = -2208988800e6, 7289654400e6  # 1900-01-01 and 2201-01-01 (exclusive)


def quote(name: str) -> str:
    """A column name quoted for Spark SQL (backticks)."""
    return "`" + name.replace("`", "``") + "`"


def _lit(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _text(column: str) -> str:
    return f"regexp_replace(CAST({column} AS STRING), '^\\\\s+|\\\\s+$', '')"


@dataclass
class SparkChecks:
    """One column's conditions (Spark SQL), the rules they break, and its value."""

    column: str
    counts: dict[str, str]
    checks: list[tuple[str, str, str | None]]  # (count, rule, example SQL or None: rows)
    value: str
    text_value: str | None = None
    fields: dict[str, Any] = field(default_factory=dict)


def customer_checks(name: str, type_name: str) -> SparkChecks:
    """Ids exactly as written: text, or long when every id is a canonical 64-bit integer."""
    c = quote(name)
    if type_name in {"byte", "short", "int", "integer", "long", "bigint"}:
        return SparkChecks(
            name,
            {"id_missing": f"{c} IS NULL"},
            [("id_missing", "missing_id", None)],
            f"CAST({c} AS BIGINT)",
        )
    if type_name in {"float", "double"} or type_name.startswith("decimal"):
        nan = f" OR isnan({c})" if type_name in {"float", "double"} else ""
        return SparkChecks(
            name,
            {
                "id_missing": f"{c} IS NULL{nan}",
                "id_inexact": f"NOT ({c} IS NULL{nan}) AND NOT ({c} = floor({c}) "
                f"AND abs({c}) <= 9007199254740992)",
            },
            [("id_missing", "missing_id", None), ("id_inexact", "float_id", c)],
            f"CAST({c} AS BIGINT)",
        )
    t = _text(c)
    bad = f"{t} IS NULL OR {t} = '' OR lower({t}) IN ('nan', 'none', 'null')"
    canonical = f"{t} RLIKE '^-?(0|[1-9][0-9]{{0,18}})$' AND try_cast({t} AS BIGINT) IS NOT NULL"
    scientific = f"{t} RLIKE '^[+-]?[0-9]+([.][0-9]+)?[eE][+-][0-9]+$'"
    return SparkChecks(
        name,
        {
            "id_missing": bad,
            "id_scientific": f"NOT ({bad}) AND {scientific}",
            "id_noncanonical": f"NOT ({bad}) AND NOT ({canonical})",
        },
        [("id_missing", "missing_id", None), ("id_scientific", "scientific_id", t)],
        f"CAST({t} AS BIGINT)",
        text_value=t,
    )


def revenue_checks(name: str, type_name: str) -> SparkChecks:
    """Revenue: numbers or plain-number text; finite; negative only when netted."""
    c = quote(name)
    if type_name in {"byte", "short", "int", "integer", "long", "bigint", "float", "double"} or (
        type_name.startswith("decimal")
    ):
        v = f"CAST({c} AS DOUBLE)"
        counts = {"revenue_missing": f"{v} IS NULL OR isnan({v}) OR abs({v}) = double('inf')"}
        checks: list[tuple[str, str, str | None]] = [("revenue_missing", "missing_revenue", None)]
    else:
        t = _text(c)
        v = f"CASE WHEN {t} RLIKE '{_NUMBER}' THEN try_cast({t} AS DOUBLE) END"
        nonfinite = (
            f"lower({t}) IN ('nan', '+nan', '-nan', 'inf', '+inf', '-inf', 'infinity', "
            "'+infinity', '-infinity')"
        )
        missing = (
            f"{t} IS NULL OR {t} = '' OR {nonfinite} OR coalesce(abs({v}) = double('inf'), false)"
        )
        comma = f"{t} RLIKE '^[+-]?[0-9][0-9.]*,[0-9]+$'"
        counts = {
            "revenue_comma": f"NOT ({missing}) AND ({v}) IS NULL AND {comma}",
            "revenue_not_number": f"NOT ({missing}) AND ({v}) IS NULL",
            "revenue_missing": missing,
        }
        checks = [
            ("revenue_comma", "decimal_comma", c),
            ("revenue_not_number", "not_number", c),
            ("revenue_missing", "missing_revenue", None),
        ]
    counts["revenue_negative"] = f"({v}) < 0"
    return SparkChecks(name, counts, checks, v)


def _unit(number: str, unit: str) -> str:
    per, zero = _UNITS[unit]
    micros = f"((({number}) + ({zero})) * {per})"
    return (
        f"CASE WHEN {micros} >= {_LOW_US} AND {micros} < {_HIGH_US} THEN timestampadd(MICROSECOND, "
        f"CAST(round({micros}) AS BIGINT), TIMESTAMP_NTZ'1970-01-01 00:00:00') "
        f"WHEN ({number}) IS NOT NULL THEN TIMESTAMP_NTZ'0001-01-01 00:00:00' END"
    )


def _in_zone(instant_utc_wall: str, tz: str) -> str:
    """A UTC wall-clock TIMESTAMP_NTZ as wall-clock time in ``tz`` (session zone UTC)."""
    instant = f"CAST({instant_utc_wall} AS TIMESTAMP)"
    return f"CAST(from_utc_timestamp({instant}, {_lit(tz)}) AS TIMESTAMP_NTZ)"


def date_checks(
    name: str,
    type_name: str,
    *,
    date_format: str | None,
    date_unit: str | None,
    time_zone: str,
    nanoseconds: bool,
) -> SparkChecks:
    """Order times as TIMESTAMP_NTZ by the rules of ``docs/orders.md``."""
    c = quote(name)
    numeric = type_name in {
        "byte",
        "short",
        "int",
        "integer",
        "long",
        "bigint",
        "float",
        "double",
    } or (type_name.startswith("decimal"))
    missing = f"{c} IS NULL" + (f" OR isnan({c})" if type_name in {"float", "double"} else "")
    counts: dict[str, str] = {}
    checks: list[tuple[str, str, str | None]] = []
    fields: dict[str, Any] = {}
    if date_format is not None:
        from clvmodels.data.orders_sql import check_date_format_alone

        check_date_format_alone(date_format, name)  # the DuckDB reader's check and message
        pattern = strftime_to_spark(date_format)
        t = _text(f"CAST({c} AS BIGINT)" if type_name in {"float", "double"} else c)
        value = f"CAST(try_to_timestamp({t}, {_lit(pattern)}) AS TIMESTAMP_NTZ)"
        if re.search(r"%[zZ]", date_format):
            value = _in_zone(
                f"CAST(try_to_timestamp({t}, {_lit(pattern)}) AS TIMESTAMP_NTZ)", time_zone
            )
        missing = f"{t} IS NULL OR {t} = ''"
        counts["date_mismatch"] = f"NOT ({missing}) AND ({value}) IS NULL"
        checks.append(("date_mismatch", "format_mismatch", c))
        fields["date_format"] = date_format
    elif type_name == "timestamp_ntz":
        value = c
    elif type_name == "date":
        value = f"CAST({c} AS TIMESTAMP_NTZ)"
    elif type_name == "timestamp":
        value = _in_zone(f"CAST({c} AS TIMESTAMP_NTZ)", time_zone)
    elif numeric and nanoseconds:
        whole = f"CAST({c} AS BIGINT)"
        value = (
            f"timestampadd(MICROSECOND, ({whole} - pmod({whole}, 1000)) div 1000, "
            "TIMESTAMP_NTZ'1970-01-01 00:00:00')"
        )
    elif numeric and date_unit is not None:
        value = _unit(f"CAST({c} AS DOUBLE)", date_unit)
    elif numeric:
        whole = (
            f"{c} = floor({c})"
            if type_name in {"float", "double"} or type_name.startswith("decimal")
            else "true"
        )
        eight = f"{whole} AND {c} BETWEEN 10000101 AND 99991231"
        value = (
            f"CASE WHEN {eight} THEN CAST(try_to_timestamp(CAST(CAST({c} AS BIGINT) AS STRING), "
            "'yyyyMMdd') AS TIMESTAMP_NTZ) END"
        )
        counts["date_bad"] = f"NOT ({missing}) AND ({eight}) AND ({value}) IS NULL"
        counts["date_number"] = f"NOT ({missing}) AND NOT ({eight})"
        checks += [("date_bad", "bad_date", c), ("date_number", "number_date", c)]
    else:
        return _text_dates(name, date_unit, time_zone)
    counts = {"date_missing": missing, **counts}
    checks = [("date_missing", "missing_date", None), *checks]
    return _with_range(SparkChecks(name, counts, checks, value, fields=fields))


def _text_dates(name: str, date_unit: str | None, time_zone: str) -> SparkChecks:
    c = quote(name)
    t = _text(c)
    d, tm, o = (f"regexp_extract({t}, '{_ISO}', {i})" for i in (1, 2, 3))
    iso = f"{t} RLIKE '{_ISO}'"
    clock = f"CASE WHEN {tm} = '' THEN '00:00:00' ELSE {tm} END"
    naive = f"try_cast(concat({d}, ' ', {clock}) AS TIMESTAMP_NTZ)"
    bare = f"replace({o}, ':', '')"
    minutes = (
        f"CASE WHEN {o} = 'Z' THEN 0 ELSE (CASE WHEN substr({o}, 1, 1) = '-' THEN -1 ELSE 1 END) * "
        f"(CAST(substr({bare}, 2, 2) AS INT) * 60 + CASE WHEN length({bare}) = 5 "
        f"THEN CAST(substr({bare}, 4, 2) AS INT) ELSE 0 END) END"
    )
    iso_value = (
        f"CASE WHEN {o} = '' THEN {naive} ELSE "
        + _in_zone(f"timestampadd(MINUTE, -({minutes}), {naive})", time_zone)
        + " END"
    )
    eight = f"{t} RLIKE '^[0-9]{{8}}$'"
    number = f"{t} RLIKE '{_NUMBER}'"
    if date_unit is not None:
        other = f"WHEN {number} THEN {_unit(f'try_cast({t} AS DOUBLE)', date_unit)} "
        number_no_unit = "false"
    else:
        other = f"WHEN {eight} THEN CAST(try_to_timestamp({t}, 'yyyyMMdd') AS TIMESTAMP_NTZ) "
        number_no_unit = f"NOT ({eight}) AND {number}"
    value = f"CASE WHEN {iso} THEN {iso_value} {other}END"
    a, b, y = (f"regexp_extract({t}, '{_DAY_MONTH}', {i})" for i in (1, 3, 4))
    day_first = f"try_to_timestamp(concat({y}, '-', {b}, '-', {a}), 'yyyy-M-d')"
    month_first = f"try_to_timestamp(concat({y}, '-', {a}, '-', {b}), 'yyyy-M-d')"
    dm_valid = (
        f"{t} RLIKE '{_DAY_MONTH}' AND ({day_first} IS NOT NULL OR {month_first} IS NOT NULL)"
    )
    missing = f"{t} IS NULL OR {t} = ''"
    unparsed = f"NOT ({missing}) AND ({value}) IS NULL"
    counts = {
        "date_missing": missing,
        "date_bad": f"{unparsed} AND NOT ({dm_valid}) AND NOT ({number_no_unit})",
        "date_day_month": f"{unparsed} AND {dm_valid}",
        "date_number": f"{unparsed} AND {number_no_unit}",
        "date_offset": f"({value}) IS NOT NULL AND {iso} AND {o} <> ''",
        "date_naive": f"({value}) IS NOT NULL AND NOT ({iso} AND {o} <> '')",
    }
    checks = [
        ("date_missing", "missing_date", None),
        ("date_bad", "bad_date", c),
        ("date_day_month", "day_month", c),
        ("date_number", "number_date", c),
    ]
    result = SparkChecks(name, counts, checks, value)
    result.fields["day_month"] = (
        a,
        b,
        f"regexp_extract({t}, '{_DAY_MONTH}', 2)",
        f"regexp_extract({t}, '{DAY_MONTH_TIME}', 0)",
    )
    return _with_range(result)


def _with_range(checks: SparkChecks) -> SparkChecks:
    v = checks.value
    checks.counts["date_range"] = (
        f"({v}) < TIMESTAMP_NTZ'1900-01-01 00:00:00' OR ({v}) >= TIMESTAMP_NTZ'2201-01-01 00:00:00'"
    )
    return checks


_STRFTIME = {
    "Y": "yyyy",
    "y": "yy",
    "m": "MM",
    "d": "dd",
    "H": "HH",
    "I": "hh",
    "M": "mm",
    "S": "ss",
    "f": "SSSSSS",
    "p": "a",
    "b": "MMM",
    "B": "MMMM",
    "a": "EEE",
    "A": "EEEE",
    "j": "DDD",
    "z": "Z",
    "Z": "z",
}


def strftime_to_spark(date_format: str) -> str:
    """Translate a ``strftime`` format (``%d.%m.%Y``) into Spark's pattern (``dd'.'MM'.'yyyy``).

    Raises
    ------
    DataError
        For a directive Spark has no equivalent of.
    """
    out: list[str] = []
    literal: list[str] = []

    def flush() -> None:
        if literal:
            out.append("'" + "".join(literal).replace("'", "''") + "'")
            literal.clear()

    i = 0
    while i < len(date_format):
        char = date_format[i]
        if char == "%" and i + 1 < len(date_format):
            code = date_format[i + 1]
            if code == "%":
                literal.append("%")
            elif code in _STRFTIME:
                flush()
                out.append(_STRFTIME[code])
            else:
                raise DataError(
                    f"Spark cannot read %{code} of the date format {date_format!r}: the Spark "
                    f"engine translates {', '.join('%' + k for k in _STRFTIME)}"
                )
            i += 2
            continue
        literal.append(char)
        i += 1
    flush()
    return "".join(out)
