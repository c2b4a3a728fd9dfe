"""BG/CNBD-k and MBG/CNBD-k: BG/NBD and MBG/NBD with Erlang-k inter-purchase times.

Platzer, M. & Reutterer, T. (2016). Ticking away the moments: timing regularity helps to
better predict customer activity. *Marketing Science* 35(5), 779-799. [PR16]_

Assumptions: those of BG/NBD (:mod:`clvmodels.models.bgnbd`) and MBG/NBD
(:mod:`clvmodels.models.mbgnbd`), except that an active customer's inter-purchase times are
Erlang-k with rate lambda (every k-th event of a Poisson process of rate lambda), so k > 1
describes regular buyers; k = 1 is BG/NBD or MBG/NBD. lambda ~ Gamma(r, alpha); after each
repeat purchase (MBG/CNBD-k: and right after the first) the customer drops out with
probability p ~ Beta(a, b).

For a customer with x repeat purchases, the last at t_x, observed until T (u = T - t_x) and
``litt`` = the sum of the logs of the x inter-purchase times, write s = r + k x,
``A_j = u**j / j! Gamma(s + j) / (alpha + T)**(s + j)`` (j = 0 .. k - 1: the phases completed
since the last purchase) and x' = x (BG) or x + 1 (MBG). Then ([PR16]_, docs/models.md)::

    L = exp((k - 1) litt - x lgamma(k)) alpha**r / Gamma(r)
        [B(a, b + x') / B(a, b) sum_j A_j + d B(a + 1, b + x' - 1) / B(a, b)
         Gamma(s) / (alpha + t_x)**s]

with d = [x > 0] (BG) or 1 (MBG). For fixed k the factor before the bracket does not depend
on (r, alpha, a, b): fits collapse on (x, t_x, T) and litt only enters the choice of k.
P(alive) is the first term of the bracket over the bracket, and the conditional expectation
is exact customer by customer (:mod:`clvmodels.models.kernels.cnbd_numerator`)::

    E[X(T, T + t) | x, t_x, T] = P(alive) sum_j w_j S_j,  w_j = A_j / sum_i A_i,
    S_j = sum_{m >= 1} B(a, b + x' + m - 1) / B(a, b + x') I_{t / (alpha + T + t)}(m k - j, s + j)

.. [PR16] https://doi.org/10.1287/mksc.2015.0963
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import betaln, gammaln, logsumexp, xlogy

#: The parameters: BG/NBD's and the Erlang shape k (a constant in every draw).
CNBD_PARAMS = ("r", "alpha", "a", "b", "k")
#: The k the search tries when none is given.
K_RANGE = tuple(range(1, 11))
#: The RFM column CNBD-k needs beyond (frequency, recency, T).
LITT_COLUMN = "litt"


def _arrays(*values: ArrayLike) -> tuple[np.ndarray, ...]:
    return tuple(np.asarray(v, dtype="float64") for v in values)


def _phases(k: ArrayLike) -> int:
    """K as an int: one value for all draws (it is not sampled)."""
    values = np.unique(np.asarray(k, dtype="float64"))
    if len(values) != 1 or values[0] < 1 or values[0] % 1:
        raise ValueError(f"k must be one whole number >= 1 in every draw; got {values[:5]}")
    return int(values[0])


def log_phase_weights(
    r: ArrayLike, alpha: ArrayLike, k: int, x: ArrayLike, t_x: ArrayLike, T: ArrayLike
) -> np.ndarray:
    """``log A_j`` for j = 0 .. k - 1, stacked on a new first axis.

    ``A_j = u**j / j! Gamma(r + k x + j) / (alpha + T)**(r + k x + j)`` with u = T - t_x
    (0**0 = 1): the alive branch of the likelihood, summed over the phases j completed since
    the last purchase.
    """
    r, alpha, x, t_x, T = _arrays(r, alpha, x, t_x, T)
    j = np.arange(k, dtype="float64").reshape((k,) + (1,) * np.broadcast(r, x, T).ndim)
    s = r + k * x + j
    u = np.maximum(T - t_x, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return xlogy(j, u) - gammaln(j + 1.0) + gammaln(s) - s * np.log(alpha + T)


def _branches(
    r: ArrayLike,
    alpha: ArrayLike,
    a: ArrayLike,
    b: ArrayLike,
    k: int,
    x: ArrayLike,
    t_x: ArrayLike,
    T: ArrayLike,
    dropout_at_zero: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """The logs of the bracket's alive and dead terms (without alpha**r / Gamma(r))."""
    r, alpha, a, b, x, t_x, T = _arrays(r, alpha, a, b, x, t_x, T)
    xp = x + 1.0 if dropout_at_zero else x
    alive = (
        betaln(a, b + xp)
        - betaln(a, b)
        + logsumexp(log_phase_weights(r, alpha, k, x, t_x, T), axis=0)
    )
    s = r + k * x
    with np.errstate(divide="ignore", invalid="ignore"):
        dead = betaln(a + 1.0, b + xp - 1.0) - betaln(a, b) + gammaln(s) - s * np.log(alpha + t_x)
    if not dropout_at_zero:
        dead = np.where(x > 0, dead, -np.inf)
    return alive, dead


def log_likelihood(
    r: ArrayLike,
    alpha: ArrayLike,
    a: ArrayLike,
    b: ArrayLike,
    k: int,
    x: ArrayLike,
    t_x: ArrayLike,
    T: ArrayLike,
    litt: ArrayLike = 0.0,
    *,
    dropout_at_zero: bool = False,
) -> np.ndarray:
    """Individual log-likelihood of (x, t_x, T, litt) for Erlang shape k ([PR16]_).

    With ``litt = 0`` and k > 1 it lacks the constant ``(k - 1) litt``, which does not depend
    on (r, alpha, a, b) but does on k.
    """
    r, alpha, x, litt = _arrays(r, alpha, x, litt)
    alive, dead = _branches(r, alpha, a, b, k, x, t_x, T, dropout_at_zero)
    return (
        (k - 1) * litt - x * gammaln(k) + r * np.log(alpha) - gammaln(r) + np.logaddexp(alive, dead)
    )


def probability_alive(
    r: ArrayLike,
    alpha: ArrayLike,
    a: ArrayLike,
    b: ArrayLike,
    k: int,
    x: ArrayLike,
    t_x: ArrayLike,
    T: ArrayLike,
    *,
    dropout_at_zero: bool = False,
) -> np.ndarray:
    """P(alive | x, t_x, T): the alive term of the likelihood over the whole, as a logistic."""
    alive, dead = _branches(r, alpha, a, b, k, x, t_x, T, dropout_at_zero)
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(dead - alive))


def phase_posterior(
    r: ArrayLike, alpha: ArrayLike, k: int, x: ArrayLike, t_x: ArrayLike, T: ArrayLike
) -> np.ndarray:
    """The weights w_j = A_j / sum_i A_i of the phases since the last purchase, given alive."""
    log_w = log_phase_weights(r, alpha, k, x, t_x, T)
    return np.exp(log_w - logsumexp(log_w, axis=0, keepdims=True))


def phase_sums(
    r: ArrayLike,
    alpha: ArrayLike,
    a: ArrayLike,
    b: ArrayLike,
    k: int,
    x: np.ndarray,
    T: np.ndarray,
    t: np.ndarray,
    discount: np.ndarray,
    *,
    dropout_at_zero: bool = False,
    n_phases: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """S_j (module docstring) at the last horizon and discounted, shape ``(phases, *broadcast)``.

    The arguments but ``t`` and ``discount`` broadcast; see
    :func:`clvmodels.models.kernels.cnbd_numerator.phase_sums_grid`.
    """
    from clvmodels.models.kernels.cnbd_numerator import phase_sums_grid

    r, alpha, a, b, x, T = np.broadcast_arrays(*_arrays(r, alpha, a, b, x, T))
    bp = b + x + (1.0 if dropout_at_zero else 0.0)
    horizon, discounted = phase_sums_grid(
        (r + k * x).ravel(),
        (alpha + T).ravel(),
        a.ravel(),
        bp.ravel(),
        k,
        np.atleast_1d(t),
        np.atleast_1d(discount),
        n_phases,
    )
    shape = (horizon.shape[0], *r.shape)
    return horizon.reshape(shape), discounted.reshape(shape)


def conditional_numerator(
    r: ArrayLike,
    alpha: ArrayLike,
    a: ArrayLike,
    b: ArrayLike,
    k: int,
    x: ArrayLike,
    t_x: ArrayLike,
    T: ArrayLike,
    t: float,
    *,
    dropout_at_zero: bool = False,
) -> np.ndarray:
    """``sum_j w_j S_j`` = E[X(T, T + t) | x, t_x, T] / P(alive) (module docstring)."""
    x, t_x, T = _arrays(x, t_x, T)
    sums, _ = phase_sums(
        r, alpha, a, b, k, x, T, np.array([float(t)]), np.ones(1), dropout_at_zero=dropout_at_zero
    )
    return (phase_posterior(r, alpha, k, x, t_x, T) * sums).sum(axis=0)


def expected_purchases(
    r: ArrayLike,
    alpha: ArrayLike,
    a: ArrayLike,
    b: ArrayLike,
    k: int,
    x: ArrayLike,
    t_x: ArrayLike,
    T: ArrayLike,
    t: float,
    *,
    dropout_at_zero: bool = False,
) -> np.ndarray:
    """E[X(T, T + t) | x, t_x, T], exact customer by customer (module docstring)."""
    alive = probability_alive(r, alpha, a, b, k, x, t_x, T, dropout_at_zero=dropout_at_zero)
    numerator = conditional_numerator(
        r, alpha, a, b, k, x, t_x, T, t, dropout_at_zero=dropout_at_zero
    )
    return alive * numerator


def expected_purchases_new_customer(
    r: ArrayLike,
    alpha: ArrayLike,
    a: ArrayLike,
    b: ArrayLike,
    k: int,
    t: ArrayLike,
    *,
    dropout_at_zero: bool = False,
) -> np.ndarray:
    """E[X(t)] of a new customer: S_0 at x = 0, T = 0; MBG/CNBD-k: times E[1 - p] = b / (a + b).

    ``sum_{m >= 1} B(a, b' + m - 1) / B(a, b') I_{t / (alpha + t)}(m k, r)`` with b' = b
    (BG/CNBD-k) or b + 1 (MBG/CNBD-k, where the customer must also survive time zero).
    """
    r, alpha, a, b, t = np.broadcast_arrays(*_arrays(r, alpha, a, b, t))
    out = np.zeros(t.shape)
    for value in np.unique(t[t > 0]):
        at = t == value
        sums, _ = phase_sums(
            r[at],
            alpha[at],
            a[at],
            b[at],
            k,
            np.zeros(1),
            np.zeros(1),
            np.array([value]),
            np.ones(1),
            dropout_at_zero=dropout_at_zero,
            n_phases=1,
        )
        out[at] = sums[0]
    if dropout_at_zero:
        out *= b / (a + b)
    return out
