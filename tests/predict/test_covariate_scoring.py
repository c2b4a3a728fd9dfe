"""Scoring with covariates: per customer, exact, the same in chunks, both numerator paths."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from clvmodels.model import MODELS, CLVModel
from clvmodels.models.covariates import fit_encoding
from clvmodels.predict import covariate_scoring


def _rfm(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.poisson(2, n)
    T = np.round(rng.uniform(5, 60, n))
    return pd.DataFrame(
        {
            "customer_id": np.arange(n),
            "frequency": x,
            "recency": np.where(x > 0, np.round(rng.uniform(0, 1, n) * T), 0.0),
            "T": T,
            "monetary_value": np.where(x > 0, rng.gamma(4, 10, n), 0.0),
            "channel": rng.choice(["web", "app", "store"], n),
            "value": np.round(rng.gamma(3, 20, n), 2),
        }
    )


def _model(kind: str, rfm: pd.DataFrame, n_draws: int = 12) -> CLVModel:
    """Fixed draws of a model with covariates (no fit): channel and value on both processes."""
    enc = fit_encoding(rfm, ["channel", "value"], ["channel", "value"])
    rng = np.random.default_rng(1)
    names = MODELS[kind].model_class.param_names
    centre = {"r": 0.8, "alpha": 6.0, "a": 0.7, "b": 2.5, "s": 0.9, "beta": 8.0}
    draws = {n: centre[n] * np.exp(rng.normal(0, 0.05, n_draws)) for n in names}
    k_p, k_d = len(enc.features("purchase")), len(enc.features("dropout"))
    coef = {
        "purchase_covariate": list(enc.features("purchase")),
        "dropout_covariate": list(enc.features("dropout")),
    }

    data = {n: (("chain", "draw"), v[None]) for n, v in draws.items()}

    def block(dim: str, k: int) -> tuple:
        return (("chain", "draw", dim), rng.normal(0, 0.3, (1, n_draws, k)))

    if kind == "pareto":
        data["purchase_coefficient"] = block("purchase_covariate", k_p)
        data["dropout_coefficient"] = block("dropout_covariate", k_d)
    else:
        data["purchase_coefficient_alpha"] = block("purchase_covariate", k_p)
        data["dropout_coefficient_a"] = block("dropout_covariate", k_d)
        data["dropout_coefficient_b"] = block("dropout_covariate", k_d)
    posterior = xr.Dataset(data, coords={"chain": [0], "draw": np.arange(n_draws), **coef})
    transaction = MODELS[kind].model_class.from_posterior(posterior, encoding=enc)
    spend = {"p": np.full(n_draws, 6.0), "q": np.full(n_draws, 4.0), "v": np.full(n_draws, 20.0)}
    return CLVModel.from_posteriors(transaction, spend, time_unit="W")


@pytest.mark.parametrize("kind", ["bgnbd", "pareto", "mbgnbd"])
@pytest.mark.parametrize("loop_limit", [0, 256])
def test_scores_equal_the_closed_forms_per_customer_and_in_chunks(
    kind: str, loop_limit: int, monkeypatch
) -> None:
    """loop_limit 0: the vectorised path (many profiles); 256: the per-profile grid path,
    on a table whose value column is rounded to few levels."""
    monkeypatch.setattr(covariate_scoring, "PROFILE_LOOP_LIMIT", loop_limit)
    rfm = _rfm(400)
    if loop_limit:
        rfm["value"] = np.round(rfm["value"], -2)  # few profiles: the per-profile path
    model = _model(kind, rfm)
    scores = model.score(rfm, horizon="39W", n_draws=None)
    chunked = model.score(rfm, horizon="39W", n_draws=None, chunk_size=37)
    pd.testing.assert_frame_equal(scores, chunked)
    transaction = model.transaction_model_
    expected = transaction.expected_purchases(rfm, 39.0).mean(axis=0)
    alive = transaction.probability_alive(rfm).mean(axis=0)
    np.testing.assert_allclose(scores["expected_purchases"], expected, rtol=1e-9)
    np.testing.assert_allclose(scores["p_alive"], alive, rtol=1e-12)


def test_scoring_refuses_unseen_levels() -> None:
    rfm = _rfm(100)
    model = _model("bgnbd", rfm)
    with pytest.raises(Exception, match="levels not seen"):
        model.score(rfm.assign(channel="tv"), horizon="39W")
