"""The covariate columns of a model fitted with covariates, joined to a payback's buyers.

``clv payback`` and ``clv budget`` with a model fitted with ``--covariates`` take the same
customers table as ``clv score`` (``--customers CUSTOMERS --customer-key KEY``): each buyer's
covariates are joined on the ids (:func:`clvmodels.data.customers.attach_covariates`) and
written with the ``_buyers`` table, so that ``clv budget`` finds them there.
"""

from __future__ import annotations

import pandas as pd

from clvmodels.data.customers import attach_covariates
from clvmodels.errors import DataError
from clvmodels.model import CLVModel


def covariate_columns(model: CLVModel) -> tuple[str, ...]:
    """The covariate columns the model's transaction model was fitted with (each once)."""
    return tuple(dict.fromkeys((*model.purchase_covariates, *model.dropout_covariates)))


def attach_model_covariates(
    model: CLVModel | None, buyers: pd.DataFrame, customers: pd.DataFrame | None
) -> pd.DataFrame:
    """``buyers`` with the covariate columns of a model fitted with covariates.

    ``customers`` is a customers table (``customer_id`` and the covariate columns,
    :func:`clvmodels.data.customers.read_customers`), joined on the ids by
    :func:`clvmodels.data.customers.attach_covariates`. Without it, ``buyers`` must hold the
    columns already (the ``_buyers`` table ``clv payback`` wrote with them). A model without
    covariates takes no customers table.
    """
    columns = covariate_columns(model) if model is not None else ()
    if not columns:
        if customers is not None:
            raise DataError(
                "a customers table was given, but "
                + ("no model was" if model is None else "the model was fitted without covariates"),
                hint="drop --customers, or pass a model fitted with --covariates",
            )
        return buyers
    if customers is None:
        absent = [c for c in columns if c not in buyers.columns]
        if not absent:
            return buyers
        raise DataError(
            f"the model was fitted with covariates ({', '.join(columns)}): pass the customers "
            "table holding them",
            column=", ".join(absent),
            hint="--customers CUSTOMERS (and --customer-key if its id column is not customer_id)",
        )
    absent = [c for c in columns if c not in customers.columns]
    if absent:
        raise DataError(
            f"the customers table has no covariate column {', '.join(map(repr, absent))} "
            "the model was fitted with",
            hint=f"its columns are: {', '.join(map(str, customers.columns))}",
        )
    kept = buyers.drop(columns=[c for c in columns if c in buyers.columns])
    return attach_covariates(kept, customers.loc[:, ["customer_id", *columns]])
