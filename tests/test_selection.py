"""``--model auto`` (clvmodels.selection) on the CDNOW sample: the split, the metrics, the choice.

Oracles: the split's dates counted by hand from the log's first and last day; each
candidate's holdout metrics recomputed here from lifetimes' conditional expectations and the
holdout counts counted with pandas; P(alive) of a customer without a repeat purchase from the
models' definitions.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from scipy.special import betaln, gammaln

from clvmodels.cli import cli
from clvmodels.errors import DataError
from clvmodels.model import MODELS, CLVModel
from clvmodels.models.pareto_nbd import ParetoNBDModel
from clvmodels.selection import choose_model, default_candidates, holdout_split
from clvmodels.summaries.rfm import rfm_summary

# the CDNOW sample runs 1997-01-01 to 1998-06-30: 546 days; a quarter is 136.5 days, rounded
# up to 20 whole weeks (140 days), so the calibration ends 140 days before 1998-06-30
CAL_END, OBS_END = "1998-02-10", "1998-06-30"


def test_dropout_at_zero_says_whether_one_time_buyers_have_p_alive_one():
    rng = np.random.default_rng(3)
    for name, spec in MODELS.items():
        tm = spec.model_class
        for _ in range(5):
            p = {
                k: np.array([rng.uniform(0.3, 3.0)]) for k in ("r", "alpha", "a", "b", "s", "beta")
            }
            p["k"] = np.array([float(rng.integers(1, 5))])  # BG/CNBD-k's, MBG/CNBD-k's shape
            T = rng.uniform(5, 50, size=4)
            alive = tm.probability_alive_fn(p, np.zeros(4), np.zeros(4), T)
            if tm.dropout_at_zero:
                assert (alive < 1).all(), name
            else:  # BG/NBD: dropout only after a repeat purchase
                np.testing.assert_allclose(alive, 1.0, err_msg=name)
    # as of this commit: Pareto/NBD, MBG/NBD, MBG/CNBD-k
    assert default_candidates() == [n for n in MODELS if n not in ("bgnbd", "bgcnbd")]


def test_split_is_the_last_quarter_in_whole_weeks_and_short_logs_are_refused(cdnow_orders):
    first, cal_end, obs_end = holdout_split(cdnow_orders)
    assert (str(first), str(cal_end), str(obs_end)) == ("1997-01-01", CAL_END, OBS_END)
    assert str(holdout_split(cdnow_orders, holdout="13W")[1]) == "1998-03-31"
    short = cdnow_orders[cdnow_orders["timestamp"] < "1997-02-25"]  # 55 days
    with pytest.raises(DataError, match="too short to hold out 56 days"):
        choose_model(short)
    with pytest.raises(DataError, match="unknown candidate model 'xyz'"):
        choose_model(cdnow_orders, candidates="pareto,xyz")


@pytest.fixture(scope="module")
def fitted_auto(cdnow_orders, tmp_path_factory):
    folder = tmp_path_factory.mktemp("auto")
    orders = folder / "orders.parquet"
    cdnow_orders.to_parquet(orders)
    args = ["fit", str(orders), "-o", str(folder / "model"), "--priors", "flat"]
    result = CliRunner().invoke(cli, [*args, "--model", "auto", "--candidates", "bgnbd,pareto"])
    assert result.exit_code == 0, result.output
    return folder / "model", result.output


def bgnbd_log_likelihood(params, rfm) -> float:
    """FHL05 eq. 6 summed over customers, written here."""
    r, alpha, a, b = (params[k] for k in ("r", "alpha", "a", "b"))
    x, t_x, T = (rfm[c].to_numpy(dtype="float64") for c in ("frequency", "recency", "T"))
    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    a2 = betaln(a, b + x) - betaln(a, b)
    a3 = -(r + x) * np.log(alpha + T)
    a4 = np.where(x > 0, a / np.maximum(b + x - 1, 1e-300), 0.0) * (
        (alpha + T) / (alpha + t_x)
    ) ** (r + x)
    return float((a1 + a2 + a3 + np.log1p(a4)).sum())


def test_the_comparison_equals_metrics_computed_here(fitted_auto, cdnow_orders):
    from lifetimes import BetaGeoFitter

    model_dir, output = fitted_auto
    comparison = json.loads((model_dir / "model.json").read_text())["model_comparison"]
    assert comparison["split"]["calibration_end"] == CAL_END
    assert comparison["split"]["observation_end"] == OBS_END
    assert comparison["candidates"] == ["bgnbd", "pareto"]
    rows = comparison["models"]
    assert set(rows) == {"bgnbd", "pareto"}
    # BG/NBD's metrics from lifetimes' predictions at its calibration fit, and pandas counts
    cal = rfm_summary(cdnow_orders, calibration_end=CAL_END, observation_end=OBS_END)
    bgnbd = CLVModel(priors="flat", seed=0).fit(cal).transaction_model_
    reference = BetaGeoFitter()
    reference.params_ = pd.Series(bgnbd.params_)
    days = cdnow_orders["timestamp"].dt.normalize()
    holdout = cdnow_orders.assign(day=days)[(days > CAL_END) & (days <= OBS_END)]
    y = cal["customer_id"].map(holdout.groupby("customer_id")["day"].nunique()).fillna(0)
    p = reference.conditional_expected_number_of_purchases_up_to_time(
        20.0, cal["frequency"], cal["recency"], cal["T"]
    )
    error = (p - y).to_numpy()
    assert rows["bgnbd"]["mae"] == pytest.approx(np.abs(error).mean(), rel=1e-6)
    assert rows["bgnbd"]["rmse"] == pytest.approx(np.sqrt((error**2).mean()), rel=1e-6)
    assert rows["bgnbd"]["bias"] == pytest.approx(error.mean(), rel=1e-5)
    assert rows["bgnbd"]["aggregate_error_pct"] == pytest.approx(
        100 * (p.sum() - y.sum()) / y.sum(), rel=1e-5
    )
    assert rows["bgnbd"]["log_likelihood"] == pytest.approx(
        bgnbd_log_likelihood(bgnbd.params_, cal), rel=1e-9
    )
    best = min(rows, key=lambda n: rows[n]["mae"])
    assert comparison["selected"] == best
    saved = json.loads((model_dir / "model.json").read_text())
    assert saved["transaction_model"]["name"] == best
    assert f"chosen: {MODELS[best].label} (lowest per-customer MAE" in output
    # the winner is refitted on all the orders
    full = rfm_summary(cdnow_orders, observation_end=OBS_END)
    refit = CLVModel(transaction_model=best, priors="flat", seed=0).fit(full)
    for name, value in refit.transaction_model_.params_.items():
        assert saved["transaction_model"]["params"][name] == pytest.approx(value, rel=1e-6)


def test_show_and_show_json_give_the_comparison(fitted_auto):
    model_dir, _ = fitted_auto
    runner = CliRunner()
    shown = runner.invoke(cli, ["show", str(model_dir)])
    assert shown.exit_code == 0 and "<- chosen" in shown.output
    as_json = json.loads(runner.invoke(cli, ["show", str(model_dir), "--json"]).output)
    assert set(as_json["model_comparison"]["models"]["pareto"]) >= {
        "aggregate_error_pct",
        "bias",
        "mae",
        "rmse",
        "log_likelihood",
    }
    refused = runner.invoke(cli, ["fit", "x.csv", "-o", "m", "--candidates", "all"])
    assert refused.exit_code == 2 and "--candidates and --holdout go with --model auto" in (
        refused.output
    )


def test_a_failing_candidate_is_recorded_and_skipped(cdnow_orders, monkeypatch):
    def fail(self, rfm):
        raise DataError("a parameter is at its bound (made to fail here)")

    monkeypatch.setattr(ParetoNBDModel, "fit", fail)
    chosen = choose_model(cdnow_orders, candidates=["pareto", "mbgnbd"], priors="flat")
    assert chosen.comparison["selected"] == "mbgnbd"
    assert "made to fail here" in chosen.comparison["skipped"]["pareto"]
    assert list(chosen.comparison["models"]) == ["mbgnbd"]
    assert chosen.model.transaction_model == "mbgnbd" and chosen.model.converged_


def test_the_report_model_section_shows_the_comparison(fitted_auto, cdnow_orders):
    from clvmodels.persistence import load_model, read_metadata
    from clvmodels.report.model import model_section

    model_dir, _ = fitted_auto
    metadata = read_metadata(model_dir)
    html = str(model_section(load_model(model_dir), metadata, cdnow_orders))
    label = MODELS[metadata["model_comparison"]["selected"]].label
    assert "<h3>Model choice: holdout purchases per candidate</h3>" in html
    assert f"Chosen by --model auto: {label}" in html
    for row in metadata["model_comparison"]["models"].values():
        assert f"{row['mae']:.4f}" in html and f"{row['bias']:+.3f}" in html
