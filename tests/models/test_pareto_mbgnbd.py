"""Pareto/NBD and MBG/NBD against the published CDNOW values and lifetimes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from clvmodels.cli import cli
from clvmodels.model import CLVModel
from clvmodels.models.mbgnbd import ModifiedBetaGeoModel
from clvmodels.models.pareto_nbd import ParetoNBDModel
from clvmodels.persistence import load_model, save_model

# Fader, Hardie & Lee (2005), CDNOW, weeks, calibration to 1997-09-30
PARETO_PUBLISHED = {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669}


@pytest.fixture(scope="module")
def cdnow_calibration(cdnow_rfm):
    return cdnow_rfm[["customer_id", "frequency", "recency", "T", "monetary_value"]]


@pytest.fixture(scope="module")
def pareto(cdnow_calibration):
    return ParetoNBDModel(priors="flat").fit(cdnow_calibration)


@pytest.fixture(scope="module")
def mbgnbd(cdnow_calibration):
    return ModifiedBetaGeoModel(priors="flat").fit(cdnow_calibration)


def test_pareto_reproduces_published_values(pareto):
    for name, value in PARETO_PUBLISHED.items():
        assert pareto.params_[name] == pytest.approx(value, rel=0.01), name
    assert pareto.log_likelihood_ == pytest.approx(-9595.0, abs=0.05)
    assert pareto.fit_report_["converged"]


def test_pareto_likelihood_equals_pymc_marketing(pareto, cdnow_calibration):
    import pymc as pm
    from pymc_marketing.clv.distributions import ParetoNBD

    p = pareto.params_
    x, t_x, T = (cdnow_calibration[c].to_numpy() for c in ("frequency", "recency", "T"))
    theirs = pm.logp(
        ParetoNBD.dist(r=p["r"], alpha=p["alpha"], s=p["s"], beta=p["beta"], T=T),
        np.stack([t_x, x], axis=1),
    ).eval()
    np.testing.assert_allclose(pareto.log_likelihood_fn(p, x, t_x, T), theirs, rtol=1e-7)


def lifetimes_check(model, reference, rfm):
    reference.params_ = pd.Series(model.params_)
    f, r, T = rfm["frequency"], rfm["recency"], rfm["T"]
    np.testing.assert_allclose(
        model.probability_alive(rfm)[0], reference.conditional_probability_alive(f, r, T), rtol=1e-6
    )
    for t in (4.0, 39.0, 100.0):
        np.testing.assert_allclose(
            model.expected_purchases(rfm, t)[0],
            reference.conditional_expected_number_of_purchases_up_to_time(t, f, r, T),
            rtol=1e-6,
        )
    ts = np.array([1.0, 10.0, 52.0])
    np.testing.assert_allclose(
        model.expected_purchases_new_customer(ts)[0],
        reference.expected_number_of_purchases_up_to_time(ts),
        rtol=1e-6,
    )


def test_pareto_predictions_equal_lifetimes(pareto, cdnow_calibration):
    from lifetimes import ParetoNBDFitter

    lifetimes_check(pareto, ParetoNBDFitter(), cdnow_calibration)


def test_mbgnbd_predictions_equal_lifetimes(mbgnbd, cdnow_calibration):
    from lifetimes import ModifiedBetaGeoFitter

    lifetimes_check(mbgnbd, ModifiedBetaGeoFitter(), cdnow_calibration)


def test_mbgnbd_fit_is_the_likelihood_maximum(mbgnbd, cdnow_calibration):
    x, t_x, T = (cdnow_calibration[c].to_numpy() for c in ("frequency", "recency", "T"))
    p = mbgnbd.params_
    best = mbgnbd.log_likelihood_fn(p, x, t_x, T).sum()
    assert best == pytest.approx(mbgnbd.log_likelihood_, abs=1e-6)
    for name in p:
        for factor in (0.97, 1.03):
            moved = dict(p, **{name: p[name] * factor})
            assert mbgnbd.log_likelihood_fn(moved, x, t_x, T).sum() < best


@pytest.mark.parametrize("name", ["pareto", "mbgnbd"])
def test_clvmodel_with_other_transaction_models_scores_and_round_trips(
    name, cdnow_calibration, tmp_path
):
    model = CLVModel(time_unit="W", transaction_model=name, priors="flat").fit(cdnow_calibration)
    scores = model.score(cdnow_calibration, horizon="39W")
    assert scores["p_alive"].between(0, 1).all()
    assert (scores["clv"] >= 0).all()
    save_model(model, tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    assert type(loaded.transaction_model_) is type(model.transaction_model_)
    pd.testing.assert_frame_equal(loaded.score(cdnow_calibration, horizon="39W"), scores)


def test_cli_fit_model_option(cdnow_orders, tmp_path):
    path = tmp_path / "o.parquet"
    cdnow_orders.to_parquet(path)
    result = CliRunner().invoke(
        cli,
        [
            "fit",
            str(path),
            "--model",
            "mbgnbd",
            "--priors",
            "flat",
            "--observation-end",
            "1997-09-30",
            "-o",
            str(tmp_path / "m"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "MBG/NBD (map, flat priors" in result.output


def test_mbgnbd_numerator_grid_equals_the_step_by_step_closed_form():
    """The compiled BG/NBD series at b + 1 against MBG/NBD's own scipy closed form, step by step."""
    from clvmodels.models.transaction import TransactionModel

    rng = np.random.default_rng(4)
    draws = {
        "r": rng.uniform(0.1, 2.0, 40),
        "alpha": rng.uniform(1.0, 20.0, 40),
        "a": rng.uniform(0.3, 3.0, 40),
        "b": rng.uniform(0.3, 6.0, 40),
    }
    x = np.repeat(np.arange(0.0, 12.0), 3)
    T = rng.uniform(1.0, 80.0, len(x))
    t = np.linspace(4.35, 52.2, 12)
    discount = 1.0 / 1.01 ** np.arange(1, 13)
    fast = ModifiedBetaGeoModel.numerator_grid_fn(draws, x, T, t, discount)
    slow = TransactionModel.numerator_grid_fn.__func__(
        ModifiedBetaGeoModel, draws, x, T, t, discount
    )
    for ours, reference in zip(fast, slow, strict=True):
        np.testing.assert_allclose(ours, reference, rtol=1e-9)
