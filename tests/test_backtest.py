"""Backtests on CDNOW against lifetimes and an independent pandas computation."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from clvmodels.backtest import backtest
from clvmodels.errors import DataError


@pytest.fixture(scope="module")
def result(cdnow_orders):
    return backtest(
        cdnow_orders,
        calibration_end="1997-09-30",
        observation_end="1998-06-30",
        models=("bgnbd", "pareto"),
        priors="flat",
    )


def test_conditional_expectations_equal_lifetimes(result, cdnow_rfm):
    from lifetimes import BetaGeoFitter

    reference = BetaGeoFitter()
    reference.params_ = pd.Series(result.models["bgnbd"].transaction_model_.params_)
    summary = cdnow_rfm.rename(
        columns={"frequency": "frequency_cal", "recency": "recency_cal", "T": "T_cal"}
    )
    duration = summary["duration_holdout"].iloc[0]
    # what lifetimes.plotting.plot_calibration_purchases_vs_holdout_purchases computes
    summary["model_predictions"] = reference.conditional_expected_number_of_purchases_up_to_time(
        duration, summary["frequency_cal"], summary["recency_cal"], summary["T_cal"]
    )
    expected = summary.groupby("frequency_cal")[["frequency_holdout", "model_predictions"]].mean()
    ours = result.conditional.set_index("frequency")
    for x in range(7):
        assert ours.loc[str(x), "actual"] == pytest.approx(expected.loc[x, "frequency_holdout"])
        assert ours.loc[str(x), "bgnbd"] == pytest.approx(
            expected.loc[x, "model_predictions"], rel=1e-6
        )
    seven_plus = summary[summary["frequency_cal"] >= 7]
    assert ours.loc["7+", "customers"] == len(seven_plus)
    assert ours.loc["7+", "actual"] == pytest.approx(seven_plus["frequency_holdout"].mean())


def test_actual_holdout_counts_equal_pandas(result, cdnow_orders):
    days = cdnow_orders.assign(day=cdnow_orders["timestamp"].dt.normalize())
    occasions = days.groupby(["customer_id", "day"], as_index=False)["revenue"].sum()
    first = occasions.groupby("customer_id")["day"].min()
    cohort = first[first <= "1997-09-30"].index
    hold = occasions[
        (occasions["day"] > "1997-09-30")
        & (occasions["day"] <= "1998-06-30")
        & occasions["customer_id"].isin(cohort)
    ]
    totals = result.totals.set_index("model")
    assert totals.loc["bgnbd", "actual_purchases"] == len(hold) == 1882
    assert totals.loc["bgnbd", "actual_revenue"] == pytest.approx(hold["revenue"].sum())
    counts = (
        hold.groupby("customer_id").size().reindex(result.customers["customer_id"], fill_value=0)
    )
    np.testing.assert_array_equal(result.customers["frequency_holdout"], counts.to_numpy())


def test_totals_and_errors(result):
    totals = result.totals.set_index("model")
    # Fader, Hardie & Lee (2005): BG/NBD predicts 1,653 holdout purchases against 1,882 actual
    assert totals.loc["bgnbd", "predicted_purchases"] == pytest.approx(1653, abs=2)
    error = result.customers["purchases_bgnbd"] - result.customers["frequency_holdout"]
    assert totals.loc["bgnbd", "mae_purchases"] == pytest.approx(error.abs().mean())
    assert totals.loc["bgnbd", "rmse_purchases"] == pytest.approx(np.sqrt((error**2).mean()))
    assert set(totals.index) == {"bgnbd", "pareto", "naive", "cohort"}
    naive = result.customers["frequency"] / result.customers["T"] * 39
    assert totals.loc["naive", "predicted_purchases"] == pytest.approx(naive.sum())
    assert result.best == totals["rmse_purchases"].idxmin()
    json.dumps(result.metrics())  # JSON-ready
    assert totals.loc["bgnbd", "bias_purchases"] == pytest.approx(error.mean())
    assert totals.loc["bgnbd", "bias_purchases"] == pytest.approx(
        (totals.loc["bgnbd", "predicted_purchases"] - 1882) / len(result.customers)
    )
    # the calibration log-likelihood is the fit's, and a baseline has none
    from lifetimes import BetaGeoFitter

    reference = BetaGeoFitter()
    params = result.models["bgnbd"].transaction_model_.params_
    reference.params_ = pd.Series(params)
    rfm = result.customers
    # lifetimes' per-customer log-likelihood, summed (FHL05 eq. 6)
    ll = -reference._negative_log_likelihood(
        np.log([params[k] for k in ("r", "alpha", "a", "b")]),
        rfm["frequency"].to_numpy(dtype="float64"),
        rfm["recency"].to_numpy(dtype="float64"),
        rfm["T"].to_numpy(dtype="float64"),
        np.ones(len(rfm)),
        0.0,
    ) * len(rfm)
    assert totals.loc["bgnbd", "log_likelihood"] == pytest.approx(ll, rel=1e-9)
    assert np.isnan(totals.loc["naive", "log_likelihood"])


def test_incremental_tracking_is_the_cumulative_differenced(result):
    from clvmodels.plots.backtest import incremental_tracking

    per_period = incremental_tracking(result.tracking)
    cumulative = result.tracking
    np.testing.assert_allclose(per_period["actual"].cumsum(), cumulative["actual"])
    np.testing.assert_allclose(per_period["bgnbd"].cumsum(), cumulative["bgnbd"], rtol=1e-12)
    first_holdout = int(np.argmax(cumulative["holdout"].to_numpy()))
    naive = cumulative["naive"].to_numpy()
    assert per_period["naive"].iloc[first_holdout] == pytest.approx(
        naive[first_holdout] - cumulative["actual"].iloc[first_holdout - 1]
    )


def test_a_failing_model_is_recorded_with_on_failure_record(cdnow_orders, monkeypatch):
    from clvmodels.models.pareto_nbd import ParetoNBDModel

    def fail(self, rfm):
        raise DataError("made to fail here")

    monkeypatch.setattr(ParetoNBDModel, "fit", fail)
    kwargs = {"calibration_end": "1997-09-30", "models": ("pareto", "bgnbd"), "priors": "flat"}
    with pytest.raises(DataError, match="made to fail here"):
        backtest(cdnow_orders, **kwargs)
    recorded = backtest(cdnow_orders, **kwargs, baselines=(), on_failure="record")
    assert recorded.failed == {"pareto": "made to fail here"}
    assert list(recorded.totals["model"]) == ["bgnbd"]
    assert "naive" not in recorded.tracking.columns
    assert recorded.metrics()["failed"] == {"pareto": "made to fail here"}


def test_tracking_equals_direct_computation(result, cdnow_orders):
    """Each customer's E[X(age)] from lifetimes, summed by hand at every week end."""
    from lifetimes import BetaGeoFitter

    reference = BetaGeoFitter()
    reference.params_ = pd.Series(result.models["bgnbd"].transaction_model_.params_)
    tracking = result.tracking
    days = cdnow_orders["timestamp"].dt.normalize()
    occasions = cdnow_orders.assign(day=days).drop_duplicates(["customer_id", "day"])
    first = occasions.groupby("customer_id")["day"].transform("min")
    start = days.min()
    for row in tracking.iloc[[0, 5, 38, 39, 77]].itertuples():
        end = start + pd.Timedelta(days=7 * row.period)
        repeats = occasions[(occasions["day"] > first) & (occasions["day"] < end)]
        assert row.actual == len(repeats)
        ages_weeks = ((end - occasions.groupby("customer_id")["day"].min()).dt.days / 7).clip(0)
        expected = reference.expected_number_of_purchases_up_to_time(
            ages_weeks[ages_weeks > 0].to_numpy()
        ).sum()
        assert row.bgnbd == pytest.approx(expected, rel=1e-9)
    assert tracking["actual"].is_monotonic_increasing
    assert tracking["actual"].iloc[-1] == result.customers["frequency"].sum() + 1882


def test_cohort_baseline_is_sane(result):
    cohort = result.customers["purchases_cohort"]
    assert (cohort >= 0).all()
    assert result.totals.set_index("model").loc["cohort", "predicted_purchases"] > 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"calibration_end": "1996-01-01"}, "before the first order"),
        ({"calibration_end": "1998-06-30"}, "nothing is left for the holdout"),
        (
            {"calibration_end": "1997-09-30", "observation_end": "1997-06-30"},
            "after the observation end",
        ),
        ({"calibration_end": "1997-09-30", "models": ("bgnbd", "xyz")}, "unknown model 'xyz'"),
    ],
)
def test_bad_backtest_input(cdnow_orders, kwargs, message):
    with pytest.raises(DataError, match=message):
        backtest(cdnow_orders, **kwargs)


def test_holdout_with_no_orders(cdnow_orders):
    gap = cdnow_orders["timestamp"].between("1997-07-01", "1997-12-31")
    with pytest.raises(DataError, match=r"holdout \(1997-06-30 to 1997-12-31\] has no orders"):
        backtest(cdnow_orders[~gap], calibration_end="1997-06-30", observation_end="1997-12-31")


def test_backtest_command_writes_everything(cdnow_orders, tmp_path):
    from click.testing import CliRunner

    from clvmodels.cli import cli

    source = tmp_path / "orders.parquet"
    cdnow_orders.to_parquet(source)
    out = tmp_path / "bt"
    result = CliRunner().invoke(
        cli,
        [
            "backtest",
            str(source),
            "--calibration-end",
            "1997-09-30",
            "--models",
            "bgnbd,mbgnbd",
            "--priors",
            "flat",
            "-o",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "best by per-customer RMSE" in result.output
    assert "    bias     MAE    RMSE      log-lik" in result.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["best_model"] in {"bgnbd", "mbgnbd", "naive", "cohort"}
    for name in ("tracking.png", "tracking_incremental.png", "conditional.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(pd.read_csv(out / "conditional.csv")) == 8
    late = CliRunner().invoke(
        cli,
        ["backtest", str(source), "--calibration-end", "1999-01-01", "-o", str(tmp_path / "bt2")],
    )
    assert late.exit_code == 2 and "Traceback" not in late.output
    assert not (tmp_path / "bt2").exists()
