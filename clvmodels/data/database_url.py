"""Database URLs and table names: parsed once, quoted always, passwords never shown.

A table argument or ``-o`` output may be a database URL (``docs/databases.md``):

- ``postgresql://user@host:port/db`` (also ``postgres://``; the password comes from libpq's
  environment, ``PGPASSWORD``, or ``~/.pgpass``; one written in the URL is accepted but never
  printed, logged or stored: :meth:`DatabaseURL.redacted`);
- ``duckdb:///relative.duckdb`` and ``duckdb:////absolute.duckdb``;
- ``sqlite:///relative.sqlite`` and ``sqlite:////absolute.sqlite``;

with a table as the URL's fragment, percent-decoded: ``postgresql://host/db#sales.orders``,
``duckdb:///shop.duckdb#"shop data"."Orders 1997"``. A table name is written as SQL writes it:
``orders``, ``sales.orders``, or double-quoted parts for names with spaces, dots or capitals
(``""`` inside quotes is one ``"``). Unquoted parts are folded to lower case, as PostgreSQL
does. A name is parsed into identifiers and re-quoted, never pasted into SQL.

This module imports no driver; it only parses.
"""

from __future__ import annotations

import contextlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urlsplit, urlunsplit

from clvmodels.errors import DataError

Engine = Literal["postgresql", "duckdb", "sqlite"]

#: URL schemes and the engine each names.
SCHEMES: dict[str, Engine] = {
    "postgresql": "postgresql",
    "postgres": "postgresql",
    "duckdb": "duckdb",
    "sqlite": "sqlite",
}

_UNQUOTED = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*")


def quote_identifier(name: str) -> str:
    """``name`` as one double-quoted SQL identifier (``"`` doubled); NUL is refused."""
    if "\x00" in name:
        raise DataError(f"the name {name!r} holds a NUL character, which no database allows")
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class TableName:
    """A table, optionally in a schema: identifiers exactly as the database stores them."""

    name: str
    schema: str | None = None

    def sql(self) -> str:
        """The quoted, qualified name to put in SQL: ``"sales"."orders"``."""
        if self.schema is None:
            return quote_identifier(self.name)
        return f"{quote_identifier(self.schema)}.{quote_identifier(self.name)}"

    def __str__(self) -> str:
        """The name as SQL writes it, quoting only the parts that need it."""
        parts = [self.name] if self.schema is None else [self.schema, self.name]
        return ".".join(
            p if _UNQUOTED.fullmatch(p) and p == p.lower() else quote_identifier(p) for p in parts
        )


def parse_table_name(text: str, *, what: str = "--table") -> TableName:
    """Parse ``orders``, ``sales.orders`` or ``"shop data"."Orders 1997"`` into a TableName.

    Unquoted parts must be plain identifiers (letters, digits, ``_``, ``$``; not starting with
    a digit) and are folded to lower case; quoted parts are kept exactly. At most two parts.

    Raises
    ------
    DataError
        Naming ``what`` (the flag) and the text, when it is not such a name.
    """
    parts: list[str] = []
    i, n = 0, len(text)
    while True:
        if i < n and text[i] == '"':
            j, chars = i + 1, []
            while True:
                k = text.find('"', j)
                if k < 0:
                    raise DataError(f"{what} {text!r}: a double quote is not closed")
                chars.append(text[j:k])
                if k + 1 < n and text[k + 1] == '"':
                    chars.append('"')
                    j = k + 2
                    continue
                i = k + 1
                break
            part = "".join(chars)
            if not part:
                raise DataError(f"{what} {text!r}: an empty quoted name")
        else:
            match = _UNQUOTED.match(text, i)
            if match is None:
                raise DataError(
                    f"{what} {text!r} is not a table name",
                    hint='Write it as SQL does: orders, sales.orders, or "Shop data"."Orders 1997" '
                    "(double quotes around names with spaces, dots, capitals or other characters)",
                )
            part = match.group(0).lower()
            i = match.end()
        parts.append(part)
        if i == n:
            break
        if text[i] != ".":
            raise DataError(
                f"{what} {text!r} is not a table name: unexpected {text[i]!r} at character {i + 1}",
                hint='Double-quote names with spaces or other characters: "shop data".orders',
            )
        i += 1
    if len(parts) > 2:
        raise DataError(f"{what} {text!r} has {len(parts)} parts; give table or schema.table")
    if "\x00" in "".join(parts):
        raise DataError(f"{what} {text!r} holds a NUL character")
    return TableName(parts[-1], parts[0] if len(parts) == 2 else None)


def is_database_url(text: object) -> bool:
    """Whether ``text`` is a URL of a database clvmodels reads and writes."""
    if not isinstance(text, str) or "://" not in text:
        return False
    return text.split("://", 1)[0].lower() in SCHEMES


@dataclass(frozen=True)
class DatabaseURL:
    """A parsed database URL: the engine, how to connect, and the table in its fragment.

    ``connect_url`` holds the password if one was written; print :meth:`redacted` (which
    ``str()`` also gives) and never ``connect_url``.
    """

    engine: Engine
    connect_url: str
    path: Path | None
    table: TableName | None

    def redacted(self) -> str:
        """The URL as it may be shown: any password replaced by ``***``, fragment kept."""
        if self.path is not None:
            shown = f"{self.engine}:///{self.path}"  # an absolute path gives duckdb:////abs
        else:
            parts = urlsplit(self.connect_url)
            netloc = parts.netloc
            if "@" in netloc:
                userinfo, host = netloc.rsplit("@", 1)
                if ":" in userinfo:
                    netloc = f"{userinfo.split(':', 1)[0]}:***@{host}"
            query = re.sub(r"(?i)(password=)[^&]*", r"\1***", parts.query)
            shown = urlunsplit((parts.scheme, netloc, parts.path, query, ""))
        return shown + (f"#{self.table}" if self.table is not None else "")

    def __str__(self) -> str:
        """Same as :meth:`redacted`."""
        return self.redacted()

    def with_table(self, table: TableName | None) -> DatabaseURL:
        """The same database with another table."""
        return DatabaseURL(self.engine, self.connect_url, self.path, table)

    def same_database(self, other: DatabaseURL) -> bool:
        """Whether both URLs name one database (files compared resolved)."""
        if self.engine != other.engine:
            return False
        if self.path is not None and other.path is not None:
            return self.path.resolve() == other.path.resolve()
        return _pg_identity(self.connect_url) == _pg_identity(other.connect_url)


def _pg_identity(url: str) -> tuple[str, int, str]:
    parts = urlsplit(url)
    return (parts.hostname or "", parts.port or 5432, parts.path.lstrip("/"))


def parse_database_url(text: str, *, what: str = "the table") -> DatabaseURL:
    """Parse a database URL (see the module's docstring); the fragment is the table.

    Raises
    ------
    DataError
        Naming ``what`` (the argument or flag) and the URL (password hidden), when the scheme
        is not known, a file URL has no path, or the fragment is not a table name.
    """
    scheme, rest = text.split("://", 1) if "://" in text else ("", text)
    engine = SCHEMES.get(scheme.lower())
    body, _, fragment = rest.partition("#")
    table = parse_table_name(unquote(fragment), what=f"{what}'s table") if fragment else None
    if engine is None:
        raise DataError(
            f"{what}: {scheme}:// is not a database clvmodels reads",
            hint="Use postgresql://user@host:port/db, duckdb:///file.duckdb or "
            "sqlite:///file.sqlite, with the table after # (postgresql://host/db#sales.orders)",
        )
    if engine == "postgresql":
        url = DatabaseURL(engine, f"postgresql://{body}", None, table)
        if not urlsplit(url.connect_url).path.strip("/"):
            raise DataError(
                f"{what} {url.redacted()} names no database",
                hint="Write postgresql://user@host:port/database",
            )
        return url
    if not body.startswith("/") or body == "/":
        raise DataError(
            f"{what} {scheme}://{body} names no file",
            hint=f"Write {engine}:///relative/path.{engine} or {engine}:////absolute/path",
        )
    path = Path(unquote(body[1:]))
    return DatabaseURL(engine, f"{engine}:///{path}", path, table)


def redact_message(text: str, url: DatabaseURL) -> str:
    """``text`` (a driver's message, a log line) with ``url``'s password replaced by ``***``."""
    password = urlsplit(url.connect_url).password
    shown = text.replace(url.connect_url, url.redacted())
    if password:
        shown = shown.replace(password, "***").replace(unquote(password), "***")
    return shown


def shown_source(source: object) -> str:
    """A table argument as it may be printed or stored: a URL's password hidden."""
    text = os.fspath(source) if isinstance(source, os.PathLike) else str(source)
    if is_database_url(text):
        with contextlib.suppress(DataError):
            return str(parse_database_url(text))
        return text.split("://", 1)[0] + "://***"
    return text


def stored_source(source: object) -> str:
    """A table argument as a model's metadata records it (never a password).

    A file's absolute path, or the URL with its password hidden (a DuckDB or SQLite file's
    path made absolute).
    """
    text = os.fspath(source) if isinstance(source, os.PathLike) else str(source)
    if not is_database_url(text):
        return str(Path(text).resolve())
    try:
        url = parse_database_url(text)
    except DataError:
        return shown_source(text)
    if url.path is not None:
        path = url.path.resolve()
        url = DatabaseURL(url.engine, f"{url.engine}:///{path}", path, url.table)
    return str(url)
