"""Where a command's outputs go: files or database tables, checked before any work.

The rules are in ``docs/cli.md`` (never lose a file) and ``docs/databases.md`` (tables).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from clvmodels.cli.common import UserError
from clvmodels.data.database_url import DatabaseURL, is_database_url, parse_database_url
from clvmodels.data.database_write import together_problem
from clvmodels.data.paths import OutputTarget, PathLike, output_problem


def output_path(
    path: str,
    suffixes: tuple[str, ...] = (".parquet", ".csv", ".json"),
    *,
    flag: str = "-o",
) -> OutputTarget:
    """Check an output file's suffix, or a database URL's table (tables only), before any work."""
    if is_database_url(path):
        if ".parquet" not in suffixes:
            folder_output(path, flag, f"a {' or '.join(suffixes)} file")
        url = parse_database_url(path, what=flag)
        if url.table is None:
            raise UserError(f"{flag} {url} needs a table: add #schema.table")
        return url
    target = Path(path)
    if target.suffix.lower() not in suffixes:
        raise UserError(
            f"output {target} must end in {', '.join(suffixes)} (the format follows the suffix)"
        )
    return target


def folder_output(path: str | None, flag: str, what: str = "a folder") -> None:
    """Refuse a database URL given where files are written (a model, plots, a report)."""
    if path is not None and is_database_url(path):
        url = parse_database_url(path, what=flag)
        raise UserError(f"{flag} {url} is a database URL, but {flag} writes {what}: give a path")


def folder_not_file(out_dir: str, flag: str = "--output") -> None:
    """Refuse, before any work, an output folder that is an existing file."""
    if Path(out_dir).exists() and not Path(out_dir).is_dir():
        raise UserError(
            f"{flag} {out_dir} is a file, not a folder; nothing was written: choose another folder"
        )


def one_destination(target: OutputTarget, others: Mapping[str, OutputTarget | None]) -> None:
    """Refuse, before any work, outputs that cannot be written in one go with ``target``."""
    for flag, other in others.items():
        problem = None if other is None else together_problem(target, other)
        if problem is not None:
            raise UserError(f"{flag} {other} {problem}")


def check_outputs(
    *,
    inputs: Mapping[str, PathLike | Iterable[PathLike] | None],
    outputs: Mapping[str, OutputTarget | PathLike | Iterable[OutputTarget | PathLike] | None],
    model_dirs: Mapping[str, PathLike | None] | None = None,
    tables: Mapping[str, str | None] | None = None,
) -> None:
    """Refuse, before any work, every output that could lose a file (``docs/cli.md``).

    Parameters
    ----------
    inputs : mapping
        Each input's flag (or argument name, such as ``ORDERS``) to its path, or to every
        file it makes read (None: not given).
    outputs : mapping
        Each output flag to the file it names, or to every file it makes write (the one
        given first, then those derived from it: ``_summary``, plots).
    model_dirs : mapping, optional
        Output flags of model folders (``clv fit -o``): such a folder may replace an
        existing model folder, never a file, a folder holding anything else, or an input.
    tables : mapping, optional
        Inputs read from a database: the table each reads (``paths.input_tables``).

    Raises
    ------
    UserError
        One line naming the flag and the path; exit code 2.
    """
    given = [
        (name, path)
        for name, paths in inputs.items()
        if paths is not None
        for path in _paths(paths)
    ]
    targets = [(flag, _paths(paths), False) for flag, paths in outputs.items() if paths is not None]
    targets += [
        (flag, [path], True) for flag, path in (model_dirs or {}).items() if path is not None
    ]
    for flag, paths, is_model in targets:
        for path in paths:
            problem = output_problem(path, given, model_dir=is_model, tables=tables)
            if problem is None:
                continue
            where = f"{path} {problem}" if path is paths[0] else f"writes {path}, which {problem}"
            other = "table" if isinstance(path, DatabaseURL) else "path"
            raise UserError(f"{flag} {where}; nothing was written: choose another {other}")


def _paths(
    paths: PathLike | DatabaseURL | Iterable[PathLike | DatabaseURL],
) -> list[PathLike | DatabaseURL]:
    if isinstance(paths, str | Path | DatabaseURL):
        return [paths]
    return list(paths)  # type: ignore[arg-type]
