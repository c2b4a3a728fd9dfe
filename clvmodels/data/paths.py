"""Where outputs may go and where a model's files may be read: nothing is ever lost.

Rules (``docs/cli.md``):

- an output never resolves (relative paths and symlinks resolved, hard links compared) to an
  input of the same command, and never holds one (a folder that would be replaced);
- nothing but ``clv fit`` writes into a model folder (a folder holding ``model.json``), and
  ``clv fit`` writes only the model folder itself, never into another one;
- a file named inside ``model.json`` is read only from inside its model folder.

This module only inspects paths; it imports nothing heavy, so the command line can check its
outputs before any work.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

#: The file that makes a folder a model folder (:func:`clvmodels.persistence.save_model`).
METADATA_FILE = "model.json"

PathLike = str | os.PathLike[str]


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
    output: PathLike, inputs: Iterable[tuple[str, PathLike]], *, model_dir: bool = False
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

    Returns
    -------
    str or None
        A predicate such as ``"is the input --orders"``, to follow the output's name.
    """
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
