"""Reading a table, or one query's result, out of a database given by URL, as Arrow.

A table argument may be a database URL (:mod:`clvmodels.data.database_url`). PostgreSQL is
read here, through the ADBC driver (libpq's binary ``COPY``, straight into Arrow, never row
by row), in a read-only transaction: ``SET TRANSACTION READ ONLY`` is the first statement,
so a ``--query`` cannot write whatever it says. DuckDB and SQLite files are read by the file
readers of :mod:`clvmodels.data.readers`, which use the table name parsed here.

PostgreSQL's ``numeric`` arrives as Arrow's opaque extension type holding the exact decimal
text; it becomes ``decimal128(p, s)`` when the column's type modifier gives them (and every
value fits), and stays text otherwise, so the orders contract reads the text exactly, as it
reads a CSV file.

Drivers are imported inside the functions: importing this module loads none.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from clvmodels.data.database_url import (
    DatabaseURL,
    TableName,
    parse_table_name,
    quote_identifier,
    redact_message,
)
from clvmodels.errors import DataError

if TYPE_CHECKING:
    import pyarrow as pa

#: The largest precision Arrow's decimal128 holds.
_MAX_DECIMAL_PRECISION = 38


def url_table(url: DatabaseURL, table: str | None, *, what: str = "--table") -> DatabaseURL:
    """``url`` with the table of its fragment or of ``table`` (``--table``), parsed.

    Raises
    ------
    DataError
        When both are given and name different tables, or ``table`` is not a table name.
    """
    if table is None:
        return url
    named = parse_table_name(table, what=what)
    if url.table is not None and url.table != named:
        raise DataError(
            f"{url} names the table {url.table} and {what} names {named}",
            hint="Give the table once: after # in the URL, or with --table",
        )
    return url.with_table(named)


def pick_table(
    where: object, table: TableName | None, tables: Sequence[TableName], *, fold_case: bool
) -> TableName:
    """The table to read: the one named, or the only one; else a DataError listing them.

    Parameters
    ----------
    where : object
        The database as messages name it (a path, or a redacted URL).
    table : TableName or None
        The table asked for; a name without a schema matches a table of the default schema
        (the listed names without a schema).
    tables : sequence of TableName
        The database's tables and views, those of the default schema without a schema.
    fold_case : bool
        Whether the engine compares names case-insensitively (DuckDB, SQLite): a name that
        matches no table exactly then matches the one table that differs only in case.
    """
    listed = ", ".join(str(t) for t in tables) or "(none)"
    if table is None:
        if len(tables) == 1:
            return tables[0]
        raise DataError(
            f"{where} has {len(tables)} tables; say which with --table or --query "
            "(or after # in a URL)",
            hint=f"its tables are: {listed}",
        )
    if table in tables:
        return table
    if fold_case:
        near = [
            t
            for t in tables
            if t.name.lower() == table.name.lower()
            and (t.schema or "").lower() == (table.schema or "").lower()
        ]
        if len(near) == 1:
            return near[0]
    raise DataError(f"{where} has no table {table}", hint=f"its tables are: {listed}")


# ------------------------------------------------------------------------------ PostgreSQL
def read_postgres(url: DatabaseURL, *, query: str | None = None) -> pa.Table:
    """The table of ``url`` (or the only table), or ``query``'s result, as an Arrow table.

    Parameters
    ----------
    url : DatabaseURL
        A ``postgresql://`` URL; its table (:func:`url_table`) is read unless ``query``.
    query : str, optional
        One SELECT (checked by the caller with :func:`clvmodels.data.readers.check_select`);
        it runs in the read-only transaction, so it cannot write in any case.

    Returns
    -------
    pyarrow.Table
        The columns as ADBC gives them, ``numeric`` made exact (module docstring).

    Raises
    ------
    DataError
        The server cannot be reached (host and database named, password hidden, how to give
        a password), the table is not there (the tables listed), or the query fails.
    """
    import adbc_driver_manager

    con = _connect(url)
    try:
        cursor = con.cursor()
        try:
            cursor.execute("SET TRANSACTION READ ONLY")
            numeric: dict[str, int] = {}
            if query is None:
                table = _postgres_table(cursor, url)
                columns, numeric = _select_list(cursor, table)
                query = f"SELECT {columns} FROM {table.sql()}"
            cursor.execute(query)
            result = _mark_numeric(cursor.fetch_arrow_table(), numeric)
        finally:
            with contextlib.suppress(adbc_driver_manager.Error):
                cursor.close()
                con.rollback()
    except adbc_driver_manager.Error as exc:
        what = (
            f"--query (query) failed on {url}" if query is not None else f"{url} could not be read"
        )
        raise DataError(f"{what}: {_driver_message(exc, url)}") from None
    finally:
        with contextlib.suppress(adbc_driver_manager.Error):
            con.close()
    return exact_numeric(result)


def _connect(url: DatabaseURL) -> Any:
    import adbc_driver_manager
    import adbc_driver_postgresql.dbapi as pg

    try:
        return pg.connect(url.connect_url)
    except adbc_driver_manager.Error as exc:
        raise DataError(
            f"cannot connect to {url.with_table(None)}: {_driver_message(exc, url)}",
            hint="Check the host, port, database and user; a password comes from the "
            "environment (PGPASSWORD) or ~/.pgpass, and is never needed in the URL",
        ) from None


def _driver_message(exc: BaseException, url: DatabaseURL) -> str:
    """A driver exception's message on one line, the URL's password hidden."""
    text = re.sub(r"^[A-Z_]+: ", "", str(exc).replace("[libpq] ", "").strip())
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return redact_message(" ".join(lines) or type(exc).__name__, url)


def _postgres_table(cursor: Any, url: DatabaseURL) -> TableName:
    """The table to read: the URL's (found by the server's own name lookup), or the only one."""
    cursor.execute(
        "SELECT table_schema, table_name, table_schema = ANY (current_schemas(false)) "
        "FROM information_schema.tables WHERE table_schema NOT IN ('pg_catalog', "
        "'information_schema') AND table_schema NOT LIKE 'pg\\_%' ORDER BY 3 DESC, 1, 2"
    )
    rows = cursor.fetchall()
    tables = [TableName(name, None if visible else schema) for schema, name, visible in rows]
    if url.table is None:
        return pick_table(url, None, tables, fold_case=False)
    cursor.execute(
        "SELECT n.nspname, c.relname FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = to_regclass($1)",
        parameters=(url.table.sql(),),
    )
    found = cursor.fetchall()
    if not found:
        raise DataError(
            f"{url.with_table(None)} has no table {url.table}",
            hint=f"its tables are: {', '.join(str(t) for t in tables) or '(none)'}",
        )
    return TableName(found[0][1], found[0][0])


def _select_list(cursor: Any, table: TableName) -> tuple[str, dict[str, int]]:
    """The columns of ``table`` to select, ``numeric`` ones as text, and their type modifiers.

    The server writes a numeric as its exact decimal text faster than the driver turns the
    binary form into text (10M rows: 3 s instead of 6.5 s); :func:`exact_numeric` then makes
    the text a decimal128 as it does for the driver's own numeric columns.
    """
    cursor.execute(
        "SELECT a.attname, t.typname, a.atttypmod FROM pg_attribute a "
        "JOIN pg_type t ON t.oid = a.atttypid WHERE a.attrelid = to_regclass($1) "
        "AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
        parameters=(table.sql(),),
    )
    rows = cursor.fetchall()
    numeric = {name: int(typmod) for name, kind, typmod in rows if kind == "numeric"}
    columns = ", ".join(
        f"{quote_identifier(name)}::text AS {quote_identifier(name)}"
        if name in numeric
        else quote_identifier(name)
        for name, _, _ in rows
    )
    return columns or "*", numeric


def _mark_numeric(table: pa.Table, numeric: dict[str, int]) -> pa.Table:
    """The numeric-as-text columns labelled as the driver labels numeric columns."""
    import pyarrow as pa

    for name, typmod in numeric.items():
        i = table.schema.get_field_index(name)
        meta = {b"POSTGRESQL:type": b"numeric", b"POSTGRESQL:typmod": str(typmod).encode()}
        field = pa.field(name, table.schema.field(i).type, metadata=meta)
        table = table.set_column(i, field, table.column(i))
    return table


def exact_numeric(table: pa.Table) -> pa.Table:
    """``table`` with PostgreSQL's ``numeric`` columns as decimal128(p, s), or exact text.

    A column is PostgreSQL's numeric when the driver gives it as its opaque extension type,
    or as text labelled so (:func:`_mark_numeric`). One whose type modifier gives a precision
    of at most 38 becomes
    ``decimal128(p, s)``; an unconstrained one (or one holding ``NaN``, which no decimal
    holds) stays the exact decimal text, which the orders contract reads like a CSV's.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    for i, field in enumerate(table.schema):
        meta = field.metadata or {}
        column = table.column(i)
        if isinstance(field.type, pa.BaseExtensionType):
            storage = pa.chunked_array(
                [chunk.storage for chunk in column.chunks], type=field.type.storage_type
            )
        elif pa.types.is_string(field.type) and meta.get(b"POSTGRESQL:type") == b"numeric":
            storage = column  # selected as text (_select_list)
        else:
            continue
        if meta.get(b"POSTGRESQL:type") == b"numeric":
            typmod = int(meta.get(b"POSTGRESQL:typmod", b"-1"))
            precision, scale = (typmod - 4) >> 16, (typmod - 4) & 0xFFFF
            if typmod >= 4 and 0 < precision <= _MAX_DECIMAL_PRECISION and scale <= precision:
                with contextlib.suppress(pa.ArrowInvalid):
                    storage = pc.cast(storage, pa.decimal128(precision, scale))
        table = table.set_column(i, pa.field(field.name, storage.type, metadata=meta), storage)
    return table


__all__ = [
    "exact_numeric",
    "pick_table",
    "read_postgres",
    "url_table",
]
