"""BG/NBD against the published CDNOW values, lifetimes, and pymc-marketing's own path."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import BGNBD_PUBLISHED, fixed_posterior
from hypothesis import given, settings
from hypothesis import strategies as st

from clvmodels.errors import DataError, NotFittedError
from clvmodels.models import bgnbd
from clvmodels.models._pymc.distributions import bgnbd_logp
from clvmodels.models.bgnbd import BetaGeoModel


def test_flat_map_reproduces_published_parameters(cdnow_flat_model):
    params = cdnow_flat_model.transaction_model_.params_
    for name, published in BGNBD_PUBLISHED.items():
        assert params[name] == pytest.approx(published, rel=0.005), name
    report = cdnow_flat_model.transaction_model_.fit_report_
    assert report["converged"] and report["success"]
    assert report["n_tuples"] == 1016  # docs/definitions.md: CDNOW 2,357 -> 1,016 tuples


def test_log_likelihood_is_published_value(cdnow_flat_model):
    assert cdnow_flat_model.transaction_model_.log_likelihood_ == pytest.approx(-9582.4, abs=0.05)


def test_numpy_log_likelihood_equals_pymc_marketing_logp(cdnow_rfm):
    params = {"r": 0.3, "alpha": 5.0, "a": 0.9, "b": 2.0}
    x, t_x, T = (cdnow_rfm[c].to_numpy() for c in ("frequency", "recency", "T"))
    ours = bgnbd.log_likelihood(params["r"], params["alpha"], params["a"], params["b"], x, t_x, T)
    theirs = bgnbd_logp(params, x, t_x, T)
    np.testing.assert_allclose(ours, theirs, rtol=1e-7)  # power vs log form: ~1e-8


def test_published_customer_prediction(cdnow_flat_model):
    # Fader, Hardie & Lee (2005): x=2, t_x=30.43, T=38.86 -> 1.226 purchases in 39 weeks.
    customer = pd.DataFrame({"frequency": [2], "recency": [30.43], "T": [38.86]})
    model = cdnow_flat_model.transaction_model_
    assert model.expected_purchases(customer, 39)[0, 0] == pytest.approx(1.226, abs=0.002)
    assert model.probability_alive(customer)[0, 0] == pytest.approx(0.727, abs=0.002)


def test_predictions_equal_lifetimes_on_all_customers(cdnow_flat_model, cdnow_rfm):
    from lifetimes import BetaGeoFitter

    model = cdnow_flat_model.transaction_model_
    reference = BetaGeoFitter()
    reference.params_ = pd.Series(model.params_)
    f, r, T = cdnow_rfm["frequency"], cdnow_rfm["recency"], cdnow_rfm["T"]
    for t in (1.0, 13.0, 39.0, 104.0):
        expected = reference.conditional_expected_number_of_purchases_up_to_time(t, f, r, T)
        np.testing.assert_allclose(model.expected_purchases(cdnow_rfm, t)[0], expected, rtol=1e-6)
    alive = reference.conditional_probability_alive(f, r, T)
    np.testing.assert_allclose(model.probability_alive(cdnow_rfm)[0], alive, rtol=1e-6)
    new = reference.expected_number_of_purchases_up_to_time(np.array([1.0, 10.0, 52.0]))
    np.testing.assert_allclose(
        model.expected_purchases_new_customer([1.0, 10.0, 52.0])[0], new, rtol=1e-6
    )


def test_weighted_fit_equals_pymc_marketing_unweighted_fit(cdnow_rfm, cdnow_flat_model):
    """pymc-marketing's own BetaGeoModel, one row per customer, with the same flat priors."""
    from pymc_extras.prior import Prior
    from pymc_marketing.clv import BetaGeoModel as PmmBetaGeo

    flat = {name: Prior("HalfFlat") for name in ("r", "alpha", "a", "b")}
    theirs = PmmBetaGeo(model_config=flat)
    data = cdnow_rfm[["customer_id", "frequency", "recency", "T"]]
    theirs.fit(data=data, method="map", progressbar=False)
    fitted = theirs.fit_result
    ours = cdnow_flat_model.transaction_model_.params_
    for name in ("r", "alpha", "a", "b"):
        assert ours[name] == pytest.approx(float(fitted[name].mean()), rel=1e-3), name


def test_default_priors_match_pymc_marketing_default_map(cdnow_rfm):
    # docs/definitions.md measured pymc-marketing's default-prior MAP on CDNOW at a=0.706, b=2.09.
    model = BetaGeoModel(priors="default").fit(cdnow_rfm)
    assert model.params_["a"] == pytest.approx(0.706, abs=0.002)
    assert model.params_["b"] == pytest.approx(2.09, abs=0.01)


def test_unfitted_model_fails_clearly(cdnow_rfm):
    with pytest.raises(NotFittedError, match="not fitted"):
        BetaGeoModel().probability_alive(cdnow_rfm)


def test_too_few_customers_is_a_data_error(cdnow_rfm):
    with pytest.raises(DataError, match="too few customers"):
        BetaGeoModel().fit(cdnow_rfm.head(5))


def test_nan_never_reaches_the_sampler(cdnow_rfm):
    broken = cdnow_rfm.copy()
    broken.loc[broken.index[:3], "recency"] = np.nan
    with pytest.raises(DataError, match=r"recency.*3 rows"):
        BetaGeoModel().fit(broken)


rfm_rows = st.tuples(st.integers(0, 30), st.floats(0.0, 1.0), st.floats(0.1, 200.0)).map(
    lambda v: (v[0], 0.0 if v[0] == 0 else v[1] * v[2], v[2])
)


@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(rfm_rows, min_size=1, max_size=20),
    t=st.floats(0.1, 100.0),
    extra=st.floats(0.0, 100.0),
)
def test_prediction_invariants(rows, t, extra):
    frame = pd.DataFrame(rows, columns=["frequency", "recency", "T"])
    model = BetaGeoModel.from_posterior(fixed_posterior(BGNBD_PUBLISHED, n_draws=5))
    alive = model.probability_alive(frame)
    assert np.all((alive >= 0) & (alive <= 1))
    near = model.expected_purchases(frame, t)
    far = model.expected_purchases(frame, t + extra)
    assert np.all(near >= 0)
    assert np.all(far >= near - 1e-9)


def test_laplace_with_flat_priors_is_centred_on_the_map(cdnow_rfm, cdnow_flat_model):
    """Regression: pymc_extras' own optimiser, left to its start, stopped far from the mode."""
    model = BetaGeoModel(method="laplace", priors="flat", draws=1000, chains=2, seed=3).fit(
        cdnow_rfm
    )
    table = model.summary()
    for name, mode in cdnow_flat_model.transaction_model_.params_.items():
        assert abs(table.loc[name, "mean"] - mode) < 0.5 * table.loc[name, "sd"], name
        assert table.loc[name, "sd"] > 0
    assert model.fit_report_["converged"]
    assert model.posterior_.sizes == {"chain": 2, "draw": 1000}
