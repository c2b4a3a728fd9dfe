"""The BG/CNBD-k and MBG/CNBD-k models: fitting (with the choice of k) and predictions.

The closed forms are in :mod:`clvmodels.models.cnbd` (Platzer & Reutterer 2016). k is not
sampled: it is given (``k=``) or chosen as the k in 1..10 whose MAP fit has the largest total
log-likelihood, the ``(k - 1) litt - x lgamma(k)`` constant included (so the comparison is of
the densities of the purchase times, as for BG/NBD); the fit at the chosen k then uses the
requested method. k is stored in the posterior as a constant variable, so that draws, saved
models and Spark payloads carry it.
"""

from __future__ import annotations

import time
from typing import Any, ClassVar, Self

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from clvmodels.errors import DataError, Label
from clvmodels.models import cnbd
from clvmodels.models._pymc.cnbd import fit_cnbd, map_k_search
from clvmodels.models.inputs import collapse_rfm, validate_rfm
from clvmodels.models.transaction import MIN_CUSTOMERS, Params, TransactionModel

#: Customer rows per block when the numerators of (x, t_x, T) rows are combined.
ROW_BLOCK = 20_000


class ErlangBetaGeoModel(TransactionModel):
    """Base of BG/CNBD-k and MBG/CNBD-k; see :mod:`clvmodels.models.cnbd`.

    Parameters
    ----------
    k : int, optional
        The Erlang shape; by default chosen by likelihood over 1..10
        (:data:`clvmodels.models.cnbd.K_RANGE`).
    **settings
        As for :class:`clvmodels.models.transaction.TransactionModel`.

    Attributes
    ----------
    k_ : int
        The fitted (or given) k; the ``fit_report_`` holds ``k``, ``k_selection`` and
        ``k_log_likelihood`` (the total log-likelihood at each k tried).
    """

    param_names = cnbd.CNBD_PARAMS
    #: The conditional expectation's numerator depends on recency too (through the phases
    #: completed since the last purchase), so scoring collapses on (x, t_x, T).
    numerator_uses_recency: ClassVar[bool] = True

    def __init__(self, *, k: int | None = None, **settings: Any) -> None:
        super().__init__(**settings)
        if k is not None and (int(k) != k or not 1 <= k <= max(cnbd.K_RANGE)):
            raise ValueError(f"k must be a whole number in 1..{max(cnbd.K_RANGE)}; got {k!r}")
        self.k = None if k is None else int(k)

    @property
    def k_(self) -> int:
        """The Erlang shape of the fit."""
        self._check_fitted()
        return round(self.params_["k"])

    # ------------------------------------------------------------ closed forms
    @classmethod
    def log_likelihood_fn(  # type: ignore[override]
        cls, p: Params, x: ArrayLike, t_x: ArrayLike, T: ArrayLike, litt: ArrayLike = 0.0
    ) -> np.ndarray:
        """:func:`clvmodels.models.cnbd.log_likelihood` (with litt = 0: without its term)."""
        return cnbd.log_likelihood(
            p["r"],
            p["alpha"],
            p["a"],
            p["b"],
            cnbd._phases(p["k"]),
            x,
            t_x,
            T,
            litt,
            dropout_at_zero=cls.dropout_at_zero,
        )

    @classmethod
    def probability_alive_fn(  # type: ignore[override]
        cls, p: Params, x: ArrayLike, t_x: ArrayLike, T: ArrayLike
    ) -> np.ndarray:
        """:func:`clvmodels.models.cnbd.probability_alive`."""
        return cnbd.probability_alive(
            p["r"],
            p["alpha"],
            p["a"],
            p["b"],
            cnbd._phases(p["k"]),
            x,
            t_x,
            T,
            dropout_at_zero=cls.dropout_at_zero,
        )

    @classmethod
    def numerator_fn(  # type: ignore[override]
        cls, p: Params, x: ArrayLike, T: ArrayLike, t: ArrayLike, t_x: ArrayLike | None = None
    ) -> np.ndarray:
        """E[X(T, T + t) | x, t_x, T] / P(alive); it needs ``t_x`` unless k = 1."""
        k = cnbd._phases(p["k"])
        if t_x is None:
            if k > 1:
                raise ValueError("with k > 1 the numerator depends on recency: pass t_x")
            t_x = T
        return cnbd.conditional_numerator(
            p["r"],
            p["alpha"],
            p["a"],
            p["b"],
            k,
            x,
            t_x,
            T,
            float(np.asarray(t)),
            dropout_at_zero=cls.dropout_at_zero,
        )

    @classmethod
    def new_customer_fn(cls, p: Params, t: ArrayLike) -> np.ndarray:  # type: ignore[override]
        """:func:`clvmodels.models.cnbd.expected_purchases_new_customer`."""
        return cnbd.expected_purchases_new_customer(
            p["r"],
            p["alpha"],
            p["a"],
            p["b"],
            cnbd._phases(p["k"]),
            t,
            dropout_at_zero=cls.dropout_at_zero,
        )

    @classmethod
    def numerator_grid_fn(  # type: ignore[override]
        cls,
        p: Params,
        x: np.ndarray,
        T: np.ndarray,
        t: np.ndarray,
        discount: np.ndarray,
        t_x: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """The numerator per (x, t_x, T) row and draw on a grid of horizons.

        ``S_j`` is computed once per distinct (x, T) pair and draw
        (:func:`clvmodels.models.cnbd.phase_sums`), then each row's is ``sum_j w_j S_j`` with
        its own phase weights w_j. Shapes as in
        :meth:`TransactionModel.numerator_grid_fn`, one row per (x, t_x, T).
        """
        k = cnbd._phases(p["k"])
        x = np.asarray(x, dtype="float64")
        T = np.asarray(T, dtype="float64")
        t_x = T if t_x is None else np.asarray(t_x, dtype="float64")
        if k > 1 and t_x is T:
            raise ValueError("with k > 1 the numerator depends on recency: pass t_x")
        pairs, code = np.unique(np.stack([x, T], axis=1), axis=0, return_inverse=True)
        code = code.reshape(-1)
        d = {name: np.asarray(v, dtype="float64")[None, :] for name, v in p.items()}
        sums_h, sums_d = cnbd.phase_sums(
            d["r"],
            d["alpha"],
            d["a"],
            d["b"],
            k,
            pairs[:, :1],
            pairs[:, 1:],
            t,
            discount,
            dropout_at_zero=cls.dropout_at_zero,
        )
        horizon = np.empty((len(x), d["r"].shape[1]))
        discounted = np.empty_like(horizon)
        for lo in range(0, len(x), ROW_BLOCK):
            sl = slice(lo, lo + ROW_BLOCK)
            w = cnbd.phase_posterior(d["r"], d["alpha"], k, x[sl, None], t_x[sl, None], T[sl, None])
            horizon[sl] = (w * sums_h[:, code[sl]]).sum(axis=0)
            discounted[sl] = (w * sums_d[:, code[sl]]).sum(axis=0)
        return horizon, discounted

    # ------------------------------------------------------------ predictions
    def expected_purchases(
        self, rfm: pd.DataFrame, t: float, *, n_draws: int | None = None
    ) -> np.ndarray:
        """Expected purchases in the next ``t``, exact per customer, ``(draws, customers)``."""
        p = self.draws_as_columns(n_draws)
        x, t_x, T = (rfm[c].to_numpy(dtype="float64") for c in ("frequency", "recency", "T"))
        return self.probability_alive_fn(p, x, t_x, T) * self.numerator_fn(p, x, T, t, t_x)

    # ------------------------------------------------------------ fitting
    def fit(self, rfm: pd.DataFrame) -> Self:
        """Fit on an RFM table with frequency, recency, T and litt; choose k unless given."""
        validate_rfm(rfm)
        litt = require_litt(rfm)
        if len(rfm) < MIN_CUSTOMERS:
            raise DataError(
                f"too few customers to fit {self.label}: {len(rfm)} "
                f"(at least {MIN_CUSTOMERS} needed)"
            )
        x_all = rfm["frequency"].to_numpy(dtype="float64")
        if not (x_all > 0).any():
            raise DataError(
                f"no customer has a repeat purchase, so {self.label} cannot be fitted",
                column="frequency",
                n_rows=len(rfm),
            )
        tuples = collapse_rfm(rfm).tuples
        data = [tuples[c].to_numpy(dtype="float64") for c in ("frequency", "recency", "T")]
        weights = tuples["n_customers"].to_numpy(dtype="float64")
        litt_total = float(litt.sum())
        started = time.perf_counter()
        per_k: dict[int, float] = {}
        if self.k is not None:
            best = self.k
            result = self._fit_k(best, data, weights, self.method, None)
        else:
            search = map_k_search(
                cnbd.K_RANGE,
                *data,
                weights,
                dropout_at_zero=self.dropout_at_zero,
                priors=self.priors,
                seed=self.seed,
            )
            # log_likelihood_fn holds -x lgamma(k); the (k - 1) litt term is added here
            per_k = {
                k: float(
                    (weights * self.log_likelihood_fn({**fit["params"], "k": k}, *data)).sum()
                    + (k - 1) * litt_total
                )
                for k, fit in search.items()
            }
            best = max(per_k, key=lambda k: per_k[k])
            result = self._fit_k(best, data, weights, self.method, search[best]["params"])
        if best not in per_k or self.method == "map":
            means = {n: float(result.posterior[n].mean()) for n in ("r", "alpha", "a", "b")}
            per_k[best] = float(
                (weights * self.log_likelihood_fn({**means, "k": best}, *data)).sum()
                + (best - 1) * litt_total
            )
        posterior = result.posterior.assign(k=result.posterior["r"] * 0.0 + float(best))
        report = dict(result.report)
        report.update(
            k=best,
            k_selection="given" if self.k is not None else "largest log-likelihood over k = 1..10",
            k_log_likelihood={str(k): round(v, 4) for k, v in per_k.items()},
            k_search_seconds=round(time.perf_counter() - started, 3),
            n_customers=len(rfm),
            n_tuples=len(tuples),
        )
        self.n_customers_ = len(rfm)
        self.n_tuples_ = len(tuples)
        self._set_posterior(posterior, report)
        self.log_likelihood_ = self.log_likelihood(rfm)
        return self

    def _fit_k(
        self,
        k: int,
        data: list[np.ndarray],
        weights: np.ndarray,
        method: str,
        start: dict[str, float] | None,
    ) -> Any:
        return fit_cnbd(
            k,
            *data,
            weights,
            dropout_at_zero=self.dropout_at_zero,
            priors=self.priors,
            method=method,  # type: ignore[arg-type]
            chains=self.chains,
            draws=self.draws,
            tune=self.tune,
            seed=self.seed,
            progressbar=self.progressbar,
            start=start,
        )

    def _at_means(self, rfm: pd.DataFrame) -> np.ndarray:
        x, t_x, T = (rfm[c].to_numpy(dtype="float64") for c in ("frequency", "recency", "T"))
        return self.log_likelihood_fn(self.params_, x, t_x, T, require_litt(rfm))  # type: ignore[arg-type]


def require_litt(rfm: pd.DataFrame) -> np.ndarray:
    """The ``litt`` column (sum of log inter-purchase times), checked: finite, 0 when x = 0.

    Raises
    ------
    DataError
        When the RFM table has no ``litt`` column, or a value is missing or inconsistent.
    """
    if cnbd.LITT_COLUMN not in rfm.columns:
        raise DataError(
            "the RFM table has no column 'litt' (the sum of the logs of each customer's "
            "inter-purchase times), which BG/CNBD-k and MBG/CNBD-k need",
            column=cnbd.LITT_COLUMN,
            hint="build the RFM table with clvmodels' rfm_summary, which emits it",
        )
    litt = pd.to_numeric(rfm[cnbd.LITT_COLUMN], errors="coerce").to_numpy(dtype="float64")
    x = rfm["frequency"].to_numpy(dtype="float64")
    bad = ~np.isfinite(litt) | ((x == 0) & (litt != 0))
    if bad.any():
        ids = rfm["customer_id"] if "customer_id" in rfm.columns else pd.Series(rfm.index)
        raise DataError(
            "litt must be finite, and 0 for customers without repeat purchases",
            column=cnbd.LITT_COLUMN,
            n_rows=int(bad.sum()),
            examples=[Label(f"customer {v}") for v in ids.to_numpy()[bad][:5]],
        )
    return litt


class BetaGeoCNBDModel(ErlangBetaGeoModel):
    """BG/CNBD-k: BG/NBD with Erlang-k inter-purchase times (Platzer & Reutterer 2016)."""

    name = "bgcnbd"
    label = "BG/CNBD-k"
    dropout_at_zero = False


class ModifiedBetaGeoCNBDModel(ErlangBetaGeoModel):
    """MBG/CNBD-k: MBG/NBD with Erlang-k inter-purchase times (Platzer & Reutterer 2016)."""

    name = "mbgcnbd"
    label = "MBG/CNBD-k"
    dropout_at_zero = True
