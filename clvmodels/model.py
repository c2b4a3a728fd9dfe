"""CLVModel: a transaction model and Gamma-Gamma spend, fitted and scored together.

An RFM table without ``monetary_value`` (orders without revenue) fits the transaction model
only: ``spend_model_`` is None, and scores hold P(alive) and expected purchases, no spend or
CLV. Orders valued with ``--value-per-order`` (``attrs["revenue"] == "value_per_order"``)
have a known spend per purchase occasion: ``spend_model_`` is a
:class:`~clvmodels.models.spend.ConstantSpendModel`, not a Gamma-Gamma fit (``docs/models.md``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Self

import numpy as np
import pandas as pd
import xarray as xr
from numpy.typing import ArrayLike

from clvmodels.errors import DataError, NotFittedError
from clvmodels.models.bgnbd import BetaGeoModel
from clvmodels.models.cnbd_models import (
    BetaGeoCNBDModel,
    ErlangBetaGeoModel,
    ModifiedBetaGeoCNBDModel,
)
from clvmodels.models.covariate_fit import COVARIATE_MODELS, EFFECTS, MAP_INTERVAL_NOTE
from clvmodels.models.gamma_gamma import GammaGammaModel
from clvmodels.models.mbgnbd import ModifiedBetaGeoModel
from clvmodels.models.pareto_nbd import ParetoNBDModel
from clvmodels.models.settings import (
    TRANSACTION_MODEL_NAMES,
    Method,
    Priors,
    TransactionModelName,
)
from clvmodels.models.spend import ConstantSpendModel, SpendModel
from clvmodels.models.transaction import TransactionModel
from clvmodels.predict.scoring import check_rfm_time_unit, iter_scores, score_customers
from clvmodels.units import Duration, TimeUnit, check_time_unit

#: Why a model has no spend model (in ``describe()``, ``model.json`` and ``clv show``).
NO_SPEND_REASON = (
    "the RFM table has no monetary_value (orders without revenue): only the transaction "
    "model is fitted, and scores hold P(alive) and expected purchases, no spend or CLV"
)


@dataclass(frozen=True)
class ModelSpec:
    """A transaction model a CLVModel can fit: its class, and what the CLI and reports show.

    Every transaction model is fitted with a spend model (Gamma-Gamma, or a constant spend)
    when the RFM table has a ``monetary_value``.
    """

    model_class: type[TransactionModel]

    @property
    def label(self) -> str:
        """The model's name as the papers write it."""
        return self.model_class.label


_TRANSACTION_CLASSES = {
    cls.name: cls
    for cls in (
        BetaGeoModel,
        ParetoNBDModel,
        ModifiedBetaGeoModel,
        BetaGeoCNBDModel,
        ModifiedBetaGeoCNBDModel,
    )
}
#: The registry of transaction models, by name, in the order of
#: :data:`clvmodels.models.settings.TRANSACTION_MODEL_NAMES`.
MODELS: Mapping[TransactionModelName, ModelSpec] = {
    name: ModelSpec(_TRANSACTION_CLASSES[name]) for name in TRANSACTION_MODEL_NAMES
}
#: Each model's name as the papers write it, by the name saved models use: the transaction
#: models of :data:`MODELS` and the Gamma-Gamma spend model.
MODEL_LABELS: Mapping[str, str] = {
    **{name: spec.label for name, spec in MODELS.items()},
    GammaGammaModel.name: GammaGammaModel.label,
}


class CLVModel:
    """The customer-value model: a transaction model (BG/NBD by default) and Gamma-Gamma spend.

    Parameters
    ----------
    time_unit : {"D", "W", "M"}
        The unit of the RFM table's ``recency`` and ``T``.
    transaction_model : {"bgnbd", "pareto", "mbgnbd", "bgcnbd", "mbgcnbd"}
        BG/NBD, Pareto/NBD, MBG/NBD, BG/CNBD-k or MBG/CNBD-k for the purchases.
    k : int, optional
        BG/CNBD-k and MBG/CNBD-k: the Erlang shape (default: chosen by likelihood over
        1..10); refused for the other models.
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
    purchase_covariates, dropout_covariates : sequence of str
        Time-invariant covariate columns of the RFM table acting on the purchase rate and on
        dropout (:mod:`clvmodels.models.covariates`); none by default.

    Attributes
    ----------
    transaction_model_ : TransactionModel
    spend_model_ : GammaGammaModel, ConstantSpendModel or None
        None when the RFM table had no ``monetary_value`` column; a constant spend when its
        orders were valued with ``value_per_order`` (``attrs["revenue"]``).
    data_info_ : dict
        The data the models were fitted on: ``calibration_end`` (the last day of the orders
        fitted) and ``first_order`` when the RFM table came from
        :func:`clvmodels.summaries.rfm.rfm_summary`, customer counts, and ``revenue``.

    Examples
    --------
    >>> rfm = rfm_summary(orders, time_unit="W")  # doctest: +SKIP
    >>> model = CLVModel(time_unit="W").fit(rfm)  # doctest: +SKIP
    >>> scores = model.score(rfm, horizon="12M", annual_discount_rate=0.1)  # doctest: +SKIP
    """

    transaction_model_: TransactionModel
    spend_model_: SpendModel | None
    data_info_: dict[str, Any]

    def __init__(
        self,
        *,
        time_unit: TimeUnit = "W",
        transaction_model: TransactionModelName = "bgnbd",
        method: Method = "map",
        priors: Priors = "default",
        chains: int = 4,
        draws: int = 1000,
        tune: int = 1000,
        seed: int | None = None,
        progressbar: bool = False,
        purchase_covariates: Sequence[str] = (),
        dropout_covariates: Sequence[str] = (),
        k: int | None = None,
    ) -> None:
        self.purchase_covariates = list(purchase_covariates)
        self.dropout_covariates = list(dropout_covariates)
        self.time_unit = time_unit
        self.transaction_model = transaction_model
        self.k = k
        self.method = method
        self.priors = priors
        self.chains = chains
        self.draws = draws
        self.tune = tune
        self.seed = seed
        self.progressbar = progressbar

    @classmethod
    def from_posteriors(
        cls,
        transaction: TransactionModel | xr.Dataset | Mapping[str, ArrayLike],
        spend: SpendModel | xr.Dataset | Mapping[str, ArrayLike] | None = None,
        *,
        time_unit: TimeUnit = "W",
        transaction_model: TransactionModelName = "bgnbd",
        data_info: Mapping[str, Any] | None = None,
        **settings: Any,
    ) -> Self:
        """A fitted CLVModel from given posteriors: a saved fit, or fixed draws.

        The only way, besides :meth:`fit`, to set a CLVModel's fitted state.

        Parameters
        ----------
        transaction : TransactionModel, xarray.Dataset or dict of str to array
            The transaction model's draws: a Dataset with dimensions ``(chain, draw)``, or one
            array per parameter (1-D: draws, 2-D: chains x draws); or a fitted transaction
            model (its name then sets ``transaction_model``).
        spend : SpendModel, xarray.Dataset or dict of str to array, optional
            Gamma-Gamma draws in the same forms, or a fitted spend model (e.g. a
            :class:`~clvmodels.models.spend.ConstantSpendModel`); None for a model without one.
        time_unit : {"D", "W", "M"}
            The unit of the draws' time scales.
        transaction_model : {"bgnbd", "pareto", "mbgnbd"}
            Which model the transaction draws are of (:data:`MODELS`).
        data_info : dict, optional
            ``data_info_``: ``calibration_end``, ``first_order``, customer counts, ``revenue``.
        **settings
            The other settings of :class:`CLVModel` (``method``, ``priors``, ...); models
            built from draws get ``method`` and ``priors``.
        """
        if isinstance(transaction, TransactionModel):
            transaction_model = next(
                name for name, spec in MODELS.items() if type(transaction) is spec.model_class
            )
        model = cls(time_unit=time_unit, transaction_model=transaction_model, **settings)
        if transaction_model not in MODELS:
            raise ValueError(
                f"transaction_model must be one of {', '.join(MODELS)}; got {transaction_model!r}"
            )
        if not isinstance(transaction, TransactionModel):
            model_class = MODELS[transaction_model].model_class
            transaction = model_class.from_posterior(
                transaction, method=model.method, priors=model.priors
            )
        if spend is not None and not isinstance(spend, GammaGammaModel | ConstantSpendModel):
            spend = GammaGammaModel.from_posterior(spend, method=model.method, priors=model.priors)
        if isinstance(transaction, TransactionModel) and transaction.has_covariates:
            model.purchase_covariates = list(transaction.purchase_covariates)
            model.dropout_covariates = list(transaction.dropout_covariates)
        model.transaction_model_ = transaction
        model.spend_model_ = spend
        model.data_info_ = dict(data_info or {})
        return model

    def _settings(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "priors": self.priors,
            "chains": self.chains,
            "draws": self.draws,
            "tune": self.tune,
            "seed": self.seed,
            "progressbar": self.progressbar,
            "purchase_covariates": list(self.purchase_covariates),
            "dropout_covariates": list(self.dropout_covariates),
        }

    def _spend_settings(self) -> dict[str, Any]:
        settings = self._settings()
        del settings["purchase_covariates"], settings["dropout_covariates"]
        return settings

    def fit(self, rfm: pd.DataFrame) -> Self:
        """Fit the transaction model on all customers and Gamma-Gamma on the repeat customers.

        Gamma-Gamma is fitted on the repeat customers with a positive mean repeat value (see
        :class:`~clvmodels.models.gamma_gamma.GammaGammaModel`), and not at all when ``rfm`` has no
        ``monetary_value`` column (``spend_model_`` is then None). Orders valued with
        ``value_per_order`` (``rfm.attrs["revenue"] == "value_per_order"``) get a
        :class:`~clvmodels.models.spend.ConstantSpendModel` instead of Gamma-Gamma.
        """
        unit = check_time_unit(self.time_unit)
        check_rfm_time_unit(rfm, unit, action="fit")
        if self.transaction_model not in MODELS:
            raise ValueError(
                f"transaction_model must be one of {', '.join(MODELS)}; "
                f"got {self.transaction_model!r}"
            )
        model_class = MODELS[self.transaction_model].model_class
        covariates = self.purchase_covariates or self.dropout_covariates
        if covariates and self.transaction_model not in COVARIATE_MODELS:
            raise DataError(
                f"{model_class.label} takes no covariates yet",
                hint="covariates work with BG/NBD, Pareto/NBD and MBG/NBD (--model bgnbd, "
                "pareto, mbgnbd)",
            )
        extra: dict[str, Any] = {}
        if self.k is not None:
            if not issubclass(model_class, ErlangBetaGeoModel):
                raise ValueError(
                    f"k is a setting of bgcnbd and mbgcnbd, not of {self.transaction_model}"
                )
            extra["k"] = self.k
        self.transaction_model_ = model_class(**self._settings(), **extra).fit(rfm)
        has_revenue = "monetary_value" in rfm.columns
        self.spend_model_ = None
        if has_revenue and rfm.attrs.get("revenue") == "value_per_order":
            self.spend_model_ = ConstantSpendModel().fit(rfm)
        elif has_revenue:
            self.spend_model_ = GammaGammaModel(**self._spend_settings()).fit(rfm)
        self.data_info_ = {
            "calibration_end": rfm.attrs.get("calibration_end"),
            "first_order": rfm.attrs.get("first_order"),
            "n_customers": len(rfm),
            "n_repeat_customers": int((rfm["frequency"] > 0).sum()),
            "revenue": rfm.attrs.get("revenue", "revenue" if has_revenue else "none"),
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
        """Whether both fits (or the transaction fit alone) report convergence."""
        self._check_fitted()
        return all(sub.fit_report_.get("converged", True) for sub in self._submodels().values())

    def _submodels(self) -> dict[str, TransactionModel | SpendModel]:
        subs: dict[str, TransactionModel | SpendModel] = {
            "transaction_model": self.transaction_model_
        }
        if self.spend_model_ is not None:
            subs["spend_model"] = self.spend_model_
        return subs

    def require_spend_model(self) -> GammaGammaModel:
        """The Gamma-Gamma spend model, for what needs its parameters (acquisition, Spark).

        A DataError for a model fitted without revenue, or with a constant spend
        (``value_per_order``): such a model has no Gamma-Gamma parameters.
        """
        self._check_fitted()
        if self.spend_model_ is None:
            raise DataError(
                "this model has no spend model: it was fitted on orders without revenue, "
                "so it predicts purchases only (no spend or CLV)"
            )
        if isinstance(self.spend_model_, ConstantSpendModel):
            raise DataError(
                "this model has no Gamma-Gamma spend model: its spend is "
                f"{self.spend_model_.description()}, so there are no Gamma-Gamma parameters "
                "for this step"
            )
        return self.spend_model_

    def check_usable(self) -> None:
        """Raise a DataError when a fit cannot be used for scoring.

        A parameter at a bound, or Gamma-Gamma q <= 1: see
        :meth:`clvmodels.models.posterior.PosteriorModel.check_usable`.
        """
        self._check_fitted()
        for sub in self._submodels().values():
            sub.check_usable()

    def _check_scorable(self, rfm: pd.DataFrame) -> None:
        """Refuse an RFM table in another time unit, and fits that are not usable."""
        self._check_fitted()
        check_rfm_time_unit(rfm, self.time_unit, action="score")
        self.check_usable()

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
        """Per-customer scores; see :func:`clvmodels.predict.scoring.score_customers`.

        Without a spend model the scores have no ``expected_spend`` and ``clv`` columns.

        Raises
        ------
        DataError
            When ``rfm`` is in another time unit than the model, or a fit is not usable
            (a parameter at a bound, Gamma-Gamma q <= 1: :meth:`PosteriorModel.check_usable`).
        """
        self._check_scorable(rfm)
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
        """Per-customer scores chunk by chunk; see :func:`clvmodels.predict.scoring.iter_scores`.

        Checks the time unit and the fits as :meth:`score` does, before the first chunk.
        """
        self._check_scorable(rfm)
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
        """Parameters (mean, sd, 94% interval) and fit diagnostics, ready for JSON.

        ``spend_model`` is None for a model without one, with the reason under
        ``no_spend_model``; a Gamma-Gamma fit report holds ``zero_value_exclusions``; a
        constant spend is :meth:`ConstantSpendModel.describe`. Each fitted part has
        ``log_likelihood``: the total log-likelihood of the customers it was fitted on at
        its posterior means (the MAP for ``method="map"``), None when unknown (a model
        saved before it was recorded).
        """
        self._check_fitted()
        out: dict[str, Any] = {"time_unit": self.time_unit, **self.data_info_}
        out["spend_model"] = None
        for key, sub in self._submodels().items():
            if isinstance(sub, ConstantSpendModel):
                out[key] = sub.describe()
                continue
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
                "usable": sub.is_usable,
                "log_likelihood": getattr(sub, "log_likelihood_", None),
            }
        if self.spend_model_ is None:
            out["no_spend_model"] = NO_SPEND_REASON
        transaction = self.transaction_model_
        if transaction.encoding_ is not None:
            out["encoding"] = transaction.encoding_.to_dict()
            table = transaction.coefficients()
            out["coefficients"] = {
                "rows": [
                    {k: v for k, v in row.items() if not (isinstance(v, float) and np.isnan(v))}
                    for row in table.to_dict(orient="records")
                ],
                "effects": {role: EFFECTS[role] for role in table["process"].unique()},
                "interval": "94% equal-tailed"
                + (f"; {MAP_INTERVAL_NOTE}" if transaction.n_draws_ == 1 else ""),
            }
        return out

    def __repr__(self) -> str:
        if not self.is_fitted:
            return f"CLVModel(time_unit={self.time_unit!r}, method={self.method!r}; not fitted)"
        return f"CLVModel({self.transaction_model_!r}, {self.spend_model_!r})"
