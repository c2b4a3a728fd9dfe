"""A transaction model with covariates: the collapse, per-customer parameters, effects.

The likelihood of a customer with covariates depends on the data through (x, t_x, T) and the
customer's encoded covariate row ``z_i`` (:mod:`clvmodels.models.covariates`), so customers are
collapsed onto the distinct ``(x, t_x, T, z)`` rows with counts (:func:`collapse_with_covariates`).
With categorical covariates alone each (x, t_x, T) tuple splits into at most one row per
combination of levels; a continuous covariate (a first order's value) makes nearly every
customer a row of their own (docs/models.md, "Covariates", measures what that costs).

Per-customer parameters (:func:`customer_parameters`) follow pymc-marketing 1.3.0
(:mod:`clvmodels.models._pymc.covariate_graphs`); the model's ``alpha``, ``a``, ``b``, ``beta``
are the reference customer's (every encoded covariate 0: the reference level of each
categorical column, the fit-time mean of each numeric one).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from clvmodels.models._pymc.covariate_graphs import covariate_names
from clvmodels.models.covariates import CovariateEncoding
from clvmodels.models.posterior import INTERVAL_QUANTILES

#: The transaction models that take covariates (pymc-marketing 1.3.0's parameterisation).
COVARIATE_MODELS = ("bgnbd", "pareto", "mbgnbd")

#: What each coefficient does, by its role (:func:`coefficient_roles`).
EFFECTS = {
    "purchase": "multiplies the mean purchase rate r/alpha by exp(coefficient)",
    "dropout_a": "a = a_scale exp(z . coefficient): with dropout_b, moves the mean dropout "
    "probability a/(a+b)",
    "dropout_b": "b = b_scale exp(z . coefficient): with dropout_a, moves the mean dropout "
    "probability a/(a+b)",
    "dropout": "multiplies the mean dropout rate s/beta by exp(coefficient)",
}
#: Said of intervals from a fit with one draw.
MAP_INTERVAL_NOTE = (
    "a MAP fit has one draw, so the intervals collapse onto it: refit with --method laplace "
    "(or mcmc) for intervals"
)


@dataclass(frozen=True)
class CollapsedCovariates:
    """Customers collapsed onto their distinct (x, t_x, T, purchase row, dropout row).

    Attributes
    ----------
    tuples : pandas.DataFrame
        ``frequency, recency, T, n_customers``, one row per distinct combination.
    purchase, dropout : numpy.ndarray
        The design rows of those combinations, ``(len(tuples), features)``.
    inverse : numpy.ndarray
        Each customer's row in ``tuples``.
    """

    tuples: pd.DataFrame
    purchase: np.ndarray
    dropout: np.ndarray
    inverse: np.ndarray


def collapse_with_covariates(
    rfm: pd.DataFrame, purchase: np.ndarray, dropout: np.ndarray
) -> CollapsedCovariates:
    """Collapse identical ``(frequency, recency, T, purchase row, dropout row)`` customers."""
    xtT = rfm[["frequency", "recency", "T"]].to_numpy(dtype="float64")
    stacked = np.concatenate([xtT, purchase, dropout], axis=1)
    rows, inverse, counts = np.unique(stacked, axis=0, return_inverse=True, return_counts=True)
    tuples = pd.DataFrame(
        {
            "frequency": rows[:, 0].astype("int64"),
            "recency": rows[:, 1],
            "T": rows[:, 2],
            "n_customers": counts.astype("int64"),
        }
    )
    n_purchase = purchase.shape[1]
    return CollapsedCovariates(
        tuples=tuples,
        purchase=rows[:, 3 : 3 + n_purchase],
        dropout=rows[:, 3 + n_purchase :],
        inverse=np.asarray(inverse).reshape(-1),
    )


def coefficient_roles(kind: str, encoding: CovariateEncoding) -> dict[str, str]:
    """Role (``purchase``, ``dropout_a``, ``dropout_b``, ``dropout``) -> posterior variable."""
    names = covariate_names(
        kind, len(encoding.features("purchase")), len(encoding.features("dropout"))
    )
    return dict(names.coefficients)


def customer_parameters(
    kind: str,
    draws: Mapping[str, np.ndarray],
    coefficients: Mapping[str, np.ndarray],
    purchase: np.ndarray,
    dropout: np.ndarray,
) -> dict[str, np.ndarray]:
    """Each customer's parameters per draw, shape ``(draws, customers)``.

    ``draws``: the reference parameters, 1-D per draw; ``coefficients``: by role (as
    :func:`coefficient_roles`), ``(draws, features)``; ``purchase``, ``dropout``: the customers'
    design rows. ``alpha_i = alpha exp(-z_i . gamma_purchase)``; BG/NBD and MBG/NBD:
    ``a_i = a exp(z_i . gamma_a)``, ``b_i = b exp(z_i . gamma_b)``; Pareto/NBD:
    ``beta_i = beta exp(-z_i . gamma_dropout)``.
    """
    n = purchase.shape[0]
    out = {
        k: np.repeat(np.asarray(v, dtype="float64")[:, None], n, axis=1) for k, v in draws.items()
    }

    def linear(role: str, rows: np.ndarray) -> np.ndarray | None:
        if role not in coefficients:
            return None
        return np.asarray(coefficients[role], dtype="float64") @ rows.T

    if (eta := linear("purchase", purchase)) is not None:
        out["alpha"] = out["alpha"] * np.exp(-eta)
    if kind == "pareto":
        if (eta := linear("dropout", dropout)) is not None:
            out["beta"] = out["beta"] * np.exp(-eta)
        return out
    if (eta := linear("dropout_a", dropout)) is not None:
        out["a"] = out["a"] * np.exp(eta)
    if (eta := linear("dropout_b", dropout)) is not None:
        out["b"] = out["b"] * np.exp(eta)
    return out


def coefficient_table(
    kind: str,
    encoding: CovariateEncoding,
    draws: Mapping[str, np.ndarray],
    coefficients: Mapping[str, np.ndarray],
) -> pd.DataFrame:
    """The coefficients with 94% intervals and their effects, one row per role and feature.

    Columns: ``process`` (the role), ``feature`` (``channel=web`` or ``first_order_value``),
    ``column``, ``reference`` (what the feature is compared with: the reference level, or
    ``mean`` for a standardised numeric column, whose one unit is one sd), ``mean, sd,
    low_94, high_94`` of the coefficient; ``multiplier`` (and its interval): ``exp``
    of the coefficient, the factor on the mean purchase rate r/alpha (``purchase``) or on
    Pareto/NBD's mean dropout rate s/beta (``dropout``); for BG/NBD and MBG/NBD the mean dropout
    probability a/(a+b) at the reference (``dropout_p_reference``) and one unit / level up
    (``dropout_p_up``, with its interval), on the ``dropout_a`` rows (both coefficients move it).
    """
    rows: list[dict[str, Any]] = []
    for role in coefficients:
        gamma = np.asarray(coefficients[role], dtype="float64")
        for j, feature in enumerate(encoding.features(_process(role))):
            rows.append(_row(kind, role, feature, j, gamma, encoding, draws, coefficients))
    return pd.DataFrame(rows)


def _process(role: str) -> str:
    return "purchase" if role == "purchase" else "dropout"


def _summary(values: np.ndarray, prefix: str = "") -> dict[str, float]:
    lo, hi = INTERVAL_QUANTILES
    return {
        f"{prefix}mean": float(values.mean()),
        **({"sd": float(values.std(ddof=1)) if values.size > 1 else 0.0} if not prefix else {}),
        f"{prefix}low_94": float(np.quantile(values, lo)),
        f"{prefix}high_94": float(np.quantile(values, hi)),
    }


def _row(
    kind: str,
    role: str,
    feature: str,
    j: int,
    gamma: np.ndarray,
    encoding: CovariateEncoding,
    draws: Mapping[str, np.ndarray],
    coefficients: Mapping[str, np.ndarray],
) -> dict[str, Any]:
    column = feature.split("=", 1)[0] if "=" in feature else feature
    encoded = encoding.column(column)
    row: dict[str, Any] = {
        "process": role,
        "feature": feature,
        "column": column,
        "reference": encoded.reference if encoded.kind == "categorical" else "mean (1 unit = 1 sd)",
        **_summary(gamma[:, j]),
    }
    if role in ("purchase", "dropout"):
        row.update(_summary(np.exp(gamma[:, j]), "multiplier_"))
    elif role == "dropout_a":
        a, b = draws["a"], draws["b"]
        g_a = gamma[:, j]
        g_b = np.asarray(coefficients["dropout_b"], dtype="float64")[:, j]
        reference = a / (a + b)
        up = a * np.exp(g_a) / (a * np.exp(g_a) + b * np.exp(g_b))
        row.update(_summary(reference, "dropout_p_reference_"))
        row.update(_summary(up, "dropout_p_up_"))
    return row
