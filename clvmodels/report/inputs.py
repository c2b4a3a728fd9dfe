"""What the report's sections share from their inputs: findings, the orders, the model's RFM."""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable

import pandas as pd

from clvmodels.data.contract import OrdersSource
from clvmodels.data.customers import attach_covariates
from clvmodels.errors import DataQualityWarning
from clvmodels.model import CLVModel
from clvmodels.summaries.rfm import rfm_summary

Source = str | os.PathLike[str]


def capture_findings[T](read: Callable[[], T]) -> tuple[T, list[str]]:
    """Call ``read`` and collect the :class:`DataQualityWarning` messages it issues.

    Other warnings pass through unchanged.

    Examples
    --------
    >>> orders, findings = capture_findings(lambda: read_orders("orders.csv"))  # doctest: +SKIP
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DataQualityWarning)
        result = read()
    findings = []
    for item in caught:
        if issubclass(item.category, DataQualityWarning):
            findings.append(str(item.message))
        else:
            warnings.warn_explicit(item.message, item.category, item.filename, item.lineno)
    return result, findings


def orders_input(orders: pd.DataFrame) -> pd.DataFrame | OrdersSource:
    """The validated orders as the readers take them: without revenue, read as such."""
    if "revenue" in orders.columns:
        return orders
    return OrdersSource(orders, revenue_col=None)  # read with --no-revenue


class ModelRFM:
    """The RFM table a model scores: orders up to its observation end, in its time unit.

    Computed once, when a section first asks for it. With a customers table (a model fitted
    with covariates) the covariate columns are joined on the ids
    (:func:`clvmodels.data.customers.attach_covariates`).
    """

    def __init__(
        self,
        orders: pd.DataFrame,
        model: CLVModel | None,
        customers: pd.DataFrame | None = None,
    ) -> None:
        self._orders = orders
        self._model = model
        self._customers = customers
        self._rfm: pd.DataFrame | None = None

    def get(self) -> pd.DataFrame:
        """The RFM table (raises ``ValueError`` without a model)."""
        if self._model is None:
            raise ValueError("no model")
        if self._rfm is None:
            self._rfm = rfm_summary(
                orders_input(self._orders),
                time_unit=self._model.time_unit,
                observation_end=self._model.data_info_.get("calibration_end"),
            )
            if self._customers is not None:
                self._rfm = attach_covariates(self._rfm, self._customers)
        return self._rfm
