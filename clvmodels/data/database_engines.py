"""One write transaction on PostgreSQL, DuckDB or SQLite: what :func:`write_database` needs.

Each :class:`Session` holds one open transaction on one engine and knows how to create a
table from Arrow, insert Arrow rows, list a table's columns, name the views that depend on a
table, and commit or roll back. :mod:`clvmodels.data.database_write` does the rest, the same
for all three. Drivers are imported when a session is opened.
"""

from __future__ import annotations

import contextlib
import re
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Any

from clvmodels.data.database_url import DatabaseURL, TableName, quote_identifier, redact_message
from clvmodels.errors import DataError

if TYPE_CHECKING:
    import pyarrow as pa

#: Rows per ``executemany`` of SQLite.
SQLITE_BATCH = 50_000


class Session:
    """An open write transaction (see the subclasses)."""

    def __init__(self, url: DatabaseURL, con: Any) -> None:
        self.url = url
        self.con = con

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Run one statement and return its rows (none for DDL)."""
        raise NotImplementedError

    def create(self, table: TableName, arrow: pa.Table) -> None:
        """Create ``table`` holding ``arrow``'s rows, with its column types."""
        raise NotImplementedError

    def insert(self, table: TableName, arrow: pa.Table) -> None:
        """Append ``arrow``'s rows to ``table`` (same columns, same order)."""
        raise NotImplementedError

    def kind(self, table: TableName) -> str | None:
        """``"table"``, ``"view"`` or ``"other"`` for what ``table`` names, None when nothing."""
        raise NotImplementedError

    def columns(self, table: TableName) -> list[str] | None:
        """``table``'s column names in order, or None when there is no such table."""
        raise NotImplementedError

    def dependent_views(self, table: TableName) -> list[str]:
        """The views that would block dropping ``table`` (only PostgreSQL binds them)."""
        return []

    def check_schema(self, schema: str) -> None:
        """Refuse a schema the engine cannot tell from another name (DuckDB's catalog)."""

    def commit(self) -> None:
        """Commit the transaction."""
        self.con.commit()

    def rollback(self) -> None:
        """Roll the transaction back (an error while doing so is not raised)."""
        with contextlib.suppress(Exception):
            self.con.rollback()

    def close(self, *, failed: bool) -> None:
        """Close the connection."""
        with contextlib.suppress(Exception):
            self.con.close()


def open_session(url: DatabaseURL) -> Session:
    """Connect to ``url`` and begin a transaction.

    Raises
    ------
    DataError
        When the database cannot be reached or opened (password hidden).
    """
    opener = {"postgresql": _PostgresSession, "duckdb": _DuckSession, "sqlite": _SqliteSession}
    try:
        return opener[url.engine].open(url)
    except DataError:
        raise
    except Exception as exc:
        raise DataError(
            f"cannot open {url.with_table(None)} to write: {driver_text(exc, url)}"
        ) from exc


def driver_text(exc: BaseException, url: DatabaseURL) -> str:
    """A driver's message, short (PostgreSQL's ERROR and DETAIL) and with the password hidden."""
    text = str(exc).strip() or type(exc).__name__
    match = re.search(r"ERROR:\s*(.*)", text, flags=re.S)
    if match:
        text = match.group(1)
        text = re.sub(r"\s*HINT:.*", "", text, flags=re.S)
        text = re.sub(r"\s*SQLSTATE:.*", "", text, flags=re.S)
    text = "; ".join(line.strip().rstrip(".") for line in text.splitlines() if line.strip())
    return redact_message(text, url)


class _PostgresSession(Session):
    """ADBC PostgreSQL; autocommit is off, so everything is one transaction."""

    @classmethod
    def open(cls, url: DatabaseURL) -> Session:
        import adbc_driver_postgresql.dbapi as pg

        return cls(url, pg.connect(url.connect_url))

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self.con.cursor() as cur:
            cur.execute(sql, parameters=list(params) if params else None)
            return list(cur.fetchall()) if cur.description else []

    def create(self, table: TableName, arrow: pa.Table) -> None:
        with self.con.cursor() as cur:
            cur.adbc_ingest(table.name, arrow, mode="create", db_schema_name=table.schema)

    def insert(self, table: TableName, arrow: pa.Table) -> None:
        with self.con.cursor() as cur:
            cur.adbc_ingest(table.name, arrow, mode="append", db_schema_name=table.schema)

    def kind(self, table: TableName) -> str | None:
        rows = self.execute(
            "SELECT relkind FROM pg_class WHERE oid = to_regclass($1)", (table.sql(),)
        )
        if not rows:
            return None
        return {"r": "table", "p": "table", "v": "view"}.get(rows[0][0], "other")

    def columns(self, table: TableName) -> list[str] | None:
        kind = self.kind(table)
        if kind is None:
            return None
        if kind != "table":
            raise DataError(f"{table} is not a table (it is a view or another object)")
        rows = self.execute(
            "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass($1) "
            "AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
            (table.sql(),),
        )
        return [row[0] for row in rows]

    def dependent_views(self, table: TableName) -> list[str]:
        rows = self.execute(
            "SELECT DISTINCT n.nspname, v.relname FROM pg_depend d "
            "JOIN pg_rewrite r ON d.objid = r.oid JOIN pg_class v ON r.ev_class = v.oid "
            "JOIN pg_namespace n ON v.relnamespace = n.oid "
            "WHERE d.classid = 'pg_rewrite'::regclass AND d.refobjid = to_regclass($1) "
            "AND v.oid <> d.refobjid ORDER BY 1, 2",
            (table.sql(),),
        )
        return [str(TableName(name, schema)) for schema, name in rows]


class _FileSession(Session):
    """A DuckDB or SQLite file, created when missing (and removed again if the write failed)."""

    created: bool = False

    @classmethod
    def open(cls, url: DatabaseURL) -> Session:
        assert url.path is not None
        folder = url.path.parent
        if not folder.is_dir():
            raise DataError(
                f"cannot write {url.with_table(None)}: the folder {folder} does not exist"
            )
        if url.path.is_dir():
            raise DataError(f"cannot write {url.with_table(None)}: {url.path} is a folder")
        created = not url.path.exists()
        session = cls(url, cls.connect(url.path))
        session.created = created
        return session

    @staticmethod
    def connect(path: Path) -> Any:
        """The connection, with a transaction begun."""
        raise NotImplementedError

    def close(self, *, failed: bool) -> None:
        super().close(failed=failed)
        if failed and self.created and self.url.path is not None:
            for leftover in (self.url.path, Path(f"{self.url.path}.wal")):
                with contextlib.suppress(OSError):
                    leftover.unlink()


class _DuckSession(_FileSession):
    """A DuckDB file: ``BEGIN`` ... ``COMMIT``; tables made from registered Arrow tables."""

    @staticmethod
    def connect(path: Path) -> Any:
        import duckdb

        con = duckdb.connect(str(path))
        con.execute("BEGIN TRANSACTION")
        return con

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        return self.con.execute(sql, list(params)).fetchall()

    def _from_arrow(self, statement: str, arrow: pa.Table) -> None:
        view = f"_clv_arrow_{secrets.token_hex(8)}"
        self.con.register(view, arrow)
        try:
            self.con.execute(statement + view)
        finally:
            with contextlib.suppress(Exception):  # fails in an aborted transaction
                self.con.unregister(view)

    def create(self, table: TableName, arrow: pa.Table) -> None:
        self._from_arrow(f"CREATE TABLE {table.sql()} AS SELECT * FROM ", arrow)

    def insert(self, table: TableName, arrow: pa.Table) -> None:
        self._from_arrow(f"INSERT INTO {table.sql()} SELECT * FROM ", arrow)

    def kind(self, table: TableName) -> str | None:
        schema = table.schema or self.execute("SELECT current_schema()")[0][0]
        rows = self.execute(
            "SELECT table_type FROM information_schema.tables "
            "WHERE table_schema = ? AND table_name = ?",
            (schema, table.name),
        )
        if not rows:
            return None
        return {"BASE TABLE": "table", "VIEW": "view"}.get(rows[0][0], "other")

    def columns(self, table: TableName) -> list[str] | None:
        schema = table.schema or self.execute("SELECT current_schema()")[0][0]
        kind = self.kind(table)
        if kind is None:
            return None
        if kind != "table":
            raise DataError(f"{table} is not a table (it is a view)")
        rows = self.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position",
            (schema, table.name),
        )
        return [row[0] for row in rows]

    def check_schema(self, schema: str) -> None:
        catalog = self.execute("SELECT current_database()")[0][0]
        if schema.lower() == str(catalog).lower():
            raise DataError(
                f"DuckDB calls the database of {self.url.path} {catalog!r}, so a schema of that "
                "name would be ambiguous in every query",
                hint="Choose another schema (#other.table) or another file name",
            )

    def commit(self) -> None:
        self.con.execute("COMMIT")

    def rollback(self) -> None:
        with contextlib.suppress(Exception):
            self.con.execute("ROLLBACK")


#: SQLite column types declared for Arrow types (their affinity keeps values as written).
def _sqlite_type(kind: pa.DataType, column: str) -> str:
    import pyarrow as pa

    if pa.types.is_boolean(kind):
        return "BOOLEAN"
    if pa.types.is_integer(kind):
        return "BIGINT"
    if pa.types.is_floating(kind):
        return "DOUBLE PRECISION"
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return "TEXT"
    if pa.types.is_timestamp(kind):
        return "TIMESTAMP"
    if pa.types.is_date(kind):
        return "DATE"
    if pa.types.is_decimal(kind):
        return "NUMERIC"
    if pa.types.is_binary(kind):
        return "BLOB"
    raise DataError(f"has the type {kind}, which clvmodels does not write to SQLite", column=column)


class _SqliteSession(_FileSession):
    """sqlite3 with ``isolation_level=None`` and an explicit ``BEGIN IMMEDIATE`` ... ``COMMIT``.

    ``legacy_alter_table`` keeps ``ALTER TABLE ... RENAME`` from checking the user's views,
    which name the table and see the new one after the swap, as before it.
    """

    @staticmethod
    def connect(path: Path) -> Any:
        import sqlite3

        con = sqlite3.connect(path, isolation_level=None)
        con.execute("PRAGMA legacy_alter_table = ON")
        con.execute("BEGIN IMMEDIATE")
        return con

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        return self.con.execute(sql, params).fetchall()

    def create(self, table: TableName, arrow: pa.Table) -> None:
        columns = ", ".join(
            f"{quote_identifier(field.name)} {_sqlite_type(field.type, field.name)}"
            for field in arrow.schema
        )
        self.con.execute(f"CREATE TABLE {table.sql()} ({columns})")
        self.insert(table, arrow)

    def insert(self, table: TableName, arrow: pa.Table) -> None:
        import pyarrow as pa

        marks = ", ".join("?" * arrow.num_columns)
        statement = f"INSERT INTO {table.sql()} VALUES ({marks})"
        for batch in arrow.to_batches(max_chunksize=SQLITE_BATCH):
            columns = []
            for field, column in zip(batch.schema, batch.columns, strict=True):
                values = column.to_pylist()
                if pa.types.is_timestamp(field.type) or pa.types.is_date(field.type):
                    values = [None if v is None else _iso(v) for v in values]
                elif pa.types.is_decimal(field.type):
                    values = [None if v is None else str(v) for v in values]
                columns.append(values)
            self.con.executemany(statement, zip(*columns, strict=True))

    def kind(self, table: TableName) -> str | None:
        rows = self.execute("SELECT type FROM sqlite_master WHERE name = ?", (table.name,))
        if not rows:
            return None
        return rows[0][0] if rows[0][0] in ("table", "view") else "other"

    def columns(self, table: TableName) -> list[str] | None:
        kind = self.kind(table)
        if kind is None:
            return None
        if kind != "table":
            raise DataError(f"{table} is not a table (it is a {kind})")
        rows = self.execute("SELECT name FROM pragma_table_info(?)", (table.name,))
        return [row[0] for row in rows]

    def commit(self) -> None:
        self.con.execute("COMMIT")

    def rollback(self) -> None:
        with contextlib.suppress(Exception):
            self.con.execute("ROLLBACK")


def _iso(value: Any) -> str:
    """A date or time as SQLite's usual text: ``2024-01-31`` or ``2024-01-31 09:00:00``."""
    return value.isoformat(sep=" ") if hasattr(value, "hour") else value.isoformat()
