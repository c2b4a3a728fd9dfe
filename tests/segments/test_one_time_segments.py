"""One-time buyers in the default segments: placed by what is known about them.

BG/NBD gives every customer without a repeat purchase P(alive) = 1 (nobody leaves before
buying again); MBG/NBD lets a customer drop out at a purchase, the first included, so its
P(alive) of a one-time buyer falls with the time since that purchase. The default rules must
not put one-time buyers of long ago (the oldest quarter of T) in an active segment with
either model, nor in ``hibernating`` on the strength of BG/NBD's P(alive) = 1.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from clvmodels.examples.simulate import simulate_orders
from clvmodels.model import MODELS, CLVModel
from clvmodels.segments.assign import segment_customers
from clvmodels.segments.rules_file import default_rules
from clvmodels.summaries.rfm import rfm_summary

#: The segments for customers who are buying (clvmodels/segment_rules.toml's comments), and
#: the new customers' segment, which is no place for a one-time buyer of long ago either.
ACTIVE = {"high_value", "loyal", "occasional"}
NOT_FOR_OLD_ONE_TIME = ACTIVE | {"promising_new", "at_risk"}


@pytest.fixture(scope="module")
def rfm() -> pd.DataFrame:
    orders, _ = simulate_orders(1500, seed=7)
    return rfm_summary(orders, time_unit="W")


@pytest.fixture(scope="module")
def scored(rfm) -> dict[str, pd.DataFrame]:
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in ("bgnbd", "mbgnbd"):
            model = CLVModel(transaction_model=name, priors="flat", seed=0).fit(rfm)
            out[name] = model.score(rfm, n_draws=1)
            out[name].attrs["params"] = model.transaction_model_.params_
    return out


def oldest_one_time(scores: pd.DataFrame) -> np.ndarray:
    """One-time buyers whose T is at or above the 75th percentile (strictly-smaller share)."""
    T = scores["T"].to_numpy()
    share_below = np.array([(T < v).mean() for v in T])
    return (scores["frequency"].to_numpy() == 0) & (share_below >= 0.75)


def test_models_say_whether_one_time_buyers_can_have_left():
    assert MODELS["bgnbd"].model_class.dropout_at_zero is False
    assert MODELS["pareto"].model_class.dropout_at_zero is True
    assert MODELS["mbgnbd"].model_class.dropout_at_zero is True


def test_active_segments_need_a_repeat_purchase():
    for clv in (True, False):
        for rule in default_rules(clv=clv):
            if rule.name in ACTIVE | {"top_buyers"}:
                fields = {c.field: c for c in rule.conditions}
                assert fields["is_repeat"].values == (True,), rule.name


def test_mbgnbd_one_time_buyers_of_long_ago(scored):
    scores = scored["mbgnbd"]
    assert scores.attrs["dropout_at_zero"] is True
    old = oldest_one_time(scores)
    assert old.sum() > 100
    # MBG/NBD's P(alive) at x = 0 (Batislam et al. 2007): 1 / (1 + a/b ((alpha + T)/alpha)^r)
    p = scores.attrs["params"]
    T = scores["T"].to_numpy()[old]
    expected = 1 / (1 + p["a"] / p["b"] * ((p["alpha"] + T) / p["alpha"]) ** p["r"])
    np.testing.assert_allclose(scores["p_alive"].to_numpy()[old], expected, rtol=1e-9)
    assert (scores["p_alive"].to_numpy()[old] < 1).all()
    segmented = segment_customers(scores)
    assert segmented.attrs["one_time_p_alive_known"] is True
    segments = segmented["segment"].to_numpy()[old]
    assert not set(segments) & NOT_FOR_OLD_ONE_TIME
    # their P(alive) means something here: it alone sends them to hibernating or lost
    alive = scores["p_alive"].to_numpy()[old] >= 0.05
    np.testing.assert_array_equal(segments == "hibernating", alive)
    np.testing.assert_array_equal(segments == "lost", ~alive)


def test_bgnbd_one_time_buyers_of_long_ago(scored):
    scores = scored["bgnbd"]
    assert scores.attrs["dropout_at_zero"] is False
    old = oldest_one_time(scores)
    assert old.sum() > 100
    assert (scores["p_alive"].to_numpy()[old] == 1).all()  # the artefact
    segmented = segment_customers(scores)
    assert segmented.attrs["one_time_p_alive_known"] is False
    assert "by construction" in segmented.attrs["one_time_p_alive_basis"]
    assert not segmented["p_alive_known"].to_numpy()[old].any()
    # P(alive) = 1 puts none of them among the active or the hibernating: all are lost
    assert set(segmented["segment"].to_numpy()[old]) == {"lost"}
    # and no one-time buyer at all is in an active segment
    one_time = segmented["frequency"].to_numpy() == 0
    assert not set(segmented["segment"].to_numpy()[one_time]) & ACTIVE


def test_scores_read_back_without_attrs_segment_the_same(scored, tmp_path):
    for name, scores in scored.items():
        path = tmp_path / f"{name}.csv"
        scores.to_csv(path, index=False)
        again = segment_customers(pd.read_csv(path))
        assert again.attrs["one_time_p_alive_known"] is (name == "mbgnbd")
        direct = segment_customers(scores)
        assert again["segment"].tolist() == direct["segment"].tolist(), name


def test_one_time_p_alive_can_be_stated(scored):
    scores = scored["bgnbd"]
    trusted = segment_customers(scores, one_time_p_alive=True)
    assert trusted.attrs["one_time_p_alive_known"] is True
    old = oldest_one_time(scores)
    # taken at its word, BG/NBD's P(alive) = 1 sends them to hibernating (the old behaviour)
    assert set(trusted["segment"].to_numpy()[old]) == {"hibernating"}
