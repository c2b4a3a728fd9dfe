"""Pareto/NBD: the transaction model of Schmittlein, Morrison & Colombo (1987).

Fader, P. S., Hardie, B. G. S. (2005). A note on deriving the Pareto/NBD model and related
expressions. http://brucehardie.com/notes/009/pareto_nbd_derivations_2005-11-05.pdf [FH05]_

Assumptions ([FH05]_, section 1):

1. While active, a customer's purchases follow a Poisson process with rate lambda.
2. A customer's unobserved lifetime is exponential with dropout rate mu.
3. lambda ~ Gamma(r, alpha) across customers.
4. mu ~ Gamma(s, beta) across customers.
5. lambda and mu vary independently.

.. [FH05] http://brucehardie.com/notes/009/pareto_nbd_derivations_2005-11-05.pdf
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import gammaln, hyp2f1

from clvmodels.models._pymc.priors import PARETO_NBD_PARAMS
from clvmodels.models.transaction import Params, TransactionModel


def _arrays(*values: ArrayLike) -> tuple[np.ndarray, ...]:
    return tuple(np.asarray(v, dtype="float64") for v in values)


def log_a0(
    r: ArrayLike,
    alpha: ArrayLike,
    s: ArrayLike,
    beta: ArrayLike,
    x: ArrayLike,
    t_x: ArrayLike,
    T: ArrayLike,
) -> np.ndarray:
    """Log of A_0, [FH05]_ eqs. (19)-(20), with the roles of alpha and beta by their order."""
    r, alpha, s, beta, x, t_x, T = _arrays(r, alpha, s, beta, x, t_x, T)
    alpha_smaller = alpha < beta
    low = np.where(alpha_smaller, alpha, beta)
    high = np.where(alpha_smaller, beta, alpha)
    second = np.where(alpha_smaller, r + x, s + 1)
    rsx = r + s + x
    with np.errstate(divide="ignore", invalid="ignore"):
        first_part = np.log(
            hyp2f1(rsx, second, rsx + 1, (high - low) / (high + t_x))
        ) - rsx * np.log(high + t_x)
        second_part = np.log(
            hyp2f1(rsx, second, rsx + 1, (high - low) / (high + T))
        ) - rsx * np.log(high + T)
        return first_part + np.log(-np.expm1(second_part - first_part))


def log_likelihood(
    r: ArrayLike,
    alpha: ArrayLike,
    s: ArrayLike,
    beta: ArrayLike,
    x: ArrayLike,
    t_x: ArrayLike,
    T: ArrayLike,
) -> np.ndarray:
    """Individual log-likelihood; [FH05]_ eq. (18)."""
    r, alpha, s, beta, x, t_x, T = _arrays(r, alpha, s, beta, x, t_x, T)
    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
    a2 = np.logaddexp(
        -(r + x) * np.log(alpha + T) - s * np.log(beta + T),
        np.log(s) + log_a0(r, alpha, s, beta, x, t_x, T) - np.log(r + s + x),
    )
    return a1 + a2


def probability_alive(
    r: ArrayLike,
    alpha: ArrayLike,
    s: ArrayLike,
    beta: ArrayLike,
    x: ArrayLike,
    t_x: ArrayLike,
    T: ArrayLike,
) -> np.ndarray:
    """P(alive | x, t_x, T); [FH05]_ eqs. (36)-(37)."""
    r, alpha, s, beta, x, t_x, T = _arrays(r, alpha, s, beta, x, t_x, T)
    with np.errstate(over="ignore"):
        log_odds = (
            np.log(s)
            - np.log(r + s + x)
            + (r + x) * np.log(alpha + T)
            + s * np.log(beta + T)
            + log_a0(r, alpha, s, beta, x, t_x, T)
        )
        return 1.0 / (1.0 + np.exp(log_odds))


def conditional_numerator(
    r: ArrayLike,
    alpha: ArrayLike,
    s: ArrayLike,
    beta: ArrayLike,
    x: ArrayLike,
    T: ArrayLike,
    t: ArrayLike,
) -> np.ndarray:
    """E[X(T, T + t) | x, t_x, T] / P(alive); [FH05]_ eq. (41).

    ``(r + x) (beta + T) / ((alpha + T) (s - 1)) * [1 - ((beta + T) / (beta + T + t))**(s - 1)]``
    """
    r, alpha, s, beta, x, T, t = _arrays(r, alpha, s, beta, x, T, t)
    return (
        (r + x)
        * (beta + T)
        / ((alpha + T) * (s - 1))
        * (1 - ((beta + T) / (beta + T + t)) ** (s - 1))
    )


def expected_purchases_new_customer(
    r: ArrayLike, alpha: ArrayLike, s: ArrayLike, beta: ArrayLike, t: ArrayLike
) -> np.ndarray:
    """E[X(t)] for a new customer; [FH05]_ eq. (17)."""
    r, alpha, s, beta, t = _arrays(r, alpha, s, beta, t)
    return r * beta / (alpha * (s - 1)) * (1 - (beta / (beta + t)) ** (s - 1))


class ParetoNBDModel(TransactionModel):
    """Pareto/NBD transaction model, fitted through pymc-marketing on collapsed tuples.

    Parameters ``r, alpha`` (purchase rates) and ``s, beta`` (dropout rates); see
    :class:`clvmodels.models.transaction.TransactionModel` for the settings and attributes.
    """

    name = "pareto"
    label = "Pareto/NBD"
    dropout_at_zero = True  # the lifetime starts at the first purchase
    param_names = PARETO_NBD_PARAMS

    @staticmethod
    def log_likelihood_fn(p: Params, x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> np.ndarray:
        """[FH05]_ eq. (18)."""
        return log_likelihood(p["r"], p["alpha"], p["s"], p["beta"], x, t_x, T)

    @staticmethod
    def probability_alive_fn(p: Params, x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> np.ndarray:
        """[FH05]_ eqs. (36)-(37)."""
        return probability_alive(p["r"], p["alpha"], p["s"], p["beta"], x, t_x, T)

    @staticmethod
    def numerator_fn(p: Params, x: ArrayLike, T: ArrayLike, t: ArrayLike) -> np.ndarray:
        """[FH05]_ eq. (41) without its P(alive) factor."""
        return conditional_numerator(p["r"], p["alpha"], p["s"], p["beta"], x, T, t)

    @staticmethod
    def new_customer_fn(p: Params, t: ArrayLike) -> np.ndarray:
        """[FH05]_ eq. (17)."""
        return expected_purchases_new_customer(p["r"], p["alpha"], p["s"], p["beta"], t)
