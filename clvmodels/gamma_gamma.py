"""Gamma-Gamma: the spend model for the mean value of a customer's repeat transactions.

Fader, P. S. & Hardie, B. G. S. (2013). The Gamma-Gamma model of monetary value.
http://www.brucehardie.com/notes/025/gamma_gamma.pdf [FH13GG]_

Assumptions ([FH13GG]_, section 1):

1. A customer's transaction values z_1, ..., z_x vary around their mean:
   z_i ~ Gamma(p, nu).
2. The scale nu differs across customers: nu ~ Gamma(q, v).
3. Spend is independent of the transaction process (check: the correlation of frequency and
   monetary value should be near 0).

The model is fitted on repeat customers (x > 0) using their mean repeat spend ``monetary_value``.

.. [FH13GG] http://www.brucehardie.com/notes/025/gamma_gamma.pdf
"""

from __future__ import annotations

from typing import Self

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy.special import gammaln

from clvmodels import pymc_adapter
from clvmodels.errors import DataError
from clvmodels.posterior import PosteriorModel
from clvmodels.rfm import validate_rfm

MIN_REPEAT_CUSTOMERS = 10


def log_likelihood(
    p: ArrayLike, q: ArrayLike, v: ArrayLike, x: ArrayLike, mean_spend: ArrayLike
) -> np.ndarray:
    """Log-likelihood of a repeat customer's mean spend; [FH13GG]_ eq. (1a), marginal in nu."""
    p, q, v, x, z = (np.asarray(a, dtype="float64") for a in (p, q, v, x, mean_spend))
    px = p * x
    return (
        gammaln(px + q)
        - gammaln(px)
        - gammaln(q)
        + q * np.log(v)
        + (px - 1) * np.log(z)
        + px * np.log(x)
        - (px + q) * np.log(px / p * z + v)
    )


def expected_spend(
    p: ArrayLike, q: ArrayLike, v: ArrayLike, x: ArrayLike, mean_spend: ArrayLike
) -> np.ndarray:
    """E[Z | x, z_bar]: a customer's expected spend per transaction; [FH13GG]_ eq. (5).

    ``p (v + x z_bar) / (p x + q - 1)``: a weighted mean of the population mean
    ``p v / (q - 1)`` and the customer's own mean; for x = 0 it is the population mean.
    """
    p, q, v, x, z = (np.asarray(a, dtype="float64") for a in (p, q, v, x, mean_spend))
    z = np.where(x > 0, z, 0.0)
    return p * (v + x * z) / (p * x + q - 1)


class GammaGammaModel(PosteriorModel):
    """Gamma-Gamma spend model, fitted through pymc-marketing on repeat customers.

    Parameters
    ----------
    method, priors, chains, draws, tune, seed
        As for :class:`clvmodels.bgnbd.BetaGeoModel`.

    Attributes
    ----------
    posterior_ : xarray.Dataset
        Draws of ``p, q, v`` with dimensions ``(chain, draw)``.
    params_ : dict
        Posterior means.
    fit_report_ : dict
        The optimiser's status or the sampler's diagnostics.
    n_customers_ : int
        Repeat customers the model was fitted on.
    frequency_spend_correlation_ : float
        Pearson correlation of frequency and monetary value among them; the model assumes
        it is near 0.
    """

    name = "gamma_gamma"
    param_names = pymc_adapter.GAMMA_GAMMA_PARAMS

    n_customers_: int
    frequency_spend_correlation_: float

    def fit(self, rfm: pd.DataFrame) -> Self:
        """Fit on the repeat customers (frequency > 0) of an RFM table."""
        validate_rfm(rfm, require_monetary=True)
        repeat = rfm[rfm["frequency"] > 0]
        if len(repeat) < MIN_REPEAT_CUSTOMERS:
            raise DataError(
                f"too few repeat customers to fit Gamma-Gamma: {len(repeat)} "
                f"(at least {MIN_REPEAT_CUSTOMERS} needed)",
                column="frequency",
            )
        x = repeat["frequency"].to_numpy(dtype="float64")
        z = repeat["monetary_value"].to_numpy(dtype="float64")
        result = pymc_adapter.fit_gamma_gamma(
            x,
            z,
            priors=self.priors,  # type: ignore[arg-type]
            method=self.method,  # type: ignore[arg-type]
            chains=self.chains,
            draws=self.draws,
            tune=self.tune,
            seed=self.seed,
            progressbar=self.progressbar,
        )
        self.n_customers_ = len(repeat)
        self.frequency_spend_correlation_ = (
            float(np.corrcoef(x, z)[0, 1]) if len(repeat) > 2 and x.std() > 0 else float("nan")
        )
        result.report.update(
            n_customers=self.n_customers_,
            frequency_spend_correlation=self.frequency_spend_correlation_,
        )
        self._set_posterior(result.posterior, result.report)
        return self

    def expected_spend(self, rfm: pd.DataFrame, *, n_draws: int | None = None) -> np.ndarray:
        """Expected spend per transaction, per draw and customer, shape ``(draws, customers)``."""
        d = {k: v[:, None] for k, v in self.param_draws(n_draws).items()}
        return expected_spend(
            d["p"],
            d["q"],
            d["v"],
            rfm["frequency"].to_numpy(dtype="float64"),
            rfm["monetary_value"].to_numpy(dtype="float64"),
        )

    def expected_spend_new_customer(self, *, n_draws: int | None = None) -> np.ndarray:
        """Population mean spend per transaction ``p v / (q - 1)``, per draw."""
        d = self.param_draws(n_draws)
        return d["p"] * d["v"] / (d["q"] - 1)
