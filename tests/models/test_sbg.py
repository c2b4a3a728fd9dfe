"""The shifted-beta-geometric model against Fader & Hardie (2007, 2010) and pymc-marketing.

Oracles: the published survivors and MLEs of F&H (2007) "How to project customer retention";
the published DERL of F&H (2010) "Customer-base valuation in a contractual setting", Table 3
(as pymc-marketing's tests/clv/models/test_shifted_beta_geo.py transcribes them);
pymc-marketing's ``ShiftedBetaGeoModel`` fitted on the same customers; formulas written here.
"""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from clvmodels.errors import ConvergenceWarning, DataError
from clvmodels.models.sbg import (
    fit_sbg,
    p_renew_next,
    per_period_discount,
    residual_lifetime,
    residual_lifetime_horizon,
    sbg_cells,
    sbg_churn_pmf,
    sbg_retention,
    sbg_survival,
    sbg_usability_problems,
)

# F&H (2007), Table 1: survivors per 1,000 at years 0-12.
REGULAR = [1000, 631, 468, 382, 326, 289, 262, 241, 223, 207, 194, 183, 173]
HIGH_END = [1000, 869, 743, 653, 593, 551, 517, 491, 468, 445, 427, 409, 394]
# F&H (2007), p. 7: the MLEs on years 0-7.
PUBLISHED = {"regular": (0.704, 1.182), "high end": (0.668, 3.806)}


def customers(survivors: list[int], T: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One row per customer observed for T periods: churned at 1..T-1, the rest active."""
    alive = np.asarray(survivors[:T])
    lost = -np.diff(alive)
    periods = np.concatenate([np.repeat(np.arange(1, T), lost), np.full(alive[-1], T)])
    churned = np.concatenate([np.ones(lost.sum(), bool), np.zeros(alive[-1], bool)])
    return periods, np.full(len(periods), T), churned


def survival_product(alpha: float, beta: float, t: int) -> float:
    """S(t) as the product of the retention rates (F&H 2007, eqs. 7-8), S(0) = 1."""
    return float(np.prod([(beta + i - 1) / (alpha + beta + i - 1) for i in range(1, t + 1)]))


def both_segments(T: int = 8):
    parts = [customers(REGULAR, T), customers(HIGH_END, T)]
    periods, t_obs, churned = (np.concatenate(col) for col in zip(*parts, strict=True))
    codes = np.repeat([0, 1], [len(parts[0][0]), len(parts[1][0])])
    return periods, t_obs, churned, codes


@pytest.fixture(scope="module")
def fh_fit():
    periods, T, churned, codes = both_segments()
    data = sbg_cells(periods, T, churned, codes, groups=["regular", "high end"])
    return data, fit_sbg(data, priors="flat", method="map")


def test_flat_map_reproduces_published_mles(fh_fit):
    data, fit = fh_fit
    assert fit.report["converged"] and fit.report["usable"]
    assert fit.posterior["alpha"].dims == ("chain", "draw", "group")
    point = fit.point()
    for i, group in enumerate(fit.groups):
        alpha, beta = PUBLISHED[group]
        assert point["alpha"][i] == pytest.approx(alpha, rel=0.005), group
        assert point["beta"][i] == pytest.approx(beta, rel=0.005), group
    assert list(data.customers) == [1000, 1000]
    assert list(data.churned) == [1000 - 241, 1000 - 491]
    assert data.n_cells == 16  # 7 churn periods + 1 censored cell per segment


def test_projected_survivors_equal_the_closed_form(fh_fit):
    _, fit = fh_fit
    point = fit.point()
    for i, (group, observed) in enumerate(zip(fit.groups, (REGULAR, HIGH_END), strict=True)):
        alpha, beta = point["alpha"][i], point["beta"][i]
        years = np.arange(8, 13)
        projected = 1000 * sbg_survival(alpha, beta, years)
        expected = [1000 * survival_product(alpha, beta, t) for t in years]
        np.testing.assert_allclose(projected, expected, rtol=1e-10)
        at_published = [1000 * survival_product(*PUBLISHED[group], t) for t in years]
        np.testing.assert_allclose(projected, at_published, rtol=0.005)
        # the sBG projection tracks the held-out years (F&H 2007, Figure 3): within 5%
        np.testing.assert_allclose(projected, observed[8:], rtol=0.05)


def test_one_fit_with_two_groups_equals_two_fits(fh_fit):
    _, fit = fh_fit
    periods, T, churned, codes = both_segments()
    for i in (0, 1):
        keep = codes == i
        alone = fit_sbg(sbg_cells(periods[keep], T[keep], churned[keep]), priors="flat")
        for name in ("alpha", "beta"):
            # equal to L-BFGS-B's tolerance (scipy's default ftol: ~1e-5 in the parameters)
            assert alone.point()[name][0] == pytest.approx(fit.point()[name][i], rel=1e-4)
        assert alone.log_likelihood[0] == pytest.approx(fit.log_likelihood[i], rel=1e-8)


def test_log_likelihood_is_the_censored_sbg_of_pymc():
    import pymc as pm

    from clvmodels.models._pymc.distributions import clv_distributions
    from clvmodels.models._pymc.sbg import sbg_cell_loglike
    from clvmodels.models.sbg import sbg_log_likelihood

    periods, T, churned = customers(REGULAR, 8)
    T = T - np.arange(len(T)) % 2  # some T = 7: a churn at period 7 is then censored
    churned &= periods < T
    periods = np.minimum(periods, T)
    alpha, beta = 0.8, 1.5
    dist = clv_distributions().ShiftedBetaGeometric.dist(alpha, beta)
    censored_dist = pm.Censored.dist(dist, lower=None, upper=T.astype("float64"))
    recency = np.where(churned, periods, T).astype("float64")
    per_customer = pm.logp(censored_dist, recency).eval()
    data = sbg_cells(periods, T, churned)
    ours = sbg_cell_loglike(alpha, beta, data.value, data.censored, data.weight).eval()
    assert float(ours) == pytest.approx(per_customer.sum(), rel=1e-12)
    # scipy's betaln is exact to ~1e-16, PyTensor's (three gammaln) to ~1e-8 here
    numpy_ll = sbg_log_likelihood({"alpha": [alpha], "beta": [beta]}, data)
    assert numpy_ll[0] == pytest.approx(per_customer.sum(), rel=1e-8)


def pymc_marketing_fit(frame: pd.DataFrame, priors: str):
    from pymc_extras.prior import Prior
    from pymc_marketing.clv import ShiftedBetaGeoModel

    config = (
        {"alpha": Prior("HalfFlat", dims="cohort"), "beta": Prior("HalfFlat", dims="cohort")}
        if priors == "flat"
        else None
    )
    model = ShiftedBetaGeoModel(model_config=config)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(data=frame, method="map", progressbar=False)
    return model.fit_result


@pytest.mark.parametrize("priors", ["flat", "default"])
def test_weighted_fit_equals_shifted_beta_geo_model(priors):
    # two cohorts with different T: regular observed 8 periods, high end 6
    parts = {"regular": customers(REGULAR, 8), "high end": customers(HIGH_END, 6)}
    frame = pd.concat(
        pd.DataFrame({"recency": np.where(c, p, T), "T": T, "cohort": name})
        for name, (p, T, c) in parts.items()
    ).reset_index(drop=True)
    frame.insert(0, "customer_id", np.arange(len(frame)))
    codes, labels = pd.factorize(frame["cohort"])
    churned = frame["recency"].to_numpy() < frame["T"].to_numpy()
    data = sbg_cells(frame["recency"], frame["T"], churned, codes, groups=list(labels))
    ours = fit_sbg(data, priors=priors)
    theirs = pymc_marketing_fit(frame, priors)
    for name in ("alpha", "beta"):
        expected = theirs[name].sel(cohort=list(labels)).values.reshape(-1)
        np.testing.assert_allclose(ours.point()[name], expected, rtol=1e-4)


def test_default_priors_are_pymc_marketings():
    from pymc_marketing.clv import ShiftedBetaGeoModel

    from clvmodels.models._pymc.sbg import SBG_DEFAULT_PRIORS

    config = ShiftedBetaGeoModel().default_model_config
    for name, (distribution, parameters) in SBG_DEFAULT_PRIORS.items():
        expected = {"dist": distribution, "kwargs": parameters}
        if name != "dropout_coefficient":
            expected["dims"] = ("cohort",)
        assert config[name].to_dict() == expected, name


# Fader & Hardie (2010), Table 3: DERL at d = 0.10 for n = 1..5 (n - 1 renewals), transcribed
# in pymc-marketing's tests/clv/models/test_shifted_beta_geo.py (prediction_targets).
DERL_TABLE_3 = {
    (3.80, 15.20): [3.31, 3.45, 3.59, 3.72, 3.84],
    (0.067, 0.267): [7.68, 9.46, 9.86, 10.06, 10.19],
}


@pytest.mark.parametrize(("params", "published"), list(DERL_TABLE_3.items()))
def test_derl_reproduces_fader_hardie_2010_table_3(params, published):
    alpha, beta = params
    n = np.arange(1, 6)
    np.testing.assert_allclose(residual_lifetime(alpha, beta, n, 0.10), published, atol=1e-2)
    # and a long truncated sum of the definition: sum_k P(alive at renewal k) / 1.1^k
    for n_i, derl in zip(n, residual_lifetime(alpha, beta, n, 0.10), strict=True):
        alive = 1.0
        total = 0.0
        for k in range(4000):
            alive *= (beta + n_i + k - 1) / (alpha + beta + n_i + k - 1)
            total += alive / 1.1**k
        assert derl == pytest.approx(total, rel=1e-9)


def test_horizon_derl_converges_to_the_closed_form():
    alpha = np.array([[0.7], [3.8]])
    beta = np.array([[1.2], [15.2]])
    n = np.array([1, 4, 9])
    d = per_period_discount(0.10, "month")
    closed = residual_lifetime(alpha, beta, n, d)
    gaps = [
        np.abs(residual_lifetime_horizon(alpha, beta, n, d, h) - closed).max()
        for h in (12, 120, 1200, 6000)
    ]
    assert all(later < earlier for earlier, later in itertools.pairwise(gaps))
    assert gaps[-1] < 1e-6
    np.testing.assert_allclose(
        residual_lifetime_horizon(alpha, beta, n, d, 1), p_renew_next(alpha, beta, n)
    )


def test_renewal_retention_and_pmf_against_formulas():
    alpha, beta = 0.704, 1.182
    for n in range(1, 10):
        renew = survival_product(alpha, beta, n) / survival_product(alpha, beta, n - 1)
        assert p_renew_next(alpha, beta, n) == pytest.approx(renew, rel=1e-12)
        assert sbg_retention(alpha, beta, n) == pytest.approx(renew, rel=1e-12)
        lost = survival_product(alpha, beta, n - 1) - survival_product(alpha, beta, n)
        assert sbg_churn_pmf(alpha, beta, n) == pytest.approx(lost, rel=1e-10)
    assert sbg_survival(alpha, beta, 0) == pytest.approx(1.0)
    draws = sbg_survival(np.full((3, 1), alpha), np.full((3, 1), beta), np.arange(5))
    assert draws.shape == (3, 5)


def test_per_period_discount():
    assert per_period_discount(0.10, "month") == pytest.approx(1.1 ** (1 / 12) - 1, rel=1e-15)
    assert per_period_discount(0.10, "year") == 0.10
    with pytest.raises(ValueError, match="billing_period"):
        per_period_discount(0.1, "week")  # type: ignore[arg-type]


def test_cells_count_customers_like_a_groupby():
    rng = np.random.default_rng(3)
    n = 5000
    T = rng.integers(1, 13, n)
    periods = rng.integers(1, 13, n) % T + 1
    churned = rng.random(n) < 0.5
    codes = rng.integers(0, 3, n)
    data = sbg_cells(periods, T, churned, codes, groups=["a", "b", "c"])
    frame = pd.DataFrame(
        {"g": codes, "v": np.where(churned, periods, T), "c": ~churned}
    ).value_counts()
    ours = pd.Series(
        data.weight, index=pd.MultiIndex.from_arrays([data.group, data.value, data.censored])
    )
    pd.testing.assert_series_equal(
        ours.sort_index(), frame.sort_index(), check_names=False, check_index_type=False
    )
    assert data.weight.sum() == n and list(data.customers) == list(np.bincount(codes))
    x = np.column_stack([rng.integers(0, 2, n), rng.normal(size=n).round(1)])
    with_x = sbg_cells(periods, T, churned, codes, x, groups=["a", "b", "c"])
    frame = pd.DataFrame(
        {
            "g": codes,
            "v": np.where(churned, periods, T),
            "c": ~churned,
            "x0": x[:, 0],
            "x1": x[:, 1],
        }
    ).value_counts()
    cells = [with_x.group, with_x.value, with_x.censored, *with_x.covariates.T]
    ours = pd.Series(with_x.weight, index=pd.MultiIndex.from_arrays(cells))
    pd.testing.assert_series_equal(
        ours.sort_index(), frame.sort_index(), check_names=False, check_index_type=False
    )


@pytest.mark.parametrize(
    ("periods", "T", "column"), [([0, 2], [3, 3], "periods"), ([4, 2], [3, 3], "T")]
)
def test_cells_refuse_impossible_rows(periods, T, column):
    with pytest.raises(DataError, match=column) as caught:
        sbg_cells(np.array(periods), np.array(T), np.array([True, False]))
    assert caught.value.n_rows == 1


def test_dropout_covariates_are_recovered():
    # simulated from the covariate model: alpha_i = a exp(-x g_a), beta_i = b exp(-x g_b)
    rng = np.random.default_rng(12)
    n = 4000
    x = np.column_stack([rng.integers(-2, 3, n) / 2, rng.integers(0, 2, n)])  # few cells
    gamma_alpha, gamma_beta = np.array([0.5, -0.4]), np.array([-0.3, 0.6])
    alpha = 1.0 * np.exp(-x @ gamma_alpha)
    beta = 3.0 * np.exp(-x @ gamma_beta)
    theta = rng.beta(alpha, beta)
    churn_period = rng.geometric(np.clip(theta, 1e-12, 1))
    T = rng.integers(6, 25, n)
    churned = churn_period < T  # churn at period T or later is not seen by the end of T - 1
    periods = np.where(churned, churn_period, T)
    data = sbg_cells(periods, T, churned, covariates=x, covariate_names=["size", "low_activity"])
    fit = fit_sbg(data, priors="flat", method="laplace", chains=1, draws=400, seed=1)
    assert fit.posterior["coefficient_alpha"].dims == ("chain", "draw", "covariate")
    for name, truth in (("coefficient_alpha", gamma_alpha), ("coefficient_beta", gamma_beta)):
        mode = np.asarray(fit.report["map"][name])
        se = fit.posterior[name].std(("chain", "draw")).values
        assert np.all(np.abs(mode - truth) < 3 * se), (name, mode, truth, se)


@pytest.mark.parametrize(
    ("churned", "periods", "reason"),
    [(False, 6, "alpha[all] runs to 0"), (True, 1, "beta[all] runs to 0")],
)
def test_a_group_without_an_interior_maximum_is_flagged(churned, periods, reason):
    # nobody churns (alpha -> 0) or nobody renews (beta -> 0): the optimiser stops early,
    # at an alpha or beta that looks finite, so the data decide
    n = 200
    data = sbg_cells(np.full(n, periods), np.full(n, 6), np.full(n, churned))
    with pytest.warns(ConvergenceWarning, match="not usable"):
        fit = fit_sbg(data, priors="flat")
    assert fit.report["usable"] is False and fit.report["converged"] is False
    assert reason in fit.report["not_usable_reason"]


def test_a_parameter_at_a_bound_is_flagged():
    posterior = xr.Dataset(
        {
            "alpha": (("chain", "draw", "group"), [[[1e-8, 0.7, 0.5]]]),
            "beta": (("chain", "draw", "group"), [[[1.0, 2e7, np.inf]]]),
        }
    )
    problems = sbg_usability_problems(posterior, ["a", "b", "c"])
    assert len(problems) == 3
    assert "alpha[a]" in problems[0] and "lower bound" in problems[0]
    assert "beta[b]" in problems[1] and "absurdly large" in problems[1]
    assert "beta[c] is not finite" in problems[2]
    # a group without customers: nothing determines its (alpha, beta)
    periods, T, churned = customers(REGULAR, 8)
    data = sbg_cells(periods, T, churned, np.zeros(len(T), int), groups=["a", "b"])
    fine = xr.Dataset(
        {name: (("chain", "draw", "group"), [[[1.0, 1.0]]]) for name in ("alpha", "beta")}
    )
    assert sbg_usability_problems(fine, ["a", "b"], data) == [
        "group b: no customers, so nothing determines its fit"
    ]


@pytest.mark.slow
def test_nuts_posterior_centres_on_the_mle(fh_fit):
    data, map_fit = fh_fit
    fit = fit_sbg(data, priors="flat", method="mcmc", chains=2, draws=300, tune=300, seed=3)
    assert fit.report["method"] == "mcmc" and fit.report["converged"], fit.report
    for name in ("alpha", "beta"):
        mean = fit.posterior[name].mean(("chain", "draw")).values
        sd = fit.posterior[name].std(("chain", "draw")).values
        assert np.all(np.abs(mean - map_fit.point()[name]) < 2 * sd), name
