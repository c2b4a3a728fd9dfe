"""`clv payback --engine spark` agrees with the DuckDB engine, table for table.

The DuckDB engine is the oracle: on simulated marketing data with the awkward cases added,
the orders' part of payback (buyers, their RFM and sources, per-source cohort tables) and
every table payback writes are equal (ids and counts exactly, values to 1e-9). One local[2]
session for the module (marker `spark`; `make test` runs it).
"""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import BGNBD_PUBLISHED, GAMMA_GAMMA_PUBLISHED, fixed_posterior

from clvmodels.cli.acquisition import payback
from clvmodels.data.io import read_orders
from clvmodels.data.marketing import read_costs, read_visits
from clvmodels.errors import DataError, DataQualityWarning
from clvmodels.examples.marketing import simulate_marketing
from clvmodels.marketing.payback import PaybackOrders, payback_analysis, payback_orders
from clvmodels.model import CLVModel
from clvmodels.models.bgnbd import BetaGeoModel
from clvmodels.models.gamma_gamma import GammaGammaModel

pytestmark = [
    pytest.mark.spark,
    # pyspark 4.3 warns that it does not fully support pandas 3 and uses a deprecated keyword
    pytest.mark.filterwarnings("ignore::FutureWarning:pyspark.*"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning:pyspark.*"),
]
pytest.importorskip("pyspark", reason="the Spark engine needs pip install 'clvmodels[spark]'")

from clvmodels.spark.payback import payback_orders_spark  # noqa: E402
from clvmodels.spark.read import read_orders_spark  # noqa: E402
from clvmodels.spark.session import spark_session  # noqa: E402

OBS_END = pd.Timestamp("2024-09-18")  # a Wednesday: the last month and week are partial
DAY = pd.Timedelta(days=1)
LAST_INSTANT = DAY - pd.Timedelta(microseconds=1)


@pytest.fixture(scope="module")
def spark():
    session = spark_session("local[2]", "clvmodels-payback-tests")
    yield session
    session.stop()


def marketing_tables() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Simulated visits, orders and costs (4 sources) plus the cases that break aggregations.

    Same-day orders and an exact duplicate row; single-order customers; orders at the first
    and last instant of the observation end day, one customer's only order on it and one
    customer's only order the day after (not a buyer); orders after the observation end; a
    buyer without visits, one whose only visit follows the observation end (both
    'unknown') and one whose visits all follow the first order (last-touch falls back);
    a source 'tv' with visits and costs but no buyers (cells with no buyers), a source
    'radio' with costs but no visits, and costs after the observation end.
    """
    visits, orders, costs, _ = simulate_marketing(
        300, seed=5, acquisition_days=200, observation_days=400
    )
    # Spark keeps microseconds; nanosecond first orders are compared in their own test
    orders = orders.assign(timestamp=orders["timestamp"].dt.floor("us"))
    first_rows = orders.groupby("customer_id").head(1)
    same_day = first_rows.head(30).assign(
        timestamp=lambda f: f["timestamp"].dt.normalize() + LAST_INSTANT, revenue=2.5
    )
    extra_orders = pd.DataFrame(
        [
            (9001, OBS_END, 11.0),  # only order: the first instant of the observation end
            (9002, pd.Timestamp("2024-08-02 10:00"), 5.0),
            (9002, OBS_END + LAST_INSTANT, 7.5),  # repeat at the last instant observed
            (9003, OBS_END + DAY, 9.0),  # only order after the observation end
            (9004, pd.Timestamp("2024-03-03 12:00"), 8.0),  # no visit: 'unknown'
            (9005, pd.Timestamp("2024-04-10 12:00"), 6.0),  # visit only after the end
            (9006, pd.Timestamp("2024-05-05 09:00"), 4.0),  # visits after first order
            (9006, pd.Timestamp("2024-05-05 09:00"), 4.0),  # exact duplicate row
            (9006, pd.Timestamp("2024-06-01 09:00"), 3.0),
        ],
        columns=["customer_id", "timestamp", "revenue"],
    )
    orders = pd.concat([orders, same_day, extra_orders], ignore_index=True)
    extra_visits = pd.DataFrame(
        [
            (9001, "2024-09-17 20:00", "search"),
            (9002, "2024-08-01 10:00", "email"),
            (9003, "2024-09-18 10:00", "social"),
            (9005, "2024-09-19 10:00", "display"),
            (9006, "2024-05-06 10:00", "social"),
            (9006, "2024-05-20 10:00", "email"),
            (9101, "2024-03-01 10:00", "tv"),  # visitors who never buy
            (9102, "2024-09-01 10:00", "tv"),
        ],
        columns=["uid", "start_ts", "source_id"],
    )
    start = pd.to_datetime(extra_visits["start_ts"])
    extra_visits = extra_visits.assign(
        start_ts=start, end_ts=start + pd.Timedelta(minutes=5), device="desktop"
    )
    visits = pd.concat([visits, extra_visits[visits.columns]], ignore_index=True)
    extra_costs = pd.DataFrame(
        [
            ("tv", "2024-03-15", 300.0),
            ("tv", "2024-09-01", 200.0),
            ("radio", "2024-04-01", 50.0),
            ("search", "2024-09-18", 40.0),  # on the observation end
            ("search", "2024-09-19", 999.0),  # after it: not used
        ],
        columns=["source_id", "dt", "costs"],
    ).assign(dt=lambda f: pd.to_datetime(f["dt"]))
    costs = pd.concat([costs, extra_costs], ignore_index=True)
    return (
        orders.sample(frac=1.0, random_state=2).reset_index(drop=True),
        visits.sample(frac=1.0, random_state=3).reset_index(drop=True),
        costs,
    )


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("spark-payback")
    orders, visits, costs = marketing_tables()
    paths = {name: folder / f"{name}.parquet" for name in ("orders", "visits", "costs")}
    orders.assign(timestamp=orders["timestamp"].astype("datetime64[us]")).to_parquet(
        paths["orders"], index=False
    )
    visits.to_parquet(paths["visits"], index=False)
    costs.to_parquet(paths["costs"], index=False)
    # text ids and text times in CSV files, for the command
    text = orders.assign(
        customer_id="c" + orders["customer_id"].astype(str),
        timestamp=orders["timestamp"].dt.strftime("%Y-%m-%d %H:%M:%S.%f"),
    )
    text.to_csv(folder / "orders.csv", index=False)
    paths["orders_csv"] = folder / "orders.csv"
    text_visits = visits.assign(uid="c" + visits["uid"].astype(str))
    text_visits.to_csv(folder / "visits.csv", index=False)
    paths["visits_csv"] = folder / "visits.csv"
    costs.to_csv(folder / "costs.csv", index=False)
    paths["costs_csv"] = folder / "costs.csv"
    return paths


def quietly(func, *args: Any, **kwargs: Any) -> tuple[Any, list[str]]:
    """Call ``func``; return its result and the data-quality warnings it gave, in order."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = func(*args, **kwargs)
    return result, [str(w.message) for w in caught if w.category is DataQualityWarning]


@pytest.fixture(scope="module")
def inputs(spark, files):
    """The orders read by both engines, and the validated visits and costs."""
    orders, _ = quietly(read_orders, files["orders"])  # the duplicate row is warned about
    spark_orders, _ = quietly(read_orders_spark, spark, str(files["orders"]))
    return orders, spark_orders, read_visits(files["visits"]), read_costs(files["costs"])


def assert_same_frame(actual: pd.DataFrame, expected: pd.DataFrame, rtol: float = 1e-9) -> None:
    """Same columns, dtypes and rows in the same order; floats to ``rtol``, the rest exactly."""
    assert list(actual.columns) == list(expected.columns)
    assert actual.dtypes.equals(expected.dtypes), (actual.dtypes, expected.dtypes)
    assert len(actual) == len(expected)
    for column in expected.columns:
        want, got = expected[column], actual[column]
        if pd.api.types.is_float_dtype(want.dtype):
            np.testing.assert_allclose(got, want, rtol=rtol, atol=0.0, err_msg=column)
        else:
            pd.testing.assert_series_equal(got, want, check_exact=True)


def assert_same_values(
    actual: Any, expected: Any, where: str = "summary", rtol: float = 1e-9
) -> None:
    """Nested dicts and lists equal; floats to ``rtol``."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict) and actual.keys() == expected.keys(), where
        for key in expected:
            assert_same_values(actual[key], expected[key], f"{where}.{key}", rtol)
    elif isinstance(expected, list | tuple):
        assert len(actual) == len(expected), where
        for i, (got, want) in enumerate(zip(actual, expected, strict=True)):
            assert_same_values(got, want, f"{where}[{i}]", rtol)
    elif isinstance(expected, float) and not isinstance(actual, bool):
        assert math.isclose(actual, expected, rel_tol=rtol) or (
            math.isnan(actual) and math.isnan(expected)
        ), where
    else:
        assert actual == expected, where


def assert_same_orders_side(actual: PaybackOrders, expected: PaybackOrders) -> None:
    assert actual.dates == expected.dates
    assert actual.n_orders == expected.n_orders
    assert actual.attribution_report == expected.attribution_report
    assert (actual.attribution, actual.period, actual.margin) == (
        expected.attribution,
        expected.period,
        expected.margin,
    )
    assert_same_frame(actual.buyers, expected.buyers)
    assert_same_frame(actual.stacked, expected.stacked)


def fixed_model(n_draws: int = 30) -> CLVModel:
    """A "fitted" weekly model from fixed draws around the published CDNOW values."""
    return CLVModel.from_posteriors(
        BetaGeoModel.from_posterior(
            fixed_posterior(BGNBD_PUBLISHED, n_draws=n_draws, seed=3), method="mcmc"
        ),
        GammaGammaModel.from_posterior(
            fixed_posterior(GAMMA_GAMMA_PUBLISHED, n_draws=n_draws, seed=4), method="mcmc"
        ),
        time_unit="W",
        data_info={"calibration_end": OBS_END.date().isoformat()},
    )


# ------------------------------------------------------------------ the orders' part
@pytest.mark.parametrize(
    ("attribution", "period"),
    [("first-touch", "month"), ("last-touch", "week")],
)
def test_payback_orders_equal_duckdb(inputs, attribution, period):
    orders, spark_orders, visits, _ = inputs
    settings = {
        "attribution": attribution,
        "period": period,
        "margin": 0.4,
        "observation_end": OBS_END.date().isoformat(),
    }
    expected, duck_warnings = quietly(payback_orders, orders, visits, **settings)
    actual, spark_warnings = quietly(payback_orders_spark, spark_orders, visits, **settings)
    assert_same_orders_side(actual, expected)
    assert spark_warnings == duck_warnings
    # the awkward cases are in there
    buyers = actual.buyers.set_index("customer_id")
    assert 9003 not in buyers.index  # only order after the observation end
    assert buyers.loc[9001, ["frequency", "T_days"]].tolist() == [0, 0.0]
    assert buyers.loc[[9004, 9005], "source_id"].tolist() == ["unknown", "unknown"]
    assert actual.attribution_report["n_last_touch_fallback"] >= 1
    assert (buyers["frequency"] == 0).any() and "tv" not in set(actual.stacked["source_id"])


def test_default_observation_end_and_nanosecond_times(spark, files, tmp_path):
    """Without an observation end, the last order's day; nanoseconds are cut to microseconds."""
    source = tmp_path / "orders_ns.parquet"
    orders = pd.read_parquet(files["orders"]).astype({"timestamp": "datetime64[ns]"})
    # below half a microsecond: DuckDB rounds nanoseconds to the nearest microsecond when
    # it takes the day, so 23:59:59.9999995 would count as the next day there
    orders["timestamp"] += pd.to_timedelta(np.arange(len(orders)) % 500, unit="ns")
    orders.to_parquet(source, index=False)
    duck_orders, _ = quietly(read_orders, source)
    spark_orders, _ = quietly(read_orders_spark, spark, str(source))
    visits = read_visits(files["visits"])
    expected, _ = quietly(payback_orders, duck_orders, visits, period="week")
    actual, _ = quietly(payback_orders_spark, spark_orders, visits, period="week")
    assert actual.dates == expected.dates
    assert actual.dates.observation_end == orders["timestamp"].max().date()
    floored = expected.buyers.assign(first_order=expected.buyers["first_order"].dt.floor("us"))
    assert_same_frame(actual.buyers, floored)
    assert_same_frame(actual.stacked, expected.stacked)


# ------------------------------------------------------------------ the whole analysis
@pytest.mark.parametrize("source_adjustment", [False, True])
def test_payback_analysis_on_spark_orders_equals_duckdb(inputs, source_adjustment):
    """Every table and the summary, with a model.

    With source adjustment each source's parameters are a MAP fit, which turns the last-bit
    differences of the two engines' sums (1e-16) into differences of the optimizer's
    tolerance; those runs agree to 1e-5 (ids and counts still exactly), except the
    factors of single spend parameters, which the data barely pin down (only their
    products, the rate and spend ratios, are compared).
    """
    orders, spark_orders, visits, costs = inputs
    settings = {
        "attribution": "first-touch",
        "period": "month",
        "margin": 0.4,
        "observation_end": OBS_END.date().isoformat(),
    }
    options = {
        "model": fixed_model(),
        "horizons": (1, 3, 6),
        "source_adjustment": source_adjustment,
        **settings,
    }
    expected, duck_warnings = quietly(payback_analysis, orders, visits, costs, **options)
    side, side_warnings = quietly(payback_orders_spark, spark_orders, visits, **settings)
    actual, analysis_warnings = quietly(payback_analysis, side, visits, costs, **options)
    rtol = 1e-5 if source_adjustment else 1e-9
    for name in ("cells", "by_age", "by_source", "by_cohort", "buyers"):
        assert_same_frame(getattr(actual, name), getattr(expected, name), rtol=rtol)
    assert actual.by_age.attrs == expected.by_age.attrs
    if source_adjustment:  # the factors of single parameters are weakly identified
        kept = ["source_id", "n_customers", "n_repeat_customers", "rate_ratio", "spend_ratio"]
        for summary in (actual.summary, expected.summary):
            scales = summary["model"]["source_scales"]
            summary["model"]["source_scales"] = [{k: row[k] for k in kept} for row in scales]
    assert_same_values(actual.summary, expected.summary, rtol=rtol)
    assert sorted(side_warnings + analysis_warnings) == sorted(duck_warnings)
    statuses = set(actual.cells["payback_status"])
    assert {"no buyers", "no costs"} <= statuses  # tv's cells; unknown buyers
    assert "radio" in actual.summary["cost_sources_without_visits"]


def test_payback_orders_with_other_settings_are_refused(inputs):
    _, spark_orders, visits, costs = inputs
    side, _ = quietly(payback_orders_spark, spark_orders, visits, period="week", margin=0.5)
    with pytest.raises(ValueError, match="period 'week', not 'month'"):
        payback_analysis(side, visits, costs, period="month", margin=0.5)
    with pytest.raises(ValueError, match="observation_end"):
        payback_analysis(
            side, visits, costs, period="week", margin=0.5, observation_end="2024-06-30"
        )


def test_observation_end_before_the_first_order_is_a_data_error(inputs):
    orders, spark_orders, visits, _ = inputs
    with pytest.raises(DataError) as duck:
        payback_orders(orders, visits, observation_end="2023-01-01")
    with pytest.raises(DataError) as spark_error:
        payback_orders_spark(spark_orders, visits, observation_end="2023-01-01")
    assert str(spark_error.value) == str(duck.value)


# ------------------------------------------------------------------ the command
def command_args(files: dict[str, Path], out: Path, *extra: str) -> list[str]:
    return [
        "--orders",
        str(files["orders_csv"]),
        "--visits",
        str(files["visits_csv"]),
        "--costs",
        str(files["costs_csv"]),
        "--margin",
        "0.3",
        "--observation-end",
        OBS_END.date().isoformat(),
        "--attribution",
        "last-touch",
        "--no-plots",
        "-o",
        str(out),
        *extra,
    ]


def test_cli_payback_with_spark_engine_writes_the_duckdb_files(spark, files, tmp_path):
    duck_out, spark_out = tmp_path / "duck" / "payback.parquet", tmp_path / "spark" / "pb.parquet"
    duck = CliRunner().invoke(payback, command_args(files, duck_out))
    assert duck.exit_code == 0, duck.output
    result = CliRunner().invoke(payback, command_args(files, spark_out, "--engine", "spark"))
    assert result.exit_code == 0, result.output
    assert result.stdout == duck.stdout.replace("duck/payback", "spark/pb")
    # the same warnings, but for the exact duplicate row: only the DuckDB engine counts
    # duplicates without --dedupe (on Spark it takes another shuffle)
    duplicates = "order rows are exact duplicates of another row"
    duck_lines = [line for line in duck.stderr.splitlines() if duplicates not in line]
    assert result.stderr.splitlines() == duck_lines
    for suffix in ("", "_by_age", "_by_source", "_by_cohort", "_buyers"):
        expected = pd.read_parquet(duck_out.with_name(f"payback{suffix}.parquet"))
        actual = pd.read_parquet(spark_out.with_name(f"pb{suffix}.parquet"))
        assert_same_frame(actual, expected)
    expected_summary = json.loads((duck_out.parent / "payback_summary.json").read_text())
    actual_summary = json.loads((spark_out.parent / "pb_summary.json").read_text())
    for summary in (expected_summary, actual_summary):
        del summary["orders"], summary["files"]
    assert_same_values(actual_summary, expected_summary)
    assert sorted(p.name for p in spark_out.parent.iterdir()) == [
        "pb.parquet",
        "pb_buyers.parquet",
        "pb_by_age.parquet",
        "pb_by_cohort.parquet",
        "pb_by_source.parquet",
        "pb_summary.json",
    ]


def test_cli_bad_orders_on_spark_exit_2_with_the_duckdb_message(spark, files, tmp_path):
    bad = tmp_path / "orders.csv"
    text = pd.read_csv(files["orders_csv"])
    text.loc[[3, 50, 70], "revenue"] = -1.0
    text.to_csv(bad, index=False)
    paths = {**files, "orders_csv": bad}
    errors = []
    for engine in ("duckdb", "spark"):
        out = tmp_path / engine / "payback.parquet"
        result = CliRunner().invoke(payback, command_args(paths, out, "--engine", engine))
        assert result.exit_code == 2, result.output
        assert "Traceback" not in result.output and result.stdout == ""
        assert not out.parent.exists() or not any(out.parent.iterdir())
        errors.append(result.stderr.splitlines()[-1])  # DuckDB warns of the duplicate first
    assert result.output.count("\n") == 1, result.output  # Spark: the error line alone
    assert errors[0] == errors[1]
    assert "column 'revenue': negative revenue (refunds) (3 rows" in errors[1]


def test_cli_payback_without_java_says_how_to_install_it(spark, files, tmp_path, monkeypatch):
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "no-jdk"))
    monkeypatch.delenv("PYSPARK_GATEWAY_PORT", raising=False)
    from pyspark.sql import SparkSession

    monkeypatch.setattr(SparkSession, "getActiveSession", staticmethod(lambda: None))
    out = tmp_path / "payback.parquet"
    result = CliRunner().invoke(payback, command_args(files, out, "--engine", "spark"))
    assert result.exit_code == 2, result.output
    assert "the Spark engine cannot start" in result.output
    assert "install Java 17" in result.output and "clvmodels[spark]" in result.output
    assert not out.exists()
