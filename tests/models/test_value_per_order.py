"""Orders valued with --value-per-order: a constant spend per purchase occasion, not Gamma-Gamma.

Oracles: the mean value of a repeat occasion counted here from the orders with pandas, and the
CLV formula of docs/models.md summed month by month here from the transaction model's own
expected purchases.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import BGNBD_PUBLISHED, fixed_posterior

from clvmodels.cli import cli
from clvmodels.data.contract import OrdersSource
from clvmodels.errors import DataError, ModelFileError
from clvmodels.examples.simulate import simulate_orders
from clvmodels.model import CLVModel
from clvmodels.models.bgnbd import BetaGeoModel
from clvmodels.models.posterior import INTERVAL_PROB
from clvmodels.models.spend import ConstantSpendModel
from clvmodels.persistence import _checksum, load_model, read_metadata, save_model
from clvmodels.predict.columns import SCORE_STATISTICS
from clvmodels.predict.scoring import monthly_steps
from clvmodels.summaries.rfm import rfm_summary
from clvmodels.units import DAYS_PER_UNIT

X = 25.0
# two orders of a customer on one day are exact duplicates here (customer, day): on purpose
pytestmark = pytest.mark.filterwarnings("ignore:.*exact duplicates:UserWarning")
SCORE_ARGS = {"horizon": "12M", "annual_discount_rate": 0.12, "margin": 0.3, "n_draws": None}


def valued(orders: pd.DataFrame, value: float = X) -> pd.DataFrame:
    """The RFM table of ``orders`` read with --no-revenue --value-per-order ``value``."""
    source = OrdersSource(orders, revenue_col=None, value_per_order=value)
    return rfm_summary(source, time_unit="W")


@pytest.fixture(scope="module")
def orders() -> pd.DataFrame:
    """Simulated orders on whole days: some customers order twice on one day."""
    simulated, _ = simulate_orders(300, seed=3)
    days = simulated.assign(timestamp=simulated["timestamp"].dt.normalize())
    return days[["customer_id", "timestamp"]]


@pytest.fixture(scope="module")
def one_per_day(orders) -> pd.DataFrame:
    return orders.drop_duplicates()


def repeat_counts(orders: pd.DataFrame) -> tuple[int, int]:
    """Repeat orders and repeat occasions, counted from the orders (first day excluded)."""
    first = orders.groupby("customer_id")["timestamp"].transform("min")
    repeat = orders[orders["timestamp"] > first]
    return len(repeat), len(repeat.drop_duplicates(["customer_id", "timestamp"]))


def test_the_constant_is_the_mean_value_of_a_repeat_occasion(orders, one_per_day):
    rfm = valued(orders)
    spend = ConstantSpendModel().fit(rfm)
    n_orders, n_occasions = repeat_counts(orders)
    assert n_orders > n_occasions  # same-day orders that make one occasion
    expected = X * n_orders / n_occasions
    assert spend.value_ == pytest.approx(expected, rel=1e-12)
    report = spend.fit_report_
    assert (report["n_repeat_orders"], report["n_repeat_occasions"]) == (n_orders, n_occasions)
    assert report["value_per_order"] == X
    assert spend.description().startswith(
        f"constant {expected:,.6g} per purchase occasion (from --value-per-order): "
        f"25 per order x {expected / X:.4g} orders per repeat occasion"
    )
    # no two orders on one day: exactly X, whatever the float sums of the SQL
    for value in (X, 0.1, 1 / 3):
        exact = ConstantSpendModel().fit(valued(one_per_day, value))
        assert exact.value_ == value
        assert exact.description() == (
            f"constant {value:,.6g} per purchase occasion (from --value-per-order)"
        )


def test_value_per_order_fits_no_gamma_gamma(one_per_day):
    rfm = valued(one_per_day)
    # flat priors: Gamma-Gamma on constant spend was refused (p ran to infinity)
    model = CLVModel(time_unit="W", priors="flat", seed=0).fit(rfm)
    assert isinstance(model.spend_model_, ConstantSpendModel)
    assert model.converged_
    model.check_usable()
    description = model.describe()
    assert description["revenue"] == "value_per_order"
    assert description["spend_model"]["name"] == "constant"
    assert description["spend_model"]["value"] == X
    with pytest.raises(DataError, match="no Gamma-Gamma spend model: its spend is constant 25"):
        model.require_spend_model()


def test_a_table_not_valued_at_x_is_refused(one_per_day):
    rfm = valued(one_per_day)
    rfm.loc[rfm["frequency"] > 0, "monetary_value"] *= 1.5
    with pytest.raises(DataError, match="not a whole number of such orders"):
        ConstantSpendModel().fit(rfm)
    with pytest.raises(DataError, match="must be a finite number > 0"):
        ConstantSpendModel(value_per_order=float("nan")).fit(valued(one_per_day))


@pytest.fixture(scope="module")
def posterior_model(orders):
    """A constant spend beside a BG/NBD with 60 fixed draws (no sampling)."""
    rfm = valued(orders)
    model = CLVModel.from_posteriors(
        BetaGeoModel.from_posterior(fixed_posterior(BGNBD_PUBLISHED, n_draws=60, seed=1)),
        ConstantSpendModel().fit(rfm),
        time_unit="W",
        data_info={"calibration_end": rfm.attrs["calibration_end"], "revenue": "value_per_order"},
    )
    return rfm, model


def test_clv_is_margin_times_value_times_discounted_purchases(posterior_model):
    rfm, model = posterior_model
    value = model.spend_model_.value_
    tm = model.transaction_model_
    weeks_per_month = DAYS_PER_UNIT["M"] / DAYS_PER_UNIT["W"]
    rate, margin = SCORE_ARGS["annual_discount_rate"], SCORE_ARGS["margin"]
    # per draw and customer: the discounted monthly increments of E[X(t)]
    discounted = np.zeros((60, len(rfm)))
    previous = np.zeros((60, len(rfm)))
    for month in range(1, 13):
        current = tm.expected_purchases(rfm, month * weeks_per_month)
        discounted += (current - previous) / (1 + rate) ** (month / 12)
        previous = current
    per_draw = margin * value * discounted
    scores = model.score(rfm.drop(columns=["monetary_value"]), **SCORE_ARGS)
    assert list(scores.columns)[-len(SCORE_STATISTICS) :] == list(SCORE_STATISTICS)
    assert scores.attrs["spend"] == "constant"
    np.testing.assert_allclose(scores["expected_spend"], value, rtol=1e-14)
    np.testing.assert_allclose(scores["clv"], per_draw.mean(axis=0), rtol=1e-9)
    np.testing.assert_allclose(scores["expected_purchases"], previous.mean(axis=0), rtol=1e-9)
    lo, hi = (1 - INTERVAL_PROB) / 2, 1 - (1 - INTERVAL_PROB) / 2
    np.testing.assert_allclose(scores["clv_low"], np.quantile(per_draw, lo, axis=0), rtol=1e-9)
    np.testing.assert_allclose(scores["clv_high"], np.quantile(per_draw, hi, axis=0), rtol=1e-9)
    assert np.allclose(monthly_steps(12, rate).discount, (1 + rate) ** (-np.arange(1, 13) / 12))


def test_scores_with_and_without_monetary_value_agree_and_other_values_are_refused(
    posterior_model, orders
):
    rfm, model = posterior_model
    pd.testing.assert_frame_equal(
        model.score(rfm, **SCORE_ARGS).drop(columns=["monetary_value"]),
        model.score(rfm.drop(columns=["monetary_value"]), **SCORE_ARGS),
    )
    with pytest.raises(DataError, match=r"valued at 30 per order .* fitted with 25 per order"):
        model.score(valued(orders, 30.0), **SCORE_ARGS)


def test_save_and_load_keep_the_constant_in_model_json(posterior_model, tmp_path):
    rfm, model = posterior_model
    target = save_model(model, tmp_path / "model")
    assert sorted(p.name for p in target.iterdir()) == ["model.json", "transaction_posterior.nc"]
    metadata = read_metadata(target)
    part = metadata["spend_model"]
    assert part["name"] == "constant"
    assert part["value"] == model.spend_model_.value_
    assert part["value_per_order"] == X
    assert "posterior_file" not in part
    assert list(metadata["files"]) == ["transaction_posterior.nc"]
    loaded = load_model(target)
    assert isinstance(loaded.spend_model_, ConstantSpendModel)
    assert loaded.spend_model_.fit_report_ == model.spend_model_.fit_report_
    assert loaded.data_info_["revenue"] == "value_per_order"
    pd.testing.assert_frame_equal(loaded.score(rfm, **SCORE_ARGS), model.score(rfm, **SCORE_ARGS))

    # a value that is not a positive number is refused on loading, even with a valid checksum
    raw = json.loads((target / "model.json").read_text())
    raw["spend_model"]["value"] = -1.0
    raw.pop("checksum")
    raw["checksum"] = _checksum(raw)
    (target / "model.json").write_text(json.dumps(raw))
    with pytest.raises(ModelFileError, match="key 'spend_model': value must be a finite number"):
        load_model(target)


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_cli_fit_show_score_backtest_and_report_say_the_constant(one_per_day, tmp_path):
    orders_file = tmp_path / "orders.csv"
    one_per_day.assign(timestamp=one_per_day["timestamp"].dt.strftime("%Y-%m-%d")).to_csv(
        orders_file, index=False
    )
    valued_args = ["--no-revenue", "--value-per-order", "25"]
    line = "spend: constant 25 per purchase occasion (from --value-per-order)"
    fitted = run("fit", str(orders_file), *valued_args, "-o", str(tmp_path / "model"))
    assert fitted.exit_code == 0, fitted.output
    assert f"\n{line}\n" in fitted.output
    assert "Gamma-Gamma" not in fitted.output

    shown = run("show", str(tmp_path / "model"))
    assert f"\n{line}\n" in shown.output
    as_json = json.loads(run("show", str(tmp_path / "model"), "--json").output)
    assert as_json["revenue"] == "value_per_order"
    assert as_json["spend_model"]["name"] == "constant"
    assert as_json["spend_model"]["value"] == 25.0
    assert as_json["spend_model"]["description"] == line.removeprefix("spend: ")

    scores_file = tmp_path / "scores.csv"
    args = [str(tmp_path / "model"), str(orders_file), "--margin", "0.3", "-o", str(scores_file)]
    scored = run("score", *args, "--no-revenue")  # the model knows its spend
    assert scored.exit_code == 0, scored.output
    assert f"  {line}, the same for every customer\n" in scored.output
    assert "  columns: customer_id, frequency, recency, T, p_alive, " in scored.output
    written = pd.read_csv(scores_file)
    assert (written["expected_spend"] == 25.0).all()
    assert "total CLV" in scored.output
    refused = run("score", *args, "--no-revenue", "--value-per-order", "30")
    assert refused.exit_code == 2
    assert "valued at 30 per order (--value-per-order), but the model was fitted with 25" in (
        refused.output
    )

    backtested = run(
        "backtest",
        str(orders_file),
        *valued_args,
        "--calibration-end",
        "2025-01-31",
        "--models",
        "bgnbd",
        "-o",
        str(tmp_path / "backtest"),
    )
    assert backtested.exit_code == 0, backtested.output
    assert f"revenue: 25 per order (--value-per-order); {line}\n" in backtested.output
    metrics = json.loads((tmp_path / "backtest" / "metrics.json").read_text())
    assert metrics["revenue"] is True and metrics["value_per_order"] == 25.0
    totals = pd.read_csv(tmp_path / "backtest" / "totals.csv").set_index("model")
    customers = pd.read_parquet(tmp_path / "backtest" / "customers.parquet")
    # predicted revenue is the constant times the predicted occasions; actual is 25 per order
    assert totals.loc["bgnbd", "predicted_revenue"] == pytest.approx(
        25.0 * customers["purchases_bgnbd"].sum()
    )
    assert totals.loc["bgnbd", "actual_revenue"] == pytest.approx(
        25.0 * customers["frequency_holdout"].sum()
    )

    reported = run(
        "report",
        "--orders",
        str(orders_file),
        *valued_args,
        "--model",
        str(tmp_path / "model"),
        "-o",
        str(tmp_path / "report.html"),
    )
    assert reported.exit_code == 0, reported.output
    html = (tmp_path / "report.html").read_text()
    assert f"<p>{line}</p>" in html
