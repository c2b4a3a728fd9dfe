"""BG/CNBD-k and MBG/CNBD-k closed forms against BG/NBD, MBG/NBD, lifetimes and quadrature.

The independent implementations here integrate Platzer & Reutterer (2016)'s model directly:
the Erlang densities of the inter-purchase times (scipy.stats.gamma), the survival of the
last, open interval, and the future purchase counts (the m-th purchase after T happens when
the (m k - j)-th phase does: scipy.special.gammainc), weighted by the Gamma(r, alpha) and
Beta(a, b) priors and integrated over lambda and p with scipy.integrate.quad.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from lifetimes import BetaGeoFitter, ModifiedBetaGeoFitter
from scipy import integrate, stats
from scipy.special import gammainc

from clvmodels.models import bgnbd, cnbd, mbgnbd

X = np.array([0.0, 1.0, 2.0, 5.0, 12.0])
TX = np.array([0.0, 3.5, 20.0, 30.25, 37.0])
T = np.array([10.0, 30.0, 38.0, 39.0, 39.0])
PARAMS = (0.243, 4.414, 0.793, 2.426)


@pytest.mark.parametrize("daz", [False, True])
def test_k1_equals_bgnbd_and_mbgnbd(daz: bool) -> None:
    r, alpha, a, b = PARAMS
    ref = mbgnbd if daz else bgnbd
    ll = cnbd.log_likelihood(r, alpha, a, b, 1, X, TX, T, dropout_at_zero=daz)
    np.testing.assert_allclose(ll, ref.log_likelihood(r, alpha, a, b, X, TX, T), rtol=1e-12)
    alive = cnbd.probability_alive(r, alpha, a, b, 1, X, TX, T, dropout_at_zero=daz)
    np.testing.assert_allclose(alive, ref.probability_alive(r, alpha, a, b, X, TX, T), rtol=1e-12)
    for t in (1.0, 39.0, 520.0):
        got = cnbd.expected_purchases(r, alpha, a, b, 1, X, TX, T, t, dropout_at_zero=daz)
        want = ref.probability_alive(r, alpha, a, b, X, TX, T) * ref.conditional_numerator(
            r, alpha, a, b, X, T, t
        )
        np.testing.assert_allclose(got, want, rtol=1e-10)
    t = np.array([1.0, 10.0, 100.0])
    np.testing.assert_allclose(
        cnbd.expected_purchases_new_customer(r, alpha, a, b, 1, t, dropout_at_zero=daz),
        ref.expected_purchases_new_customer(r, alpha, a, b, t),
        rtol=1e-10,
    )


@pytest.mark.parametrize("daz", [False, True])
def test_k1_equals_lifetimes(daz: bool) -> None:
    r, alpha, a, b = PARAMS
    fitter = ModifiedBetaGeoFitter() if daz else BetaGeoFitter()
    fitter.params_ = {"r": r, "alpha": alpha, "a": a, "b": b}
    alive = cnbd.probability_alive(r, alpha, a, b, 1, X, TX, T, dropout_at_zero=daz)
    np.testing.assert_allclose(alive, fitter.conditional_probability_alive(X, TX, T), rtol=1e-9)
    got = cnbd.expected_purchases(r, alpha, a, b, 1, X, TX, T, 39.0, dropout_at_zero=daz)
    want = fitter.conditional_expected_number_of_purchases_up_to_time(39.0, X, TX, T)
    np.testing.assert_allclose(got, want, rtol=1e-8)
    t = np.array([5.0, 39.0])
    np.testing.assert_allclose(
        cnbd.expected_purchases_new_customer(r, alpha, a, b, 1, t, dropout_at_zero=daz),
        fitter.expected_number_of_purchases_up_to_time(t),
        rtol=1e-8,
    )


# ------------------------------------------------------------------ independent implementation
def _lambda_integral(r: float, alpha: float, f) -> np.ndarray:  # type: ignore[no-untyped-def]
    """∫ f(lambda) Gamma(lambda; r, alpha) dlambda (f may return an array), adaptively.

    Integrated over y = log(lambda) in [-60, 10], where the integrand is smooth (the
    prior mass outside is below 1e-12 for the r >= 0.5, alpha <= 12 used here).
    """
    logpdf = stats.gamma(r, scale=1.0 / alpha).logpdf

    def integrand(y: float) -> np.ndarray:
        lam = np.exp(y)
        return f(lam) * np.exp(logpdf(lam) + y)

    value, _ = integrate.quad_vec(integrand, -60.0, 10.0, epsabs=1e-15, epsrel=1e-10)
    return value


def _p_integral(a: float, b: float, f) -> np.ndarray:  # type: ignore[no-untyped-def]
    """∫ f(p) Beta(p; a, b) dp (f may return an array), by adaptive quadrature."""
    dens = stats.beta(a, b).pdf
    value, _ = integrate.quad_vec(lambda p: f(p) * dens(p), 0.0, 1.0, epsabs=1e-14, epsrel=1e-10)
    return value


def _quadrature(params, k, gaps, T_obs, daz, t):  # type: ignore[no-untyped-def]
    """Likelihood, P(alive) and E[X(T, T + t)] of one customer with inter-purchase ``gaps``."""
    r, alpha, a, b = params
    x = len(gaps)
    t_x = float(np.sum(gaps))
    u = T_obs - t_x
    xp = x + 1 if daz else x

    def purchases(lam: float) -> float:  # the density of the observed inter-purchase times
        return float(np.exp(stats.gamma.logpdf(gaps, k, scale=1 / lam).sum()))

    survive = _lambda_integral(
        r, alpha, lambda lam: purchases(lam) * stats.gamma.sf(u, k, scale=1 / lam)
    )
    alive = _p_integral(a, b, lambda p: (1 - p) ** xp) * survive
    dead = 0.0
    if x > 0 or daz:
        dead = _p_integral(a, b, lambda p: p * (1 - p) ** (xp - 1)) * _lambda_integral(
            r, alpha, purchases
        )
    # alive with j phases done since the last purchase (Poisson(lambda u) = j, j < k): the
    # m-th future purchase is the (m k - j)-th phase after T, and counts if the customer
    # survived m - 1 dropout flips
    m = np.arange(1, 201)
    p_part = _p_integral(a, b, lambda p: (1 - p) ** (xp + m - 1))
    expected = 0.0
    for j in range(k):

        def state(lam: float, j: int = j) -> np.ndarray:
            weight = purchases(lam) * np.exp(-lam * u) * (lam * u) ** j / math.factorial(j)
            return weight * gammainc(m * k - j, lam * t)

        expected += float((p_part * _lambda_integral(r, alpha, state)).sum())
    return np.log(alive + dead), alive / (alive + dead), expected / (alive + dead)


@pytest.mark.parametrize(
    ("k", "daz", "gaps", "T_obs", "seed"),
    [
        (2, False, [3.0, 4.5, 2.25], 20.0, 0),
        (3, False, [], 15.0, 1),
        (3, True, [6.0, 5.0], 30.0, 2),
        (4, True, [], 8.0, 3),
        (2, True, [1.5, 7.0, 3.0, 2.0], 14.0, 4),
    ],
)
def test_equals_quadrature_of_the_model(k, daz, gaps, T_obs, seed) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)
    params = (
        rng.uniform(0.5, 3.0),
        rng.uniform(2.0, 12.0),
        rng.uniform(0.5, 2.0),
        rng.uniform(1.0, 6.0),
    )
    t = float(rng.uniform(5.0, 40.0))
    ll, alive, expected = _quadrature(params, k, np.asarray(gaps), T_obs, daz, t)
    x, t_x = float(len(gaps)), float(np.sum(gaps))
    litt = float(np.log(gaps).sum()) if gaps else 0.0
    kwargs = {"dropout_at_zero": daz}
    np.testing.assert_allclose(
        cnbd.log_likelihood(*params, k, x, t_x, T_obs, litt, **kwargs), ll, rtol=0, atol=1e-6
    )
    np.testing.assert_allclose(
        cnbd.probability_alive(*params, k, x, t_x, T_obs, **kwargs), alive, rtol=1e-6
    )
    np.testing.assert_allclose(
        cnbd.expected_purchases(*params, k, x, t_x, T_obs, t, **kwargs), expected, rtol=1e-6
    )


@pytest.mark.parametrize("daz", [False, True])
def test_new_customer_equals_simulation(daz: bool) -> None:
    """E[X(t)] of a new customer against 200k simulated ones (4 standard errors)."""
    r, alpha, a, b, k, t = 1.5, 6.0, 0.8, 3.0, 3, 30.0
    rng = np.random.default_rng(7)
    n = 200_000
    lam = rng.gamma(r, 1 / alpha, n)
    p = rng.beta(a, b, n)
    count = np.zeros(n)
    alive = rng.random(n) >= p if daz else np.ones(n, dtype=bool)
    clock = np.zeros(n)
    while alive.any():
        idx = np.flatnonzero(alive)
        clock[idx] += rng.gamma(k, 1 / lam[idx])
        inside = clock[idx] <= t
        count[idx[inside]] += 1
        survive = rng.random(len(idx)) >= p[idx]
        alive[idx] = inside & survive
    got = cnbd.expected_purchases_new_customer(
        r, alpha, a, b, k, np.array([t]), dropout_at_zero=daz
    )
    assert abs(got[0] - count.mean()) < 4 * count.std() / np.sqrt(n)


def test_numerator_needs_recency_for_k_above_one() -> None:
    r, alpha, a, b = PARAMS
    # the phase weights move the numerator with recency when k > 1, not when k = 1
    one = [cnbd.conditional_numerator(r, alpha, a, b, 1, 3.0, tx, 39.0, 10.0) for tx in (5, 35)]
    three = [cnbd.conditional_numerator(r, alpha, a, b, 3, 3.0, tx, 39.0, 10.0) for tx in (5, 35)]
    assert one[0] == pytest.approx(one[1], rel=1e-12)
    assert three[0] != pytest.approx(three[1], rel=1e-3)
