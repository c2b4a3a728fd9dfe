"""Writing tables and views into a database in one transaction: all of them, or none.

:func:`write_database` is the one writer of PostgreSQL (ADBC), DuckDB and SQLite files. Every
table it replaces is first written under a temporary name, then the old table is dropped and
the new one renamed into place, and the views named are re-created after the tables, all in
one transaction: a failure anywhere rolls back everything, so the old tables, views and rows
are as they were, and a reader sees the old tables or the new ones, never a mix.

- PostgreSQL's DDL is transactional. Its views bind to the table they were made on, so the
  views written here are dropped and re-created; a view of the user's own that depends on a
  replaced table blocks the swap (never ``CASCADE``): the write is rolled back and the view
  named.
- DuckDB and SQLite files are created when missing (their folder must exist). SQLite has no
  schemas: a schema becomes a table-name prefix (``clv.customers`` -> ``clv_customers``).

Column types follow :func:`arrow_frame`: ids as they are (int64 -> ``BIGINT``, text ->
``TEXT``), datetime64 -> ``TIMESTAMP`` (naive), bool -> ``BOOLEAN``, float64 -> ``DOUBLE
PRECISION`` with NaN written as NULL, categoricals as text. Drivers are imported inside the
functions, so importing this module loads none (nor pandas).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from clvmodels.data.database_engines import Session, driver_text, open_session
from clvmodels.data.database_url import DatabaseURL, TableName, quote_identifier
from clvmodels.errors import DataError

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa


#: PostgreSQL's longest identifier, in bytes (longer ones are cut silently by the server).
POSTGRES_NAME_BYTES = 63

#: The prefix of the temporary tables a write creates (and renames or drops before commit).
TEMP_PREFIX = "_clv_tmp_"


@dataclass
class Replace:
    """A table replaced as a whole.

    ``frame`` may also be an iterator of DataFrames (the chunks of one table, written one at
    a time, so memory holds one chunk).
    """

    frame: pd.DataFrame | pa.Table | Iterable[pd.DataFrame]


@dataclass
class Append:
    """Rows appended to a table (created when missing; its columns must match)."""

    frame: pd.DataFrame | pa.Table


@dataclass
class View:
    """A view (re)created after the tables.

    ``select`` is the SELECT, written with ``{t[name]}`` placeholders that the writer fills
    with the quoted, qualified names of the items (``{{`` and ``}}`` for literal braces).
    """

    select: str


@dataclass
class Drop:
    """A table or view that an earlier write made and this one does not: removed if it exists.

    A user's view on a dropped table blocks the write, as it blocks a :class:`Replace`.
    """


Item = Replace | Append | View | Drop


def physical_name(url: DatabaseURL, name: str, schema: str | None) -> TableName:
    """The table as ``url``'s engine stores it: SQLite's schema becomes a ``<schema>_`` prefix."""
    if url.engine == "sqlite":
        return TableName(f"{schema}_{name}" if schema else name)
    return TableName(name, schema)


def qualified(url: DatabaseURL, name: str, schema: str | None) -> str:
    """The quoted SQL name of table ``name`` in ``schema`` on ``url``'s engine.

    SQLite has no schemas: the schema becomes a prefix, ``clv.customers`` ->
    ``"clv_customers"``.
    """
    return physical_name(url, name, schema).sql()


def arrow_frame(frame: pd.DataFrame | pa.Table) -> pa.Table:
    """``frame`` as the Arrow table that is written: the one conversion of every engine.

    Ids keep their type (int64, or text exactly as written); categoricals become text; NaN
    floats become NULL; timestamps are naive microseconds (a time zone is converted to UTC
    first); large strings become strings. Column names must be distinct text.

    Raises
    ------
    DataError
        For duplicate column names or a column Arrow cannot type (naming it).
    """
    import pyarrow as pa

    if isinstance(frame, pa.Table):
        table = frame
    else:
        names = [str(c) for c in frame.columns]
        if len(set(names)) < len(names):
            dupes = sorted({n for n in names if names.count(n) > 1})
            raise DataError("a table to write has duplicate column names", examples=dupes)
        arrays = [_arrow_column(name, frame.iloc[:, i]) for i, name in enumerate(names)]
        table = pa.table(arrays, names=names)
    return pa.table(
        [_plain_arrow(table.column(i)) for i in range(table.num_columns)],
        names=table.column_names,
    )


def _arrow_column(name: str, column: pd.Series) -> pa.Array | pa.ChunkedArray:
    import pandas as pd
    import pyarrow as pa

    if isinstance(column.dtype, pd.CategoricalDtype):
        column = (
            column.astype(object)
            .where(column.notna(), None)
            .map(lambda v: v if v is None else str(v))
        )
        return pa.array(column, type=pa.string())
    if isinstance(column.dtype, pd.DatetimeTZDtype):
        column = column.dt.tz_convert("UTC").dt.tz_localize(None)
    try:
        return pa.array(column, from_pandas=True)
    except (pa.ArrowException, TypeError, ValueError) as exc:
        examples = column.dropna().map(type).map(lambda t: t.__name__).unique()[:3]
        raise DataError(
            f"cannot be written to a database: {exc}", column=name, examples=list(examples)
        ) from exc


def _plain_arrow(array: pa.ChunkedArray) -> pa.ChunkedArray:
    """Large strings as strings, timestamps as naive microseconds."""
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = array.type
    if pa.types.is_large_string(kind) or pa.types.is_string_view(kind):
        return array.cast(pa.string())
    if pa.types.is_dictionary(kind) or pa.types.is_null(kind):  # all-NULL columns as text
        return array.cast(pa.string())
    if pa.types.is_timestamp(kind) and (kind.tz is not None or kind.unit == "ns"):
        naive = array.cast(pa.timestamp(kind.unit))  # a zone's instants as naive UTC
        return pc.floor_temporal(naive, unit="microsecond").cast(pa.timestamp("us"))
    return array


def write_database(
    url: DatabaseURL,
    items: Mapping[str, Item],
    *,
    schema: str | None = None,
    marker: str | None = None,
) -> list[str]:
    """Write tables and views into the database ``url`` in ONE transaction.

    Creates the schema when missing (not SQLite); drops the views named in ``items`` (if they
    exist); writes each :class:`Replace` under a temporary name, drops the old table and
    renames the temporary one into place; appends each :class:`Append`; creates each
    :class:`View` (its SELECT formatted with ``t = {name: qualified(...)}`` for every item
    name); commits.

    Parameters
    ----------
    url : DatabaseURL
        The database (its table, if any, is ignored).
    items : mapping
        Table or view name -> what to write there, in order.
    schema : str, optional
        The schema of every item (SQLite: a name prefix); the engine's default without it.
    marker : str, optional
        The item (such as ``runs``) that an earlier run of the same job left: when another
        item's name is taken already but the marker does not exist, those objects are not the
        job's own, and nothing is written (a DataError names them).

    Returns
    -------
    list of str
        The names written, as SQL writes them (``clv.customers``; SQLite ``clv_customers``),
        in the order of ``items``.

    Raises
    ------
    DataError
        Naming the table and the database (password hidden) when anything fails; everything
        is rolled back then.
    """
    names = {name: physical_name(url, name, schema) for name in items}
    for table in names.values():
        _check_name(url, table)
    session = open_session(url)
    current = "the schema"
    try:
        if schema is not None and url.engine != "sqlite":
            session.check_schema(schema)
            session.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_identifier(schema)}")
        if marker is not None:
            _check_marker(session, names, marker)
        for name in reversed(list(items)):
            item = items[name]
            if isinstance(item, View) or (
                isinstance(item, Drop) and session.kind(names[name]) == "view"
            ):
                current = f"the view {names[name]}"
                session.execute(f"DROP VIEW IF EXISTS {names[name].sql()}")
        for name, item in items.items():
            current = str(names[name])
            if isinstance(item, Replace):
                replace_table(session, names[name], item.frame)
            elif isinstance(item, Append):
                append_rows(session, names[name], item.frame)
            elif isinstance(item, Drop) and session.kind(names[name]) == "table":
                _refuse_dependent_views(session, names[name])
                session.execute(f"DROP TABLE {names[name].sql()}")
        quoted = {name: table.sql() for name, table in names.items()}
        for name, item in items.items():
            if isinstance(item, View):
                current = f"the view {names[name]}"
                sql = item.select.format(t=quoted)
                session.execute(f"CREATE VIEW {names[name].sql()} AS {sql}")
        current = "the commit"
        session.commit()
    except Exception as exc:
        session.rollback()
        session.close(failed=True)
        raise _write_error(exc, current, url, list(items)) from exc
    except BaseException:
        session.rollback()
        session.close(failed=True)
        raise
    session.close(failed=False)
    return [str(names[name]) for name, item in items.items() if not isinstance(item, Drop)]


def _check_marker(session: Session, names: Mapping[str, TableName], marker: str) -> None:
    """Refuse to touch objects of these names unless the job's marker table is there too."""
    if session.kind(names[marker]) is not None:
        return
    taken = [str(table) for name, table in names.items() if session.kind(table) is not None]
    if taken:
        raise DataError(
            f"{', '.join(taken)} exist{'s' if len(taken) == 1 else ''} already, but "
            f"{names[marker]} does not: they were not written by this job, so nothing was "
            "changed",
            hint="Choose another schema (clv publish --schema), or drop them yourself",
        )


def _refuse_dependent_views(session: Session, table: TableName) -> None:
    """A DataError naming the user's views on ``table``, which would block dropping it."""
    blockers = session.dependent_views(table)
    if blockers:
        raise DataError(
            f"the view {', '.join(blockers)} depends on {table}, so {table} cannot be replaced",
            hint="Drop that view (and re-create it after the write), or write to another table",
        )


def write_tables_to_database(
    outputs: Sequence[tuple[pd.DataFrame | pa.Table | Replace, DatabaseURL]],
) -> list[DatabaseURL]:
    """Replace each URL's table with its frame, all in one transaction.

    Every URL must name a table of one database and schema (``-o URL#table`` and the tables
    derived from it; :func:`together_problem`). Returns the URLs with the tables as stored
    (SQLite's prefix applied).
    """
    first = outputs[0][1]
    for _, url in outputs:
        problem = together_problem(first, url)
        if problem is not None:
            raise DataError(f"{url} {problem}")
    tables = [url.table for _, url in outputs]
    items = {
        t.name: frame if isinstance(frame, Replace) else Replace(frame)
        for (frame, _), t in zip(outputs, tables, strict=True)
        if t is not None
    }
    if len(items) < len(outputs):
        raise DataError(f"the tables to write into {first.with_table(None)} must be different")
    schema = first.table.schema if first.table is not None else None
    write_database(first.with_table(None), items, schema=schema)
    return [first.with_table(physical_name(first, name, schema)) for name in items]


def together_problem(first: object, other: object) -> str | None:
    """Why ``other`` cannot be written with the output ``first``, or None.

    The outputs of one command are all files, or all tables of one database and schema
    (written in one transaction).
    """
    if not isinstance(first, DatabaseURL) and not isinstance(other, DatabaseURL):
        return None
    if not isinstance(first, DatabaseURL) or not isinstance(other, DatabaseURL):
        kinds = ("a database table", "a file")
        mine, its = kinds if isinstance(other, DatabaseURL) else kinds[::-1]
        return (
            f"is {mine} but -o {first} is {its}: write all outputs into one database "
            "(one transaction) or all into files"
        )
    if first.table is None or other.table is None:
        return "names no table: add #schema.table"
    if not other.same_database(first) or other.table.schema != first.table.schema:
        return (
            f"is not in the database and schema of -o {first}: the tables of one command "
            "are written in one transaction"
        )
    return None


def _write_error(exc: Exception, current: str, url: DatabaseURL, names: list[str]) -> DataError:
    """The one-line error of a failed write: what was being written, where, and why."""
    where = f"writing {current} to {url.with_table(None)} failed"
    if isinstance(exc, KeyError | IndexError):
        why = f"its SELECT names {exc}, which is not one of the items written ({', '.join(names)})"
    elif isinstance(exc, DataError):
        why = str(exc)
    else:
        why = driver_text(exc, url)
    return DataError(f"{where}: {why}; nothing was changed")


def _check_name(url: DatabaseURL, table: TableName) -> None:
    """Refuse names PostgreSQL would cut (63 bytes); NUL is refused by quoting already."""
    table.sql()
    if url.engine != "postgresql":
        return
    for part in (table.name, table.schema or ""):
        if len(part.encode()) > POSTGRES_NAME_BYTES:
            raise DataError(
                f"the name {part!r} is {len(part.encode())} bytes long; PostgreSQL keeps at "
                f"most {POSTGRES_NAME_BYTES} (it would cut it): choose a shorter name"
            )


def temporary_name(table: TableName) -> TableName:
    """A fresh name in ``table``'s schema that no user table has (random, 25 bytes)."""
    return TableName(f"{TEMP_PREFIX}{secrets.token_hex(8)}", table.schema)


def replace_table(
    session: Session, table: TableName, frame: pd.DataFrame | pa.Table | Iterable[pd.DataFrame]
) -> None:
    """Write ``frame`` under a temporary name, drop ``table`` and rename the new one into place."""
    tmp = temporary_name(table)
    first = True
    for chunk in _chunks(frame):
        if first:
            session.create(tmp, chunk)
            first = False
        else:
            session.insert(tmp, chunk)
    if first:
        raise DataError("there is no table to write (no chunk came)")
    _refuse_dependent_views(session, table)
    session.execute(f"DROP TABLE IF EXISTS {table.sql()}")
    session.execute(f"ALTER TABLE {tmp.sql()} RENAME TO {quote_identifier(table.name)}")


def append_rows(session: Session, table: TableName, frame: pd.DataFrame | pa.Table) -> None:
    """Append ``frame``'s rows to ``table``, creating it when missing; columns must match."""
    arrow = arrow_frame(frame)
    columns = session.columns(table)
    if columns is None:
        session.create(table, arrow)
        return
    if columns != arrow.column_names:
        raise DataError(
            f"{table} has the columns {', '.join(columns)}; the rows to append have "
            f"{', '.join(arrow.column_names)}"
        )
    session.insert(table, arrow)


def _chunks(frame: pd.DataFrame | pa.Table | Iterable[pd.DataFrame]) -> Iterator[pa.Table]:
    import pandas as pd
    import pyarrow as pa

    if isinstance(frame, pd.DataFrame | pa.Table):
        yield arrow_frame(frame)
        return
    for chunk in frame:
        yield arrow_frame(chunk)
