"""The conditional expectation of BG/CNBD-k and MBG/CNBD-k, one phase count at a time (compiled).

Platzer & Reutterer (2016)'s models give an active customer Erlang-k inter-purchase times:
the purchases are every k-th event of a Poisson process of rate lambda (the *phases*). Given
alive, j phases completed since the last purchase (j < k) and lambda ~ Gamma(s, beta), the
number of phases in the next t is negative binomial, ``NB(n; s, z)`` with ``z = t / (beta +
t)``, and the future purchases are ``floor((n + j) / k)``; the m-th of them counts only if the
customer survived the m - 1 dropout flips before it, which a Beta(a, b') dropout probability
makes ``c_m = B(a, b' + m - 1) / B(a, b')``. So (docs/models.md, "BG/CNBD-k and MBG/CNBD-k")::

    S_j(t) = sum_{m >= 1} c_m I_z(m k - j, s) = sum_{n >= 0} NB(n; s, z) C(floor((n + j) / k)),
    C(M) = c_1 + ... + c_M,  c_1 = 1,  c_{m+1} = c_m (b' + m - 1) / (a + b' + m - 1),

since ``I_z(n, s) = P(NB(s, z) >= n)``. The kernel sums the second form, a series of positive
terms: from ``max(0, mean - 9 sd)`` of the negative binomial (the mass below it is below
1e-19 of the total) until a geometric bound on the rest, which accounts for the growth of C,
is below :data:`TOLERANCE` of the partial sum.

Compiled with numba (``cache=True``) and free of the GIL, so elements are split over threads
(:mod:`clvmodels.models.kernels.parallel`). Import this module only where it is used.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from clvmodels.models.kernels.parallel import run_blocks

#: Stop when a bound on the rest of the series is below this share of the partial sum.
TOLERANCE = 1e-13
#: Give up (NaN) after this many terms of one series.
MAX_TERMS = 10_000_000


@njit(cache=True, nogil=True)
def phase_sum(s: float, z: float, j: int, k: int, a: float, bp: float) -> float:
    """``sum_n NB(n; s, z) C(floor((n + j) / k))``: S_j at ``z = t / (beta + t)``.

    Parameters
    ----------
    s : float
        Shape of lambda's (posterior) gamma distribution, r + k x + j.
    z : float
        ``t / (beta + t)`` with beta the gamma's rate, alpha + T; 0 <= z < 1.
    j, k : int
        Phases completed since the last purchase, and phases per purchase.
    a, bp : float
        The Beta(a, b') of the dropout probability.
    """
    if z <= 0.0:
        return 0.0
    mean = s * z / (1.0 - z)
    sd = math.sqrt(s * z) / (1.0 - z)
    n = max(0, math.floor(mean - 9.0 * sd))
    pmf = math.exp(
        math.lgamma(n + s)
        - math.lgamma(n + 1.0)
        - math.lgamma(s)
        + s * math.log1p(-z)
        + n * math.log(z)
    )
    big_m = (n + j) // k
    c = 1.0  # c_{M + 1} once the loop below has run
    cum = 0.0  # C(M)
    for m in range(1, big_m + 1):
        cum += c
        c *= (bp + m - 1.0) / (a + bp + m - 1.0)
    total = 0.0
    for _ in range(MAX_TERMS):
        total += pmf * cum
        pmf *= z * (n + s) / (n + 1.0)
        n += 1
        if (n + j) % k == 0:
            cum += c
            big_m += 1
            c *= (bp + big_m - 1.0) / (a + bp + big_m - 1.0)
        if n > mean + 1.0:
            # the ratio of consecutive NB terms, z (n + s) / (n + 1), falls with n when
            # s >= 1 and rises towards z when s < 1; C grows by at most c per k terms
            rho = z * (n + s) / (n + 1.0)
            if s < 1.0:
                rho = z
            if rho < 1.0:
                q = 1.0 / (1.0 - rho)
                bound = pmf * (cum * q + c * (q + rho * q * q / k))
                if bound <= TOLERANCE * total or bound < 1e-300:
                    return total
    return math.nan


@njit(cache=True, nogil=True)
def _grid_block(
    s0: np.ndarray,
    beta: np.ndarray,
    a: np.ndarray,
    bp: np.ndarray,
    k: int,
    n_phases: int,
    t: np.ndarray,
    discount: np.ndarray,
    horizon: np.ndarray,
    discounted: np.ndarray,
    lo: int,
    hi: int,
) -> None:
    for i in range(lo, hi):
        for j in range(n_phases):
            previous = 0.0
            acc = 0.0
            for h in range(t.shape[0]):
                z = t[h] / (beta[i] + t[h])
                current = phase_sum(s0[i] + j, z, j, k, a[i], bp[i])
                acc += discount[h] * (current - previous)
                previous = current
            horizon[j, i] = previous
            discounted[j, i] = acc


def phase_sums_grid(
    s0: np.ndarray,
    beta: np.ndarray,
    a: np.ndarray,
    bp: np.ndarray,
    k: int,
    t: np.ndarray,
    discount: np.ndarray,
    n_phases: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """S_j per element on a grid of horizons: at the last, and the discounted increments.

    Parameters
    ----------
    s0, beta, a, bp : numpy.ndarray
        Per element (1-D, equal lengths): r + k x, alpha + T, a and b'.
    k : int
        Phases per purchase.
    t, discount : numpy.ndarray
        Increasing horizons and a weight per horizon.
    n_phases : int, optional
        Compute j = 0 .. n_phases - 1 (default k).

    Returns
    -------
    horizon, discounted : numpy.ndarray
        Shape ``(n_phases, elements)``: S_j(t_K), and ``sum_h discount_h (S_j(t_h) -
        S_j(t_{h-1}))`` with S_j(t_0) = 0.
    """
    arrays = [np.ascontiguousarray(v, dtype="float64") for v in (s0, beta, a, bp)]
    t = np.ascontiguousarray(t, dtype="float64")
    discount = np.ascontiguousarray(discount, dtype="float64")
    n = len(arrays[0])
    phases = k if n_phases is None else n_phases
    horizon = np.empty((phases, n))
    discounted = np.empty((phases, n))

    def block(lo: int, hi: int) -> None:
        _grid_block(*arrays, int(k), phases, t, discount, horizon, discounted, lo, hi)

    run_blocks(n, block, min_block=2_000)
    return horizon, discounted
