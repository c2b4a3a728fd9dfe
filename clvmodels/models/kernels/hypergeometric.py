"""The Gauss hypergeometric series at many points that share their parameters (compiled).

The BG/NBD conditional expectation (FHL05 eq. 10) holds ``2F1(r + x, b + x; a + b + x - 1; z)``
with ``z = t / (alpha + T + t)``. Scoring needs it for every posterior draw, every distinct
(x, T) pair and every month t_1 < ... < t_K of a CLV horizon: ~30M ``scipy.special.hyp2f1``
calls for CDNOW with 4,000 draws. But the series' coefficients depend on the draw and on x
only, and its powers of z on the draw, T and t only. So, per draw, :func:`bgnbd_numerator_grid`
computes the coefficients c_n once per distinct x, and per distinct T the sums over the
months ``M_n = sum_k d_k w_k**(a - 1) z_k**n`` (d_k the discount weights, see below) and the
powers ``z_K**n``; each pair's discounted sum and value at the horizon are then two dot
products of length ~40.

Which series: Euler's transformation (Abramowitz & Stegun 15.3.3) turns the BG/NBD term into
``w**(r + x) 2F1(r + x, b + x; C; z) = w**(a - 1) 2F1(C - r - x, a - 1; C; z)`` with
``w = 1 - z`` and ``C = a + b + x - 1``, so that FHL05's bracket becomes::

    [1 - w**(r + x) 2F1(...)] / (a - 1) = (1 - w**(a - 1)) / (a - 1) - w**(a - 1) S(z),
    S(z) = (2F1(C - r - x, a - 1; C; z) - 1) / (a - 1) = sum_{n >= 1} c_n z**n,
    c_1 = (C - r - x) / C,  c_{n+1} = c_n (C - r - x + n) (a - 1 + n) / ((C + n) (n + 1)).

This form has no 0/0 at a = 1, and its terms fall fast for large x (the ratio of
consecutive terms is about z n / (x + n)), where the direct series' rise first (ratio about
z (x + n) / n). Where the series is slow (z near 1: short T, long horizons) or
ill-conditioned (terms of mixed sign that cancel), the kernel returns NaN for those pairs
only, and the caller falls back to ``scipy.special.hyp2f1``.

Discounting: with N_0 = 0 and d_{K+1} = 0, ``sum_k D_k (N_k - N_{k-1}) = sum_k d_k N_k`` where
``d_k = D_k - D_{k+1}`` (summation by parts), and N_k is linear in S(z_k), hence the moments.

The kernels are compiled with numba (``cache=True``: the first call of a new install
compiles them, later processes load them from the cache) and release the GIL, so draws are
split over threads (:mod:`clvmodels.models.kernels.parallel`). Import this module only where it is
used:
importing numba takes a third of a second.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from clvmodels.models.kernels.parallel import run_blocks

#: Stop when the bound on the rest of the series is below this share of the partial sum.
TOLERANCE = 2.0**-54
#: Give up (NaN, so the caller falls back) after this many terms...
MAX_TERMS = 600
#: ... or when the sum of |terms| exceeds the |sum| this many times (digits lost to cancellation).
MAX_CANCELLATION = 64.0


@njit(cache=True, nogil=True)
def series_coefficients(a: float, b: float, c: float, z_max: float, out: np.ndarray) -> int:
    """Coefficients of ``S(z) = (2F1(a, b; c; z) - 1) / b = sum_{n >= 1} out[n - 1] z**n``.

    Gauss's series (Abramowitz & Stegun 15.1.1) without its first term, divided by ``b``
    (well defined at b = 0). As many terms are stored as make the rest of the series
    negligible (:data:`TOLERANCE`) at ``z_max``, hence at every 0 <= z <= z_max.

    Parameters
    ----------
    a, b, c : float
        The parameters of 2F1.
    z_max : float
        The largest z the series will be evaluated at, ``0 <= z_max < 1``.
    out : numpy.ndarray
        Room for the coefficients; its length is the most terms tried.

    Returns
    -------
    int
        The number of terms, or -1 when the series did not converge within ``len(out)``
        terms, cancels (:data:`MAX_CANCELLATION`) or overflows.
    """
    coef = a / c
    power = z_max
    partial = 0.0
    magnitude = 0.0
    for n in range(1, out.shape[0] + 1):
        out[n - 1] = coef
        term = coef * power
        partial += term
        magnitude += abs(term)
        ratio = (a + n) * (b + n) / ((c + n) * (n + 1.0))
        # the ratio of consecutive terms, ratio * z, tends to z: bound the rest by a
        # geometric series with the larger of the two
        bound = max(abs(ratio) * z_max, z_max)
        if bound < 1.0 and abs(term) * bound <= TOLERANCE * abs(partial) * (1.0 - bound):
            if magnitude <= MAX_CANCELLATION * abs(partial):
                return n
            return -1
        coef *= ratio
        power *= z_max
    return -1


@njit(cache=True, nogil=True)
def _group_coefficients(
    a: float, b: float, c: float, z: np.ndarray, T_index: np.ndarray, out: np.ndarray
) -> tuple[int, int]:
    """Series coefficients for the pairs ``z[T_index]`` (z decreasing) of one x.

    Returns the number of terms and the first pair the series serves: 0 when it converges at
    the largest z; otherwise the pairs with the largest z's, where it does not, are skipped
    (found by doubling, then bisection), and ``len(T_index)`` when it serves none.
    """
    n = series_coefficients(a, b, c, z[T_index[0]], out)
    if n >= 0:
        return n, 0
    last = T_index.shape[0] - 1
    failed, step, ok = 0, 1, -1
    while ok < 0 and failed < last:
        trial = min(failed + step, last)
        n = series_coefficients(a, b, c, z[T_index[trial]], out)
        if n >= 0:
            ok = trial
        else:
            failed, step = trial, 2 * step
    if ok < 0:
        return -1, last + 1
    good = n
    while ok - failed > 1:
        middle = (ok + failed) // 2
        n = series_coefficients(a, b, c, z[T_index[middle]], out)
        if n >= 0:
            ok, good = middle, n
        else:
            failed = middle
    if n < 0:  # the last trial failed: recompute the coefficients of the first good pair
        good = series_coefficients(a, b, c, z[T_index[ok]], out)
    return good, ok


@njit(cache=True, nogil=True, fastmath={"contract"})
def evaluate_series(coef: np.ndarray, n_terms: int, z: np.ndarray, out: np.ndarray) -> None:
    """``out[i] = sum_{n=1..n_terms} coef[n - 1] z[i]**n`` by Horner's rule, for all i at once."""
    m = z.shape[0]
    last = coef[n_terms - 1]
    for i in range(m):
        out[i] = last
    for n in range(n_terms - 2, -1, -1):
        c = coef[n]
        for i in range(m):
            out[i] = out[i] * z[i] + c
    for i in range(m):
        out[i] *= z[i]


@njit(cache=True, nogil=True)
def _hyp2f1_block(a: float, b: float, c: float, z: np.ndarray, out: np.ndarray) -> None:
    coef = np.empty(MAX_TERMS)
    n_terms = series_coefficients(a, b, c, z.max(), coef)
    if n_terms < 0:
        out[:] = np.nan
        return
    evaluate_series(coef, n_terms, z, out)
    for i in range(z.shape[0]):
        out[i] = 1.0 + b * out[i]


def hyp2f1_series(a: float, b: float, c: float, z: np.ndarray) -> np.ndarray:
    """Gauss's 2F1(a, b; c; z) at every ``0 <= z < 1`` from one set of series coefficients.

    Returns NaN everywhere when the series does not converge fast enough at ``max(z)``
    (see :func:`series_coefficients`); ``scipy.special.hyp2f1`` is then the tool.
    """
    z = np.ascontiguousarray(z, dtype="float64")
    out = np.empty_like(z)
    if z.size:
        _hyp2f1_block(float(a), float(b), float(c), z.reshape(-1), out.reshape(-1))
    return out


@njit(cache=True, nogil=True, fastmath={"contract", "reassoc"})
def _two_dots(c: np.ndarray, u: np.ndarray, v: np.ndarray, n: int) -> tuple[float, float]:
    """``(sum_i c[i] u[i], sum_i c[i] v[i])`` over i < n, vectorised (in any order)."""
    su = 0.0
    sv = 0.0
    for i in range(n):
        su += c[i] * u[i]
        sv += c[i] * v[i]
    return su, sv


@njit(cache=True, nogil=True, fastmath={"contract"})
def _bgnbd_draw(
    d: int,
    cc_base: float,
    coef: np.ndarray,
    n_terms: np.ndarray,
    series_start: np.ndarray,
    most: int,
    group_x: np.ndarray,
    group_start: np.ndarray,
    pair_T_index: np.ndarray,
    pair_row: np.ndarray,
    z: np.ndarray,
    q: np.ndarray,
    e_sum: np.ndarray,
    e_last: np.ndarray,
    w_last: np.ndarray,
    moments: np.ndarray,
    powers: np.ndarray,
    moments_by_n: np.ndarray,
    powers_by_n: np.ndarray,
    out_horizon: np.ndarray,
    out_discounted: np.ndarray,
) -> None:
    """One draw's numerators from its coefficients (per x) and z's (per T and step)."""
    n_steps, n_T = z.shape
    last = n_steps - 1
    # per T: sum_k weight_k w_k**(a-1) z_k**n and z_K**n for n = 1, 2, ..., built for all
    # T at once (T innermost, vectorised), then stored by T for the dot products
    moments_by_n[:most] = 0.0
    for k in range(n_steps):
        for n in range(most):
            for i in range(n_T):
                moments_by_n[n, i] += q[k, i]
                q[k, i] *= z[k, i]
    if most > 0:
        for i in range(n_T):
            powers_by_n[0, i] = z[last, i]
    for n in range(1, most):
        for i in range(n_T):
            powers_by_n[n, i] = powers_by_n[n - 1, i] * z[last, i]
    for i in range(n_T):
        for n in range(most):
            moments[i, n] = moments_by_n[n, i]
            powers[i, n] = powers_by_n[n, i]
    for g in range(group_x.shape[0]):
        # pairs before series_start are the series' too slow to converge: the caller's
        for p in range(group_start[g], series_start[g]):
            out_horizon[pair_row[p], d] = np.nan
            out_discounted[pair_row[p], d] = np.nan
        n = n_terms[g]
        cc = cc_base + group_x[g]
        for p in range(series_start[g], group_start[g + 1]):
            i = pair_T_index[p]
            s_disc, s_last = _two_dots(coef[g], moments[i], powers[i], n)
            out_horizon[pair_row[p], d] = cc * (e_last[i] - w_last[i] * s_last)
            out_discounted[pair_row[p], d] = cc * (e_sum[i] - s_disc)


@njit(cache=True, nogil=True, inline="always")
def _horizon_terms(
    alpha: float,
    am1: float,
    T_values: np.ndarray,
    t: np.ndarray,
    weight: np.ndarray,
    z: np.ndarray,
    q: np.ndarray,
    e_sum: np.ndarray,
    e_last: np.ndarray,
    w_last: np.ndarray,
) -> None:
    """One draw's parts that depend on T and t but not on x, written into the arrays given.

    Per step k and distinct T: ``z = t / (alpha + T + t)``, ``w**(a-1)`` with ``w = 1 - z``,
    ``e = (1 - w**(a-1)) / (a-1)`` (``-log w`` at a = 1); ``e_sum`` is ``sum_k weight_k e_k``,
    ``q`` is ``weight_k w_k**(a-1) z_k`` (the first power of the moments), and ``e_last``,
    ``w_last`` are e and ``w**(a-1)`` at the last step.
    """
    n_steps, n_T = z.shape
    last = n_steps - 1
    e_sum[:] = 0.0
    for k in range(n_steps):
        for i in range(n_T):
            u = alpha + T_values[i]
            z[k, i] = t[k] / (u + t[k])
            log_w = -np.log1p(t[k] / u)
            em = np.expm1(am1 * log_w)
            e_k = -em / am1 if am1 != 0.0 else -log_w
            e_sum[i] += weight[k] * e_k
            q[k, i] = weight[k] * (1.0 + em) * z[k, i]
            if k == last:
                e_last[i] = e_k
                w_last[i] = 1.0 + em


@njit(cache=True, nogil=True, inline="always")
def _draw_coefficients(
    first: float,
    am1: float,
    a_plus_b: float,
    group_x: np.ndarray,
    group_start: np.ndarray,
    pair_T_index: np.ndarray,
    z_last: np.ndarray,
    coef: np.ndarray,
    n_terms: np.ndarray,
    series_start: np.ndarray,
) -> int:
    """One draw's series coefficients per distinct x (the module docstring's c_n).

    ``first`` is ``a + b - 1 - r``, so that for x the series is
    ``2F1(first, a - 1; a + b + x - 1; z)``. Fills ``coef``, ``n_terms`` and
    ``series_start`` per group of pairs, and returns the most terms any group needs.
    """
    most = 0
    for g in range(group_x.shape[0]):
        n, series_start[g] = _group_coefficients(
            first,
            am1,
            a_plus_b + group_x[g] - 1.0,
            z_last,
            pair_T_index[group_start[g] : group_start[g + 1]],
            coef[g],
        )
        series_start[g] += group_start[g]
        n_terms[g] = n
        most = max(most, n)
    return most


@njit(cache=True, nogil=True)
def _bgnbd_block(
    start: int,
    stop: int,
    r: np.ndarray,
    alpha: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    group_x: np.ndarray,
    group_start: np.ndarray,
    pair_T_index: np.ndarray,
    pair_row: np.ndarray,
    T_values: np.ndarray,
    t: np.ndarray,
    weight: np.ndarray,
    out_horizon: np.ndarray,
    out_discounted: np.ndarray,
) -> None:
    n_T = T_values.shape[0]
    n_steps = t.shape[0]
    n_groups = group_x.shape[0]
    last = n_steps - 1
    coef = np.empty((n_groups, MAX_TERMS))
    n_terms = np.empty(n_groups, dtype=np.int64)
    series_start = np.empty(n_groups, dtype=np.int64)
    e_sum = np.empty(n_T)
    e_last = np.empty(n_T)
    w_last = np.empty(n_T)
    z = np.empty((n_steps, n_T))
    q = np.empty((n_steps, n_T))
    # room for as many terms as the draws so far needed
    room = 0
    moments = np.empty((n_T, room))
    powers = np.empty((n_T, room))
    moments_by_n = np.empty((room, n_T))
    powers_by_n = np.empty((room, n_T))
    for d in range(start, stop):
        am1 = a[d] - 1.0
        _horizon_terms(alpha[d], am1, T_values, t, weight, z, q, e_sum, e_last, w_last)
        most = _draw_coefficients(
            a[d] + b[d] - 1.0 - r[d],
            am1,
            a[d] + b[d],
            group_x,
            group_start,
            pair_T_index,
            z[last],
            coef,
            n_terms,
            series_start,
        )
        if most > room:
            room = max(most, min(2 * room, MAX_TERMS))
            moments = np.empty((n_T, room))
            powers = np.empty((n_T, room))
            moments_by_n = np.empty((room, n_T))
            powers_by_n = np.empty((room, n_T))
        _bgnbd_draw(
            d,
            a[d] + b[d] - 1.0,
            coef,
            n_terms,
            series_start,
            most,
            group_x,
            group_start,
            pair_T_index,
            pair_row,
            z,
            q,
            e_sum,
            e_last,
            w_last,
            moments,
            powers,
            moments_by_n,
            powers_by_n,
            out_horizon,
            out_discounted,
        )


def bgnbd_numerator_grid(
    r: np.ndarray,
    alpha: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    x: np.ndarray,
    T: np.ndarray,
    t: np.ndarray,
    discount: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """BG/NBD numerators (FHL05 eq. 10) on a grid of horizons, per pair and draw.

    N(t) is the numerator of FHL05 eq. (10) (:func:`clvmodels.models.bgnbd.conditional_numerator`),
    computed as this module's docstring describes; relative error ~1e-15.

    Parameters
    ----------
    r, alpha, a, b : numpy.ndarray
        Parameter draws, 1-D, one per draw.
    x, T : numpy.ndarray
        The distinct (x, T) pairs, 1-D.
    t : numpy.ndarray
        Increasing horizons t_1 < ... < t_K (model time units).
    discount : numpy.ndarray
        A weight per horizon.

    Returns
    -------
    horizon, discounted : numpy.ndarray
        Shape ``(pairs, draws)``: N(t_K), and ``sum_k discount_k (N(t_k) - N(t_{k-1}))``
        with N(t_0) = 0. NaN where the series was not used (the caller falls back).
    """
    r, alpha, a, b = (np.ascontiguousarray(v, dtype="float64") for v in (r, alpha, a, b))
    x = np.asarray(x, dtype="float64")
    T = np.asarray(T, dtype="float64")
    t = np.ascontiguousarray(t, dtype="float64")
    discount = np.ascontiguousarray(discount, dtype="float64")
    n_draws, n_pairs = r.shape[0], x.shape[0]
    horizon = np.empty((n_pairs, n_draws))
    discounted = np.empty((n_pairs, n_draws))
    if n_pairs == 0 or n_draws == 0 or t.size == 0:
        horizon[:] = 0.0
        discounted[:] = 0.0
        return horizon, discounted
    T_values, T_index = np.unique(T, return_inverse=True)
    order = np.lexsort((T, x))
    sorted_x = x[order]
    starts = np.flatnonzero(np.r_[True, sorted_x[1:] != sorted_x[:-1]])
    group_start = np.r_[starts, n_pairs].astype(np.int64)
    group_x = sorted_x[starts]
    pair_T_index = T_index.reshape(-1)[order].astype(np.int64)
    pair_row = order.astype(np.int64)

    # sum_k d_k (N_k - N_{k-1}) = sum_k (d_k - d_{k+1}) N_k with d_{K+1} = 0
    weight = discount - np.r_[discount[1:], 0.0]

    def block(start: int, stop: int) -> None:
        _bgnbd_block(
            start,
            stop,
            r,
            alpha,
            a,
            b,
            group_x,
            group_start,
            pair_T_index,
            pair_row,
            T_values,
            t,
            weight,
            horizon,
            discounted,
        )

    run_blocks(n_draws, block)
    return horizon, discounted
