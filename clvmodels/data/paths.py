"""Where outputs may go and where a model's files may be read: nothing is ever lost.

Rules (``docs/cli.md``):

- an output never resolves (relative paths and symlinks resolved, hard links compared) to an
  input of the same command, and never holds one (a folder that would be replaced);
- nothing but ``clv fit`` writes into a model folder (a folder holding ``model.json``), and
  ``clv fit`` writes only the model folder itself, never into another one;
- a file named inside ``model.json`` is read only from inside its model folder;
- a database output (``-o URL#table``) never names a table that is an input of the command.

This module only inspects paths; it imports nothing heavy, so the command line can check its
outputs before any work.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from clvmodels.data.database_url import (
    DatabaseURL,
    TableName,
    is_database_url,
    parse_database_url,
    parse_table_name,
)
from clvmodels.data.database_write import physical_name

#: The file that makes a folder a model folder (:func:`clvmodels.persistence.save_model`).
METADATA_FILE = "model.json"

PathLike = str | os.PathLike[str]

#: Where an output goes: a file, or a table of a database (``-o URL#table``).
OutputTarget = Path | DatabaseURL


def output_target(output: PathLike | DatabaseURL, *, what: str = "-o") -> OutputTarget:
    """``output`` as a file path or a parsed database URL (its table may be missing)."""
    if isinstance(output, DatabaseURL):
        return output
    if is_database_url(str(output)):
        return parse_database_url(str(output), what=what)
    return Path(output)


def derived_target(target: OutputTarget, suffix: str, extension: str | None = None) -> OutputTarget:
    """An output derived from ``target``: a file beside it, or a table in its schema.

    ``<stem>_<suffix><extension>`` (the target's suffix without ``extension``) beside a file;
    the table ``<table>_<suffix>`` in the same database and schema.
    """
    if isinstance(target, DatabaseURL):
        assert target.table is not None
        return target.with_table(TableName(f"{target.table.name}_{suffix}", target.table.schema))
    return target.with_name(f"{target.stem}_{suffix}{extension or target.suffix}")


def same_output(a: OutputTarget, b: OutputTarget) -> bool:
    """Whether two outputs are one file or one table."""
    if isinstance(a, DatabaseURL) and isinstance(b, DatabaseURL):
        return a.same_database(b) and _stored(a) == _stored(b)
    if isinstance(a, DatabaseURL) or isinstance(b, DatabaseURL):
        return False
    return resolved(a) == resolved(b)


def input_tables(name: str, opts: Mapping[str, object]) -> dict[str, str | None]:
    """The table an input reads with ``--table`` (None: a ``--query``), for output_problem."""
    if opts.get("table") or opts.get("query"):
        return {name: opts.get("table")}
    return {}


def output_key(target: OutputTarget) -> str:
    """What makes two outputs one: a resolved path, or a database URL with its table."""
    return str(target) if isinstance(target, DatabaseURL) else str(resolved(target))


def _stored(url: DatabaseURL, table: TableName | None = None) -> TableName | None:
    """The table as the engine stores it, the engine's default schema made explicit."""
    table = table or url.table
    if table is None:
        return None
    default = {"postgresql": "public", "duckdb": "main"}.get(url.engine)
    stored = physical_name(url, table.name, table.schema)
    return TableName(stored.name, stored.schema or default)


def resolved(path: PathLike) -> Path:
    """``path`` made absolute with every symlink and ``..`` resolved (it need not exist)."""
    return Path(path).resolve()


def is_url(path: PathLike) -> bool:
    """A URL or remote path (``s3a://``, ``postgresql://``): not a local file to compare."""
    return "://" in str(path)


def is_model_dir(path: PathLike) -> bool:
    """Whether ``path`` is a folder holding ``model.json``."""
    return (Path(path) / METADATA_FILE).is_file()


def enclosing_model_dir(path: PathLike) -> Path | None:
    """The nearest folder above ``path`` (resolved) that is a model folder, or None."""
    for parent in resolved(path).parents:
        if is_model_dir(parent):
            return parent
    return None


def is_within(path: PathLike, folder: PathLike) -> bool:
    """Whether ``path`` resolves to ``folder`` or to something inside it."""
    return resolved(path).is_relative_to(resolved(folder))


def same_file(a: PathLike, b: PathLike) -> bool:
    """Whether ``a`` and ``b`` name one file: equal resolved paths, or one inode (hard link)."""
    if resolved(a) == resolved(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def output_problem(
    output: PathLike | DatabaseURL,
    inputs: Iterable[tuple[str, PathLike | DatabaseURL]],
    *,
    model_dir: bool = False,
    tables: Mapping[str, str | None] | None = None,
) -> str | None:
    """Why writing ``output`` could lose a file, or None when it cannot.

    Parameters
    ----------
    output : path
        A file (or, with ``model_dir``, the model folder) about to be written.
    inputs : iterable of (str, path)
        Each input's name (a flag, such as ``--orders``) and path; URLs are skipped.
    model_dir : bool
        ``output`` is a model folder that replaces whatever model folder is there.
    tables : mapping, optional
        For inputs read from a database: the input's name to its ``--table``, or to None when
        it was read with ``--query`` (whose tables are not known, so not compared).

    Returns
    -------
    str or None
        A predicate such as ``"is the input --orders"``, to follow the output's name.
    """
    if isinstance(output, DatabaseURL) or is_database_url(str(output)):
        return table_output_problem(output_target(output), inputs, tables or {})  # type: ignore[arg-type]
    if is_url(output):
        return None
    target = resolved(output)
    for name, path in inputs:
        if is_url(path):
            continue
        if same_file(output, path):
            return f"is the input {name}"
        if resolved(path).is_relative_to(target):
            return f"holds the input {name} ({path})"
    folder = enclosing_model_dir(target)
    if folder is not None:
        return f"is inside the model folder {folder}"
    if model_dir:
        return model_target_problem(target)
    if is_model_dir(target):
        return "is a model folder"
    return None


def table_output_problem(
    output: DatabaseURL,
    inputs: Iterable[tuple[str, PathLike | DatabaseURL]],
    tables: Mapping[str, str | None],
) -> str | None:
    """Why writing the table ``output`` could replace an input table, or None.

    An input is a database URL (its table in the fragment or in ``tables``) or a DuckDB or
    SQLite file (its table in ``tables``). An input in the same database whose table is not
    known (a database file's only table) is refused too; one read with ``--query`` is not.
    """
    target = _stored(output)
    for name, path in inputs:
        given = tables.get(name)
        if isinstance(path, DatabaseURL) or is_database_url(str(path)):
            source = output_target(path)
            assert isinstance(source, DatabaseURL)
            if not output.same_database(source):
                continue
            table = source.table
        elif output.path is not None and not is_url(path) and same_file(output.path, path):
            source, table = output, None
        else:
            continue
        if table is None and given:
            table = parse_table_name(given)
        if table is None:
            if given is None and name in tables:
                continue  # read with --query: the tables it reads are not known
            return (
                f"is in the database of the input {name}, whose table is not named (its only "
                "table is read): give the input's table (--table or URL#table)"
            )
        if _stored(source, table) == target:
            return f"is the input {name}"
    return None


def model_target_problem(target: PathLike) -> str | None:
    """Why ``target`` cannot become a model folder (it is replaced as a whole), or None.

    A missing or empty folder, or an existing model folder, may be (re)written; a file or a
    folder holding anything else is never replaced.
    """
    path = Path(target)
    if not path.exists() or is_model_dir(path):
        return None
    if not path.is_dir():
        return "is a file, not a model folder"
    if any(path.iterdir()):
        return "is a folder that is not a model folder (it has no model.json) and is not empty"
    return None


def inside_folder_problem(name: str, folder: PathLike) -> str | None:
    """Why the file ``name`` (as written in a model's metadata) is not safely inside ``folder``.

    Only a plain relative name is allowed: no absolute path, no ``..``, and nothing that
    resolves (through a symlink) outside ``folder``.
    """
    if not isinstance(name, str) or not name or "\x00" in name:
        return f"{name!r} is not a file name"
    relative = Path(name)
    if relative.is_absolute() or relative.anchor:
        return f"{name!r} is an absolute path"
    if ".." in relative.parts:
        return f"{name!r} leads out of the model folder ('..')"
    if not is_within(Path(folder) / relative, folder):
        return f"{name!r} leads out of the model folder (a symlink)"
    return None
