"""Time-invariant customer covariates: their encoding into a design matrix, saved with the model.

A covariate is a column of the RFM table (joined from a customers table by the jobs), one
value per customer, that does not change over time: acquisition channel, gender, the first
order's value. The transaction models use them as pymc-marketing 1.3.0 does (Fader, Hardie &
Lee 2007, note 019, "Incorporating time-invariant covariates into the Pareto/NBD and BG/NBD
models", http://www.brucehardie.com/notes/019/time_invariant_covariates.pdf): with ``z_i`` the
encoded covariates of customer i,

* BG/NBD and MBG/NBD: ``alpha_i = alpha_scale exp(-z_i . gamma_purchase)``,
  ``a_i = a_scale exp(z_i . gamma_a)``, ``b_i = b_scale exp(z_i . gamma_b)``;
* Pareto/NBD: ``alpha_i = alpha_scale exp(-z_i . gamma_purchase)``,
  ``beta_i = beta_scale exp(-z_i . gamma_dropout)``.

So ``exp(gamma_purchase)`` multiplies the mean purchase rate ``r / alpha`` (and, in
Pareto/NBD, ``exp(gamma_dropout)`` the mean dropout rate ``s / beta``).

The encoding (:func:`fit_encoding`) is learned once, on the customers the model is fitted on,
and applied unchanged to new customers (:meth:`CovariateEncoding.design`):

* a **categorical** column (text, boolean or categorical dtype) becomes one 0/1 indicator per
  level other than its **reference level**, which is the most frequent level at fit time
  (ties broken by the levels' sort order as text); the reference's customers have all
  indicators 0, so ``alpha_scale``, ``a_scale``, ... are the reference customer's parameters;
* a **numeric** column is standardised, ``(value - mean) / sd`` with the fit-time mean and
  standard deviation (ddof 0), so its coefficient is the effect of one standard deviation and
  the scales are those of a customer at the mean.

Missing values, a level not seen at fit time, a numeric column with text in it or a constant
numeric column raise :class:`~clvmodels.errors.DataError` naming the column, how many customers
and a few examples. The encoding is plain data (:meth:`CovariateEncoding.to_dict`), saved in
``model.json`` under ``encoding``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from clvmodels.errors import DataError, Label

Kind = Literal["categorical", "numeric"]

#: Separator of a categorical column and its level in a feature's name: ``channel=web``.
LEVEL_SEPARATOR = "="


@dataclass(frozen=True)
class ColumnEncoding:
    """How one covariate column is encoded.

    Attributes
    ----------
    name : str
        The column.
    kind : {"categorical", "numeric"}
    levels : tuple of str
        Categorical: every level seen at fit time, the reference first, then in sort order.
    mean, sd : float
        Numeric: the fit-time mean and standard deviation (ddof 0).
    """

    name: str
    kind: Kind
    levels: tuple[str, ...] = ()
    mean: float = 0.0
    sd: float = 1.0

    @property
    def reference(self) -> str | None:
        """The reference level (categorical), whose customers have all indicators 0."""
        return self.levels[0] if self.kind == "categorical" else None

    @property
    def features(self) -> tuple[str, ...]:
        """The encoded columns: ``name=level`` per non-reference level, or ``name``."""
        if self.kind == "numeric":
            return (self.name,)
        return tuple(f"{self.name}{LEVEL_SEPARATOR}{level}" for level in self.levels[1:])

    def encode(self, column: pd.Series, ids: Sequence[Any] | None = None) -> np.ndarray:
        """The ``(customers, len(features))`` block of this column; DataError on bad values."""
        ids = list(range(1, len(column) + 1)) if ids is None else list(ids)
        _refuse_missing(column, self.name, ids)
        if self.kind == "numeric":
            values = _numeric(column, self.name, ids)
            return ((values - self.mean) / self.sd)[:, None]
        text = level_text(column)
        unseen = ~text.isin(self.levels).to_numpy()
        if unseen.any():
            seen = ", ".join(repr(v) for v in self.levels)
            raise DataError(
                f"levels not seen when the model was fitted (it knows {seen})",
                column=self.name,
                n_rows=int(unseen.sum()),
                examples=_examples(ids, unseen, text.to_numpy()),
                hint="refit the model with these customers, or map the levels to known ones",
            )
        codes = pd.Categorical(text, categories=list(self.levels)).codes
        return (codes[:, None] == np.arange(1, len(self.levels))[None, :]).astype("float64")

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form."""
        if self.kind == "numeric":
            return {"name": self.name, "kind": "numeric", "mean": self.mean, "sd": self.sd}
        return {
            "name": self.name,
            "kind": "categorical",
            "reference": self.levels[0],
            "levels": list(self.levels),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ColumnEncoding:
        """Inverse of :meth:`to_dict`."""
        if data["kind"] == "numeric":
            return cls(str(data["name"]), "numeric", mean=float(data["mean"]), sd=float(data["sd"]))
        return cls(str(data["name"]), "categorical", levels=tuple(map(str, data["levels"])))


@dataclass(frozen=True)
class CovariateEncoding:
    """The encoding of the purchase and dropout covariates of a model.

    Attributes
    ----------
    columns : tuple of ColumnEncoding
        Every covariate column, purchase and dropout ones together, each once.
    purchase, dropout : tuple of str
        The columns that act on the purchase process and on the dropout process.
    """

    columns: tuple[ColumnEncoding, ...]
    purchase: tuple[str, ...] = ()
    dropout: tuple[str, ...] = ()
    _by_name: dict[str, ColumnEncoding] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", {c.name: c for c in self.columns})

    def column(self, name: str) -> ColumnEncoding:
        """The encoding of column ``name``."""
        return self._by_name[name]

    def features(self, process: Literal["purchase", "dropout"]) -> tuple[str, ...]:
        """The encoded feature names of one process, in design-matrix order."""
        names = self.purchase if process == "purchase" else self.dropout
        return tuple(f for name in names for f in self._by_name[name].features)

    def reference_customer(self) -> dict[str, str | float]:
        """The reference customer's covariates (every encoded covariate 0).

        Each categorical column at its reference level, each numeric one at its fit-time mean.
        """
        return {
            c.name: (c.reference if c.kind == "categorical" else c.mean)  # type: ignore[misc]
            for c in self.columns
        }

    def design(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """The purchase and dropout design matrices of the customers of ``frame``.

        ``frame`` holds the covariate columns (one row per customer; ``customer_id``, when
        present, names customers in the messages). Returns two float64 arrays of shape
        ``(len(frame), len(features(...)))``.
        """
        missing = [c.name for c in self.columns if c.name not in frame.columns]
        if missing:
            raise DataError(
                f"the customers have no covariate column {', '.join(map(repr, missing))}, "
                "which the model was fitted with",
                hint=f"the columns are: {', '.join(map(str, frame.columns))}",
            )
        ids = _ids(frame)
        blocks = {c.name: c.encode(frame[c.name], ids) for c in self.columns}
        return tuple(  # type: ignore[return-value]
            np.concatenate([blocks[n] for n in names], axis=1)
            if names
            else np.zeros((len(frame), 0))
            for names in (self.purchase, self.dropout)
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form (``model.json``'s ``encoding``)."""
        return {
            "reference_rule": REFERENCE_RULE,
            "numeric_rule": NUMERIC_RULE,
            "purchase": list(self.purchase),
            "dropout": list(self.dropout),
            "columns": [c.to_dict() for c in self.columns],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CovariateEncoding:
        """Inverse of :meth:`to_dict`."""
        return cls(
            columns=tuple(ColumnEncoding.from_dict(c) for c in data["columns"]),
            purchase=tuple(data["purchase"]),
            dropout=tuple(data["dropout"]),
        )


#: How the reference level is chosen, as saved with the encoding.
REFERENCE_RULE = "most frequent level at fit time; ties broken by the levels' sort order as text"
#: How numeric covariates are scaled, as saved with the encoding.
NUMERIC_RULE = "(value - mean) / sd with the fit-time mean and sd (ddof 0)"


def fit_encoding(
    frame: pd.DataFrame,
    purchase: Iterable[str] = (),
    dropout: Iterable[str] = (),
) -> CovariateEncoding:
    """Learn the encoding of the ``purchase`` and ``dropout`` covariate columns of ``frame``.

    See the module docstring for the rules. A categorical column with one level, or a numeric
    column with one value, has no effect the data could show and is refused.
    """
    purchase, dropout = tuple(dict.fromkeys(purchase)), tuple(dict.fromkeys(dropout))
    names = tuple(dict.fromkeys((*purchase, *dropout)))
    if not names:
        raise ValueError("no covariate columns given")
    missing = [n for n in names if n not in frame.columns]
    if missing:
        raise DataError(
            f"the customers table has no column {', '.join(map(repr, missing))}",
            hint=f"its columns are: {', '.join(map(str, frame.columns))}",
        )
    ids = _ids(frame)
    return CovariateEncoding(
        columns=tuple(_fit_column(frame[n], n, ids) for n in names),
        purchase=purchase,
        dropout=dropout,
    )


def is_categorical(column: pd.Series) -> bool:
    """Text, boolean and categorical columns are categorical; numbers are numeric."""
    dtype = column.dtype
    return not pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype)


def level_text(column: pd.Series) -> pd.Series:
    """The levels of a categorical column as text, stripped of surrounding white space."""
    return column.astype("string").str.strip().astype(object)


def _fit_column(column: pd.Series, name: str, ids: list[Any]) -> ColumnEncoding:
    _refuse_missing(column, name, ids)
    if is_categorical(column):
        counts = level_text(column).value_counts()
        # the most frequent level first, ties by sort order
        order = sorted(counts.index, key=lambda level: (-int(counts[level]), str(level)))
        if len(order) < 2:
            raise DataError(
                f"only one level ({order[0]!r}): a covariate needs at least two",
                column=name,
                n_rows=len(column),
            )
        return ColumnEncoding(name, "categorical", levels=(order[0], *sorted(order[1:])))
    values = _numeric(column, name, ids)
    sd = float(values.std())
    if not sd > 0:
        raise DataError(
            "every customer has the same value: a covariate needs variation",
            column=name,
            n_rows=len(values),
            examples=values[:1].tolist(),
        )
    return ColumnEncoding(name, "numeric", mean=float(values.mean()), sd=sd)


def _refuse_missing(column: pd.Series, name: str, ids: list[Any]) -> None:
    missing = column.isna().to_numpy(dtype=bool).copy()
    if is_categorical(column):
        missing |= (level_text(column).fillna("") == "").to_numpy(dtype=bool)
    if missing.any():
        raise DataError(
            "missing covariate values",
            column=name,
            n_rows=int(missing.sum()),
            examples=_examples(ids, missing),
            hint="fill them in (for a category, e.g. 'unknown') or drop the column",
        )


def _numeric(column: pd.Series, name: str, ids: list[Any]) -> np.ndarray:
    values = pd.to_numeric(column, errors="coerce").to_numpy(dtype="float64")
    bad = ~np.isfinite(values)
    if bad.any():
        raise DataError(
            "non-numeric values in a numeric covariate",
            column=name,
            n_rows=int(bad.sum()),
            examples=_examples(ids, bad, column.to_numpy()),
        )
    return values


def _ids(frame: pd.DataFrame) -> list[Any]:
    if "customer_id" in frame.columns:
        return frame["customer_id"].tolist()
    return list(range(1, len(frame) + 1))


def _examples(ids: list[Any], mask: np.ndarray, values: np.ndarray | None = None) -> list[Label]:
    where = np.flatnonzero(mask)[:5]
    if values is None:
        return [Label(f"customer {ids[i]}") for i in where]
    return [Label(f"customer {ids[i]}: {values[i]!r}") for i in where]
