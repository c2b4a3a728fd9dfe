"""BG/NBD: the beta-geometric / negative binomial transaction model.

Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). "Counting your customers" the easy way:
an alternative to the Pareto/NBD model. *Marketing Science* 24(2), 275-284. [FHL05]_

Assumptions (FHL05, section 3):

1. While active, a customer's purchases follow a Poisson process with rate lambda.
2. Purchase rates differ across customers: lambda ~ Gamma(r, alpha).
3. After any purchase a customer becomes inactive with probability p.
4. Dropout probabilities differ across customers: p ~ Beta(a, b).
5. Purchase rates and dropout probabilities vary independently.

Fitting goes through pymc-marketing (:mod:`clvmodels.models._pymc`) on collapsed
(x, t_x, T) tuples; the predictions here are the closed forms of the papers, evaluated in
NumPy for every posterior draw at once.

.. [FHL05] http://brucehardie.com/papers/018/fader_et_al_mksc_05.pdf
.. [FHL08] Fader, Hardie & Lee (2008), Computing P(alive) using the BG/NBD model,
   http://www.brucehardie.com/notes/021/palive_for_BGNBD.pdf
.. [FH13] Fader & Hardie (2013), Overcoming the BG/NBD model's #NUM! error problem,
   http://brucehardie.com/notes/027/bgnbd_num_error.pdf
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import gammaln, hyp2f1

from clvmodels.models._pymc.priors import BGNBD_PARAMS
from clvmodels.models.transaction import Params, TransactionModel, numerator_steps

#: Elements per array when grid points the series leaves are computed with scipy.
FALLBACK_CHUNK_ELEMENTS = 1_000_000


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
    ln_scale = (r + x) * np.log((alpha + T) / (alpha + t + T))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        second = _one_minus_scaled(hyp2f1(hyp_a, hyp_b, hyp_c, z), ln_scale)
        bad = ~np.isfinite(second)
        if np.any(bad):  # Euler's transformation
            euler = hyp2f1(hyp_c - hyp_a, hyp_c - hyp_b, hyp_c, z)
            ln_euler = ln_scale + (hyp_c - hyp_a - hyp_b) * np.log1p(-z)
            second = np.where(bad, _one_minus_scaled(euler, ln_euler), second)
        first = (a + b + x - 1) / (a - 1)
    return first * second


def _one_minus_scaled(value: np.ndarray, ln_scale: np.ndarray) -> np.ndarray:
    """``1 - value * exp(ln_scale)``, in logs where ``value`` is positive (it can overflow).

    With ``a + b + x - 1 < 0`` (no repeat purchase and ``a + b < 1``) the hypergeometric
    value can be negative, and its logarithm is not defined: it is then multiplied out.
    """
    positive = value > 0
    in_logs = -np.expm1(np.log(np.where(positive, value, 1.0)) + ln_scale)
    direct = 1.0 - value * np.exp(ln_scale)
    return np.where(positive, in_logs, direct)


def conditional_numerator_grid(
    r: np.ndarray,
    alpha: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    x: np.ndarray,
    T: np.ndarray,
    t: np.ndarray,
    discount: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`conditional_numerator` (FHL05 eq. 10) on a grid of horizons, per pair and draw.

    For draws ``r, alpha, a, b`` (1-D), distinct pairs ``x, T`` (1-D) and increasing
    horizons ``t`` with weights ``discount``, returns two ``(pairs, draws)`` arrays: N at
    ``t[-1]``, and ``sum_k discount[k] * (N(t[k]) - N(t[k - 1]))`` with N = 0 before ``t[0]``.

    The hypergeometric series is summed by
    :func:`clvmodels.models.kernels.hypergeometric.bgnbd_numerator_grid`
    (one set of coefficients per draw and x for all T and t; relative error ~1e-15). Where
    that series converges too slowly or cancels (z = t / (alpha + T + t) near 1, e.g. long
    horizons for recent customers), :func:`conditional_numerator` (scipy's ``hyp2f1``) is used.
    """
    # numba is imported on first use: importing it costs ~0.3 s that `import clvmodels` avoids
    from clvmodels.models.kernels.hypergeometric import bgnbd_numerator_grid

    x = np.asarray(x, dtype="float64")
    T = np.asarray(T, dtype="float64")
    horizon, discounted = bgnbd_numerator_grid(r, alpha, a, b, x, T, t, discount)
    pair, draw = np.nonzero(np.isnan(horizon) | np.isnan(discounted))
    for start in range(0, len(pair), FALLBACK_CHUNK_ELEMENTS):
        i = pair[start : start + FALLBACK_CHUNK_ELEMENTS]
        d = draw[start : start + FALLBACK_CHUNK_ELEMENTS]
        params = {"r": r[d], "alpha": alpha[d], "a": a[d], "b": b[d]}
        horizon[i, d], discounted[i, d] = numerator_steps(
            BetaGeoModel.numerator_fn, params, x[i], T[i], t, discount
        )
    return horizon, discounted


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
class BetaGeoModel(TransactionModel):
    """BG/NBD transaction model, fitted through pymc-marketing on collapsed tuples.

    See :class:`clvmodels.models.transaction.TransactionModel` for the parameters and attributes;
    the parameters are ``r, alpha`` (purchase rates) and ``a, b`` (dropout).

    Examples
    --------
    >>> model = BetaGeoModel(priors="flat").fit(rfm)  # doctest: +SKIP
    >>> model.params_  # doctest: +SKIP
    {'r': 0.243, 'alpha': 4.414, 'a': 0.793, 'b': 2.426}
    """

    name = "bgnbd"
    label = "BG/NBD"
    dropout_at_zero = False  # dropout only after a repeat purchase: P(alive | x = 0) = 1
    param_names = BGNBD_PARAMS

    @staticmethod
    def log_likelihood_fn(p: Params, x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> np.ndarray:
        """FHL05 eq. (6); see :func:`log_likelihood`."""
        return log_likelihood(p["r"], p["alpha"], p["a"], p["b"], x, t_x, T)

    @staticmethod
    def probability_alive_fn(p: Params, x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> np.ndarray:
        """[FHL08]_ eq. (2); see :func:`probability_alive`."""
        return probability_alive(p["r"], p["alpha"], p["a"], p["b"], x, t_x, T)

    @staticmethod
    def numerator_fn(p: Params, x: ArrayLike, T: ArrayLike, t: ArrayLike) -> np.ndarray:
        """Numerator of FHL05 eq. (10); see :func:`conditional_numerator`."""
        return conditional_numerator(p["r"], p["alpha"], p["a"], p["b"], x, T, t)

    @staticmethod
    def new_customer_fn(p: Params, t: ArrayLike) -> np.ndarray:
        """FHL05 eq. (9); see :func:`expected_purchases_new_customer`."""
        return expected_purchases_new_customer(p["r"], p["alpha"], p["a"], p["b"], t)

    @classmethod
    def numerator_grid_fn(
        cls, p: Params, x: np.ndarray, T: np.ndarray, t: np.ndarray, discount: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """FHL05 eq. (10)'s numerator on a grid; see :func:`conditional_numerator_grid`."""
        return conditional_numerator_grid(p["r"], p["alpha"], p["a"], p["b"], x, T, t, discount)
