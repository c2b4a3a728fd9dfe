"""The compiled Gauss series against scipy's hyp2f1 and a 60-digit reference, hard cases too."""

from __future__ import annotations

from decimal import Decimal, localcontext

import numpy as np
import pytest
from scipy.special import hyp2f1

from clvmodels.models.bgnbd import BetaGeoModel, conditional_numerator, conditional_numerator_grid
from clvmodels.models.kernels.hypergeometric import bgnbd_numerator_grid, hyp2f1_series
from clvmodels.models.transaction import TransactionModel

WEEKS_PER_MONTH = 365.25 / 12 / 7


def reference_hyp2f1(
    a: float | Decimal, b: float | Decimal, c: float | Decimal, z: float | Decimal
) -> Decimal:
    """Gauss's series in 60-digit decimal arithmetic, summed to 1e-30."""
    with localcontext() as ctx:
        ctx.prec = 60
        a_, b_, c_, z_ = (v if isinstance(v, Decimal) else Decimal(float(v)) for v in (a, b, c, z))
        term, total, n = Decimal(1), Decimal(1), 0
        while n < 10 or abs(term) >= Decimal("1e-30") * abs(total):
            term = term * (a_ + n) * (b_ + n) / ((c_ + n) * (n + 1)) * z_
            total += term
            n += 1
        return total


def reference_numerator(r: float, alpha: float, a: float, b: float, x: float, T: float, t: float):
    """FHL05 eq. (10)'s numerator in 60-digit decimal arithmetic.

    In Euler's form (A&S 15.3.3), with C = a + b + x - 1 and w = 1 - z::

        C [(1 - w**(a-1)) / (a-1) - w**(a-1) sum_{n>=1} (C-r-x)_n (a)_{n-1} / ((C)_n n!) z**n]

    which has a limit at a = 1; the series is summed to 1e-30.
    """
    with localcontext() as ctx:
        ctx.prec = 60
        r, alpha, a, b, x, T, t = (Decimal(float(v)) for v in (r, alpha, a, b, x, T, t))
        c = a + b + x - 1
        z = t / (alpha + T + t)
        log_w = ((alpha + T) / (alpha + T + t)).ln()
        coef, power, series, n = (c - r - x) / c, z, Decimal(0), 1
        while n < 10 or abs(coef * power) >= Decimal("1e-30") * abs(series):
            series += coef * power
            coef = coef * (c - r - x + n) * (a - 1 + n) / ((c + n) * (n + 1))
            power *= z
            n += 1
        w_q = ((a - 1) * log_w).exp()
        first = -log_w if a == 1 else (1 - w_q) / (a - 1)
        return float(c * (first - w_q * series))


def step_by_step(r, alpha, a, b, x, T, t, discount):
    """The generic grid (one hyp2f1 call per point): TransactionModel's implementation."""
    params = {"r": np.atleast_1d(r), "alpha": np.atleast_1d(alpha)}
    params |= {"a": np.atleast_1d(a), "b": np.atleast_1d(b)}
    grid = TransactionModel.numerator_grid_fn.__func__  # type: ignore[attr-defined]
    return grid(BetaGeoModel, params, np.asarray(x, float), np.asarray(T, float), t, discount)


def monthly(n_months: int = 12, rate: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    months = np.arange(1, n_months + 1, dtype=float)
    return months * WEEKS_PER_MONTH, (1 + rate) ** (-months / 12)


def test_series_equals_scipy_on_random_parameters():
    # parameters of the size BG/NBD gives them, where scipy's hyp2f1 is accurate
    rng = np.random.default_rng(6)
    worst, used = 0.0, 0
    for _ in range(500):
        a, b, c = rng.uniform(-3, 12), rng.uniform(-0.9, 5), rng.uniform(0.2, 15)
        z = np.sort(rng.uniform(0, rng.uniform(0.05, 0.9), size=12))
        ours = hyp2f1_series(a, b, c, z)
        if np.isnan(ours).any():
            assert np.isnan(ours).all(), "all or nothing: one set of coefficients"
            continue
        used += 1
        worst = max(worst, float(np.max(np.abs(ours / hyp2f1(a, b, c, z) - 1))))
    assert used > 400
    assert worst < 1e-12


def test_series_equals_60_digits_where_scipy_errs():
    # large a and c: scipy's hyp2f1 is off by up to 1e-6 here (a=28.1, b=-0.077, c=15.7,
    # z=0.746), the series is not
    rng = np.random.default_rng(60)
    worst_ours, worst_scipy = 0.0, 0.0
    for _ in range(60):
        a, b, c = rng.uniform(15, 40), rng.uniform(-0.9, 5), rng.uniform(5, 25)
        z = rng.uniform(0.3, 0.75)
        ours = hyp2f1_series(a, b, c, np.array([z]))[0]
        exact = float(reference_hyp2f1(a, b, c, z))
        if not np.isnan(ours):
            worst_ours = max(worst_ours, abs(ours / exact - 1))
        worst_scipy = max(worst_scipy, abs(hyp2f1(a, b, c, z) / exact - 1))
    assert worst_ours < 1e-13
    assert worst_scipy > 1e-9  # why the reference is not scipy here


def test_series_declines_where_it_is_slow():
    # z = 0.999 with small parameters needs tens of thousands of terms: NaN, so the caller
    # falls back to scipy
    assert np.isnan(hyp2f1_series(0.5, 0.5, 1.5, np.array([0.1, 0.999]))).all()
    # large c makes even z near 1 fast
    np.testing.assert_allclose(
        hyp2f1_series(0.3, -0.2, 400.0, np.array([0.999])), hyp2f1(0.3, -0.2, 400.0, 0.999)
    )


HARD_CASES = [
    # r, alpha, a, b, x, T: the published CDNOW fit, then the corners
    (0.243, 4.414, 0.793, 2.426, 0, 38.86),
    (0.243, 4.414, 0.793, 2.426, 2, 38.86),
    (0.243, 4.414, 0.793, 2.426, 500, 38.86),  # large x
    (0.243, 4.414, 1.0 + 1e-9, 2.426, 3, 20.0),  # a near 1: FHL05's 1/(a - 1) is 0/0
    (0.243, 4.414, 1.0, 2.426, 3, 20.0),  # a = 1 exactly
    (0.243, 4.414, 0.05, 0.3, 1, 30.0),  # a < 1, tiny a
    (3.0, 2.0, 0.6, 0.5, 0, 10.0),  # C - r - x < 0: terms of mixed sign
    (12.0, 0.5, 0.3, 0.4, 4, 5.0),  # C - r - x << 0
    (0.243, 4.414, 4.0, 9.0, 7, 1.0),  # a > 1, short T
    (0.243, 0.5, 0.793, 2.426, 1, 0.0),  # T = 0, small alpha: z -> 1, scipy's turn
    (0.7, 0.3, 0.9, 1.7, 0, 0.1),  # z near 1 at a long horizon
]


@pytest.mark.parametrize(("r", "alpha", "a", "b", "x", "T"), HARD_CASES)
def test_numerator_grid_equals_60_digit_reference(r, alpha, a, b, x, T):
    t, discount = monthly(12)
    horizon, discounted = conditional_numerator_grid(
        np.array([r]),
        np.array([alpha]),
        np.array([a]),
        np.array([b]),
        np.array([x], float),
        np.array([T], float),
        t,
        discount,
    )
    exact = np.array([reference_numerator(r, alpha, a, b, x, T, t_k) for t_k in t])
    exact_discounted = np.sum(np.diff(exact, prepend=0.0) * discount)
    # the series is good to ~1e-15; scipy's hyp2f1, where it takes over, to ~1e-13
    np.testing.assert_allclose(horizon[0, 0], exact[-1], rtol=1e-12)
    np.testing.assert_allclose(discounted[0, 0], exact_discounted, rtol=1e-12)


def test_hard_cases_that_reach_the_fallback_equal_the_scipy_path():
    t, discount = monthly(36)
    for r, alpha, a, b, x, T in HARD_CASES[-2:]:
        kernel, _ = bgnbd_numerator_grid(
            np.array([r]),
            np.array([alpha]),
            np.array([a]),
            np.array([b]),
            np.array([x], float),
            np.array([T], float),
            t,
            discount,
        )
        assert np.isnan(kernel).all(), "these are scipy's"
        grid = conditional_numerator_grid(
            np.array([r]),
            np.array([alpha]),
            np.array([a]),
            np.array([b]),
            np.array([x], float),
            np.array([T], float),
            t,
            discount,
        )
        steps = step_by_step(r, alpha, a, b, [x], [T], t, discount)
        np.testing.assert_array_equal(grid[0], steps[0])
        np.testing.assert_array_equal(grid[1], steps[1])


def test_numerator_grid_equals_the_step_by_step_path_on_random_draws():
    rng = np.random.default_rng(7)
    n = 300
    r, alpha = rng.uniform(0.05, 5, n), rng.uniform(0.1, 30, n)
    a, b = rng.uniform(0.05, 4, n), rng.uniform(0.1, 10, n)
    x = np.r_[rng.integers(0, 60, 40), 0, 0, 200].astype(float)
    T = np.r_[rng.uniform(0, 104, 40), 0.5, 80.0, 3.0]
    t, discount = monthly(24, rate=0.15)
    grid = conditional_numerator_grid(r, alpha, a, b, x, T, t, discount)
    steps = step_by_step(r, alpha, a, b, x, T, t, discount)
    assert np.isfinite(grid).all()
    # c = a + b + x - 1 < 0 (x = 0, a + b < 1): 2F1 can be negative, and the scipy path
    # multiplies it out (its logarithm gave NaN); both paths agree with the exact value
    assert np.isfinite(steps[0]).all() and np.isfinite(steps[1]).all()
    negative_c = (x[:, None] == 0) & ((a + b) < 1)[None, :]
    assert negative_c.any()
    for i, d in np.argwhere(negative_c)[:20]:
        exact = reference_numerator(r[d], alpha[d], a[d], b[d], x[i], T[i], t[-1])
        np.testing.assert_allclose(grid[0][i, d], exact, rtol=1e-12)
        np.testing.assert_allclose(steps[0][i, d], exact, rtol=1e-11)
    # everywhere they agree to scipy's accuracy (~1e-12 for x = 200)
    np.testing.assert_allclose(grid[0], steps[0], rtol=1e-11)
    np.testing.assert_allclose(grid[1], steps[1], rtol=1e-11)


def test_numerator_grid_at_each_step_is_conditional_numerator():
    rng = np.random.default_rng(8)
    r, alpha = rng.uniform(0.1, 2, 50), rng.uniform(1, 10, 50)
    a, b = rng.uniform(0.3, 2, 50), rng.uniform(0.5, 5, 50)
    x, T = np.array([0.0, 1.0, 5.0, 30.0]), np.array([10.0, 52.0, 30.0, 70.0])
    for horizon_months in (1, 5, 18):
        t, _ = monthly(horizon_months)
        horizon, discounted = conditional_numerator_grid(r, alpha, a, b, x, T, t, np.ones(len(t)))
        direct = conditional_numerator(
            r[None, :], alpha[None, :], a[None, :], b[None, :], x[:, None], T[:, None], t[-1]
        )
        # to scipy's accuracy (its hyp2f1 is off by ~3e-12 for x = 30 here)
        np.testing.assert_allclose(horizon, direct, rtol=1e-11)
        np.testing.assert_allclose(discounted, direct, rtol=1e-11)  # undiscounted: telescopes


def test_numerator_grid_shapes_and_empty_input():
    t, discount = monthly(3)
    one = np.array([1.0])
    h, d = conditional_numerator_grid(
        one, one, one * 0.8, one * 2, np.array([]), np.array([]), t, discount
    )
    assert h.shape == d.shape == (0, 1)
    draws = np.full(5, 0.5)
    h, d = conditional_numerator_grid(
        draws, draws * 8, draws, draws * 4, np.array([0.0, 3.0]), np.array([9.0, 9.0]), t, discount
    )
    assert h.shape == d.shape == (2, 5)
    assert (h > 0).all() and (d > 0).all()


def test_reference_agrees_with_fhl05_form():
    # the reference's Euler form against eq. (10) as printed, both in 60 digits
    for r, alpha, a, b, x, T in [c for c in HARD_CASES if c[2] != 1.0 and c[2] + c[3] + c[4] > 1]:
        t = 52.0
        with localcontext() as ctx:
            ctx.prec = 60
            big_a, big_c = Decimal(r) + Decimal(x), Decimal(a) + Decimal(b) + Decimal(x) - 1
            w = (Decimal(alpha) + Decimal(T)) / (Decimal(alpha) + Decimal(T) + Decimal(t))
            hyp = reference_hyp2f1(Decimal(r) + x, Decimal(b) + x, big_c, 1 - w)
            printed = big_c / (Decimal(a) - 1) * (1 - (big_a * w.ln()).exp() * hyp)
        ours = reference_numerator(r, alpha, a, b, x, T, t)
        np.testing.assert_allclose(ours, float(printed), rtol=1e-13)


def test_one_slow_pair_does_not_send_its_whole_x_to_scipy():
    # for x = 0 the series is slow at T = 0 (z near 1 at 36 months) but fast at larger T
    t, discount = monthly(36)
    T = np.array([0.0, 0.5, 2.0, 10.0, 30.0, 60.0, 100.0])
    x = np.zeros_like(T)
    one = np.ones(1)
    horizon, _ = bgnbd_numerator_grid(
        one * 0.243, one * 4.414, one * 0.793, one * 2.426, x, T, t, discount
    )
    slow = np.isnan(horizon[:, 0])
    assert slow[0] and not slow[-4:].any()
    grid = conditional_numerator_grid(
        one * 0.243, one * 4.414, one * 0.793, one * 2.426, x, T, t, discount
    )
    exact = [reference_numerator(0.243, 4.414, 0.793, 2.426, 0, T_i, t[-1]) for T_i in T]
    np.testing.assert_allclose(grid[0][:, 0], exact, rtol=1e-12)


def test_conditional_numerator_when_the_hypergeometric_value_is_negative() -> None:
    # a + b < 1 and no repeat purchase: c = a + b - 1 < 0 and 2F1 can be negative, where a
    # logarithm is not defined (it gave NaN); the formula of FHL05 eq. 10 evaluated directly
    from scipy.special import hyp2f1

    from clvmodels.models.bgnbd import conditional_numerator

    r, alpha, a, b, T, t = 2.0964955, 8.0839678, 0.1715869, 0.6004755, 53.010078, 16.822336
    z = t / (alpha + T + t)
    assert hyp2f1(r, b, a + b - 1, z) < 0  # the case
    direct = (
        (a + b - 1)
        / (a - 1)
        * (1 - ((alpha + T) / (alpha + T + t)) ** r * hyp2f1(r, b, a + b - 1, z))
    )
    got = conditional_numerator(r, alpha, a, b, 0.0, T, t)
    assert np.isfinite(got) and got == pytest.approx(direct, rel=1e-12)
