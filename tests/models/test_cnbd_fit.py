"""BG/CNBD-k and MBG/CNBD-k: the adapter's graph, fits on simulated data, scoring, saving."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from clvmodels.errors import DataError
from clvmodels.examples.simulate_cnbd import simulate_cnbd_rfm
from clvmodels.marketing.sources import expected_by_group
from clvmodels.model import MODELS, CLVModel
from clvmodels.models import cnbd
from clvmodels.models._pymc.cnbd import cnbd_graph
from clvmodels.models.cnbd_models import BetaGeoCNBDModel, ModifiedBetaGeoCNBDModel
from clvmodels.models.inputs import collapse_rfm
from clvmodels.persistence import load_model, save_model
from clvmodels.predict.group_totals import group_clv_draws

TRUE = {"r": 2.0, "alpha": 8.0, "a": 1.0, "b": 5.0}


@pytest.fixture(scope="module")
def rfm_bg() -> pd.DataFrame:
    return simulate_cnbd_rfm(3_000, k=3, seed=1, **TRUE)


@pytest.mark.parametrize("daz", [False, True])
@pytest.mark.parametrize("k", [1, 3])
def test_graph_logp_equals_numpy(rfm_bg: pd.DataFrame, daz: bool, k: int) -> None:
    """The PyTensor graph (flat priors) equals the numpy likelihood summed over tuples."""
    tuples = collapse_rfm(rfm_bg.head(400)).tuples
    data = [tuples[c].to_numpy(dtype="float64") for c in ("frequency", "recency", "T")]
    w = tuples["n_customers"].to_numpy(dtype="float64")
    model = cnbd_graph(k, *data, w, "flat", daz)
    point = {"r_log__": np.log(1.3), "alpha_log__": np.log(6.0), "a_log__": np.log(0.7)}
    point["b_log__"] = np.log(2.5)
    got = float(model.compile_logp(jacobian=False)(point))
    # the graph leaves out -x lgamma(k) (a constant for fixed k)
    want = (
        w
        * (
            cnbd.log_likelihood(1.3, 6.0, 0.7, 2.5, k, *data, dropout_at_zero=daz)
            + data[0] * np.log(np.prod(np.arange(1, k)))
        )
    ).sum()
    assert got == pytest.approx(want, rel=1e-10)


def test_map_recovers_k_and_parameters(rfm_bg: pd.DataFrame) -> None:
    model = BetaGeoCNBDModel(priors="flat").fit(rfm_bg)
    report = model.fit_report_
    assert model.k_ == 3 and report["k"] == 3
    assert set(report["k_log_likelihood"]) == {str(k) for k in cnbd.K_RANGE}
    assert max(report["k_log_likelihood"].values()) == report["k_log_likelihood"]["3"]
    for name, value in TRUE.items():
        assert model.params_[name] == pytest.approx(value, rel=0.25), name
    # the total log-likelihood includes the litt term
    assert model.log_likelihood_ == pytest.approx(report["k_log_likelihood"]["3"], abs=1e-3)


def test_mbg_map_recovers_k() -> None:
    rfm = simulate_cnbd_rfm(3_000, k=4, seed=2, dropout_at_zero=True, **TRUE)
    model = ModifiedBetaGeoCNBDModel(priors="default").fit(rfm)
    assert model.k_ == 4
    for name in ("r", "alpha"):
        assert model.params_[name] == pytest.approx(TRUE[name], rel=0.25), name
    assert model.params_["a"] / (model.params_["a"] + model.params_["b"]) == pytest.approx(
        1 / 6, rel=0.25
    )


def test_refuses_rfm_without_litt(rfm_bg: pd.DataFrame) -> None:
    with pytest.raises(DataError, match="litt"):
        BetaGeoCNBDModel(k=2).fit(rfm_bg.drop(columns="litt"))
    bad = rfm_bg.copy()
    bad.loc[bad["frequency"] == 0, "litt"] = 1.0
    with pytest.raises(DataError, match="litt"):
        BetaGeoCNBDModel(k=2).fit(bad)


def test_registered_with_dropout_at_zero() -> None:
    assert MODELS["bgcnbd"].model_class.dropout_at_zero is False
    assert MODELS["mbgcnbd"].model_class.dropout_at_zero is True


def test_score_chunks_save_and_load(rfm_bg: pd.DataFrame, tmp_path) -> None:  # type: ignore[no-untyped-def]
    spend = np.random.default_rng(0).lognormal(3.0, 0.6, len(rfm_bg))
    rfm = rfm_bg.assign(monetary_value=np.where(rfm_bg["frequency"] > 0, spend, 0.0))
    model = CLVModel(time_unit="W", transaction_model="mbgcnbd", k=3).fit(rfm)
    tm = model.transaction_model_
    assert tm.k_ == 3
    scores = model.score(rfm, horizon="6M", n_draws=None)
    chunked = model.score(rfm, horizon="6M", n_draws=None, chunk_size=1_000)
    pd.testing.assert_frame_equal(scores, chunked)
    # the scores' expected purchases are the closed form at the horizon (26.09 weeks)
    p = tm.params_
    direct = cnbd.expected_purchases(
        p["r"],
        p["alpha"],
        p["a"],
        p["b"],
        3,
        *(rfm[c].to_numpy(dtype="float64") for c in ("frequency", "recency", "T")),
        6 * 365.25 / 12 / 7,
        dropout_at_zero=True,
    )
    np.testing.assert_allclose(scores["expected_purchases"], direct, rtol=1e-9)
    np.testing.assert_allclose(
        tm.expected_purchases(rfm, 6 * 365.25 / 12 / 7)[0], direct, rtol=1e-12
    )
    # the CLV: monthly increments of the closed form, discounted at 10% a year, times spend
    columns = [rfm[c].to_numpy(dtype="float64") for c in ("frequency", "recency", "T")]
    months = np.arange(1, 7)
    cumulative = [
        cnbd.expected_purchases(
            p["r"],
            p["alpha"],
            p["a"],
            p["b"],
            3,
            *columns,
            m * 365.25 / 12 / 7,
            dropout_at_zero=True,
        )
        for m in months
    ]
    increments = np.diff(np.vstack([np.zeros(len(rfm)), *cumulative]), axis=0)
    discounted = (increments * 1.1 ** (-months[:, None] / 12)).sum(axis=0)
    spend = model.spend_model_.expected_spend(rfm)[0]
    np.testing.assert_allclose(scores["clv"], discounted * spend, rtol=1e-9)
    # group totals (payback, budget) and group expectations (acquisition) use the same numbers
    groups = (rfm["customer_id"].to_numpy() % 3).astype("int64")
    totals = group_clv_draws(rfm, groups, 3, tm, model.spend_model_, time_unit="W", horizon="6M")
    want = np.bincount(groups, weights=scores["clv"].to_numpy(), minlength=3)
    np.testing.assert_allclose(totals.totals[:, 0], want, rtol=1e-9)
    by_group = expected_by_group(model, rfm, groups, 3, np.array([10.0]))
    direct_10 = cnbd.expected_purchases(
        p["r"], p["alpha"], p["a"], p["b"], 3, *columns, 10.0, dropout_at_zero=True
    )
    np.testing.assert_allclose(
        by_group.purchases[0, :, 0], np.bincount(groups, weights=direct_10), rtol=1e-9
    )
    loaded = load_model(save_model(model, tmp_path / "m"))
    assert loaded.transaction_model_.k_ == 3 and loaded.k == 3
    pd.testing.assert_frame_equal(loaded.score(rfm, horizon="6M", n_draws=None), scores)


def test_k_refused_for_other_models(rfm_bg: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="k is a setting"):
        CLVModel(transaction_model="bgnbd", k=2).fit(rfm_bg)
