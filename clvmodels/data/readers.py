"""Every table source as a DuckDB relation: CSV, Parquet, DuckDB, SQLite files and DataFrames.

DuckDB cannot download its extensions here (``sqlite_scanner``, ``encodings``), so a SQLite
table arrives through :mod:`sqlite3` as Arrow and a CSV file in another encoding than UTF-8
through :mod:`pyarrow.csv`; both are then scanned by DuckDB like any other table. Database
files are opened read-only and a ``query`` must be a single ``SELECT`` statement.
"""

from __future__ import annotations

import contextlib
import csv
import os
import re
import sqlite3
from pathlib import Path
from typing import Any

import duckdb

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
) -> str:
    """Make a table file queryable on ``con`` as the view :data:`RAW_VIEW`, as it is.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
    source : path
        A CSV (``.csv``/``.tsv``/``.txt``), Parquet, DuckDB or SQLite file. Database files
        are told apart by their header.
    table, query : str, optional
        For database files: the table to read, or a single ``SELECT`` statement to run. A
        database with a single table needs neither.
    encoding : str
        Text encoding of a CSV file (``utf-8``, ``utf-16``, ``latin-1``, ...).
    all_text : bool
        Read every CSV column as text (VARCHAR), so DuckDB's sniffer types nothing: the
        orders contract decides what ids, dates and revenue are.

    Returns
    -------
    str
        The file's kind (``csv``, ``parquet``, ``duckdb``, ``sqlite``).

    Raises
    ------
    DataError
        When the file is missing, is not a table, is not in the stated encoding, or the
        query is not a single read-only SELECT.
    """
    path = Path(source)
    if not path.exists():
        raise DataError(f"file not found: {path}")
    if path.is_dir():
        _register_parquet_folder(con, path)
        return "parquet"
    if path.stat().st_size == 0:
        raise DataError(
            f"{path}: the file is empty (0 bytes)",
            hint="An orders table needs a header row and one row per order",
        )
    kind = file_kind(path)
    if query is not None:
        check_select(query)
    try:
        if kind == "csv":
            _register_csv(con, path, encoding, all_text)
        elif kind == "parquet":
            con.execute(
                f"CREATE OR REPLACE TEMP VIEW {RAW_VIEW} AS "
                f"SELECT * FROM read_parquet('{sql_text(str(path))}')"
            )
        elif kind == "duckdb":
            _register_duckdb(con, path, table, query)
        else:
            con.register(RAW_VIEW, _sqlite_arrow(path, table, query))
    except DataError:
        raise
    except (duckdb.Error, sqlite3.Error) as exc:
        raise DataError(f"{path} could not be read as a {kind} table: {first_line(exc)}") from exc
    return kind


def _register_parquet_folder(con: duckdb.DuckDBPyConnection, path: Path) -> None:
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
            f"CREATE OR REPLACE TEMP VIEW {RAW_VIEW} AS "
            f"SELECT * FROM read_parquet('{pattern}', union_by_name = false)"
        )
        con.execute(f"DESCRIBE {RAW_VIEW}").fetchall()
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
    con: duckdb.DuckDBPyConnection, path: Path, encoding: str, all_text: bool
) -> None:
    if encoding.lower().replace("_", "-") in {"utf-8", "utf8"}:
        check_utf8(path)
        options = ", all_varchar = true" if all_text else ""
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW {RAW_VIEW} AS SELECT * FROM "
            f"read_csv('{sql_text(str(path))}', header = true{options})"
        )
    else:
        con.register(RAW_VIEW, _arrow_csv(path, encoding, all_text))
    columns = [row[0] for row in con.execute(f"DESCRIBE {RAW_VIEW}").fetchall()]
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
    con: duckdb.DuckDBPyConnection, path: Path, table: str | None, query: str | None
) -> None:
    con.execute(f"ATTACH '{sql_text(str(path))}' AS {_ATTACHED} (READ_ONLY)")
    # Unqualified names in a query resolve in the file; the views made here are temporary
    # and named clv_*, so they never shadow the file's tables.
    con.execute(f"USE {_ATTACHED}")
    if query is None:
        tables = [
            row[0]
            for row in con.execute(
                "SELECT table_name FROM duckdb_tables() WHERE database_name = ? UNION "
                "SELECT view_name FROM duckdb_views() WHERE database_name = ? AND NOT internal "
                "ORDER BY 1",
                [_ATTACHED, _ATTACHED],
            ).fetchall()
        ]
        table = pick_table(path, table, tables)
        query = f"SELECT * FROM {_ATTACHED}.{quote(table)}"
    con.execute(f"CREATE OR REPLACE TEMP VIEW {RAW_VIEW} AS {query.strip().rstrip(';')}")


def _sqlite_arrow(path: Path, table: str | None, query: str | None) -> Any:
    """A SQLite table or query result as an Arrow table (read-only; SELECT only)."""
    import pyarrow as pa

    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as con:
        if query is None:
            tables = [
                row[0]
                for row in con.execute(
                    "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') ORDER BY name"
                )
            ]
            table = pick_table(path, table, tables)
            query = f"SELECT * FROM {quote(table)}"
        con.set_authorizer(_read_only_authorizer)
        try:
            cursor = con.execute(query)
        except sqlite3.DatabaseError as exc:
            raise DataError(
                f"--query (query) could not run on {path}: {first_line(exc)}",
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


def pick_table(path: Path, table: str | None, tables: list[str]) -> str:
    """The table to read: the one named, or the only one; else a DataError listing them."""
    if table is not None:
        if table not in tables:
            raise DataError(
                f"{path} has no table '{table}'",
                hint=f"its tables are: {', '.join(tables) or '(none)'}",
            )
        return table
    if len(tables) == 1:
        return tables[0]
    raise DataError(
        f"{path} has {len(tables)} tables; say which with --table or --query",
        hint=f"its tables are: {', '.join(tables) or '(none)'}",
    )


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
