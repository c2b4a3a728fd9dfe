"""Per-customer posterior summaries of the scores: means and equal-tailed intervals (compiled).

For each customer and posterior draw, scoring has P(alive), the numerators N(x, T, t) of the
expected purchases (at the horizon, and summed with discounting over the months) and the
expected spend. This kernel forms, draw by draw::

    purchases = N_horizon * P(alive)
    value     = margin * spend * (N_discounted * P(alive))

and reduces each customer's draws to a mean and a 94% equal-tailed interval, one customer at
a time, so no ``draws x customers`` array of purchases or values is ever built. Means are
plain sums in draw order divided by the number of draws, and the interval bounds are
``numpy.quantile``'s default (linear, Hyndman & Fan's 7th method), computed the same way, so
the results equal the NumPy expressions ``purchases.mean(axis=0)`` and
``np.quantile(purchases, [low, high], axis=0)``.

Compiled with numba (``cache=True``, ``nogil=True``: callers split customers over threads,
see :mod:`clvmodels.models.kernels.parallel`). Import this module only where it is used: importing
numba
takes a third of a second.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from clvmodels.predict.columns import SCORE_STATISTICS

#: The rows of :func:`summarize`'s result, in order: the score's statistics.
SUMMARY_ROWS = SCORE_STATISTICS


#: Values sampled to pick a threshold that cuts off a tail of the draws.
SAMPLE_SIZE = 128
#: Tails up to this long are kept in a heap in one pass over the draws.
HEAP_SIZE = 32


@njit(cache=True, nogil=True)
def _sift_down(heap: np.ndarray, size: int, i: int) -> None:
    """Restore the max-heap order of ``heap[:size]`` below position ``i``."""
    value = heap[i]
    while True:
        child = 2 * i + 1
        if child >= size:
            break
        if child + 1 < size and heap[child + 1] > heap[child]:
            child += 1
        if heap[child] <= value:
            break
        heap[i] = heap[child]
        i = child
    heap[i] = value


@njit(cache=True, nogil=True)
def _pair_by_heap(values: np.ndarray, sign: float, k: int, heap: np.ndarray) -> tuple[float, float]:
    """The k-th and (k+1)-th smallest (0-based) of ``sign * values``, by a max-heap.

    The heap holds the k + 2 smallest values so far; for small k most values are rejected
    by one comparison. O(n log k) always.
    """
    n = values.shape[0]
    size = k + 2
    for i in range(size):
        heap[i] = sign * values[i]
    for i in range(size // 2 - 1, -1, -1):
        _sift_down(heap, size, i)
    for i in range(size, n):
        v = sign * values[i]
        if v < heap[0]:
            heap[0] = v
            _sift_down(heap, size, 0)
    below = heap[1] if size == 2 else max(heap[1], heap[2])
    return below, heap[0]


@njit(cache=True, nogil=True)
def _select(a: np.ndarray, k: int) -> bool:
    """Reorder ``a`` so that ``a[:k] <= a[k] <= a[k + 1:]`` (Hoare's FIND, median-of-three).

    Returns False, leaving ``a`` only permuted, after more passes than a reasonable input
    needs (the caller then falls back to :func:`_pair_by_heap`).
    """
    lo, hi = 0, a.shape[0] - 1
    passes_left = 16 + 4 * int(math.log2(a.shape[0] + 1))
    while lo < hi:
        passes_left -= 1
        if passes_left < 0:
            return False
        mid = (lo + hi) // 2
        if a[mid] < a[lo]:
            a[mid], a[lo] = a[lo], a[mid]
        if a[hi] < a[lo]:
            a[hi], a[lo] = a[lo], a[hi]
        if a[hi] < a[mid]:
            a[hi], a[mid] = a[mid], a[hi]
        pivot = a[mid]
        i, j = lo, hi
        while i <= j:
            while a[i] < pivot:
                i += 1
            while pivot < a[j]:
                j -= 1
            if i <= j:
                a[i], a[j] = a[j], a[i]
                i += 1
                j -= 1
        if k <= j:
            hi = j
        elif k >= i:
            lo = i
        else:
            break  # a[j + 1 : i] all equal the pivot
    return True


@njit(cache=True, nogil=True)
def _pair_in_place(a: np.ndarray, k: int, scratch: np.ndarray) -> tuple[float, float]:
    """The k-th and (k+1)-th smallest (0-based) of ``a`` (reordered), ``k + 2 <= len(a)``."""
    if _select(a, k):
        return a[k], a[k + 1 :].min()
    return _pair_by_heap(a, 1.0, k, scratch)


@njit(cache=True, nogil=True)
def _pair_by_partition(
    values: np.ndarray, sign: float, k: int, buf: np.ndarray, scratch: np.ndarray
) -> tuple[float, float]:
    """The k-th and (k+1)-th smallest (0-based) of ``sign * values``, partitioning a copy."""
    n = values.shape[0]
    for i in range(n):
        buf[i] = sign * values[i]
    return _pair_in_place(buf[:n], k, scratch)


@njit(cache=True, nogil=True)
def _pair_from_tail(
    values: np.ndarray,
    sign: float,
    k: int,
    buf: np.ndarray,
    scratch: np.ndarray,
    sample: np.ndarray,
) -> tuple[float, float]:
    """The k-th and (k+1)-th smallest (0-based) of ``sign * values``, for k small against n.

    Short tails are kept in a heap. Otherwise a threshold from a sample (its rank chosen 3
    standard deviations above the expected count) cuts off the lower tail in one pass, and
    the tail, a few times k long, is partitioned; when it comes out too short, or the draws
    are few, a copy of all of them is partitioned.
    """
    n = values.shape[0]
    needed = k + 2
    if needed <= HEAP_SIZE:
        return _pair_by_heap(values, sign, k, buf)
    if n < 4 * SAMPLE_SIZE:
        return _pair_by_partition(values, sign, k, buf, scratch)
    stride = n // SAMPLE_SIZE
    for i in range(SAMPLE_SIZE):
        sample[i] = sign * values[i * stride]
    expected = SAMPLE_SIZE * needed / n
    j = int(expected + 3.0 * math.sqrt(expected) + 2.0)
    if j >= SAMPLE_SIZE or not _select(sample, j):
        return _pair_by_partition(values, sign, k, buf, scratch)
    threshold = sample[j]
    count = 0
    for i in range(n):
        v = sign * values[i]
        if v <= threshold:
            buf[count] = v
            count += 1
    if count < needed:
        return _pair_by_partition(values, sign, k, buf, scratch)
    return _pair_in_place(buf[:count], k, scratch)


@njit(cache=True, nogil=True)
def _quantile(
    values: np.ndarray, q: float, buf: np.ndarray, scratch: np.ndarray, sample: np.ndarray
) -> float:
    """``numpy.quantile(values, q)`` (method "linear"); ``values`` hold no NaN."""
    n = values.shape[0]
    virtual = (n - 1) * q
    if virtual >= n - 1:
        return values.max()
    k = math.floor(virtual)
    gamma = virtual - k
    # order statistics k and k + 1 (0-based), from the nearer end
    if k + 2 <= n - k:
        lower, upper = _pair_from_tail(values, 1.0, k, buf, scratch, sample)
    else:
        minus_upper, minus_lower = _pair_from_tail(values, -1.0, n - 2 - k, buf, scratch, sample)
        lower, upper = -minus_lower, -minus_upper
    # numpy's _lerp
    diff = upper - lower
    if gamma >= 0.5:
        return upper - diff * (1.0 - gamma)
    return lower + diff * gamma


@njit(cache=True, nogil=True)
def _interval(
    values: np.ndarray,
    low: float,
    high: float,
    buf: np.ndarray,
    scratch: np.ndarray,
    sample: np.ndarray,
) -> tuple[float, float]:
    """``numpy.quantile(values, [low, high])``: NaN if any value is NaN.

    ``buf`` and ``scratch`` have room for ``values``, ``sample`` for :data:`SAMPLE_SIZE`.
    """
    for v in values:
        if math.isnan(v):
            return np.nan, np.nan
    return (
        _quantile(values, low, buf, scratch, sample),
        _quantile(values, high, buf, scratch, sample),
    )


@njit(cache=True, nogil=True)
def _summarize_block(
    start: int,
    stop: int,
    pair_codes: np.ndarray,
    num_horizon: np.ndarray,
    num_discounted: np.ndarray,
    alive: np.ndarray,
    spend: np.ndarray,
    margin: float,
    low: float,
    high: float,
    out: np.ndarray,
) -> None:
    n_draws = alive.shape[1]
    with_spend = spend.shape[0] > 0
    purchases = np.empty(n_draws)
    value = np.empty(n_draws)
    buf = np.empty(n_draws)
    scratch = np.empty(n_draws)
    sample = np.empty(SAMPLE_SIZE)
    for u in range(start, stop):
        c = pair_codes[u]
        sum_alive = 0.0
        sum_purchases = 0.0
        sum_spend = 0.0
        sum_value = 0.0
        for d in range(n_draws):
            p_alive = alive[u, d]
            purchases[d] = num_horizon[c, d] * p_alive
            sum_alive += p_alive
            sum_purchases += purchases[d]
            if with_spend:
                value[d] = margin * spend[u, d] * (num_discounted[c, d] * p_alive)
                sum_spend += spend[u, d]
                sum_value += value[d]
        out[0, u] = sum_alive / n_draws
        out[1, u] = sum_purchases / n_draws
        out[2, u], out[3, u] = _interval(purchases, low, high, buf, scratch, sample)
        if with_spend:
            out[4, u] = sum_spend / n_draws
            out[5, u] = sum_value / n_draws
            out[6, u], out[7, u] = _interval(value, low, high, buf, scratch, sample)
        else:
            out[4:, u] = np.nan


def summarize(
    pair_codes: np.ndarray,
    num_horizon: np.ndarray,
    num_discounted: np.ndarray,
    alive: np.ndarray,
    spend: np.ndarray | None,
    *,
    margin: float,
    low: float,
    high: float,
) -> np.ndarray:
    """Posterior means and interval bounds of each customer's scores.

    Runs in the calling thread without holding the GIL: call it from several threads on
    different customers to use several cores.

    Parameters
    ----------
    pair_codes : numpy.ndarray
        For each customer, the row of its (x, T) pair in ``num_horizon``/``num_discounted``.
    num_horizon, num_discounted : numpy.ndarray
        ``(pairs, draws)``: N at the horizon, and the discounted monthly sum of N's increments.
    alive : numpy.ndarray
        ``(customers, draws)``: P(alive).
    spend : numpy.ndarray or None
        ``(customers, draws)``: expected spend per transaction; None leaves the spend and CLV
        rows NaN.
    margin : float
        Share of revenue that is margin.
    low, high : float
        The interval's quantiles.

    Returns
    -------
    numpy.ndarray
        ``(len(SUMMARY_ROWS), customers)``: the rows of :data:`SUMMARY_ROWS`.
    """
    n_customers, n_draws = alive.shape
    out = np.empty((len(SUMMARY_ROWS), n_customers))
    if n_draws == 0:
        out[:] = np.nan
        return out
    _summarize_block(
        0,
        n_customers,
        np.ascontiguousarray(pair_codes, dtype=np.int64),
        np.ascontiguousarray(num_horizon, dtype="float64"),
        np.ascontiguousarray(num_discounted, dtype="float64"),
        np.ascontiguousarray(alive, dtype="float64"),
        np.empty((0, n_draws)) if spend is None else np.ascontiguousarray(spend, dtype="float64"),
        float(margin),
        float(low),
        float(high),
        out,
    )
    return out
