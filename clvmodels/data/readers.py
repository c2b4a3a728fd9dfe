"""Every table source as a DuckDB relation: CSV, Parquet, DuckDB, SQLite files, databases.

DuckDB cannot download its extensions here (``sqlite_scanner``, ``encodings``,
``postgres_scanner``), so a SQLite table arrives through :mod:`sqlite3` as Arrow, a CSV file
in another encoding than UTF-8 through :mod:`pyarrow.csv` and a PostgreSQL table through ADBC
(:mod:`clvmodels.data.database_read`); each is then scanned by DuckDB like any other table.
A source may be a database URL (``postgresql://``, ``duckdb:///``, ``sqlite:///``, the table
after ``#``). Database files are opened read-only, a ``query`` must be a single ``SELECT``
statement, and once a DuckDB file is attached the connection can reach no other file
(``enable_external_access`` off, the configuration locked) unless ``allow_file_access``.
"""

from __future__ import annotations

import contextlib
import csv
import os
import re
import sqlite3
import urllib.parse
from pathlib import Path
from typing import Any

import duckdb

from clvmodels.data.database_read import pick_table, read_postgres, url_table
from clvmodels.data.database_url import (
    DatabaseURL,
    TableName,
    parse_database_url,
    parse_table_name,
)
from clvmodels.errors import DataError

_CSV_SUFFIXES = {".csv", ".tsv", ".txt"}
_PARQUET_SUFFIXES = {".parquet", ".pq"}
_DUCKDB_SUFFIXES = {".duckdb", ".ddb"}
_SQLITE_SUFFIXES = {".sqlite", ".sqlite3"}

#: The name of the view that holds a source as it is, before the orders contract.
RAW_VIEW = "clv_raw"
#: The name a DuckDB file is attached under (read-only).
_ATTACHED = "clv_src"


def file_kind(path: Path) -> str:
    """``csv``, ``parquet``, ``duckdb`` or ``sqlite``: by the file's header, else its suffix."""
    with open(path, "rb") as handle:
        head = handle.read(16)
    if head.startswith(b"SQLite format 3"):
        return "sqlite"
    if head[8:12] == b"DUCK":
        return "duckdb"
    if head.startswith(b"PAR1"):
        return "parquet"
    suffix = path.suffix.lower()
    if suffix in _PARQUET_SUFFIXES:
        return "parquet"
    if suffix in _DUCKDB_SUFFIXES | _SQLITE_SUFFIXES | {".db"}:
        raise DataError(f"{path} is not a DuckDB or SQLite database (its header is neither)")
    if suffix in _CSV_SUFFIXES or suffix == "":
        return "csv"
    if b"\0" in head:
        raise DataError(f"{path} is a binary file, not a table clvmodels reads")
    return "csv"


def register_source(
    con: duckdb.DuckDBPyConnection,
    source: str | os.PathLike[str],
    *,
    table: str | None = None,
    query: str | None = None,
    encoding: str = "utf-8",
    all_text: bool = False,
    allow_file_access: bool = False,
    name: str = RAW_VIEW,
) -> str:
    """Make a table file or database table queryable on ``con`` as the view ``name``.

    ``name`` is :data:`RAW_VIEW` unless two tables are read on one connection (visits and
    orders).

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
    source : path or str
        A CSV (``.csv``/``.tsv``/``.txt``), Parquet, DuckDB or SQLite file (database files
        are told apart by their header), a folder of Parquet files, or a database URL
        (``postgresql://user@host/db#table``, ``duckdb:///file.duckdb#sales.orders``,
        ``sqlite:///file.sqlite#orders``; :mod:`clvmodels.data.database_url`).
    table, query : str, optional
        For databases: the table to read (as SQL writes it: ``sales.orders``,
        ``"Shop data"."Orders 1997"``; equal to the URL's, if it has one), or a single
        ``SELECT`` statement, run read-only. A database with a single table needs neither.
    encoding : str
        Text encoding of a CSV file (``utf-8``, ``utf-16``, ``latin-1``, ...).
    all_text : bool
        Read every CSV column as text (VARCHAR), so DuckDB's sniffer types nothing: the
        orders contract decides what ids, dates and revenue are.
    allow_file_access : bool
        Let a DuckDB file's query (or views) read and write other files (``read_csv``,
        ``COPY ... TO``, ``ATTACH``); off by default.

    Returns
    -------
    str
        The source's kind (``csv``, ``parquet``, ``duckdb``, ``sqlite``, ``postgresql``).

    Raises
    ------
    DataError
        When the file is missing, is not a table, is not in the stated encoding, the table
        is not there (the tables are listed), the server cannot be reached, or the query is
        not a single read-only SELECT. Messages show a URL with its password hidden.
    """
    if isinstance(source, str) and "://" in source:  # a database, or a scheme it refuses
        url = url_table(parse_database_url(source, what="the table"), table)
        return _register_url(con, url, query, allow_file_access, name)
    path = Path(source)
    if not path.exists():
        raise DataError(f"file not found: {path}")
    if path.is_dir():
        _register_parquet_folder(con, path, name)
        return "parquet"
    if path.stat().st_size == 0:
        raise DataError(
            f"{path}: the file is empty (0 bytes)",
            hint="An orders table needs a header row and one row per order",
        )
    kind = file_kind(path)
    if table is not None and query is not None:
        raise DataError("--table (table) and --query (query) both say what to read: give one")
    if table is not None and kind not in ("duckdb", "sqlite"):
        raise DataError(
            f"--table (table) {table!r} names a table of a database, but {path} is a {kind} "
            "file, which holds one table: leave --table out"
        )
    if query is not None:
        check_select(query)
    named = parse_table_name(table) if table is not None else None
    try:
        if kind == "csv":
            _register_csv(con, path, encoding, all_text, name)
        elif kind == "parquet":
            con.execute(
                f"CREATE OR REPLACE TEMP VIEW {name} AS "
                f"SELECT * FROM read_parquet('{sql_text(str(path))}')"
            )
        elif kind == "duckdb":
            _register_duckdb(con, path, named, query, allow_file_access, where=path, name=name)
        else:
            con.register(name, _sqlite_arrow(path, named, query, where=path))
    except DataError:
        raise
    except (duckdb.Error, sqlite3.Error) as exc:
        raise DataError(f"{path} could not be read as a {kind} table: {first_line(exc)}") from exc
    return kind


def _register_url(
    con: duckdb.DuckDBPyConnection,
    url: DatabaseURL,
    query: str | None,
    allow_file_access: bool,
    name: str,
) -> str:
    """A database URL's table (or query) as :data:`RAW_VIEW`; messages show ``str(url)``."""
    if query is not None:
        check_select(query)
        if url.table is not None:
            raise DataError(
                f"{url} names the table {url.table} and --query (query) is given too",
                hint="Give a table (after # or with --table) or a query, not both",
            )
    if url.engine == "postgresql":
        con.register(name, read_postgres(url, query=query))
        return "postgresql"
    path = url.path
    assert path is not None
    if not path.is_file():
        raise DataError(
            f"{url}: file not found: {path}",
            hint=f"A path after three slashes is relative to the working folder "
            f"({url.engine}:///name); four make it absolute ({url.engine}:////name)",
        )
    kind = file_kind(path) if path.stat().st_size else "empty"
    if kind != url.engine:
        raise DataError(f"{url}: {path} is not a {url.engine} database (it is {kind})")
    where = url.with_table(None)
    try:
        if kind == "duckdb":
            _register_duckdb(con, path, url.table, query, allow_file_access, where=where, name=name)
        else:
            con.register(name, _sqlite_arrow(path, url.table, query, where=where))
    except DataError:
        raise
    except (duckdb.Error, sqlite3.Error) as exc:
        raise DataError(f"{url} could not be read: {first_line(exc)}") from exc
    return kind


def _register_parquet_folder(con: duckdb.DuckDBPyConnection, path: Path, name: str) -> None:
    """A folder of Parquet files (as Spark and pandas write them) read as one table."""
    files = sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith((".", "_")))
    parquet = [p for p in files if p.suffix.lower() in _PARQUET_SUFFIXES]
    if not parquet:
        raise DataError(
            f"{path} is a folder without Parquet files (.parquet); it is not a table clvmodels "
            "reads",
            hint="Give a table file, or a folder of .parquet files with the same columns",
        )
    others = [p for p in files if p.suffix.lower() not in _PARQUET_SUFFIXES | {".crc"}]
    if others:
        raise DataError(
            f"{path} holds other files than Parquet (e.g. {others[0].relative_to(path)}); "
            "a folder is read only when all its data files are .parquet"
        )
    pattern = sql_text(str(path / "**" / "*.parquet"))
    try:
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW {name} AS "
            f"SELECT * FROM read_parquet('{pattern}', union_by_name = false)"
        )
        con.execute(f"DESCRIBE {name}").fetchall()
    except duckdb.Error as exc:
        raise DataError(f"{path} could not be read as Parquet files: {first_line(exc)}") from exc


def check_select(query: str) -> None:
    """Raise a DataError unless ``query`` is one read-only ``SELECT`` (or ``WITH ... SELECT``)."""
    text = re.sub(r"--[^\n]*|/\*.*?\*/", " ", query, flags=re.S).strip().rstrip(";").strip()
    first = text.split(None, 1)[0].upper() if text else ""
    problem = None
    if first not in {"SELECT", "WITH"}:
        problem = f"it starts with {first or 'nothing'}"
    else:
        try:
            statements = duckdb.extract_statements(query)
        except duckdb.Error:
            statements = None  # another dialect (SQLite): its read-only connection guards it
        if statements is not None:
            if len(statements) != 1:
                problem = f"it has {len(statements)} statements"
            elif statements[0].type != duckdb.StatementType.SELECT:
                problem = f"it is a {statements[0].type.name} statement"
    if problem:
        raise DataError(
            f"--query (query) must be a single read-only SELECT statement: {problem}",
            hint='For example --query "SELECT * FROM orders WHERE revenue >= 0"',
        )


def _register_csv(
    con: duckdb.DuckDBPyConnection, path: Path, encoding: str, all_text: bool, name: str
) -> None:
    if encoding.lower().replace("_", "-") in {"utf-8", "utf8"}:
        check_utf8(path)
        options = ", all_varchar = true" if all_text else ""
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW {name} AS SELECT * FROM "
            f"read_csv('{sql_text(str(path))}', header = true{options})"
        )
    else:
        con.register(name, _arrow_csv(path, encoding, all_text))
    columns = [row[0] for row in con.execute(f"DESCRIBE {name}").fetchall()]
    if len(columns) < 2:
        raise DataError(
            f"{path} does not look like a table: it has {len(columns)} column"
            f" ({', '.join(columns)}); a CSV orders table needs a header row "
            "and comma-separated columns"
        )


def _arrow_csv(path: Path, encoding: str, all_text: bool) -> Any:
    """A CSV file in another encoding than UTF-8, read by pyarrow (DuckDB cannot here)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    try:
        with open(path, encoding=encoding, newline="") as handle:
            sample = handle.read(65536)
    except (LookupError, UnicodeError) as exc:
        raise DataError(f"{path} is not a readable CSV table: {first_line(exc)}") from exc
    try:
        delimiter = csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        delimiter = ","
    header = next(csv.reader(sample.splitlines()[:1], delimiter=delimiter), [])
    convert = pacsv.ConvertOptions(
        column_types={name: pa.string() for name in header} if all_text else None,
        strings_can_be_null=True,
    )
    try:
        return pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(encoding=encoding),
            parse_options=pacsv.ParseOptions(delimiter=delimiter),
            convert_options=convert,
        )
    except (pa.ArrowInvalid, UnicodeError) as exc:
        raise DataError(f"{path} is not a readable CSV table: {first_line(exc)}") from exc


def check_utf8(path: Path, chunk_bytes: int = 1 << 22) -> None:
    """Raise a DataError naming the first line that is not valid UTF-8."""
    line_no = 1
    carry = b""
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_bytes):
            data = carry + chunk
            try:
                data.decode("utf-8")
                line_no += data.count(b"\n")
                carry = b""
            except UnicodeDecodeError as exc:
                if exc.start >= len(data) - 4 and len(chunk) == chunk_bytes:
                    # a multi-byte character cut by the chunk boundary: read on
                    line_no += data[: exc.start].count(b"\n")
                    carry = data[exc.start :]
                    continue
                line = line_no + data[: exc.start].count(b"\n")
                raise DataError(
                    f"{path} is not UTF-8 text: line {line} has the byte "
                    f"{data[exc.start : exc.start + 1]!r}",
                    hint="Re-save the file as UTF-8, or pass --encoding latin-1 "
                    "(or utf-16) to read it as it is",
                ) from None


def _register_duckdb(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    table: TableName | None,
    query: str | None,
    allow_file_access: bool,
    *,
    where: object,
    name: str,
) -> None:
    attached = dict(con.execute("SELECT database_name, path FROM duckdb_databases()").fetchall())
    if _ATTACHED in attached:  # a second table of the same command (visits and orders)
        if Path(attached[_ATTACHED]).resolve() != path.resolve():
            raise DataError(
                f"{where}: a command reads the tables of one DuckDB file; "
                f"{attached[_ATTACHED]} is already open",
                hint="Put both tables in one DuckDB file (or read one of them from CSV/Parquet)",
            )
    else:
        _attach_duckdb(con, path, allow_file_access)
    if query is None:
        tables = [
            TableName(table_name, None if schema == "main" else schema)
            for schema, table_name in con.execute(
                "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = ? "
                "UNION SELECT schema_name, view_name FROM duckdb_views() "
                "WHERE database_name = ? AND NOT internal "
                "ORDER BY schema_name <> 'main', schema_name, table_name",
                [_ATTACHED, _ATTACHED],
            ).fetchall()
        ]
        chosen = pick_table(where, table, tables, fold_case=True)
        query = f"SELECT * FROM {_ATTACHED}.{TableName(chosen.name, chosen.schema or 'main').sql()}"
    con.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS {query.strip().rstrip(';')}")


def _attach_duckdb(con: duckdb.DuckDBPyConnection, path: Path, allow_file_access: bool) -> None:
    """Attach a DuckDB file read-only; without ``allow_file_access`` lock it off other files."""
    con.execute(f"ATTACH '{sql_text(str(path))}' AS {_ATTACHED} (READ_ONLY)")
    # Unqualified names in a query resolve in the file; the views made here are temporary
    # and named clv_*, so they never shadow the file's tables.
    con.execute(f"USE {_ATTACHED}")
    if not allow_file_access:
        # The file's views and the query reach no other file (read_csv, COPY TO, ATTACH),
        # and nothing can turn that back on. Spilling to the temporary folder still works.
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")


def _sqlite_arrow(path: Path, table: TableName | None, query: str | None, *, where: object) -> Any:
    """A SQLite table or query result as an Arrow table (read-only; SELECT only)."""
    import pyarrow as pa

    uri = f"file:{urllib.parse.quote(str(path))}?mode=ro"
    with contextlib.closing(sqlite3.connect(uri, uri=True)) as con:
        if query is None:
            tables = [
                TableName(row[0])
                for row in con.execute(
                    "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') "
                    "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name"
                )
            ]
            if table is not None and table.schema not in (None, "main"):
                raise DataError(
                    f"{where}: SQLite has no schemas, so there is no table {table}",
                    hint=f"its tables are: {', '.join(str(t) for t in tables) or '(none)'}",
                )
            wanted = TableName(table.name) if table is not None else None
            query = f"SELECT * FROM {pick_table(where, wanted, tables, fold_case=True).sql()}"
        con.set_authorizer(_read_only_authorizer)
        try:
            cursor = con.execute(query)
        except sqlite3.DatabaseError as exc:
            raise DataError(
                f"--query (query) could not run on {where}: {first_line(exc)}",
                hint="It must be a single read-only SELECT statement",
            ) from exc
        if cursor.description is None:
            raise DataError("--query (query) must be a single read-only SELECT statement")
        names = [d[0] for d in cursor.description]
        rows = cursor.fetchall()
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in names]
    arrays = []
    for values in columns:
        try:
            arrays.append(pa.array(values))
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
            # SQLite columns may mix types: keep every value as it is written
            arrays.append(pa.array([None if v is None else str(v) for v in values], pa.string()))
    return pa.table(arrays, names=names)


_SQLITE_READ_ACTIONS = {
    sqlite3.SQLITE_SELECT,
    sqlite3.SQLITE_READ,
    sqlite3.SQLITE_FUNCTION,
    getattr(sqlite3, "SQLITE_RECURSIVE", 33),
}


def _read_only_authorizer(action: int, *args: Any) -> int:
    return sqlite3.SQLITE_OK if action in _SQLITE_READ_ACTIONS else sqlite3.SQLITE_DENY


def quote(name: str) -> str:
    """A SQL identifier, double-quoted."""
    return '"' + name.replace('"', '""') + '"'


def sql_text(text: str) -> str:
    """Text for a single-quoted SQL literal."""
    return text.replace("'", "''")


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (or its type's name)."""
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


#: DuckDB's readers by file suffix, to look at a file's columns without reading it.
_DESCRIBE_READERS = {
    ".csv": "read_csv_auto",
    ".tsv": "read_csv_auto",
    ".txt": "read_csv_auto",
    ".parquet": "read_parquet",
    ".json": "read_json_auto",
}


def file_columns(path: str | os.PathLike[str]) -> set[str] | None:
    """The column names of a CSV, Parquet or JSON file, read from its header or schema.

    ``None`` when the path is not such a file or DuckDB cannot describe it (the orders
    reader then says what is wrong with it).
    """
    reader = _DESCRIBE_READERS.get(Path(path).suffix.lower())
    if reader is None or not Path(path).is_file():
        return None
    try:
        with duckdb.connect() as con:
            described = con.execute(f"DESCRIBE SELECT * FROM {reader}(?)", [str(path)]).fetchall()
    except duckdb.Error:
        return None
    return {str(row[0]) for row in described}
