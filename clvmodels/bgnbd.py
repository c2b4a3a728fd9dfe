"""BG/NBD: the beta-geometric / negative binomial transaction model.

Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). "Counting your customers" the easy way:
an alternative to the Pareto/NBD model. *Marketing Science* 24(2), 275-284. [FHL05]_

Assumptions (FHL05, section 3):

1. While active, a customer's purchases follow a Poisson process with rate lambda.
2. Purchase rates differ across customers: lambda ~ Gamma(r, alpha).
3. After any purchase a customer becomes inactive with probability p.
4. Dropout probabilities differ across customers: p ~ Beta(a, b).
5. Purchase rates and dropout probabilities vary independently.

Fitting goes through pymc-marketing (:mod:`clvmodels.pymc_adapter`) on collapsed
(x, t_x, T) tuples; the predictions here are the closed forms of the papers, evaluated in
NumPy for every posterior draw at once.

.. [FHL05] http://brucehardie.com/papers/018/fader_et_al_mksc_05.pdf
.. [FHL08] Fader, Hardie & Lee (2008), Computing P(alive) using the BG/NBD model,
   http://www.brucehardie.com/notes/021/palive_for_BGNBD.pdf
.. [FH13] Fader & Hardie (2013), Overcoming the BG/NBD model's #NUM! error problem,
   http://brucehardie.com/notes/027/bgnbd_num_error.pdf
"""

from __future__ import annotations

from typing import Self

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy.special import gammaln, hyp2f1

from clvmodels import pymc_adapter
from clvmodels.errors import DataError
from clvmodels.posterior import PosteriorModel
from clvmodels.rfm import collapse_rfm, validate_rfm

MIN_CUSTOMERS = 20


# --------------------------------------------------------------------------------------
# closed forms: every argument broadcasts (draws as rows, customers as columns)
# --------------------------------------------------------------------------------------
def log_likelihood(
    r: ArrayLike,
    alpha: ArrayLike,
    a: ArrayLike,
    b: ArrayLike,
    x: ArrayLike,
    t_x: ArrayLike,
    T: ArrayLike,
) -> np.ndarray:
    """Individual log-likelihood of (x, t_x, T); FHL05 eq. (6) in the log-sum form of [FH13]_."""
    r, alpha, a, b, x, t_x, T = (
        np.asarray(v, dtype="float64") for v in (r, alpha, a, b, x, t_x, T)
    )
    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    a2 = gammaln(a + b) + gammaln(b + x) - gammaln(b) - gammaln(a + b + x)
    a3 = -(r + x) * np.log(alpha + T)
    with np.errstate(divide="ignore", invalid="ignore"):
        a4 = np.log(a) - np.log(b + x - 1) - (r + x) * np.log(alpha + t_x)
    a4 = np.where(x > 0, a4, -np.inf)
    return a1 + a2 + np.logaddexp(a3, a4)


def expected_purchases(
    r: ArrayLike,
    alpha: ArrayLike,
    a: ArrayLike,
    b: ArrayLike,
    x: ArrayLike,
    t_x: ArrayLike,
    T: ArrayLike,
    t: ArrayLike,
) -> np.ndarray:
    """E[X(T, T + t) | x, t_x, T]: expected purchases in the next ``t``; FHL05 eq. (10).

    Computed as :func:`conditional_numerator` (which needs only x and T) divided by
    :func:`alive_denominator` (the inverse of P(alive)).
    """
    return conditional_numerator(r, alpha, a, b, x, T, t) / alive_denominator(
        r, alpha, a, b, x, t_x, T
    )


def conditional_numerator(
    r: ArrayLike,
    alpha: ArrayLike,
    a: ArrayLike,
    b: ArrayLike,
    x: ArrayLike,
    T: ArrayLike,
    t: ArrayLike,
) -> np.ndarray:
    """Numerator of FHL05 eq. (10); it depends on the customer through (x, T) only.

    ``(a + b + x - 1) / (a - 1) * [1 - ((alpha + T) / (alpha + T + t))**(r + x)
    * 2F1(r + x, b + x; a + b + x - 1; t / (alpha + T + t))]``. The Gaussian hypergeometric
    function is evaluated directly, or through Euler's transformation where the direct value
    overflows (as lifetimes does).
    """
    r, alpha, a, b, x, T, t = (np.asarray(v, dtype="float64") for v in (r, alpha, a, b, x, T, t))
    hyp_a = r + x
    hyp_b = b + x
    hyp_c = a + b + x - 1
    z = t / (alpha + T + t)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        ln_hyp = np.log(hyp2f1(hyp_a, hyp_b, hyp_c, z))
        bad = ~np.isfinite(ln_hyp)
        if np.any(bad):
            alt = np.log(hyp2f1(hyp_c - hyp_a, hyp_c - hyp_b, hyp_c, z)) + (
                hyp_c - hyp_a - hyp_b
            ) * np.log1p(-z)
            ln_hyp = np.where(bad, alt, ln_hyp)
        first = (a + b + x - 1) / (a - 1)
        second = -np.expm1(ln_hyp + (r + x) * np.log((alpha + T) / (alpha + t + T)))
    return first * second


def alive_denominator(
    r: ArrayLike,
    alpha: ArrayLike,
    a: ArrayLike,
    b: ArrayLike,
    x: ArrayLike,
    t_x: ArrayLike,
    T: ArrayLike,
) -> np.ndarray:
    """``1 + [x > 0] a / (b + x - 1) ((alpha + T) / (alpha + t_x))**(r + x)`` = 1 / P(alive).

    The denominator of FHL05 eq. (10), and the inverse of P(alive) in [FHL08]_ eq. (2).
    """
    r, alpha, a, b, x, t_x, T = (
        np.asarray(v, dtype="float64") for v in (r, alpha, a, b, x, t_x, T)
    )
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        log_odds = (
            np.log(a)
            - np.log(b + np.maximum(x, 1) - 1)
            + (r + x) * np.log((alpha + T) / (alpha + t_x))
        )
        return 1.0 + np.where(x > 0, np.exp(log_odds), 0.0)


def probability_alive(
    r: ArrayLike,
    alpha: ArrayLike,
    a: ArrayLike,
    b: ArrayLike,
    x: ArrayLike,
    t_x: ArrayLike,
    T: ArrayLike,
) -> np.ndarray:
    """P(alive | x, t_x, T); [FHL08]_ eq. (2), computed as a logistic of the log-odds."""
    return 1.0 / alive_denominator(r, alpha, a, b, x, t_x, T)


def expected_purchases_new_customer(
    r: ArrayLike, alpha: ArrayLike, a: ArrayLike, b: ArrayLike, t: ArrayLike
) -> np.ndarray:
    """E[X(t)]: expected purchases of a new customer in ``t`` after the first; FHL05 eq. (9)."""
    r, alpha, a, b, t = (np.asarray(v, dtype="float64") for v in (r, alpha, a, b, t))
    first = (a + b - 1) / (a - 1)
    second = 1 - (alpha / (alpha + t)) ** r * hyp2f1(r, b, a + b - 1, t / (alpha + t))
    return first * second


# --------------------------------------------------------------------------------------
# the model
# --------------------------------------------------------------------------------------
class BetaGeoModel(PosteriorModel):
    """BG/NBD transaction model, fitted through pymc-marketing on collapsed tuples.

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

    Attributes
    ----------
    posterior_ : xarray.Dataset
        Draws of ``r, alpha, a, b`` with dimensions ``(chain, draw)``.
    params_ : dict
        Posterior means.
    fit_report_ : dict
        The optimiser's status or the sampler's diagnostics.
    log_likelihood_ : float
        Total log-likelihood of the data at ``params_``.
    n_customers_, n_tuples_ : int
        Customers fitted, and the distinct (x, t_x, T) tuples they collapse to.

    Examples
    --------
    >>> model = BetaGeoModel(priors="flat").fit(rfm)  # doctest: +SKIP
    >>> model.params_  # doctest: +SKIP
    {'r': 0.243, 'alpha': 4.414, 'a': 0.793, 'b': 2.426}
    """

    name = "bgnbd"
    param_names = pymc_adapter.BGNBD_PARAMS

    log_likelihood_: float
    n_customers_: int
    n_tuples_: int

    def fit(self, rfm: pd.DataFrame) -> Self:
        """Fit on an RFM table (``frequency, recency, T``, one row per customer)."""
        validate_rfm(rfm)
        if len(rfm) < MIN_CUSTOMERS:
            raise DataError(
                f"too few customers to fit BG/NBD: {len(rfm)} (at least {MIN_CUSTOMERS} needed)"
            )
        if int((rfm["frequency"] > 0).sum()) == 0:
            raise DataError(
                "no customer has a repeat purchase, so BG/NBD cannot be fitted",
                column="frequency",
                n_rows=len(rfm),
            )
        collapsed = collapse_rfm(rfm).tuples
        result = pymc_adapter.fit_bgnbd(
            collapsed["frequency"].to_numpy(),
            collapsed["recency"].to_numpy(),
            collapsed["T"].to_numpy(),
            collapsed["n_customers"].to_numpy(),
            priors=self.priors,  # type: ignore[arg-type]
            method=self.method,  # type: ignore[arg-type]
            chains=self.chains,
            draws=self.draws,
            tune=self.tune,
            seed=self.seed,
            progressbar=self.progressbar,
        )
        self.n_customers_ = len(rfm)
        self.n_tuples_ = len(collapsed)
        result.report.update(n_customers=self.n_customers_, n_tuples=self.n_tuples_)
        self._set_posterior(result.posterior, result.report)
        self.log_likelihood_ = float(
            (collapsed["n_customers"].to_numpy() * self._at_params(log_likelihood, collapsed)).sum()
        )
        return self

    def _at_params(self, fn, rfm: pd.DataFrame) -> np.ndarray:  # type: ignore[no-untyped-def]
        p = self.params_
        return fn(p["r"], p["alpha"], p["a"], p["b"], *_xtT(rfm))

    def log_likelihood(self, rfm: pd.DataFrame) -> float:
        """Total log-likelihood of ``rfm`` at the posterior means."""
        self._check_fitted()
        return float(self._at_params(log_likelihood, rfm).sum())

    def expected_purchases(
        self, rfm: pd.DataFrame, t: float, *, n_draws: int | None = None
    ) -> np.ndarray:
        """Expected purchases in the next ``t`` (model time units), per draw and customer.

        Returns
        -------
        numpy.ndarray
            Shape ``(draws, customers)``.
        """
        d = self._draws(n_draws)
        return expected_purchases(d["r"], d["alpha"], d["a"], d["b"], *_xtT(rfm), t)

    def probability_alive(self, rfm: pd.DataFrame, *, n_draws: int | None = None) -> np.ndarray:
        """P(alive) per draw and customer, shape ``(draws, customers)``."""
        d = self._draws(n_draws)
        return probability_alive(d["r"], d["alpha"], d["a"], d["b"], *_xtT(rfm))

    def expected_purchases_new_customer(
        self, t: ArrayLike, *, n_draws: int | None = None
    ) -> np.ndarray:
        """Expected purchases of a new customer within ``t`` of the first, per draw."""
        d = self._draws(n_draws)
        t_row = np.atleast_1d(np.asarray(t, dtype="float64"))[None, :]
        return expected_purchases_new_customer(d["r"], d["alpha"], d["a"], d["b"], t_row)

    def _draws(self, n_draws: int | None) -> dict[str, np.ndarray]:
        return {k: v[:, None] for k, v in self.param_draws(n_draws).items()}


def _xtT(rfm: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return (
        rfm["frequency"].to_numpy(dtype="float64"),
        rfm["recency"].to_numpy(dtype="float64"),
        rfm["T"].to_numpy(dtype="float64"),
    )
