"""Fit these orders: orders -> RFM up to the observation end -> fitted models -> model folder.

:func:`fit_orders` is what ``clv fit`` does between parsing its options and printing: it
summarises the orders (DuckDB), fits the transaction and spend models, and saves them with the
fingerprint of the orders they were fitted on. With ``transaction_model="auto"`` the model is
chosen by :func:`clvmodels.selection.choose_model` and the comparison is saved in
``model.json`` under ``model_comparison``. The modelling stack (SciPy, xarray, PyMC) is
imported by this module, so only the jobs that fit load it.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from clvmodels.data.contract import OrdersSource
from clvmodels.data.customers import CustomersSource, with_covariates
from clvmodels.data.database_url import stored_source
from clvmodels.data.io import orders_frame
from clvmodels.errors import DataError
from clvmodels.model import CLVModel
from clvmodels.models.settings import Method, Priors, TransactionModelName
from clvmodels.persistence import save_model
from clvmodels.selection import choose_model
from clvmodels.summaries.rfm import rfm_summary
from clvmodels.units import TimeUnit


@dataclass(frozen=True)
class FitSettings:
    """How the models are fitted (the arguments of :class:`clvmodels.model.CLVModel`).

    ``transaction_model="auto"`` chooses among ``candidates`` (None: the default ones; "all";
    a comma list) with a holdout of ``holdout`` (None: the default split), as
    :func:`clvmodels.selection.choose_model` does.
    """

    time_unit: TimeUnit = "W"
    transaction_model: TransactionModelName | Literal["auto"] = "bgnbd"
    method: Method = "map"
    priors: Priors = "default"
    chains: int = 4
    draws: int = 1000
    tune: int = 1000
    seed: int = 0
    candidates: str | None = None
    holdout: str | None = None
    purchase_covariates: tuple[str, ...] = ()
    dropout_covariates: tuple[str, ...] = ()
    #: BG/CNBD-k's and MBG/CNBD-k's Erlang shape (None: chosen by likelihood over 1..10).
    k: int | None = None

    @property
    def covariates(self) -> tuple[str, ...]:
        """Every covariate column, each once."""
        return tuple(dict.fromkeys((*self.purchase_covariates, *self.dropout_covariates)))

    def model(self, *, progress: bool = False) -> CLVModel:
        """An unfitted :class:`~clvmodels.model.CLVModel` with these settings (not auto)."""
        if self.transaction_model == "auto":
            raise ValueError("transaction_model='auto' is chosen by fit_model, not built here")
        return CLVModel(
            time_unit=self.time_unit,
            transaction_model=self.transaction_model,
            method=self.method,
            priors=self.priors,
            chains=self.chains,
            draws=self.draws,
            tune=self.tune,
            seed=self.seed,
            progressbar=progress,
            purchase_covariates=self.purchase_covariates,
            dropout_covariates=self.dropout_covariates,
            k=self.k,
        )


@dataclass(frozen=True)
class FitData:
    """What a fit is about to use: customers, repeat customers, and the last day of orders."""

    n_customers: int
    n_repeat: int
    up_to: str

    @classmethod
    def of(cls, summary: pd.DataFrame) -> FitData:
        """The customers of an RFM table (:func:`clvmodels.summaries.rfm.rfm_summary`)."""
        return cls(
            n_customers=len(summary),
            n_repeat=repeat_customers(summary),
            up_to=str(summary.attrs["calibration_end"]),
        )


@dataclass
class FitResult:
    """What :func:`fit_orders` did: the fitted model, its data, seconds taken, and its folder."""

    model: CLVModel
    data: FitData
    seconds: float
    model_dir: Path
    comparison: dict[str, Any] | None = None


def fit_model(
    orders: pd.DataFrame | OrdersSource,
    rfm: pd.DataFrame,
    settings: FitSettings,
    *,
    progress: bool = False,
    echo: Callable[[str], None] | None = None,
    customers: CustomersSource | None = None,
) -> tuple[CLVModel, dict[str, Any] | None]:
    """Fit ``settings``' model on ``rfm``, or choose it on ``orders`` (``"auto"``).

    Returns the fitted model and, for ``"auto"``, the ``model_comparison`` record
    (:mod:`clvmodels.selection`; the model is then refitted on all of ``orders`` up to
    ``rfm``'s observation end). With covariates ``customers`` is the table holding them
    (``rfm`` has them joined already); ``"auto"`` then chooses among the models that take
    covariates.
    """
    if settings.transaction_model != "auto":
        return settings.model(progress=progress).fit(rfm), None
    if settings.covariates and customers is None:
        raise DataError(
            f"covariates {', '.join(settings.covariates)} need a customers table",
            hint="pass --customers CUSTOMERS",
        )
    if isinstance(orders, pd.DataFrame):
        frame = orders
    else:
        with warnings.catch_warnings():  # the same source's warnings came with ``rfm``'s summary
            warnings.simplefilter("ignore")
            frame = orders_frame(orders)
    selection = choose_model(
        frame,
        time_unit=settings.time_unit,
        candidates=settings.candidates,
        holdout=settings.holdout,
        observation_end=rfm.attrs["calibration_end"],
        method=settings.method,
        priors=settings.priors,
        seed=settings.seed,
        progress=echo,
        chains=settings.chains,
        draws=settings.draws,
        tune=settings.tune,
        progressbar=progress,
        customers=customers if settings.covariates else None,
        purchase_covariates=settings.purchase_covariates,
        dropout_covariates=settings.dropout_covariates,
    )
    return selection.model, selection.comparison


def repeat_customers(summary: pd.DataFrame) -> int:
    """How many customers of an RFM table bought again (``frequency > 0``)."""
    return int((summary["frequency"] > 0).sum())


def fitted_input(summary: pd.DataFrame, path: Any = None) -> dict[str, Any]:
    """The ``input`` record a saved model keeps: the orders' path, count and fingerprint.

    ``summary`` is an RFM table made ``with_fingerprint=True``: its count and fingerprint
    are of the orders up to the observation end, the orders the model was fitted on.
    """
    record: dict[str, Any] = {"path": stored_source(path)} if path is not None else {}
    record["n_orders"] = summary.attrs["n_orders_used"]
    record["fingerprint"] = summary.attrs["fingerprint"]
    return record


def fit_orders(
    orders: OrdersSource,
    model_dir: str | Path,
    settings: FitSettings = FitSettings(),
    *,
    observation_end: str | None = None,
    progress: bool = False,
    announce: Callable[[FitData], None] = lambda _: None,
    echo: Callable[[str], None] | None = None,
    customers: CustomersSource | None = None,
) -> FitResult:
    """Summarise ``orders`` up to ``observation_end``, fit the models and save them.

    Parameters
    ----------
    orders : OrdersSource
        The orders file and how to read it; orders after ``observation_end`` are not used.
    model_dir : path
        The model folder to write (:func:`clvmodels.persistence.save_model`).
    settings : FitSettings
        The models, method, priors and sampler settings.
    observation_end : str, optional
        ``YYYY-MM-DD``; the last order's day without it.
    progress : bool
        Show the sampler's progress bars.
    announce : callable
        Called with the :class:`FitData` once the orders are summarised, before the fit.
    echo : callable, optional
        Called with a line of text before each step of a model choice (``"auto"``).
    customers : CustomersSource, optional
        The customers table holding ``settings``' covariates (:func:`with_covariates`).

    Returns
    -------
    FitResult
        The model, its data and the seconds that the fit and the save took.
    """
    summary = rfm_summary(
        orders,
        time_unit=settings.time_unit,
        observation_end=observation_end,
        with_fingerprint=True,
    )
    summary = with_covariates(summary, customers, settings.covariates)
    data = FitData.of(summary)
    announce(data)
    started = time.perf_counter()
    model, comparison = fit_model(
        orders, summary, settings, progress=progress, echo=echo, customers=customers
    )
    path = orders.path if not isinstance(orders.path, pd.DataFrame) else None
    extra: dict[str, Any] = {"input": fitted_input(summary, path)}
    if comparison is not None:
        extra["model_comparison"] = comparison
    saved = save_model(model, model_dir, extra=extra)
    return FitResult(
        model=model,
        data=data,
        seconds=time.perf_counter() - started,
        model_dir=Path(saved),
        comparison=comparison,
    )
