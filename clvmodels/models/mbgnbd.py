"""MBG/NBD: the modified BG/NBD transaction model.

Batislam, E. P., Denizel, M. & Filiztekin, A. (2007). Empirical validation and comparison of
models for customer base analysis. *International Journal of Research in Marketing* 24(3),
201-209. [BDF07]_

Assumptions: those of BG/NBD (:mod:`clvmodels.models.bgnbd`), except that a customer may drop out
with probability p at time zero too, right after the first purchase, so a customer without
repeat purchases is not certainly alive.

.. [BDF07] https://doi.org/10.1016/j.ijresmar.2006.12.005
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import gammaln, hyp2f1

from clvmodels.models._pymc.priors import BGNBD_PARAMS
from clvmodels.models.transaction import Params, TransactionModel


def _arrays(*values: ArrayLike) -> tuple[np.ndarray, ...]:
    return tuple(np.asarray(v, dtype="float64") for v in values)


def log_likelihood(
    r: ArrayLike,
    alpha: ArrayLike,
    a: ArrayLike,
    b: ArrayLike,
    x: ArrayLike,
    t_x: ArrayLike,
    T: ArrayLike,
) -> np.ndarray:
    """Individual log-likelihood of (x, t_x, T) ([BDF07]_, in the log-sum form)."""
    r, alpha, a, b, x, t_x, T = _arrays(r, alpha, a, b, x, t_x, T)
    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    a2 = gammaln(a + b) + gammaln(b + x + 1) - gammaln(b) - gammaln(a + b + x + 1)
    a3 = -(r + x) * np.log(alpha + T)
    a4 = np.log(a) - np.log(b + x) + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x))
    return a1 + a2 + a3 + np.logaddexp(a4, 0.0)


def probability_alive(
    r: ArrayLike,
    alpha: ArrayLike,
    a: ArrayLike,
    b: ArrayLike,
    x: ArrayLike,
    t_x: ArrayLike,
    T: ArrayLike,
) -> np.ndarray:
    """P(alive | x, t_x, T) = 1 / (1 + a / (b + x) ((alpha + T) / (alpha + t_x))**(r + x))."""
    r, alpha, a, b, x, t_x, T = _arrays(r, alpha, a, b, x, t_x, T)
    with np.errstate(over="ignore"):
        log_odds = np.log(a) - np.log(b + x) + (r + x) * np.log((alpha + T) / (alpha + t_x))
        return 1.0 / (1.0 + np.exp(log_odds))


def conditional_numerator(
    r: ArrayLike,
    alpha: ArrayLike,
    a: ArrayLike,
    b: ArrayLike,
    x: ArrayLike,
    T: ArrayLike,
    t: ArrayLike,
) -> np.ndarray:
    """E[X(T, T + t) | x, t_x, T] / P(alive) ([BDF07]_, as in lifetimes).

    ::

        (a + b + x) / (a - 1) * [1 - ((alpha + T) / (alpha + T + t))**(r + x)
                                 * 2F1(r + x, b + x + 1; a + b + x; t / (alpha + T + t))]
    """
    r, alpha, a, b, x, T, t = _arrays(r, alpha, a, b, x, T, t)
    hyp = hyp2f1(r + x, b + x + 1, a + b + x, t / (alpha + T + t))
    return (a + b + x) / (a - 1) * (1 - hyp * ((alpha + T) / (alpha + T + t)) ** (r + x))


def expected_purchases_new_customer(
    r: ArrayLike, alpha: ArrayLike, a: ArrayLike, b: ArrayLike, t: ArrayLike
) -> np.ndarray:
    """E[X(t)] for a new customer ([BDF07]_).

    ``b / (a - 1) [1 - (alpha / (alpha + t))**r 2F1(r, b + 1; a + b; t / (alpha + t))]``
    """
    r, alpha, a, b, t = _arrays(r, alpha, a, b, t)
    hyp = hyp2f1(r, b + 1, a + b, t / (alpha + t))
    return b / (a - 1) * (1 - hyp * (alpha / (alpha + t)) ** r)


class ModifiedBetaGeoModel(TransactionModel):
    """MBG/NBD transaction model, fitted through pymc-marketing on collapsed tuples.

    Parameters ``r, alpha`` (purchase rates) and ``a, b`` (dropout); see
    :class:`clvmodels.models.transaction.TransactionModel` for the settings and attributes.
    """

    name = "mbgnbd"
    label = "MBG/NBD"
    dropout_at_zero = True  # a coin is also tossed at the first purchase (Batislam et al. 2007)
    param_names = BGNBD_PARAMS

    @staticmethod
    def log_likelihood_fn(p: Params, x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> np.ndarray:
        """See :func:`log_likelihood`."""
        return log_likelihood(p["r"], p["alpha"], p["a"], p["b"], x, t_x, T)

    @staticmethod
    def probability_alive_fn(p: Params, x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> np.ndarray:
        """See :func:`probability_alive`."""
        return probability_alive(p["r"], p["alpha"], p["a"], p["b"], x, t_x, T)

    @staticmethod
    def numerator_fn(p: Params, x: ArrayLike, T: ArrayLike, t: ArrayLike) -> np.ndarray:
        """See :func:`conditional_numerator`."""
        return conditional_numerator(p["r"], p["alpha"], p["a"], p["b"], x, T, t)

    @staticmethod
    def new_customer_fn(p: Params, t: ArrayLike) -> np.ndarray:
        """See :func:`expected_purchases_new_customer`."""
        return expected_purchases_new_customer(p["r"], p["alpha"], p["a"], p["b"], t)

    @classmethod
    def numerator_grid_fn(
        cls, p: Params, x: np.ndarray, T: np.ndarray, t: np.ndarray, discount: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """[BDF07]_'s numerator on a grid: FHL05 eq. (10)'s with b + 1 in place of b.

        (a + b + x) / (a - 1) [1 - (...)**(r + x) 2F1(r + x, b + x + 1; a + b + x; z)] is the
        BG/NBD numerator at b' = b + 1, so the compiled series of
        :func:`clvmodels.models.bgnbd.conditional_numerator_grid` (and its scipy fallback) applies.
        """
        from clvmodels.models.bgnbd import conditional_numerator_grid

        b_plus_one = np.asarray(p["b"], dtype="float64") + 1.0
        return conditional_numerator_grid(p["r"], p["alpha"], p["a"], b_plus_one, x, T, t, discount)
