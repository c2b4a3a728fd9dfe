"""The weighted BG/NBD log-likelihood and its gradient, compiled with numba.

The samplers evaluate the log-likelihood and its gradient tens of thousands of times, so this
module evaluates both in one pass over the collapsed (x, t_x, T) tuples. The formula is FHL05
eq. (6) in the log-sum form of [FH13]_ (the same one :func:`clvmodels.models.bgnbd.log_likelihood`
and pymc-marketing's ``BetaGeoNBD`` evaluate)::

    ll = A1 + A2 + log(exp(A3) + [x > 0] exp(A4))
    A1 = lgamma(r + x) - lgamma(r) + r log(alpha)
    A2 = lgamma(a + b) + lgamma(b + x) - lgamma(b) - lgamma(a + b + x)
    A3 = -(r + x) log(alpha + T)
    A4 = log(a) - log(b + x - 1) - (r + x) log(alpha + t_x)

and its partial derivatives, with psi(z + x) - psi(z) = sum_{k<x} 1 / (z + k) for integer x:

    d/dr     = psi(r + x) - psi(r) + log(alpha) - s3 log(alpha + T) - s4 log(alpha + t_x)
    d/dalpha = r / alpha - (r + x) (s3 / (alpha + T) + s4 / (alpha + t_x))
    d/da     = psi(a + b) - psi(a + b + x) + s4 / a
    d/db     = psi(a + b) - psi(a + b + x) + psi(b + x) - psi(b) - s4 / (b + x - 1)

where s3 and s4 = 1 - s3 are the shares of exp(A3) and exp(A4) in the sum.

The terms A1, A2, log(a) - log(b + x - 1) and the digamma differences depend on the customer
only through x, and the logarithms only through T or t_x, so :class:`BGNBDTuples` indexes the
tuples by their distinct x, T and t_x values and each evaluation computes those once. The
remaining per-tuple work is one ``exp`` and one ``log1p``.

.. [FH13] Fader & Hardie (2013), Overcoming the BG/NBD model's #NUM! error problem,
   http://brucehardie.com/notes/027/bgnbd_num_error.pdf
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numba
import numpy as np
from numpy.typing import ArrayLike


@dataclass(frozen=True)
class BGNBDTuples:
    """Collapsed (x, t_x, T) tuples with their counts, indexed by distinct values.

    Attributes
    ----------
    x_values : numpy.ndarray
        Distinct frequencies (float64, whole numbers).
    x_index, T_index, recency_index : numpy.ndarray
        For each tuple, the position of its x, T and t_x in the distinct values (int64).
    T_values, recency_values : numpy.ndarray
        Distinct T and t_x values (float64, in time units).
    weights : numpy.ndarray
        Number of customers of each tuple (float64).
    x_weights : numpy.ndarray
        Number of customers with each distinct x (float64).
    """

    x_values: np.ndarray
    x_index: np.ndarray
    T_values: np.ndarray
    T_index: np.ndarray
    recency_values: np.ndarray
    recency_index: np.ndarray
    weights: np.ndarray
    x_weights: np.ndarray

    @classmethod
    def from_arrays(
        cls, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike, weights: ArrayLike
    ) -> BGNBDTuples:
        """Index tuples given as arrays (frequency must hold whole numbers >= 0)."""
        x = np.asarray(frequency, dtype="float64")
        if x.size and (np.any(x < 0) or np.any(x != np.round(x))):
            raise ValueError("frequency must hold whole numbers >= 0")
        order = np.argsort(x, kind="stable")  # x = 0 first: the kernel's loops rely on it
        x = x[order]
        x_values, x_index = np.unique(x, return_inverse=True)
        T_values, T_index = np.unique(np.asarray(T, dtype="float64")[order], return_inverse=True)
        recency_values, recency_index = np.unique(
            np.asarray(recency, dtype="float64")[order], return_inverse=True
        )
        w = np.ascontiguousarray(np.asarray(weights, dtype="float64")[order])
        return cls(
            x_values=x_values,
            x_index=x_index.astype("int64"),
            T_values=T_values,
            T_index=T_index.astype("int64"),
            recency_values=recency_values,
            recency_index=recency_index.astype("int64"),
            weights=w,
            x_weights=np.bincount(x_index, weights=w, minlength=len(x_values)),
        )

    def arrays(self) -> tuple[np.ndarray, ...]:
        """The arrays in the order :func:`loglike_and_grad` takes them."""
        return (
            self.x_values,
            self.x_index,
            self.T_values,
            self.T_index,
            self.recency_values,
            self.recency_index,
            self.weights,
            self.x_weights,
        )


#: How the kernel and its inlined helpers are compiled: cached, without the GIL, numpy's
#: error model (division by zero gives inf, not an exception), and the fast-math flags the
#: summation order was checked with (pymc-marketing's log-likelihood to 1e-10).
_COMPILE: dict[str, Any] = {
    "cache": True,
    "nogil": True,
    "error_model": "numpy",
    "fastmath": {"contract", "arcp", "reassoc", "nsz"},
}


@numba.njit(inline="always", **_COMPILE)
def _per_x_terms(
    r: float, alpha: float, a: float, b: float, x_values: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per distinct x: A1 + A2, log(a) - log(b + x - 1), the digamma differences, 1/(b + x - 1).

    Returns ``base, log_c, d_r, d_a, d_b, inv_bx``, one value per x (``x_values`` ascending).
    """
    nx = x_values.shape[0]
    base = np.empty(nx)
    log_c = np.empty(nx)
    d_r = np.empty(nx)
    d_a = np.empty(nx)
    d_b = np.empty(nx)
    inv_bx = np.empty(nx)
    log_alpha = math.log(alpha)
    const = math.lgamma(a + b) - math.lgamma(b) - math.lgamma(r) + r * log_alpha
    # running sums of 1/(z + k), k < x, for z = r, b, a + b (x sorted ascending)
    s_r = 0.0
    s_b = 0.0
    s_ab = 0.0
    k = 0
    for j in range(nx):
        x = x_values[j]
        while k < x:
            s_r += 1.0 / (r + k)
            s_b += 1.0 / (b + k)
            s_ab += 1.0 / (a + b + k)
            k += 1
        base[j] = const + math.lgamma(r + x) + math.lgamma(b + x) - math.lgamma(a + b + x)
        d_r[j] = s_r + log_alpha
        d_a[j] = -s_ab
        d_b[j] = s_b - s_ab
        if x > 0:
            inv_bx[j] = 1.0 / (b + x - 1.0)
            log_c[j] = math.log(a) - math.log(b + x - 1.0)
        else:
            inv_bx[j] = 0.0
            log_c[j] = -np.inf
    return base, log_c, d_r, d_a, d_b, inv_bx


@numba.njit(inline="always", **_COMPILE)
def _log_and_inverse(alpha: float, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``log(alpha + v)`` and ``1 / (alpha + v)`` per distinct T (or t_x) ``v``."""
    n = values.shape[0]
    logs = np.empty(n)
    inverses = np.empty(n)
    for i in range(n):
        logs[i] = math.log(alpha + values[i])
        inverses[i] = 1.0 / (alpha + values[i])
    return logs, inverses


@numba.njit(**_COMPILE)
def loglike_and_grad(
    r: float,
    alpha: float,
    a: float,
    b: float,
    x_values: np.ndarray,
    x_index: np.ndarray,
    T_values: np.ndarray,
    T_index: np.ndarray,
    recency_values: np.ndarray,
    recency_index: np.ndarray,
    weights: np.ndarray,
    x_weights: np.ndarray,
) -> tuple[float, np.ndarray]:
    """Weighted sum of the BG/NBD log-likelihood and its gradient in (r, alpha, a, b).

    Returns ``-inf`` and a zero gradient outside the parameter space (any parameter <= 0 or
    not finite).
    """
    grad = np.zeros(4)
    if not (r > 0.0 and alpha > 0.0 and a > 0.0 and b > 0.0):
        return -np.inf, grad
    if not (math.isfinite(r) and math.isfinite(alpha) and math.isfinite(a) and math.isfinite(b)):
        return -np.inf, grad
    base, log_c, d_r, d_a, d_b, inv_bx = _per_x_terms(r, alpha, a, b, x_values)
    log_T, inv_T = _log_and_inverse(alpha, T_values)
    log_R, inv_R = _log_and_inverse(alpha, recency_values)

    # per x: the weighted sums of the terms that depend on x only
    total = 0.0
    g_r = 0.0
    g_a = 0.0
    g_b = 0.0
    n_customers = 0.0
    for j in range(x_values.shape[0]):
        total += x_weights[j] * base[j]
        g_r += x_weights[j] * d_r[j]
        g_a += x_weights[j] * d_a[j]
        g_b += x_weights[j] * d_b[j]
        n_customers += x_weights[j]
    g_alpha = n_customers * r / alpha

    # per tuple; the tuples are sorted by x, so those with x = 0 (no A4 term) come first
    n_tuples = weights.shape[0]
    first = 0
    while first < n_tuples and x_values[x_index[first]] == 0.0:
        t = T_index[first]
        total -= weights[first] * r * log_T[t]
        g_r -= weights[first] * log_T[t]
        g_alpha -= weights[first] * r * inv_T[t]
        first += 1
    # x > 0: log(exp(A3) + exp(A4)) = max + log(1 + exp(-|A3 - A4|)), shares s3 + s4 = 1
    sum_s4 = 0.0
    for i in range(first, n_tuples):
        j = x_index[i]
        w = weights[i]
        rx = r + x_values[j]
        t = T_index[i]
        q = recency_index[i]
        a3 = -rx * log_T[t]
        a4 = log_c[j] - rx * log_R[q]
        e = math.exp(-abs(a4 - a3))
        share_max = 1.0 / (1.0 + e)
        s4 = share_max if a4 > a3 else e * share_max
        s3 = 1.0 - s4
        total += w * (max(a3, a4) + math.log(1.0 + e))
        g_r -= w * (s3 * log_T[t] + s4 * log_R[q])
        g_alpha -= w * rx * (s3 * inv_T[t] + s4 * inv_R[q])
        sum_s4 += w * s4
        g_b -= w * s4 * inv_bx[j]
    g_a += sum_s4 / a
    grad[0] = g_r
    grad[1] = g_alpha
    grad[2] = g_a
    grad[3] = g_b
    return total, grad
