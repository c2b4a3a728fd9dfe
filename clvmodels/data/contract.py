"""The orders contract, checked once in DuckDB SQL for every input kind.

Every source (CSV, Parquet, DuckDB or SQLite file, or a DataFrame) is first a DuckDB
relation (:mod:`clvmodels.data.readers`); one SQL pass then checks it against the rules of
:data:`RULES` and the view ``orders(customer_id, timestamp, revenue)`` converts it. The rules
are written out in ``docs/orders.md``; the Spark reader reuses the same messages.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

import duckdb
import pandas as pd

from clvmodels.data.database_url import shown_source
from clvmodels.data.orders_sql import (
    STAGE_VIEW,
    ColumnChecks,
    DateColumn,
    customer_checks,
    date_checks,
    example_values,
    revenue_checks,
)
from clvmodels.data.readers import RAW_VIEW, quote
from clvmodels.data.rules import RULES, Rule
from clvmodels.data.table_source import register_table
from clvmodels.errors import DataError, DataQualityWarning

Refunds = Literal["error", "net"]
DATE_UNITS = ("s", "ms", "us", "excel")
#: The validated view: ``clv_orders`` so that it never shadows a table named ``orders``.
ORDERS_VIEW = "clv_orders"
#: The columns of the validated view, before any kept column.
ORDER_NAMES = ("customer_id", "timestamp", "revenue")


@dataclass(frozen=True)
class OrdersSource:
    """Where the orders are and how to read them: the whole input of the orders contract.

    Parameters
    ----------
    path : path, str or pandas.DataFrame
        A table file (CSV, Parquet, DuckDB, SQLite), a database URL
        (``postgresql://host/db#sales.orders``; :mod:`clvmodels.data.database_url`) or a
        DataFrame already in memory.
    table, query : str, optional
        For databases: the table to read, or a single read-only SELECT to run.
    customer_col, date_col : str
        The names of the customer and order-time columns in the source.
    revenue_col : str or None
        The revenue column; ``None`` reads none (transaction-only logs).
    date_format : str, optional
        A ``strftime`` format that every date must match (always applied, even to typed
        columns).
    date_unit : {"s", "ms", "us", "excel"}, optional
        The unit of numeric dates: seconds, milliseconds or microseconds since
        1970-01-01 UTC, or days since 1899-12-30 (spreadsheet serials, fractions allowed).
    time_zone : str
        IANA time zone that values with a UTC offset are converted to (then made naive).
    encoding : str
        Text encoding of a CSV file.
    refunds : {"error", "net"}
        Negative revenue is an error, or netted within the customer's purchase day.
    dedupe : bool
        Drop exact duplicate rows (otherwise only warned about).
    warn_duplicates : bool
        Count duplicate rows and warn about them (off for orders already validated).
    value_per_order : float, optional
        With ``revenue_col=None``: the revenue every order gets.
    keep_columns : tuple of str
        Further source columns carried through to the validated view under their own
        names, as text exactly as written (``clv publish --dimension-col``); a missing one
        is a DataError naming it. They cannot be combined with ``refunds="net"``, which
        merges a day's orders.
    allow_file_access : bool
        Let a DuckDB file's query read or write other files (off: ``read_csv``, ``COPY``,
        ``ATTACH`` fail).
    """

    path: str | os.PathLike[str] | pd.DataFrame = field(compare=False)
    table: str | None = None
    query: str | None = None
    customer_col: str = "customer_id"
    date_col: str = "timestamp"
    revenue_col: str | None = "revenue"
    date_format: str | None = None
    date_unit: str | None = None
    time_zone: str = "UTC"
    encoding: str = "utf-8"
    refunds: Refunds = "error"
    dedupe: bool = False
    value_per_order: float | None = None
    warn_duplicates: bool = True
    keep_columns: tuple[str, ...] = ()
    allow_file_access: bool = False

    def __post_init__(self) -> None:
        check_distinct_columns(
            {
                "--customer-col (customer_col)": self.customer_col,
                "--date-col (date_col)": self.date_col,
                "--revenue-col (revenue_col)": self.revenue_col,
            }
        )
        if self.date_format is not None and self.date_unit is not None:
            raise DataError(
                "--date-format (date_format) and --date-unit (date_unit) cannot both be given: "
                "a format reads dates written as text, a unit reads numbers",
                hint="Pass one of them",
            )
        _check_keep_columns(self)
        if self.refunds not in ("error", "net"):
            raise ValueError(f"refunds must be 'error' or 'net', not {self.refunds!r}")
        if self.date_unit is not None and self.date_unit not in DATE_UNITS:
            raise DataError(
                f"--date-unit (date_unit) must be one of {', '.join(DATE_UNITS)}, "
                f"not {self.date_unit!r}"
            )
        if self.value_per_order is not None:
            if self.revenue_col is not None:
                raise DataError(
                    "--value-per-order (value_per_order) goes with --no-revenue "
                    "(revenue_col=None): a revenue column is read otherwise"
                )
            value = float(self.value_per_order)
            if not (math.isfinite(value) and value > 0):
                raise DataError(
                    f"--value-per-order (value_per_order) must be a finite number > 0, "
                    f"not {self.value_per_order!r}"
                )

    @property
    def date_column(self) -> DateColumn:
        """The order-time column and its reading options."""
        return DateColumn(self.date_col, self.date_format, self.date_unit, self.time_zone)

    @property
    def revenue_mode(self) -> str:
        """``"column"``, ``"none"`` or ``"value_per_order"``: where revenue comes from."""
        if self.revenue_col is not None:
            return "column"
        return "none" if self.value_per_order is None else "value_per_order"


def _check_keep_columns(source: OrdersSource) -> None:
    """Refuse kept columns that clash with the order columns or with netted refunds."""
    taken = {source.customer_col, source.date_col, source.revenue_col, *ORDER_NAMES}
    for name in source.keep_columns:
        if name in taken or source.keep_columns.count(name) > 1:
            raise DataError(
                f"the extra column {name!r} is an order column or given twice",
                hint="Name a column other than the customer, date and revenue columns",
            )
    if source.keep_columns and source.refunds == "net":
        raise DataError(
            f"the extra column {source.keep_columns[0]!r} cannot be kept with --refunds net: "
            "netting merges a customer's orders of a day, whose values may differ",
            hint="Net the refunds before, or drop --refunds net",
        )


def _check_kept_present(keep_columns: Iterable[str], present: Iterable[str]) -> None:
    """Raise a DataError naming the first kept column the source does not have."""
    names = [str(name) for name in present]
    missing = [name for name in keep_columns if name not in names]
    if missing:
        raise DataError(
            f"the orders table has no column {missing[0]!r}",
            column=missing[0],
            hint=f"its columns are: {', '.join(names)}",
        )


def check_distinct_columns(flags: dict[str, str | None]) -> None:
    """Raise a DataError when two of the order columns are the same source column."""
    seen: dict[str, str] = {}
    for flag, column in flags.items():
        if column is None:
            continue
        if column in seen:
            raise DataError(
                f"{seen[column]} and {flag} both name the column {column!r}",
                hint="The customer, date and revenue must be three different columns",
            )
        seen[column] = flag


@dataclass(frozen=True)
class OrdersInfo:
    """What :func:`register_orders_source` found: rows, id type, where revenue comes from.

    ``span`` is the first and last order time of the view (``None`` when refunds were
    netted, which can drop days). ``duplicates_deferred`` says that exact duplicate rows
    are still to be counted by the caller (:func:`exact_duplicates`, then
    :func:`warn_duplicates`), which asked for it with ``defer_duplicates=True``.
    """

    n_rows: int
    customer_type: str
    revenue: str
    revenue_col: str | None
    value_per_order: float | None
    span: tuple[dt.datetime, dt.datetime] | None = None
    duplicates_deferred: bool = False


def check_order_columns(
    columns: Iterable[Any], customer_col: str, date_col: str, revenue_col: str | None
) -> None:
    """Raise a DataError naming the order columns missing from ``columns`` and their flags.

    Shared by the DuckDB reader and the Spark reader.
    """
    present = [str(c) for c in columns]
    flags = {customer_col: "--customer-col", date_col: "--date-col"}
    if revenue_col is not None:
        flags[revenue_col] = "--revenue-col"
    missing = [name for name in flags if name not in present]
    if missing:
        hint = f"its columns are: {', '.join(present)}. Name yours with " + ", ".join(
            flags[m] for m in missing
        )
        if revenue_col in missing:
            hint += " (or pass --no-revenue, revenue_col=None, for a log without revenue)"
        by_case = {p.lower(): p for p in present}
        near = [f"{by_case[m.lower()]!r} for {m!r}" for m in missing if m.lower() in by_case]
        if near:
            hint += f". Column names are case-sensitive: the table has {', '.join(near)}"
        raise DataError(
            f"the orders table has no column {', '.join(repr(m) for m in missing)}", hint=hint
        )


def register_orders_source(
    con: duckdb.DuckDBPyConnection,
    source: OrdersSource,
    name: str = ORDERS_VIEW,
    *,
    defer_duplicates: bool = False,
) -> OrdersInfo:
    """Check ``source`` against the orders contract and make it the view ``name`` on ``con``.

    The view has ``customer_id`` (BIGINT when every id is a canonical 64-bit integer, else
    VARCHAR exactly as written), ``timestamp`` (naive TIMESTAMP) and, unless the source has
    no revenue, ``revenue`` (DOUBLE). Warnings (duplicates, netted refunds) are issued as
    :class:`~clvmodels.errors.DataQualityWarning`.

    With ``defer_duplicates`` (and neither ``dedupe`` nor netted refunds, which need the
    count first) the exact duplicates are left for the caller to count in its own pass
    over the view: ``OrdersInfo.duplicates_deferred`` is then true.

    Raises
    ------
    DataError
        The first rule of :data:`RULES` that the data breaks: column, count, examples.
    """
    set_time_zone(con, source.time_zone)
    types = register_table(con, source)
    check_order_columns(types, source.customer_col, source.date_col, source.revenue_col)
    _check_kept_present(source.keep_columns, types)
    checks = [
        customer_checks(source.customer_col, types[source.customer_col]),
        date_checks(con, source.date_column, types[source.date_col]),
    ]
    if source.revenue_col is not None:
        checks.append(revenue_checks(source.revenue_col, types[source.revenue_col]))
    prep = ", ".join(f"{expr} AS {alias}" for c in checks for alias, expr in c.prep)
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW {STAGE_VIEW} AS SELECT *{', ' if prep else ''}{prep} "
        f"FROM {RAW_VIEW}"
    )
    counts = _count(con, checks)
    if counts["n_rows"] == 0:
        raise RULES["no_rows"].error(None, where=source_label(source))
    for check in checks:
        check.raise_first(con, counts)
    customer_type = "BIGINT" if counts["id_noncanonical"] == 0 else "VARCHAR"
    columns = [
        f"{checks[0].value(customer_type)} AS customer_id",
        f'{checks[1].value()} AS "timestamp"',
    ]
    if source.revenue_col is not None:
        columns.append(f"{checks[2].value()} AS revenue")
    elif source.value_per_order is not None:
        columns.append(f"CAST({float(source.value_per_order)!r} AS DOUBLE) AS revenue")
    columns += [f"CAST({quote(c)} AS VARCHAR) AS {quote(c)}" for c in source.keep_columns]
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW clv_valid AS SELECT {', '.join(columns)} FROM {STAGE_VIEW}"
    )
    n_rows = counts["n_rows"]
    netting = source.revenue_col is not None and counts.get("revenue_negative", 0) > 0
    deferred = defer_duplicates and source.warn_duplicates and not source.dedupe and not netting
    if (source.dedupe or source.warn_duplicates) and not deferred:
        n_rows = _duplicates(con, n_rows, source.dedupe)
    relation = "clv_deduped" if source.dedupe else "clv_valid"
    if source.revenue_col is not None and counts.get("revenue_negative", 0):
        if source.refunds != "net":
            raise RULES["negative_revenue"].error(
                source.revenue_col,
                n_rows=counts["revenue_negative"],
                examples=example_values(con, "clv_rev < 0", "clv_rev"),
            )
        n_rows = _net_refunds(con, relation, counts["revenue_negative"])
        relation = "clv_netted"
    con.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS SELECT * FROM {relation}")
    return OrdersInfo(
        n_rows=n_rows,
        customer_type=customer_type,
        revenue=source.revenue_mode,
        revenue_col=source.revenue_col,
        value_per_order=(
            float(source.value_per_order) if source.value_per_order is not None else None
        ),
        span=None if relation == "clv_netted" else (counts["clv_first"], counts["clv_last"]),
        duplicates_deferred=deferred,
    )


def source_label(source: OrdersSource) -> str:
    """`` (FILE)`` or `` (--query on FILE)`` for messages about the whole table."""
    if isinstance(source.path, pd.DataFrame):
        return ""
    shown = shown_source(source.path)
    if source.query is not None:
        return f" (--query on {shown})"
    if source.table is not None:
        return f" (table {source.table!r} of {shown})"
    return f" ({shown})"


def set_time_zone(con: duckdb.DuckDBPyConnection, time_zone: str) -> None:
    """Set the connection's TimeZone to a validated IANA name (never the machine's)."""
    known = con.execute(
        "SELECT count(*) FROM pg_timezone_names() WHERE name = ?", [time_zone]
    ).fetchone()
    if not known or not known[0] or "'" in time_zone:
        raise DataError(
            f"--time-zone (time_zone) {time_zone!r} is not an IANA time zone name",
            hint="Use names such as UTC, Europe/Berlin or America/New_York",
        )
    con.execute(f"SET TimeZone = '{time_zone}'")


def _count(con: duckdb.DuckDBPyConnection, checks: list[ColumnChecks]) -> dict[str, Any]:
    """One pass: the row count, each rule's count, and the first and last order time."""
    conditions = {name: cond for check in checks for name, cond in check.counts.items()}
    select = ", ".join(
        ["count(*) AS n_rows"]
        + [f"count_if(coalesce(({cond}), false)) AS {name}" for name, cond in conditions.items()]
        + ["min(clv_ts)", "max(clv_ts)"]
    )
    row = con.execute(f"SELECT {select} FROM {STAGE_VIEW}").fetchone()
    assert row is not None
    counts: dict[str, Any] = dict(
        zip(["n_rows", *conditions], (int(v or 0) for v in row[:-2]), strict=True)
    )
    counts["clv_first"], counts["clv_last"] = row[-2], row[-1]
    counts.setdefault("id_noncanonical", 0)
    return counts


def exact_duplicates(
    con: duckdb.DuckDBPyConnection, name: str = "clv_valid", customers: str | None = None
) -> int:
    """The number of rows of the view ``name`` that exactly repeat another row.

    With ``customers`` (a table or view with a ``customer_id`` column) only the rows of
    those customers are looked at: exact duplicates share a customer, so a caller that
    knows which customers can have any counts only theirs.
    """
    rows = name
    if customers is not None:
        rows = f"(SELECT * FROM {name} WHERE customer_id IN (SELECT customer_id FROM {customers}))"
    row = con.execute(
        "SELECT CAST(coalesce(sum(clv_n - 1), 0) AS BIGINT) "
        f"FROM (SELECT *, count(*) AS clv_n FROM {rows} GROUP BY ALL)"
    ).fetchone()
    assert row is not None
    return int(row[0])


def _duplicates(con: duckdb.DuckDBPyConnection, n_rows: int, dedupe: bool) -> int:
    """Count exact duplicate rows in SQL; warn, or drop them with ``dedupe``."""
    n_duplicates = exact_duplicates(con)
    if dedupe:
        con.execute("CREATE OR REPLACE TEMP VIEW clv_deduped AS SELECT DISTINCT * FROM clv_valid")
    if not n_duplicates:
        return n_rows
    if dedupe:
        warnings.warn(
            f"dropped {n_duplicates:,} exact duplicate order rows (--dedupe)",
            DataQualityWarning,
            stacklevel=3,
        )
        return n_rows - n_duplicates
    warn_duplicates(n_duplicates)
    return n_rows


def warn_duplicates(n_duplicates: int) -> None:
    """The warning about kept exact duplicate rows (one message for every reader)."""
    warnings.warn(
        f"{n_duplicates:,} order rows are exact duplicates of another row (same customer, "
        "time and revenue, if any); they are kept. Pass --dedupe (dedupe=True) to drop them",
        DataQualityWarning,
        stacklevel=4,
    )


def _net_refunds(con: duckdb.DuckDBPyConnection, relation: str, n_refunds: int) -> int:
    """Net revenue within each customer's purchase day; drop days that are not positive."""
    con.execute(
        "CREATE OR REPLACE TEMP VIEW clv_netted AS "
        'SELECT customer_id, min("timestamp") AS "timestamp", sum(revenue) AS revenue '
        f'FROM {relation} GROUP BY customer_id, CAST("timestamp" AS DATE) '
        "HAVING sum(revenue) > 0"
    )
    row = con.execute(
        f'SELECT (SELECT count(*) FROM (SELECT DISTINCT customer_id, CAST("timestamp" AS DATE) '
        f"FROM {relation})), (SELECT count(*) FROM clv_netted)"
    ).fetchone()
    assert row is not None
    n_days, n_kept = int(row[0]), int(row[1])
    warnings.warn(
        f"netted {n_refunds:,} refund rows within their purchase day; dropped "
        f"{n_days - n_kept:,} customer-days whose net revenue was zero or negative "
        "(--refunds net)",
        DataQualityWarning,
        stacklevel=3,
    )
    return n_kept


__all__ = [
    "DATE_UNITS",
    "RULES",
    "OrdersInfo",
    "OrdersSource",
    "Refunds",
    "Rule",
    "check_order_columns",
    "exact_duplicates",
    "register_orders_source",
    "warn_duplicates",
]
