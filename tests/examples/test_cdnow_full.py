"""The full CDNOW log (23,570 customers): fit, predict the holdout, exclusions, backtest.

``CDNOW_master.txt`` in the lifetimes 0.11.3 wheel is whitespace-aligned text (with a header
line in the installed wheel; without one in some copies): customer id (zero-padded, kept as
written), date (YYYYMMDD), number of CDs, dollar value. The test converts it itself.
Calibration 1997-01-01 to 1997-09-30 (39 weeks), holdout to 1998-06-30 (39 weeks), weeks,
as in Fader, Hardie & Lee (2005). The oracles: lifetimes' ``BetaGeoFitter`` and
pymc-marketing's ``BetaGeoModel`` predictions at the same parameters, and the zero-value
customers counted from the raw log here. lifetimes' ``calibration_and_holdout_data`` fails on
pandas 3.1, so the holdout split is built here too.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import CALIBRATION_END, OBSERVATION_END, lifetimes_datasets

from clvmodels.backtest import backtest
from clvmodels.cli import cli
from clvmodels.data.io import read_orders
from clvmodels.model import CLVModel
from clvmodels.summaries.rfm import rfm_summary

HOLDOUT_WEEKS = 39.0


@pytest.fixture(scope="module")
def master_orders() -> pd.DataFrame:
    path = lifetimes_datasets() / "CDNOW_master.txt"
    with path.open(encoding="ascii") as handle:
        has_header = not handle.readline().split()[0].isdigit()
    raw = pd.read_csv(
        path,
        sep=r"\s+",
        header=None,
        skiprows=1 if has_header else 0,
        names=["customer_id", "date", "n_cds", "revenue"],
        dtype={"customer_id": "string", "date": "string", "n_cds": "int64", "revenue": "float64"},
    )
    assert len(raw) == 69_659 and raw["customer_id"].nunique() == 23_570
    raw["timestamp"] = pd.to_datetime(raw["date"], format="%Y%m%d")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # 255 exact duplicate rows, kept as lifetimes keeps them
        return read_orders(raw[["customer_id", "timestamp", "revenue"]])


@pytest.fixture(scope="module")
def master_rfm(master_orders) -> pd.DataFrame:
    return rfm_summary(
        master_orders,
        time_unit="W",
        calibration_end=CALIBRATION_END,
        observation_end=OBSERVATION_END,
    )


@pytest.fixture(scope="module")
def master_model(master_rfm) -> CLVModel:
    return CLVModel(time_unit="W", method="map", priors="flat", seed=0).fit(master_rfm)


def zero_value_repeat_customers(orders: pd.DataFrame) -> list[str]:
    """Customers whose calibration repeat occasions are worth 0 on average, from the raw log."""
    days = orders.assign(day=orders["timestamp"].dt.normalize())
    days = days[days["day"] <= pd.Timestamp(CALIBRATION_END)]
    occasions = days.groupby(["customer_id", "day"], as_index=False)["revenue"].sum()
    repeat = occasions[occasions.groupby("customer_id").cumcount() > 0]
    means = repeat.groupby("customer_id")["revenue"].mean()
    return sorted(means.index[means == 0].tolist())


def test_the_holdout_split_built_here_matches_rfm_summary(master_orders, master_rfm):
    assert len(master_rfm) == 23_570
    assert (master_rfm["duration_holdout"] == HOLDOUT_WEEKS).all()
    days = master_orders.assign(day=master_orders["timestamp"].dt.normalize())
    holdout = days[
        (days["day"] > pd.Timestamp(CALIBRATION_END))
        & (days["day"] <= pd.Timestamp(OBSERVATION_END))
    ]
    per_customer = holdout.groupby("customer_id")["day"].nunique()
    actual = master_rfm["customer_id"].map(per_customer).fillna(0).astype("int64")
    np.testing.assert_array_equal(master_rfm["frequency_holdout"].to_numpy(), actual.to_numpy())


def test_zero_value_customers_are_left_out_of_gamma_gamma_and_reported(
    master_orders, master_rfm, master_model
):
    expected = zero_value_repeat_customers(master_orders)
    assert expected == ["10244"]  # its only repeat order is worth 0.00
    report = master_model.require_spend_model().fit_report_
    excluded = report["zero_value_exclusions"]
    assert excluded["n_customers"] == 1
    assert excluded["examples"] == expected
    n_repeat = int((master_rfm["frequency"] > 0).sum())
    assert report["n_customers"] == n_repeat - len(expected)
    assert master_model.converged_
    # and the scores give them the population mean spend p v / (q - 1)
    p, q, v = (master_model.require_spend_model().params_[k] for k in ("p", "q", "v"))
    scores = master_model.score(master_rfm, horizon="39W", n_draws=None)
    zero = scores[scores["customer_id"].isin(expected)]
    np.testing.assert_allclose(zero["expected_spend"], p * v / (q - 1), rtol=1e-12)
    assert scores.attrs["n_population_mean_spend"] == len(expected)
    assert np.isfinite(scores["clv"]).all() and (scores["clv"] >= 0).all()


def test_bgnbd_holdout_total_equals_lifetimes_and_pymc_marketing(master_rfm, master_model):
    from lifetimes import BetaGeoFitter

    params = master_model.transaction_model_.params_
    scores = master_model.score(master_rfm, horizon="39W", n_draws=None)
    ours = float(scores["expected_purchases"].sum())

    reference = BetaGeoFitter()
    reference.params_ = pd.Series(params)
    lifetimes_total = float(
        reference.conditional_expected_number_of_purchases_up_to_time(
            HOLDOUT_WEEKS, master_rfm["frequency"], master_rfm["recency"], master_rfm["T"]
        ).sum()
    )
    assert ours == pytest.approx(lifetimes_total, rel=1e-9)

    import xarray as xr
    from pymc_marketing.clv import BetaGeoModel as PmmBetaGeo

    data = master_rfm[["customer_id", "frequency", "recency", "T"]]
    theirs = PmmBetaGeo()
    theirs.build_model(data)
    posterior = xr.Dataset(
        {k: (("chain", "draw"), np.array([[value]])) for k, value in params.items()},
        coords={"chain": [0], "draw": [0]},
    )
    theirs.idata = xr.DataTree.from_dict({"posterior": posterior})
    pmm_total = float(theirs.expected_purchases(data=data, future_t=HOLDOUT_WEEKS).sum())
    assert ours == pytest.approx(pmm_total, rel=1e-9)


@pytest.mark.slow  # ~18 s: five fits of 23,570 customers and the cohort baseline
def test_the_backtest_runs_with_all_models(master_orders, master_model):
    result = backtest(
        master_orders,
        calibration_end=CALIBRATION_END,
        observation_end=OBSERVATION_END,
        time_unit="W",
        models=("bgnbd", "pareto", "mbgnbd"),
        priors="flat",
    )
    totals = result.totals.set_index("model")
    assert list(totals.index) == ["bgnbd", "pareto", "mbgnbd", "naive", "cohort"]
    # measured at this commit: 19,684 holdout occasions; BG/NBD predicts 16,874 (-14.3%),
    # Pareto/NBD 17,153 (-12.9%), MBG/NBD 15,934 (-19.1%), the naive rate +47%, the cohort
    # curve +17%. The models under-predict the full log's holdout; per customer they beat
    # both baselines (RMSE 1.73-1.74 against 2.16 and 2.33), which is what is asserted.
    assert totals.loc["bgnbd", "actual_purchases"] == float(
        result.customers["frequency_holdout"].sum()
    )
    for name in ("bgnbd", "pareto", "mbgnbd"):
        assert result.models[name].converged_, name
        assert np.isfinite(totals.loc[name, "predicted_revenue"]), name
        for baseline in ("naive", "cohort"):
            assert totals.loc[name, "rmse_purchases"] < totals.loc[baseline, "rmse_purchases"]
    assert result.best in ("bgnbd", "pareto", "mbgnbd")
    # the backtest's BG/NBD is the fit above (same data, priors and optimiser)
    for name, value in master_model.transaction_model_.params_.items():
        assert result.models["bgnbd"].transaction_model_.params_[name] == pytest.approx(
            value, rel=1e-6
        )
    excluded = result.models["bgnbd"].require_spend_model().zero_value_exclusions_
    assert (
        excluded["n_customers"]
        == master_model.require_spend_model().zero_value_exclusions_["n_customers"]
    )


def test_clv_fit_and_show_report_the_exclusion(master_orders, master_model, tmp_path):
    orders = tmp_path / "orders.csv"
    master_orders.to_csv(orders, index=False)
    model_dir = tmp_path / "model"
    runner = CliRunner()
    args = ["fit", str(orders), "-o", str(model_dir), "--priors", "flat"]
    fitted = runner.invoke(cli, [*args, "--observation-end", CALIBRATION_END])
    assert fitted.exit_code == 0, fitted.output
    mean = master_model.require_spend_model().fit_report_["zero_value_exclusions"][
        "population_mean_spend"
    ]
    line = (
        "  left out of the fit: 1 repeat customers whose mean repeat value is 0 (e.g. 10244); "
        "scoring gives them the population mean spend p v / (q - 1), per draw "
        f"(posterior mean {mean:,.2f})\n"
    )
    assert line in fitted.output
    shown = runner.invoke(cli, ["show", str(model_dir)])
    assert line in shown.output
    as_json = json.loads(runner.invoke(cli, ["show", str(model_dir), "--json"]).output)
    excluded = as_json["spend_model"]["fit_report"]["zero_value_exclusions"]
    assert excluded["n_customers"] == 1
    assert [str(e) for e in excluded["examples"]] == ["10244"]
    assert excluded["spend_used"] == "the population mean spend p v / (q - 1), per draw"
    assert excluded["population_mean_spend"] == pytest.approx(mean, rel=1e-9)
    scored = runner.invoke(
        cli, ["score", str(model_dir), str(orders), "-o", str(tmp_path / "scores.parquet")]
    )
    assert scored.exit_code == 0, scored.output
    assert (
        "  1 repeat customers whose mean repeat value is 0 got the population mean spend "
        "p v / (q - 1), per draw as expected spend\n"
    ) in scored.output


@pytest.mark.slow  # ~10 s: three calibration fits (MBG/CNBD-k with its k search), a refit
def test_clv_fit_model_auto_on_the_full_log(master_orders, tmp_path):
    orders = tmp_path / "orders.parquet"
    master_orders.to_parquet(orders)
    model_dir = tmp_path / "model"
    args = ["fit", str(orders), "-o", str(model_dir), "--model", "auto", "--priors", "flat"]
    fitted = CliRunner().invoke(cli, args)
    assert fitted.exit_code == 0, fitted.output
    saved = json.loads((model_dir / "model.json").read_text())
    comparison = saved["model_comparison"]
    # 1997-01-01 to 1998-06-30 is 546 days: the last 20 weeks (140 days) are held out
    assert comparison["split"]["calibration_end"] == "1998-02-10"
    days = master_orders.assign(day=master_orders["timestamp"].dt.normalize())
    first = days.groupby("customer_id")["day"].transform("min")
    cohort = days[first <= "1998-02-10"]
    holdout = cohort[cohort["day"] > "1998-02-10"].drop_duplicates(["customer_id", "day"])
    assert comparison["split"]["actual_purchases"] == len(holdout)
    assert comparison["split"]["n_customers"] == cohort["customer_id"].nunique()
    assert comparison["candidates"] == ["pareto", "mbgnbd", "mbgcnbd"]  # dropout_at_zero models
    rows = comparison["models"]
    assert comparison["selected"] == min(rows, key=lambda n: rows[n]["mae"])
    assert saved["transaction_model"]["name"] == comparison["selected"]
    assert saved["transaction_model"]["usable"] and not comparison["skipped"]
    for row in rows.values():
        assert np.isfinite(list(row.values())).all()
        assert row["mae"] <= row["rmse"]
    assert "<- chosen" in fitted.output
