"""The Spark engine agrees with the DuckDB engine: RFM, cohorts, scores, errors, CLI.

Every test runs on one local[2] session (Java 17); `make test` runs them (marker `spark`).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path
from typing import Any

import click
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import (
    BGNBD_PUBLISHED,
    CALIBRATION_END,
    GAMMA_GAMMA_PUBLISHED,
    OBSERVATION_END,
    fixed_posterior,
    lifetimes_datasets,
)

from clvmodels.data.io import read_orders, write_table
from clvmodels.errors import ClvError, DataError, DataQualityWarning
from clvmodels.examples.simulate import simulate_orders
from clvmodels.model import CLVModel
from clvmodels.models.bgnbd import BetaGeoModel
from clvmodels.models.cnbd_models import ModifiedBetaGeoCNBDModel
from clvmodels.models.gamma_gamma import GammaGammaModel
from clvmodels.models.pareto_nbd import ParetoNBDModel
from clvmodels.summaries.cohorts import average_ltv_curve, cohort_table
from clvmodels.summaries.rfm import rfm_summary

pytestmark = [
    pytest.mark.spark,
    # pyspark 4.3 warns that it does not fully support pandas 3 and uses a deprecated keyword
    pytest.mark.filterwarnings("ignore::FutureWarning:pyspark.*"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning:pyspark.*"),
]
pytest.importorskip("pyspark", reason="the Spark engine needs pip install 'clvmodels[spark]'")

from clvmodels.cli.common import guarded, orders_options, pop_orders_options  # noqa: E402
from clvmodels.cli.spark import (  # noqa: E402
    engine_options,
    pop_engine_options,
    spark_cohort_table,
    spark_rfm,
    spark_scores,
)
from clvmodels.spark.cohorts import cohort_table_spark  # noqa: E402
from clvmodels.spark.orders import strftime_to_spark  # noqa: E402
from clvmodels.spark.read import read_orders_spark  # noqa: E402
from clvmodels.spark.rfm import rfm_summary_spark  # noqa: E402
from clvmodels.spark.score import score_spark  # noqa: E402
from clvmodels.spark.session import spark_session  # noqa: E402
from clvmodels.spark.write import write_spark_table  # noqa: E402

OBS_END = pd.Timestamp("2025-01-31")
CAL_END = pd.Timestamp("2024-10-31")
PARETO_PUBLISHED = {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669}
OPTS = {
    "table": None,
    "query": None,
    "customer_col": "customer_id",
    "date_col": "timestamp",
    "revenue_col": "revenue",
    "date_format": None,
    "encoding": "utf-8",
    "refunds": "error",
    "dedupe": False,
}


@pytest.fixture(scope="module")
def spark():
    session = spark_session("local[2]", "clvmodels-tests")
    yield session
    session.stop()


def awkward_orders() -> pd.DataFrame:
    """Simulated orders plus the cases that break aggregations.

    Same-day orders (and an exact duplicate row), single-order customers, orders at the first
    and last instant of the calibration and observation end days, a customer whose only
    order is on the observation end, one whose first order follows the calibration end, and
    orders after the observation end.
    """
    sim, _ = simulate_orders(
        400, seed=11, start="2024-01-01", acquisition_days=300, observation_days=396
    )
    sim = sim.loc[sim["timestamp"] < OBS_END].reset_index(drop=True)
    day = pd.Timedelta(days=1)
    last_instant = day - pd.Timedelta(microseconds=1)
    first_rows = sim.groupby("customer_id").head(1)
    same_day = first_rows.head(40).assign(
        timestamp=lambda f: f["timestamp"].dt.normalize() + pd.Timedelta(hours=23), revenue=3.25
    )
    extra = pd.DataFrame(
        {
            "customer_id": [9001, 9001, 9002, 9003, 9003, 9004, 9005, 9005, 9006, 9006],
            "timestamp": [
                CAL_END,  # first instant of the calibration end
                CAL_END + last_instant,  # same day: one occasion
                OBS_END + last_instant,  # only order: the last instant observed
                CAL_END + last_instant,
                OBS_END,
                CAL_END + day,  # first order in the holdout: not in a calibration RFM
                pd.Timestamp("2024-03-03 12:00"),
                OBS_END + day + pd.Timedelta(hours=1),  # after the observation end
                pd.Timestamp("2024-02-29 08:00"),  # a leap day
                pd.Timestamp("2024-02-29 08:00"),  # exact duplicate row
            ],
            "revenue": [10.0, 5.5, 7.0, 1.0, 2.0, 4.0, 8.0, 9.0, 6.0, 6.0],
        }
    )
    orders = pd.concat([sim, same_day, extra], ignore_index=True)
    return orders.sample(frac=1.0, random_state=3).reset_index(drop=True)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("spark-data")
    orders = awkward_orders()
    # pandas writes nanosecond timestamps: Spark reads them as integers (ns since 1970)
    orders.to_parquet(folder / "orders_ns.parquet", index=False)
    micros = orders.assign(timestamp=orders["timestamp"].astype("datetime64[us]"))
    micros.to_parquet(folder / "orders_us.parquet", index=False)
    strings = orders.assign(customer_id=" c" + orders["customer_id"].astype(str).str.zfill(5))
    strings.assign(timestamp=orders["timestamp"].dt.strftime("%Y-%m-%d %H:%M:%S.%f")).to_csv(
        folder / "orders_text.csv", index=False
    )
    raw = pd.read_csv(
        lifetimes_datasets() / "CDNOW_sample.txt",
        sep=r"\s+",
        header=None,
        names=["master_id", "customer_id", "date", "n_items", "revenue"],
    )
    raw.to_parquet(folder / "cdnow.parquet", index=False)  # dates as integers 19970101
    return folder


def read_both(spark, path: Path, **options: Any) -> tuple[pd.DataFrame, Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)
        return read_orders(path, **options), read_orders_spark(spark, str(path), **options)


def assert_same_table(expected: pd.DataFrame, actual: pd.DataFrame, key: list[str]) -> None:
    """Same rows and columns; ids and integers exactly, floats to 1e-9."""
    assert list(actual.columns) == list(expected.columns)
    expected = expected.sort_values(key, ignore_index=True)
    actual = actual.sort_values(key, ignore_index=True)
    assert len(actual) == len(expected)
    for column in expected.columns:
        want, got = expected[column], actual[column]
        if pd.api.types.is_float_dtype(want.dtype):
            np.testing.assert_allclose(got.to_numpy(float), want.to_numpy(float), rtol=1e-9)
        elif pd.api.types.is_datetime64_any_dtype(want.dtype):
            assert (pd.to_datetime(got).to_numpy() == want.to_numpy()).all(), column
        else:
            assert got.tolist() == want.tolist(), column


# ------------------------------------------------------------------------------ RFM
@pytest.mark.parametrize("time_unit", ["D", "W", "M"])
@pytest.mark.parametrize(
    "ends",
    [{}, {"calibration_end": CAL_END.date().isoformat()}],
    ids=["no-holdout", "holdout"],
)
def test_rfm_equals_duckdb(spark, data_dir, time_unit, ends):
    pandas_orders, spark_orders = read_both(spark, data_dir / "orders_ns.parquet")
    expected = rfm_summary(pandas_orders, time_unit=time_unit, **ends)
    actual = rfm_summary_spark(spark_orders, time_unit=time_unit, **ends).toPandas()
    assert_same_table(expected, actual, ["customer_id"])  # litt too (docs/definitions.md)
    assert (actual["litt"] != 0).sum() > 100
    assert actual["frequency"].dtype == "int64"
    if ends:
        assert 9004 not in set(actual["customer_id"])  # first order after calibration end


@pytest.mark.parametrize(
    ("file", "ends"),
    [
        ("orders_text.csv", {"observation_end": OBS_END.date().isoformat()}),
        (
            "orders_us.parquet",
            {"calibration_end": "2024-08-31", "observation_end": "2024-12-31"},
        ),
    ],
)
def test_rfm_equals_duckdb_for_text_ids_csv_and_microsecond_times(spark, data_dir, file, ends):
    pandas_orders, spark_orders = read_both(spark, data_dir / file)
    expected = rfm_summary(pandas_orders, time_unit="W", **ends)
    actual = rfm_summary_spark(spark_orders, time_unit="W", **ends).toPandas()
    assert_same_table(expected, actual, ["customer_id"])


def test_rfm_of_raw_cdnow_equals_duckdb(spark, data_dir, cdnow_rfm):
    _, spark_orders = read_both(spark, data_dir / "cdnow.parquet", date_col="date")
    actual = rfm_summary_spark(
        spark_orders,
        time_unit="W",
        calibration_end=CALIBRATION_END,
        observation_end=OBSERVATION_END,
    ).toPandas()
    assert_same_table(cdnow_rfm, actual, ["customer_id"])
    assert len(actual) == 2357


def test_refunds_dedupe_and_date_format_equal_duckdb(spark, tmp_path):
    path = tmp_path / "refunds.csv"
    path.write_text(
        "uid;buy_ts;amount\n".replace(";", ",")
        + "1,03.01.2024,10\n1,03.01.2024,-4\n1,05.02.2024,8\n1,05.02.2024,8\n"
        + "2,04.01.2024,5\n2,04.01.2024,-5\n2,09.03.2024,7\n3,10.03.2024,2.5\n"
    )
    options = {
        "customer_col": "uid",
        "date_col": "buy_ts",
        "revenue_col": "amount",
        "date_format": "%d.%m.%Y",
        "refunds": "net",
        "dedupe": True,
    }
    with warnings.catch_warnings(record=True) as duck_warnings:
        warnings.simplefilter("always")
        pandas_orders = read_orders(path, **options)
    with warnings.catch_warnings(record=True) as spark_warnings:
        warnings.simplefilter("always")
        spark_orders = read_orders_spark(spark, str(path), **options)
    messages = sorted(str(w.message) for w in duck_warnings if w.category is DataQualityWarning)
    assert messages == sorted(
        str(w.message) for w in spark_warnings if w.category is DataQualityWarning
    )
    assert len(messages) == 2
    expected = rfm_summary(pandas_orders, time_unit="D")
    actual = rfm_summary_spark(spark_orders, time_unit="D").toPandas()
    assert_same_table(expected, actual, ["customer_id"])


def test_strftime_translation():
    assert strftime_to_spark("%d.%m.%Y") == "dd'.'MM'.'yyyy"
    assert strftime_to_spark("%Y-%m-%dT%H:%M:%S") == "yyyy'-'MM'-'dd'T'HH':'mm':'ss"
    assert strftime_to_spark("%Y%m%d") == "yyyyMMdd"
    with pytest.raises(DataError, match="%Q"):
        strftime_to_spark("%Q")


# ------------------------------------------------------------------------------ bad input
@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ("c1,2024-01-01,5\nc2,2024-01-02,-3\nc3,2024-01-03,-1.5\n", "negative revenue"),
        ("c1,2024-01-01,5\n,2024-01-02,3\nc3,2024-01-03,1\n", "empty or missing customer"),
        ("c1,2024-01-01,5\nc2,not-a-date,3\nc3,2024-01-03,1\n", "dates that cannot be parsed"),
        ("c1,2024-01-01,5\nc2,2024-01-02,lots\nc3,2024-01-03,1\n", "not a number"),
    ],
)
def test_bad_input_messages_equal_duckdb(spark, tmp_path, body, problem):
    path = tmp_path / "bad.csv"
    path.write_text("customer_id,timestamp,revenue\n" + body)
    with pytest.raises(DataError) as duck:
        read_orders(path)
    with pytest.raises(DataError) as spark_error:
        read_orders_spark(spark, str(path))
    assert problem in str(duck.value)
    assert str(spark_error.value) == str(duck.value)


def test_missing_column_and_missing_file(spark, data_dir, tmp_path):
    with pytest.raises(DataError) as duck:
        read_orders(data_dir / "orders_ns.parquet", customer_col="uid")
    with pytest.raises(DataError) as spark_error:
        read_orders_spark(spark, str(data_dir / "orders_ns.parquet"), customer_col="uid")
    assert str(spark_error.value) == str(duck.value)
    with pytest.raises(DataError, match="file not found"):
        read_orders_spark(spark, str(tmp_path / "nothing.parquet"))


NO_JAVA_SCRIPT = textwrap.dedent(
    """
    from clvmodels.errors import ClvError
    from clvmodels.spark.session import spark_session
    try:
        spark_session()
    except ClvError as exc:
        print("ClvError:", exc)
    """
)


@pytest.mark.parametrize("java_home", ["missing", "unset", "broken"])
def test_a_session_without_java_says_how_to_install_it(tmp_path, java_home):
    env = {k: v for k, v in os.environ.items() if k not in {"JAVA_HOME", "PYSPARK_GATEWAY_PORT"}}
    env["PATH"] = str(Path(sys.executable).parent)  # no java on it
    if java_home == "missing":
        env["JAVA_HOME"] = str(tmp_path / "no-such-jdk")
    elif java_home == "broken":  # a java that cannot start a JVM
        fake = tmp_path / "jdk" / "bin" / "java"
        fake.parent.mkdir(parents=True)
        fake.write_text("#!/bin/sh\necho 'Error: could not create the Java VM' >&2\nexit 1\n")
        fake.chmod(0o755)
        env["JAVA_HOME"] = str(tmp_path / "jdk")
        env["PATH"] += ":/usr/bin:/bin"  # the launcher scripts need a shell's tools
    result = subprocess.run(
        [sys.executable, "-c", NO_JAVA_SCRIPT],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    out = result.stdout
    assert "ClvError: the Spark engine cannot start" in out, result.stderr[-2000:]
    assert "install Java 17 (e.g. apt-get install openjdk-17-jre-headless)" in out
    assert "pip install 'clvmodels[spark]'" in out


def test_clvmodels_imports_without_pyspark_and_says_how_to_install_it():
    script = textwrap.dedent(
        """
        import sys
        sys.modules["pyspark"] = None  # as if it were not installed
        import clvmodels, clvmodels.spark.jobs, clvmodels.spark.session, clvmodels.cli.spark
        from clvmodels.errors import ClvError
        try:
            clvmodels.spark.session.spark_session()
        except ClvError as exc:
            print("ClvError:", exc)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert "ClvError: the Spark engine needs pyspark" in result.stdout, result.stderr[-2000:]
    assert "pip install 'clvmodels[spark]'" in result.stdout


def test_clv_error_is_raised_in_process_when_java_home_is_wrong(monkeypatch, tmp_path):
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "nowhere"))
    monkeypatch.delenv("PYSPARK_GATEWAY_PORT", raising=False)
    from pyspark.sql import SparkSession

    monkeypatch.setattr(SparkSession, "getActiveSession", staticmethod(lambda: None))
    with pytest.raises(ClvError, match=r"JAVA_HOME is .*nowhere, which has no bin/java"):
        spark_session()


# ------------------------------------------------------------------------------ cohorts
@pytest.mark.parametrize("period", ["month", "week"])
def test_cohort_table_equals_duckdb(spark, data_dir, period):
    pandas_orders, spark_orders = read_both(spark, data_dir / "orders_ns.parquet")
    options = {"period": period, "margin": 0.3, "observation_end": OBS_END.date().isoformat()}
    expected = cohort_table(pandas_orders, **options)
    actual = cohort_table_spark(spark_orders, **options)
    pd.testing.assert_frame_equal(actual, expected, check_exact=False, rtol=1e-9)
    assert actual.attrs == expected.attrs
    pd.testing.assert_frame_equal(
        average_ltv_curve(actual), average_ltv_curve(expected), check_exact=False, rtol=1e-9
    )


def test_cohort_table_with_partial_last_period_and_text_ids(spark, data_dir):
    pandas_orders, spark_orders = read_both(spark, data_dir / "orders_text.csv")
    expected = cohort_table(pandas_orders, period="month", observation_end="2024-11-13")
    actual = cohort_table_spark(spark_orders, period="month", observation_end="2024-11-13")
    assert not actual.attrs["last_period_complete"]
    pd.testing.assert_frame_equal(actual, expected, check_exact=False, rtol=1e-9)


# ------------------------------------------------------------------------------ scoring
def fixed_model(transaction: str = "bgnbd", n_draws: int = 60) -> CLVModel:
    """A "fitted" model from fixed draws around the published CDNOW values, no sampling."""
    classes = {
        "bgnbd": (BetaGeoModel, BGNBD_PUBLISHED),
        "pareto": (ParetoNBDModel, PARETO_PUBLISHED),
        "mbgcnbd": (ModifiedBetaGeoCNBDModel, BGNBD_PUBLISHED),
    }
    cls, params = classes[transaction]
    posterior = fixed_posterior(params, n_draws=n_draws, seed=4)
    if transaction == "mbgcnbd":  # MBG/CNBD-k's Erlang shape: a constant of every draw
        posterior = posterior.assign(k=posterior["r"] * 0 + 2.0)
    return CLVModel.from_posteriors(
        cls.from_posterior(posterior, method="mcmc"),
        GammaGammaModel.from_posterior(
            fixed_posterior(GAMMA_GAMMA_PUBLISHED, n_draws=n_draws, seed=5), method="mcmc"
        ),
        time_unit="W",
        method="mcmc",
        data_info={"calibration_end": OBS_END.date().isoformat()},
    )


@pytest.mark.parametrize("transaction", ["bgnbd", "pareto", "mbgcnbd"])
def test_scores_equal_score_customers(spark, data_dir, transaction):
    pandas_orders, _ = read_both(spark, data_dir / "orders_ns.parquet")
    rfm = rfm_summary(pandas_orders, time_unit="W")
    model = fixed_model(transaction)
    settings = {"horizon": "6M", "annual_discount_rate": 0.12, "margin": 0.4, "n_draws": 45}
    expected = model.score(rfm, **settings)
    spark_rfm_table = spark.createDataFrame(rfm).repartition(3)  # several partitions
    actual = score_spark(spark_rfm_table, model, rows_per_batch=50, **settings).toPandas()
    assert_same_table(expected, actual, ["customer_id"])


def test_scores_of_a_map_fit_with_one_draw(spark, data_dir):
    pandas_orders, _ = read_both(spark, data_dir / "orders_us.parquet")
    rfm = rfm_summary(pandas_orders, time_unit="W")
    model = fixed_model(n_draws=1)
    expected = model.score(rfm, horizon="39W")
    actual = score_spark(spark.createDataFrame(rfm), model, horizon="39W").toPandas()
    assert_same_table(expected, actual, ["customer_id"])


# ------------------------------------------------------------------------------ CLI
@click.command()
@click.argument("orders", type=click.Path())
@orders_options
@engine_options
@click.option("--time-unit", default="W")
@click.option("--calibration-end")
@click.option("-o", "--output", required=True)
@guarded
def rfm_command(orders: str, time_unit: str, calibration_end: str | None, output: str, **kwargs):
    """The rfm command's --engine spark branch, as pipeline.py wires it."""
    engine, spark_master = pop_engine_options(kwargs)
    opts = pop_orders_options(kwargs)
    assert engine == "spark"
    summary, n_orders = spark_rfm(
        orders,
        opts,
        time_unit=time_unit,
        observation_end=None,
        calibration_end=calibration_end,
        master=spark_master,
    )
    write_table(summary, output)
    click.echo(f"RFM of {n_orders:,} orders: {len(summary):,} customers")


@pytest.mark.filterwarnings("ignore::clvmodels.errors.DataQualityWarning")
def test_cli_rfm_with_spark_engine_writes_the_duckdb_file(spark, data_dir, tmp_path):
    from clvmodels.cli import cli

    source = data_dir / "orders_text.csv"
    duck_out, spark_out = tmp_path / "duck.parquet", tmp_path / "spark.parquet"
    result = CliRunner().invoke(
        cli, ["rfm", str(source), "--calibration-end", "2024-09-30", "-o", str(duck_out)]
    )
    assert result.exit_code == 0, result.output
    args = [str(source), "--engine", "spark", "--calibration-end", "2024-09-30"]
    result = CliRunner().invoke(rfm_command, [*args, "-o", str(spark_out)])
    assert result.exit_code == 0, result.output
    assert "customers" in result.output
    expected, actual = pd.read_parquet(duck_out), pd.read_parquet(spark_out)
    assert actual["customer_id"].tolist() == expected["customer_id"].tolist()  # same order
    assert_same_table(expected, actual, ["customer_id"])
    assert not list(tmp_path.glob(".*.tmp")), "no temporary files left behind"


def test_cli_spark_errors_are_one_line_messages(spark, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("customer_id,timestamp,revenue\nc1,2024-01-01,-5\n")
    result = CliRunner().invoke(rfm_command, [str(bad), "--engine", "spark", "-o", "x.parquet"])
    assert result.exit_code == 2
    assert "negative revenue" in result.output
    result = CliRunner().invoke(
        rfm_command, [str(bad), "--engine", "spark", "--table", "t", "-o", "x.parquet"]
    )
    assert result.exit_code == 2
    assert "--table names a table in a DuckDB or SQLite file" in result.output


def test_spark_cohort_and_score_helpers_match_duckdb(spark, data_dir):
    source = data_dir / "orders_ns.parquet"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)
        pandas_orders = read_orders(source)
    table, n_orders = spark_cohort_table(
        str(source), OPTS, period="week", margin=1.0, observation_end=None
    )
    assert n_orders == len(pandas_orders)
    pd.testing.assert_frame_equal(
        table, cohort_table(pandas_orders, period="week"), check_exact=False, rtol=1e-9
    )
    model = fixed_model()
    settings = {"horizon": "12M", "annual_discount_rate": 0.1, "margin": 1.0, "n_draws": 30}
    end = "2024-12-31"
    scores = spark_scores(model, str(source), OPTS, observation_end=end, **settings)
    expected = model.score(
        rfm_summary(pandas_orders, time_unit="W", observation_end=end), **settings
    )
    assert scores["customer_id"].tolist() == expected["customer_id"].tolist()
    assert_same_table(expected, scores, ["customer_id"])
    assert scores.attrs["n_draws"] == 30
    assert scores.attrs["calibration_end"] == end


# ------------------------------------------------------------------------------ cluster job
def test_write_spark_table_replaces_the_folder_only_when_done(spark, tmp_path):
    target = str(tmp_path / "out")
    write_spark_table(spark.range(5), target)
    write_spark_table(spark.range(7), target)
    assert spark.read.parquet(target).count() == 7
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"], "no staging folders left"
    with pytest.raises(Exception, match="job fails on purpose"):
        write_spark_table(spark.range(3).selectExpr("raise_error('job fails on purpose')"), target)
    assert spark.read.parquet(target).count() == 7, "a failed job leaves the old output"


def test_spark_rfm_script_writes_the_duckdb_rfm(data_dir, tmp_path):
    script = Path(__file__).resolve().parents[2] / "scripts" / "spark_rfm.py"
    out = tmp_path / "rfm"
    ends = ["--calibration-end", "2024-09-30", "--observation-end", "2024-12-31"]
    args = ["--orders", str(data_dir / "orders_ns.parquet"), "--output", str(out), *ends]
    result = subprocess.run(
        [sys.executable, str(script), "--master", "local[1]", "--time-unit", "D", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "customers; time unit days (D)" in result.stdout
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)
        orders = read_orders(data_dir / "orders_ns.parquet")
    expected = rfm_summary(
        orders, time_unit="D", calibration_end="2024-09-30", observation_end="2024-12-31"
    )
    assert_same_table(expected, pd.read_parquet(out), ["customer_id"])
