"""What the transaction models (BG/NBD, Pareto/NBD, MBG/NBD) share.

Each model's likelihood depends on a customer only through (x, t_x, T), so every model is
fitted on collapsed tuples with count weights (:mod:`clvmodels.models._pymc`). And each
model's conditional expectation factors the same way::

    E[X(T, T + t) | x, t_x, T] = P(alive | x, t_x, T) * N(x, T, t)

where the numerator N depends on the customer only through (x, T). Scoring relies on this to
evaluate the expensive part once per distinct (x, T) pair, on a grid of horizons
(:meth:`TransactionModel.numerator_grid_fn`). BG/CNBD-k and MBG/CNBD-k
(:mod:`clvmodels.models.cnbd_models`) are the exception: their N depends on t_x too
(``numerator_uses_recency``), and scoring collapses them on (x, t_x, T). A subclass supplies
the closed forms as static methods taking a dict of (broadcastable) parameter arrays, and may
replace the grid's generic step-by-step evaluation with a faster one (BG/NBD does).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar, Self

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from clvmodels.errors import DataError
from clvmodels.models import covariate_fit
from clvmodels.models._pymc import fit as pymc_fit
from clvmodels.models.covariates import CovariateEncoding, fit_encoding
from clvmodels.models.inputs import collapse_rfm, validate_rfm
from clvmodels.models.posterior import PosteriorModel, as_posterior, thin_index

MIN_CUSTOMERS = 20

#: Elements (draws x pairs) per array when the numerator grid is evaluated step by step.
GRID_CHUNK_ELEMENTS = 4_000_000

Params = Mapping[str, np.ndarray]
NumeratorFn = Callable[[Params, ArrayLike, ArrayLike, ArrayLike], np.ndarray]


class TransactionModel(PosteriorModel):
    """Base of the transaction models, fitted through pymc-marketing on collapsed tuples.

    Parameters
    ----------
    method : {"map", "laplace", "mcmc"}
        Maximum a posteriori, a Laplace approximation at the MAP, or NUTS.
    priors : {"default", "flat"}
        pymc-marketing's default priors, or flat priors (the MAP is then the maximum
        likelihood estimate that the papers publish).
    chains, draws, tune : int
        For ``laplace`` and ``mcmc``: the number of chains, draws per chain, tuning steps.
    seed : int, optional
        Random seed for the optimiser's start and the sampler.
    purchase_covariates, dropout_covariates : sequence of str
        Columns of the RFM table (one value per customer, time-invariant) acting on the
        purchase rate and on dropout (:mod:`clvmodels.models.covariates`,
        :mod:`clvmodels.models.covariate_fit`); none by default.

    Attributes
    ----------
    posterior_ : xarray.Dataset
        Parameter draws with dimensions ``(chain, draw)``.
    params_ : dict
        Posterior means.
    fit_report_ : dict
        The optimiser's status or the sampler's diagnostics.
    log_likelihood_ : float
        Total log-likelihood of the data at ``params_``.
    n_customers_, n_tuples_ : int
        Customers fitted, and the distinct (x, t_x, T) tuples (with covariates: (x, t_x, T,
        covariate row)) they collapse to.
    encoding_ : CovariateEncoding or None
        The covariates' encoding (None: a model without covariates). With covariates the
        parameters ``alpha``, ``a``, ``b``, ``beta`` are the reference customer's and the
        posterior also holds the coefficients (:meth:`coefficient_draws`).
    """

    #: Whether a customer can drop out before a repeat purchase (at time zero, or with the
    #: first purchase). False (BG/NBD) means P(alive) = 1 for every customer without a
    #: repeat purchase, by construction: P(alive) then says nothing about one-time buyers.
    #: ``--model auto`` chooses among the models with it True by default
    #: (:mod:`clvmodels.selection`).
    dropout_at_zero: bool = False

    #: The purchase-rate scales, in time units (not checked against a fixed ceiling).
    scale_params = ("alpha", "beta")
    #: Whether the numerator N depends on recency too (BG/CNBD-k, MBG/CNBD-k): scoring then
    #: collapses customers on (x, t_x, T) and passes ``t_x=`` to :meth:`numerator_grid_fn`.
    numerator_uses_recency: ClassVar[bool] = False

    log_likelihood_: float
    n_customers_: int
    n_tuples_: int
    encoding_: CovariateEncoding | None = None

    def __init__(
        self,
        *,
        purchase_covariates: Iterable[str] = (),
        dropout_covariates: Iterable[str] = (),
        **settings: Any,
    ) -> None:
        super().__init__(**settings)
        self.purchase_covariates = tuple(purchase_covariates)
        self.dropout_covariates = tuple(dropout_covariates)

    @property
    def has_covariates(self) -> bool:
        """Whether the model was set up (or loaded) with covariates."""
        return bool(self.purchase_covariates or self.dropout_covariates)

    # ------------------------------------------------------------ closed forms
    @staticmethod
    def log_likelihood_fn(p: Params, x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> np.ndarray:
        """Individual log-likelihood of (x, t_x, T)."""
        raise NotImplementedError

    @staticmethod
    def probability_alive_fn(p: Params, x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> np.ndarray:
        """P(alive | x, t_x, T)."""
        raise NotImplementedError

    @staticmethod
    def numerator_fn(p: Params, x: ArrayLike, T: ArrayLike, t: ArrayLike) -> np.ndarray:
        """N(x, T, t) with E[X(T, T + t) | x, t_x, T] = P(alive) * N."""
        raise NotImplementedError

    @staticmethod
    def new_customer_fn(p: Params, t: ArrayLike) -> np.ndarray:
        """E[X(t)]: expected repeat purchases of a new customer within ``t``."""
        raise NotImplementedError

    @classmethod
    def numerator_grid_fn(
        cls, p: Params, x: np.ndarray, T: np.ndarray, t: np.ndarray, discount: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """N(x, T, t) on a grid of horizons, per (x, T) pair and draw.

        Parameters
        ----------
        p : dict of str to numpy.ndarray
            Parameter draws, 1-D, one value per draw.
        x, T : numpy.ndarray
            The (x, T) pairs, 1-D.
        t : numpy.ndarray
            Increasing horizons t_1 < ... < t_K.
        discount : numpy.ndarray
            A weight per horizon.

        Returns
        -------
        horizon, discounted : numpy.ndarray
            Shape ``(pairs, draws)``: N(x, T, t_K), and
            ``sum_k discount_k (N(x, T, t_k) - N(x, T, t_{k-1}))`` with N(x, T, t_0) = 0.
        """
        n_draws = len(next(iter(p.values())))
        columns = {k: np.asarray(v, dtype="float64")[:, None] for k, v in p.items()}
        horizon = np.empty((len(x), n_draws))
        discounted = np.empty((len(x), n_draws))
        step = max(1, GRID_CHUNK_ELEMENTS // max(n_draws, 1))
        for start in range(0, len(x), step):
            sl = slice(start, start + step)
            h, d = numerator_steps(cls.numerator_fn, columns, x[None, sl], T[None, sl], t, discount)
            horizon[sl] = h.T
            discounted[sl] = d.T
        return horizon, discounted

    # ------------------------------------------------------------ fitting
    def fit(self, rfm: pd.DataFrame) -> Self:
        """Fit on an RFM table (``frequency, recency, T``, one row per customer)."""
        validate_rfm(rfm)
        if len(rfm) < MIN_CUSTOMERS:
            raise DataError(
                f"too few customers to fit {self.label}: {len(rfm)} "
                f"(at least {MIN_CUSTOMERS} needed)"
            )
        if int((rfm["frequency"] > 0).sum()) == 0:
            raise DataError(
                f"no customer has a repeat purchase, so {self.label} cannot be fitted",
                column="frequency",
                n_rows=len(rfm),
            )
        if self.has_covariates:
            return self._fit_covariates(rfm)
        tuples = collapse_rfm(rfm).tuples
        result = pymc_fit.fit_transaction_model(
            self.name,
            tuples["frequency"].to_numpy(),
            tuples["recency"].to_numpy(),
            tuples["T"].to_numpy(),
            tuples["n_customers"].to_numpy(),
            priors=self.priors,
            method=self.method,
            chains=self.chains,
            draws=self.draws,
            tune=self.tune,
            seed=self.seed,
            progressbar=self.progressbar,
        )
        self.n_customers_ = len(rfm)
        self.n_tuples_ = len(tuples)
        result.report.update(n_customers=self.n_customers_, n_tuples=self.n_tuples_)
        self._set_posterior(result.posterior, result.report)
        weights = tuples["n_customers"].to_numpy()
        self.log_likelihood_ = float((weights * self._at_means(tuples)).sum())
        return self

    def _fit_covariates(self, rfm: pd.DataFrame) -> Self:
        encoding = fit_encoding(rfm, self.purchase_covariates, self.dropout_covariates)
        purchase, dropout = encoding.design(rfm)
        collapsed = covariate_fit.collapse_with_covariates(rfm, purchase, dropout)
        tuples = collapsed.tuples
        result = pymc_fit.fit_covariate_model(
            self.name,
            tuples["frequency"].to_numpy(),
            tuples["recency"].to_numpy(),
            tuples["T"].to_numpy(),
            tuples["n_customers"].to_numpy(),
            collapsed.purchase,
            collapsed.dropout,
            encoding.features("purchase"),
            encoding.features("dropout"),
            priors=self.priors,
            method=self.method,
            chains=self.chains,
            draws=self.draws,
            tune=self.tune,
            seed=self.seed,
            progressbar=self.progressbar,
        )
        self.encoding_ = encoding
        self.n_customers_ = len(rfm)
        self.n_tuples_ = len(tuples)
        result.report.update(n_customers=self.n_customers_, n_tuples=self.n_tuples_)
        self._set_posterior(result.posterior, result.report)
        self.log_likelihood_ = self.log_likelihood(rfm)
        return self

    @classmethod
    def from_posterior(
        cls,
        posterior: Any,
        report: dict[str, Any] | None = None,
        *,
        encoding: CovariateEncoding | Mapping[str, Any] | None = None,
        **settings: Any,
    ) -> Self:
        """A fitted model from given draws; ``encoding`` (or its dict) for one with covariates.

        With an encoding, ``posterior`` also holds the coefficients under pymc-marketing's names
        (:func:`clvmodels.models.covariate_fit.coefficient_roles`).
        """
        if encoding is None:
            return super().from_posterior(posterior, report, **settings)
        if not isinstance(encoding, CovariateEncoding):
            encoding = CovariateEncoding.from_dict(encoding)
        settings.update(purchase_covariates=encoding.purchase, dropout_covariates=encoding.dropout)
        posterior = as_posterior(posterior)
        model = super().from_posterior(posterior, report, **settings)
        roles = covariate_fit.coefficient_roles(cls.name, encoding)
        missing = [name for name in roles.values() if name not in posterior]
        if missing:
            raise ValueError(f"{cls.__name__} posterior lacks {', '.join(missing)}")
        model.posterior_ = posterior[[*cls.param_names, *roles.values()]]
        model.encoding_ = encoding
        return model

    def coefficient_draws(self, n_draws: int | None = None) -> dict[str, np.ndarray]:
        """The coefficients by role (``purchase``, ``dropout_a``, ...), ``(draws, features)``."""
        self._check_fitted()
        if self.encoding_ is None:
            return {}
        index = thin_index(self.n_draws_, n_draws)
        out = {}
        for role, name in covariate_fit.coefficient_roles(self.name, self.encoding_).items():
            values = np.asarray(self.posterior_[name].values, dtype="float64")
            out[role] = values.reshape(-1, values.shape[-1])[index]
        return out

    def coefficients(self) -> pd.DataFrame:
        """Coefficients, intervals, effects: :func:`.covariate_fit.coefficient_table`."""
        self._check_fitted()
        if self.encoding_ is None:
            return pd.DataFrame()
        return covariate_fit.coefficient_table(
            self.name, self.encoding_, self.param_draws(), self.coefficient_draws()
        )

    def customer_draws(self, rfm: pd.DataFrame, n_draws: int | None = None) -> dict[str, Any]:
        """Parameter draws for the customers of ``rfm``.

        ``(draws, 1)`` arrays, or with covariates each customer's, ``(draws, customers)`` (their
        covariate columns are read from ``rfm``).
        """
        if self.encoding_ is None:
            return self.draws_as_columns(n_draws)
        purchase, dropout = self.encoding_.design(rfm)
        return covariate_fit.customer_parameters(
            self.name,
            self.param_draws(n_draws),
            self.coefficient_draws(n_draws),
            purchase,
            dropout,
        )

    def mean_parameters(self, rfm: pd.DataFrame) -> dict[str, np.ndarray]:
        """Each customer's parameters at the posterior means, 1-D arrays (one per customer).

        Without covariates every customer has ``params_``.
        """
        self._check_fitted()
        n = len(rfm)
        if self.encoding_ is None:
            return {k: np.full(n, v) for k, v in self.params_.items()}
        purchase, dropout = self.encoding_.design(rfm)
        means = {k: np.asarray([v]) for k, v in self.params_.items()}
        coefficients = {
            k: v.mean(axis=0, keepdims=True) for k, v in self.coefficient_draws().items()
        }
        p = covariate_fit.customer_parameters(self.name, means, coefficients, purchase, dropout)
        return {k: v[0] for k, v in p.items()}

    def _at_means(self, rfm: pd.DataFrame) -> np.ndarray:
        if self.encoding_ is None:
            return self.log_likelihood_fn(self.params_, *_xtT(rfm))  # type: ignore[arg-type]
        return self.log_likelihood_fn(self.mean_parameters(rfm), *_xtT(rfm))

    def log_likelihood(self, rfm: pd.DataFrame) -> float:
        """Total log-likelihood of ``rfm`` at the posterior means."""
        self._check_fitted()
        return float(self._at_means(rfm).sum())

    # ------------------------------------------------------------ predictions
    def require_no_covariates(self) -> None:
        """Refuse a model with covariates in a step that takes one parameter set for all.

        Such a step (payback, budgets, acquisition forecasts) would silently treat every
        customer as the reference customer.
        """
        if self.encoding_ is not None:
            columns = ", ".join(
                dict.fromkeys((*self.purchase_covariates, *self.dropout_covariates))
            )
            raise DataError(
                f"this step uses one set of {self.label} parameters for every customer and does "
                f"not take covariates yet, but the model was fitted with covariates ({columns})",
                hint="fit a model without covariates for this step",
            )

    def draws_as_columns(self, n_draws: int | None = None) -> dict[str, np.ndarray]:
        """Parameter draws shaped ``(draws, 1)`` to broadcast against customers.

        One set of parameters for every customer: a model with covariates refuses (the
        callers, e.g. payback and budgets, would silently score everyone as the reference
        customer); it has :meth:`customer_draws`.
        """
        self.require_no_covariates()
        return {k: v[:, None] for k, v in self.param_draws(n_draws).items()}

    def expected_purchases(
        self, rfm: pd.DataFrame, t: float, *, n_draws: int | None = None
    ) -> np.ndarray:
        """Expected purchases in the next ``t`` (model time units), shape ``(draws, customers)``."""
        p = self.customer_draws(rfm, n_draws)
        x, t_x, T = _xtT(rfm)
        return self.probability_alive_fn(p, x, t_x, T) * self.numerator_fn(p, x, T, t)

    def probability_alive(self, rfm: pd.DataFrame, *, n_draws: int | None = None) -> np.ndarray:
        """P(alive) per draw and customer, shape ``(draws, customers)``."""
        return self.probability_alive_fn(self.customer_draws(rfm, n_draws), *_xtT(rfm))

    def expected_purchases_new_customer(
        self, t: ArrayLike, *, n_draws: int | None = None
    ) -> np.ndarray:
        """Expected repeat purchases of a new customer within ``t`` of the first, per draw.

        With covariates: of a new customer at the reference (every encoded covariate 0).
        """
        t_row = np.atleast_1d(np.asarray(t, dtype="float64"))[None, :]
        p = {k: v[:, None] for k, v in self.param_draws(n_draws).items()}
        return self.new_customer_fn(p, t_row)


def numerator_steps(
    numerator_fn: NumeratorFn,
    p: Params,
    x: ArrayLike,
    T: ArrayLike,
    t: np.ndarray,
    discount: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """N at the last horizon and the discounted sum of its increments, one horizon at a time.

    ``numerator_fn(p, x, T, t_k)`` for each of the increasing horizons ``t``; the arguments
    broadcast as ``numerator_fn``'s do.
    """
    previous: np.ndarray = np.zeros(1)
    total: np.ndarray = np.zeros(1)
    for t_k, weight in zip(t, discount, strict=True):
        current = numerator_fn(p, x, T, t_k)
        total = total + (current - previous) * weight
        previous = current
    return previous, total


def _xtT(rfm: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return (
        rfm["frequency"].to_numpy(dtype="float64"),
        rfm["recency"].to_numpy(dtype="float64"),
        rfm["T"].to_numpy(dtype="float64"),
    )
