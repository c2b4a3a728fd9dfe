"""Errors and warnings that speak about the user's data, not about our code."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


class ClvError(Exception):
    """Base class of the errors clvmodels raises for a user to read (CLI exit code 2)."""


class DataError(ClvError, ValueError):
    """Input data that cannot be used as it is.

    The message names the column, how many rows are affected and a few example values.
    """

    def __init__(
        self,
        problem: str,
        *,
        column: str | None = None,
        n_rows: int | None = None,
        examples: Iterable[Any] = (),
        hint: str | None = None,
    ) -> None:
        self.problem = problem
        self.column = column
        self.n_rows = n_rows
        self.examples = list(examples)
        self.hint = hint
        super().__init__(self._message())

    def _message(self) -> str:
        parts = []
        if self.column is not None:
            parts.append(f"column '{self.column}': ")
        parts.append(self.problem)
        if self.n_rows is not None:
            parts.append(f" ({self.n_rows:,} row{'s' if self.n_rows != 1 else ''}")
            if self.examples:
                parts.append(", e.g. " + ", ".join(_show(v) for v in self.examples[:5]))
            parts.append(")")
        elif self.examples:
            parts.append(" (e.g. " + ", ".join(_show(v) for v in self.examples[:5]) + ")")
        if self.hint:
            parts.append(". " + self.hint[:1].upper() + self.hint[1:])
        return "".join(parts)


class NotFittedError(ClvError, AttributeError):
    """A model was used before ``fit`` was called."""


class ModelFileError(ClvError):
    """A saved model directory is missing, corrupt, or from an incompatible version."""


class DataQualityWarning(UserWarning):
    """Something in the input data was kept or changed and the user should know."""


class ConvergenceWarning(UserWarning):
    """A fit did not converge: optimiser failure, high r-hat, low ESS or divergences."""


class Label(str):
    """An example that names a place (``row 3``, ``customer 17``), shown without quotes."""


def _show(value: Any) -> str:
    text = (
        repr(str(value)) if isinstance(value, str) and not isinstance(value, Label) else str(value)
    )
    return text if len(text) <= 40 else text[:37] + "..."
