"""CLVModel: a transaction model and Gamma-Gamma spend, fitted and scored together."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Self

import pandas as pd

from clvmodels.bgnbd import BetaGeoModel
from clvmodels.errors import DataError, NotFittedError
from clvmodels.gamma_gamma import GammaGammaModel
from clvmodels.mbgnbd import ModifiedBetaGeoModel
from clvmodels.pareto_nbd import ParetoNBDModel
from clvmodels.scoring import iter_scores, score_customers
from clvmodels.transaction import TransactionModel
from clvmodels.units import UNIT_NAMES, Duration, check_time_unit

#: The transaction models by the name the CLI and saved models use.
TRANSACTION_MODELS: dict[str, type[TransactionModel]] = {
    "bgnbd": BetaGeoModel,
    "pareto": ParetoNBDModel,
    "mbgnbd": ModifiedBetaGeoModel,
}


class CLVModel:
    """The customer-value model: a transaction model (BG/NBD by default) and Gamma-Gamma spend.

    Parameters
    ----------
    time_unit : {"D", "W", "M"}
        The unit of the RFM table's ``recency`` and ``T``.
    transaction_model : {"bgnbd", "pareto", "mbgnbd"}
        BG/NBD, Pareto/NBD or MBG/NBD for the purchases.
    method : {"map", "laplace", "mcmc"}
        Maximum a posteriori, Laplace approximation at the MAP, or NUTS.
    priors : {"default", "flat"}
        pymc-marketing's default priors, or flat priors (maximum likelihood at the MAP).
    chains, draws, tune : int
        Posterior sampling settings for ``laplace`` and ``mcmc``.
    seed : int, optional
        Random seed.
    progressbar : bool
        Show the sampler's progress.

    Attributes
    ----------
    transaction_model_ : TransactionModel
    spend_model_ : GammaGammaModel
    data_info_ : dict
        The data period the models were fitted on (``observation_end`` and, when the RFM
        table came from :func:`clvmodels.rfm.rfm_summary`, its dates), and customer counts.

    Examples
    --------
    >>> rfm = rfm_summary(orders, time_unit="W")  # doctest: +SKIP
    >>> model = CLVModel(time_unit="W").fit(rfm)  # doctest: +SKIP
    >>> scores = model.score(rfm, horizon="12M", annual_discount_rate=0.1)  # doctest: +SKIP
    """

    transaction_model_: TransactionModel
    spend_model_: GammaGammaModel
    data_info_: dict[str, Any]

    def __init__(
        self,
        *,
        time_unit: str = "W",
        transaction_model: str = "bgnbd",
        method: str = "map",
        priors: str = "default",
        chains: int = 4,
        draws: int = 1000,
        tune: int = 1000,
        seed: int | None = None,
        progressbar: bool = False,
    ) -> None:
        self.time_unit = time_unit
        self.transaction_model = transaction_model
        self.method = method
        self.priors = priors
        self.chains = chains
        self.draws = draws
        self.tune = tune
        self.seed = seed
        self.progressbar = progressbar

    def _settings(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "priors": self.priors,
            "chains": self.chains,
            "draws": self.draws,
            "tune": self.tune,
            "seed": self.seed,
            "progressbar": self.progressbar,
        }

    def fit(self, rfm: pd.DataFrame) -> Self:
        """Fit BG/NBD on all customers and Gamma-Gamma on the repeat customers of ``rfm``."""
        unit = check_time_unit(self.time_unit)
        data_unit = rfm.attrs.get("time_unit")
        if data_unit is not None and data_unit != unit:
            raise DataError(
                f"the RFM table is in {UNIT_NAMES[data_unit]} ({data_unit}) but the model's "
                f"time unit is {UNIT_NAMES[unit]} ({unit})"
            )
        if self.transaction_model not in TRANSACTION_MODELS:
            raise ValueError(
                f"transaction_model must be one of {', '.join(TRANSACTION_MODELS)}; "
                f"got {self.transaction_model!r}"
            )
        model_class = TRANSACTION_MODELS[self.transaction_model]
        self.transaction_model_ = model_class(**self._settings()).fit(rfm)
        self.spend_model_ = GammaGammaModel(**self._settings()).fit(rfm)
        self.data_info_ = {
            "observation_end": rfm.attrs.get("calibration_end"),
            "first_order": rfm.attrs.get("first_order"),
            "n_customers": len(rfm),
            "n_repeat_customers": int((rfm["frequency"] > 0).sum()),
        }
        return self

    @property
    def is_fitted(self) -> bool:
        """Whether the model has been fitted or loaded."""
        return hasattr(self, "transaction_model_")

    def _check_fitted(self) -> None:
        if not self.is_fitted:
            raise NotFittedError("this CLVModel is not fitted yet: call fit(rfm) first")

    @property
    def converged_(self) -> bool:
        """Whether both fits report convergence."""
        self._check_fitted()
        return bool(
            self.transaction_model_.fit_report_.get("converged", True)
            and self.spend_model_.fit_report_.get("converged", True)
        )

    def score(
        self,
        rfm: pd.DataFrame,
        *,
        horizon: str | Duration = "12M",
        annual_discount_rate: float = 0.1,
        margin: float = 1.0,
        n_draws: int | None = 200,
        chunk_size: int | None = None,
        progress: bool = False,
    ) -> pd.DataFrame:
        """Per-customer scores; see :func:`clvmodels.scoring.score_customers`."""
        self._check_fitted()
        return score_customers(
            rfm,
            self.transaction_model_,
            self.spend_model_,
            time_unit=self.time_unit,
            horizon=horizon,
            annual_discount_rate=annual_discount_rate,
            margin=margin,
            n_draws=n_draws,
            chunk_size=chunk_size,
            progress=progress,
        )

    def iter_score(
        self,
        rfm: pd.DataFrame,
        *,
        horizon: str | Duration = "12M",
        annual_discount_rate: float = 0.1,
        margin: float = 1.0,
        n_draws: int | None = 200,
        chunk_size: int | None = None,
        progress: bool = False,
    ) -> Iterator[pd.DataFrame]:
        """Per-customer scores chunk by chunk; see :func:`clvmodels.scoring.iter_scores`."""
        self._check_fitted()
        return iter_scores(
            rfm,
            self.transaction_model_,
            self.spend_model_,
            time_unit=self.time_unit,
            horizon=horizon,
            annual_discount_rate=annual_discount_rate,
            margin=margin,
            n_draws=n_draws,
            chunk_size=chunk_size,
            progress=progress,
        )

    def describe(self) -> dict[str, Any]:
        """Parameters (mean, sd, 94% interval) and fit diagnostics, ready for JSON."""
        self._check_fitted()
        out: dict[str, Any] = {"time_unit": self.time_unit, **self.data_info_}
        for key, sub in (
            ("transaction_model", self.transaction_model_),
            ("spend_model", self.spend_model_),
        ):
            table = sub.summary()
            out[key] = {
                "name": sub.name,
                "method": sub.method,
                "priors": sub.priors,
                "params": dict(sub.params_),
                "summary": {
                    p: {k: float(v) for k, v in row.items()} for p, row in table.iterrows()
                },
                "fit_report": sub.fit_report_,
            }
        return out

    def __repr__(self) -> str:
        if not self.is_fitted:
            return f"CLVModel(time_unit={self.time_unit!r}, method={self.method!r}; not fitted)"
        return f"CLVModel({self.transaction_model_!r}, {self.spend_model_!r})"
