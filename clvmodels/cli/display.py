"""How every command shows warnings: data-quality warnings in yellow, convergence in red.

Kept apart from :mod:`clvmodels.cli.common` (which imports pandas) so that ``clv --help`` and
``clv --version`` can set it up without loading the modelling stack.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from typing import Any

import click

from clvmodels.errors import ConvergenceWarning, DataQualityWarning


def show_warning(message: Any, category: type[Warning], *args: Any, **kwargs: Any) -> None:
    """Print a warning on standard error: ``Warning:`` or, for a failed fit, ``WARNING:``."""
    label = "WARNING" if issubclass(category, ConvergenceWarning) else "Warning"
    click.secho(f"{label}: {message}", err=True, fg="yellow" if label == "Warning" else "red")


@contextlib.contextmanager
def our_warnings(*, others: bool) -> Iterator[None]:
    """Show our data-quality and convergence warnings as they happen.

    ``others=False`` silences every other warning (the console script); ``True`` leaves them as
    the caller set them (a command invoked by a test runner).
    """
    with warnings.catch_warnings():
        warnings.showwarning = show_warning
        if not others:
            warnings.simplefilter("ignore")
        warnings.simplefilter("always", DataQualityWarning)
        warnings.simplefilter("always", ConvergenceWarning)
        yield


def run_cli(group: click.Group) -> None:
    """Run ``group`` as the ``clv`` program with our warning display."""
    with our_warnings(others=False):
        group(prog_name="clv")


#: What a command that draws says when -o is a database table and no --plots folder is given.
NO_PLOTS_BESIDE_TABLE = "no plots: -o is a database table; give --plots DIR to draw them"
