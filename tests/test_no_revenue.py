"""Logs without revenue: the purchase models fit, score, save, backtest and segment alone.

The RFM tables without revenue are built here from the same log as ``rfm_summary`` returns
them with ``--no-revenue``: no ``monetary_value`` column, ``attrs["revenue"]`` ``"none"``
(``tests/cli/test_no_revenue_cli.py`` runs the command line on a file without revenue). The oracle
for the predictions is the same log with a constant revenue column: the purchase model sees
the same (x, t_x, T), so P(alive) and expected purchases must be the same numbers, with or
without a spend model beside it.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from clvmodels.backtest import backtest
from clvmodels.cli import cli
from clvmodels.errors import DataError
from clvmodels.examples.simulate import simulate_orders
from clvmodels.model import NO_SPEND_REASON, CLVModel
from clvmodels.persistence import load_model, read_metadata, save_model
from clvmodels.predict.columns import SCORE_STATISTICS, SPEND_STATISTICS
from clvmodels.segments.assign import segment_customers, segment_summary
from clvmodels.segments.rules_file import parse_rules
from clvmodels.summaries.rfm import rfm_summary

PURCHASE_COLUMNS = ["p_alive", *(c for c in SCORE_STATISTICS if c.startswith("expected_pur"))]
SCORE_ARGS = {"horizon": "26W", "annual_discount_rate": 0.1, "n_draws": None}


def without_revenue(rfm: pd.DataFrame) -> pd.DataFrame:
    """An RFM table as ``rfm_summary(..., revenue none)`` gives it: no monetary columns."""
    out = rfm.drop(columns=[c for c in rfm.columns if c.startswith("monetary_value")])
    out.attrs = {**rfm.attrs, "revenue": "none"}
    return out


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=True)


@pytest.fixture(scope="module")
def orders() -> pd.DataFrame:
    simulated, _ = simulate_orders(400, seed=5)
    return simulated.assign(revenue=10.0)  # a constant revenue column


@pytest.fixture(scope="module")
def fits(orders):
    with_revenue = rfm_summary(orders, time_unit="W")
    no_revenue = without_revenue(with_revenue)
    return (
        (with_revenue, CLVModel(time_unit="W", seed=0).fit(with_revenue)),
        (no_revenue, CLVModel(time_unit="W", seed=0).fit(no_revenue)),
    )


def test_a_transaction_only_log_fits_and_scores_as_with_constant_revenue(fits):
    (rfm_with, with_revenue), (rfm_none, no_revenue) = fits
    assert "monetary_value" not in rfm_none.columns
    assert no_revenue.spend_model_ is None
    assert with_revenue.spend_model_ is not None
    assert no_revenue.transaction_model_.params_ == with_revenue.transaction_model_.params_
    scores_none = no_revenue.score(rfm_none, **SCORE_ARGS)
    scores_with = with_revenue.score(rfm_with, **SCORE_ARGS)
    assert list(scores_none.columns) == [
        "customer_id",
        "frequency",
        "recency",
        "T",
        *PURCHASE_COLUMNS,
    ]
    assert not set(SPEND_STATISTICS) & set(scores_none.columns)
    assert scores_none.attrs["spend"] == "none"
    pd.testing.assert_frame_equal(scores_none[PURCHASE_COLUMNS], scores_with[PURCHASE_COLUMNS])
    chunks = list(no_revenue.iter_score(rfm_none, chunk_size=97, **SCORE_ARGS))
    pd.testing.assert_frame_equal(pd.concat(chunks, ignore_index=True), scores_none)


def test_the_model_without_spend_says_so_and_saves_and_loads(fits, tmp_path):
    _, (rfm_none, model) = fits
    description = model.describe()
    assert description["spend_model"] is None
    assert description["no_spend_model"] == NO_SPEND_REASON
    assert description["revenue"] == "none"
    with pytest.raises(DataError, match="this model has no spend model"):
        model.require_spend_model()
    save_model(model, tmp_path / "model")
    assert sorted(p.name for p in (tmp_path / "model").iterdir()) == [
        "model.json",
        "transaction_posterior.nc",
    ]
    metadata = read_metadata(tmp_path / "model")
    assert metadata["spend_model"] is None
    assert metadata["no_spend_model"] == NO_SPEND_REASON
    loaded = load_model(tmp_path / "model")
    assert loaded.spend_model_ is None
    assert loaded.data_info_["revenue"] == "none"
    pd.testing.assert_frame_equal(
        loaded.score(rfm_none, **SCORE_ARGS), model.score(rfm_none, **SCORE_ARGS)
    )


def test_a_transaction_only_log_backtests_on_purchases(orders):
    settings = {"calibration_end": "2025-06-30", "models": ("bgnbd",)}
    with_revenue = backtest(orders, **settings)
    # orders read with --no-revenue have no revenue column
    result = backtest(orders.drop(columns=["revenue"]), **settings)
    assert result.settings["revenue"] is False
    assert result.settings["measured"] == "purchases only (no revenue)"
    assert not [c for c in result.customers.columns if c.startswith("revenue")]
    assert list(result.totals.columns) == [
        "model",
        "kind",
        "predicted_purchases",
        "actual_purchases",
        "purchases_error_pct",
        "bias_purchases",
        "mae_purchases",
        "rmse_purchases",
        "log_likelihood",
    ]
    purchases = list(result.totals.columns)
    pd.testing.assert_frame_equal(result.totals, with_revenue.totals[purchases])
    pd.testing.assert_frame_equal(result.tracking, with_revenue.tracking)
    assert all(m.spend_model_ is None for m in result.models.values())


def test_scores_without_clv_get_the_no_clv_rules(fits):
    _, (rfm_none, model) = fits
    scores = model.score(rfm_none, **SCORE_ARGS)
    segmented = segment_customers(scores)
    assert "clv_percentile" not in segmented.columns
    assert "m_score" not in segmented.columns
    assert segmented.attrs["segment_rules_need_clv"] is False
    assert list(segmented["segment"].cat.categories) == [
        "top_buyers",
        "loyal",
        "promising_new",
        "at_risk",
        "occasional",
        "one_time",
        "hibernating",
        "lost",
    ]
    # the top segment, by a formula written here: top decile of expected purchases, alive,
    # bought again
    purchases = scores["expected_purchases"].to_numpy()
    below = np.array([(purchases < v).sum() for v in purchases]) / len(purchases) * 100
    top = (below >= 90) & (scores["p_alive"].to_numpy() >= 0.5) & (scores["frequency"] > 0)
    assert top.any()
    np.testing.assert_array_equal(segmented["segment"].to_numpy() == "top_buyers", top)
    summary = segment_summary(segmented)
    assert list(summary.columns) == [
        "segment",
        "customers",
        "share",
        "mean_p_alive",
        "mean_expected_purchases",
    ]
    assert summary["customers"].sum() == len(scores)


def test_rules_that_need_clv_are_refused_for_scores_without_clv(fits):
    _, (rfm_none, model) = fits
    scores = model.score(rfm_none, **SCORE_ARGS)
    rules = parse_rules(
        '[[segment]]\nname = "big"\nclv_percentile = { min = 90 }\nm_score = 4\n'
        '[[segment]]\nname = "rest"'
    )
    with pytest.raises(DataError) as info:
        segment_customers(scores, rules=rules)
    assert str(info.value) == (
        "the scores have no CLV (the model was fitted without revenue), but the rules use "
        "clv_percentile, m_score. Use rules without them, such as the default no-CLV rules "
        "(clvmodels/segment_rules_no_clv.toml)"
    )


def test_cli_score_show_and_segment_without_a_spend_model(fits, orders, tmp_path):
    _, (_, model) = fits
    save_model(model, tmp_path / "model")
    shown = run("show", str(tmp_path / "model"))
    assert shown.exit_code == 0, shown.output
    assert f"no spend model: {NO_SPEND_REASON}" in shown.output
    as_json = json.loads(run("show", str(tmp_path / "model"), "--json").output)
    assert as_json["spend_model"] is None
    assert as_json["no_spend_model"] == NO_SPEND_REASON
    assert as_json["revenue"] == "none"

    orders_file = tmp_path / "orders.csv"
    orders.to_csv(orders_file, index=False)
    scores_file = tmp_path / "scores.csv"
    scored = run("score", str(tmp_path / "model"), str(orders_file), "-o", str(scores_file))
    assert scored.exit_code == 0, scored.output
    assert (
        "  columns: customer_id, frequency, recency, T, monetary_value, p_alive, "
        "expected_purchases, expected_purchases_low, expected_purchases_high\n"
        "  no expected_spend or clv columns: the model was fitted without revenue (no spend "
        "model), so it predicts purchases only\n"
    ) in scored.output
    assert "total CLV" not in scored.output
    written = pd.read_csv(scores_file)
    assert "clv" not in written.columns and "expected_spend" not in written.columns

    segmented = run("segment", str(scores_file), "-o", str(tmp_path / "segments.csv"))
    assert segmented.exit_code == 0, segmented.output
    assert "rules: default rules: clvmodels/segment_rules_no_clv.toml" in segmented.output
    assert (
        "the scores have no CLV (the model was fitted without revenue): the rules use only "
        "P(alive), expected purchases, frequency, recency and tenure"
    ) in segmented.output
    assert "total CLV" not in segmented.output


def test_the_report_shows_a_model_without_spend(fits, orders):
    from clvmodels.report.build import build_report

    _, (_, model) = fits
    text = build_report(orders, model=model)
    assert f"No spend model: {NO_SPEND_REASON}" in text
    assert "no CLV (the model was fitted without revenue)" in text
    assert "clvmodels/segment_rules_no_clv.toml" in text
