"""Fit these orders: orders -> RFM up to the observation end -> fitted models -> model folder.

:func:`fit_orders` is what ``clv fit`` does between parsing its options and printing: it
summarises the orders (DuckDB), fits the transaction and spend models, and saves them with the
fingerprint of the orders they were fitted on. The modelling stack (SciPy, xarray, PyMC) is
imported by this module, so only the jobs that fit load it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from clvmodels.data.contract import OrdersSource
from clvmodels.data.database_url import stored_source
from clvmodels.model import CLVModel
from clvmodels.models.settings import Method, Priors, TransactionModelName
from clvmodels.persistence import save_model
from clvmodels.summaries.rfm import rfm_summary
from clvmodels.units import TimeUnit


@dataclass(frozen=True)
class FitSettings:
    """How the models are fitted (the arguments of :class:`clvmodels.model.CLVModel`)."""

    time_unit: TimeUnit = "W"
    transaction_model: TransactionModelName = "bgnbd"
    method: Method = "map"
    priors: Priors = "default"
    chains: int = 4
    draws: int = 1000
    tune: int = 1000
    seed: int = 0
    #: BG/CNBD-k's and MBG/CNBD-k's Erlang shape (None: chosen by likelihood over 1..10).
    k: int | None = None

    def model(self, *, progress: bool = False) -> CLVModel:
        """An unfitted :class:`~clvmodels.model.CLVModel` with these settings."""
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
    data = FitData.of(summary)
    announce(data)
    started = time.perf_counter()
    model = settings.model(progress=progress).fit(summary)
    path = orders.path if not isinstance(orders.path, pd.DataFrame) else None
    saved = save_model(model, model_dir, extra={"input": fitted_input(summary, path)})
    return FitResult(
        model=model, data=data, seconds=time.perf_counter() - started, model_dir=Path(saved)
    )
