"""The orders contract (docs/orders.md), table-driven, through every input kind.

One list of cases (raw column values -> the exact message, or the exact parsed values) runs
through a DataFrame, a CSV file, a Parquet file, a DuckDB file, a SQLite file and, marked
``spark``, the Spark reader. Text cases are written as text everywhere; typed cases
(floating-point ids, integer dates, native timestamps) skip CSV, where every value is text.
"""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import subprocess
import sys
import textwrap
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from clvmodels.cli import cli
from clvmodels.data.contract import OrdersSource
from clvmodels.data.io import fingerprint, read_orders
from clvmodels.errors import DataError, DataQualityWarning
from clvmodels.summaries.rfm import rfm_summary

KINDS = ("frame", "csv", "parquet", "duckdb", "sqlite")
TYPED = ("frame", "parquet", "duckdb", "sqlite")


@dataclass
class Case:
    """Raw columns, reader options, and the exact error message or parsed columns."""

    name: str
    columns: dict[str, list[Any]]
    options: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    expect: dict[str, list[Any]] | None = None
    kinds: tuple[str, ...] = KINDS


def ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(text)


def orders(customer: list[Any], when: list[Any], revenue: list[Any] | None = None) -> dict:
    columns = {"customer_id": customer, "timestamp": when}
    columns["revenue"] = revenue if revenue is not None else ["1.5"] * len(customer)
    return columns


DAYS = ["2024-01-01", "2024-01-02"]
CASES = [
    # ------------------------------------------------------------------ ids
    Case(
        "23-digit ids stay distinct text",
        orders(["12345678901234567890123", "12345678901234567890124"], DAYS),
        expect={"customer_id": ["12345678901234567890123", "12345678901234567890124"]},
    ),
    Case(
        "leading zeros keep every id text",
        orders(["007", "7"], DAYS),
        expect={"customer_id": ["007", "7"]},
    ),
    Case(
        "text ids above 2^53 stay exact integers",
        orders(["9007199254740993", " 9007199254740992 "], DAYS),
        expect={"customer_id": [9007199254740993, 9007199254740992]},
    ),
    Case(
        "canonical integer ids are integers",
        orders(["1", "22"], DAYS),
        expect={"customer_id": [1, 22]},
    ),
    Case(
        "text ids are stripped",
        orders([" ab ", "cd"], DAYS),
        expect={"customer_id": ["ab", "cd"]},
    ),
    Case(
        "empty and 'null' ids",
        orders(["1", " ", "null"], ["2024-01-01"] * 3),
        error="column 'customer_id': empty or missing customer ids (2 rows, e.g. row 2, row 3)",
    ),
    Case(
        "DOUBLE ids above 2^53 are an error",
        orders([2.0**53 + 2, 1.0], DAYS),
        error="column 'customer_id': customer ids in a floating-point column that are not "
        "whole numbers of at most 2^53 (they cannot be kept exactly) (1 row, e.g. "
        "9007199254740994.0). Store the ids as text or integers (a float holds integers "
        "exactly only up to 2^53)",
        kinds=TYPED,
    ),
    Case(
        "integral DOUBLE ids become integers",
        orders([3.0, 2.0**53], DAYS),
        expect={"customer_id": [3, 2**53]},
        kinds=TYPED,
    ),
    Case(
        "spreadsheet scientific-notation ids are an error",
        orders(["1.23E+20", "A7"], DAYS),
        error="column 'customer_id': customer ids written in scientific notation (a spreadsheet "
        "rounded them, so different customers may look alike) (1 row, e.g. '1.23E+20'). Export "
        "the ids as text (in Excel: format the column as Text before saving)",
    ),
    Case(
        "one column for two options",
        orders(["1", "2"], DAYS),
        options={"revenue_col": "timestamp"},
        error="--date-col (date_col) and --revenue-col (revenue_col) both name the column "
        "'timestamp'. The customer, date and revenue must be three different columns",
    ),
    # ------------------------------------------------------------------ dates: formats
    Case(
        "a date format is applied (month first)",
        orders(["1", "2"], ["01/02/2024", "12/31/2024"]),
        {"date_format": "%m/%d/%Y"},
        expect={"timestamp": [ts("2024-01-02"), ts("2024-12-31")]},
    ),
    Case(
        "a date format is applied (day first)",
        orders(["1", "2"], ["01/02/2024", "31/12/2024"]),
        {"date_format": "%d/%m/%Y"},
        expect={"timestamp": [ts("2024-02-01"), ts("2024-12-31")]},
    ),
    Case(
        "a date format is applied to YYYYMMDD integers",
        orders(["1", "2"], [20240102, 19991231]),
        {"date_format": "%Y%m%d"},
        expect={"timestamp": [ts("2024-01-02"), ts("1999-12-31")]},
        kinds=TYPED,
    ),
    Case(
        "an invalid date format",
        orders(["1"], ["2024-01-01"]),
        {"date_format": "%Q-%m"},
        error="column 'timestamp': the date format '%Q-%m' is not a valid strftime format "
        "(Unrecognized format for strftime/strptime: %Q). Use strftime codes such as "
        "%Y-%m-%d, %d/%m/%Y or %Y%m%d in --date-format",
    ),
    Case(
        "dates that do not match the format",
        orders(["1", "2", "3"], ["01/02/2024", "2024-01-03", "13/13/2024"]),
        {"date_format": "%d/%m/%Y"},
        error="column 'timestamp': dates that do not match the date format '%d/%m/%Y' "
        "(2 rows, e.g. '2024-01-03', '13/13/2024'). Check --date-format (date_format) "
        "against the examples",
    ),
    # ------------------------------------------------------------------ dates: no format
    Case(
        "ISO dates and times, 'T' or ' ', fractions",
        orders(["1", "2", "3"], ["2024-01-01", "2024-01-02T10:15", "2024-01-03 10:15:30.123456"]),
        expect={
            "timestamp": [
                ts("2024-01-01"),
                ts("2024-01-02 10:15"),
                ts("2024-01-03 10:15:30.123456"),
            ]
        },
    ),
    Case(
        "YYYYMMDD text and integers",
        orders(["1", "2"], ["20240101", "19970305"]),
        expect={"timestamp": [ts("2024-01-01"), ts("1997-03-05")]},
    ),
    Case(
        "YYYYMMDD integers",
        orders(["1", "2"], [20240101, 19970305]),
        expect={"timestamp": [ts("2024-01-01"), ts("1997-03-05")]},
        kinds=TYPED,
    ),
    Case(
        "unparsable dates",
        orders(["1", "2", "3"], ["2024-01-01", "yesterday", "31/31/2024"]),
        error="column 'timestamp': dates that cannot be parsed (2 rows, e.g. 'yesterday', "
        "'31/31/2024'). Pass --date-format (such as %Y-%m-%d or %d.%m.%Y) if the format is "
        "unusual",
    ),
    Case(
        "day/month dates without a format (the day comes first)",
        orders(["1", "2"], ["13/01/2024", "01/02/2024"]),
        error="column 'timestamp': day/month dates are ambiguous without a date format "
        "(2 rows, e.g. '13/01/2024', '01/02/2024'). Pass --date-format (date_format) "
        "'%d/%m/%Y': values above 12 come first, so the day does",
    ),
    Case(
        "month/day dates with a time (as the UCI Online Retail log writes them)",
        orders(["1", "2"], ["12/1/2010 8:26", "12/13/2010 17:05"]),
        error="column 'timestamp': day/month dates are ambiguous without a date format "
        "(2 rows, e.g. '12/1/2010 8:26', '12/13/2010 17:05'). Pass --date-format (date_format) "
        "'%m/%d/%Y %H:%M': values above 12 come second, so the day does",
    ),
    Case(
        "day.month dates without a format (not proven)",
        orders(["1"], ["01.02.2024"]),
        error="column 'timestamp': day/month dates are ambiguous without a date format "
        "(1 row, e.g. '01.02.2024'). Pass --date-format (date_format) '%d.%m.%Y' (day first) "
        "or '%m.%d.%Y' (month first)",
    ),
    Case(
        "missing dates",
        orders(["1", "2"], ["2024-01-01", ""]),
        error="column 'timestamp': missing dates (1 row, e.g. row 2)",
    ),
    # ------------------------------------------------------------------ dates: units
    Case(
        "epoch seconds without a unit",
        orders(["1", "2"], ["1704067200", "1704153600"]),
        error="column 'timestamp': numbers are not dates without a date unit (2 rows, e.g. "
        "'1704067200', '1704153600'). Pass --date-unit s, ms or us (seconds, milliseconds, "
        "microseconds since 1970-01-01 UTC) or excel (days since 1899-12-30), or "
        "--date-format %Y%m%d",
    ),
    Case(
        "epoch seconds",
        orders(["1", "2"], ["1704067200", "1704153600.5"]),
        {"date_unit": "s"},
        expect={"timestamp": [ts("2024-01-01"), ts("2024-01-02 00:00:00.5")]},
    ),
    Case(
        "epoch milliseconds",
        orders(["1"], ["1704067200123"]),
        {"date_unit": "ms"},
        expect={"timestamp": [ts("2024-01-01 00:00:00.123")]},
    ),
    Case(
        "epoch milliseconds (integers)",
        orders(["1"], [1704067200123]),
        {"date_unit": "ms"},
        expect={"timestamp": [ts("2024-01-01 00:00:00.123")]},
        kinds=TYPED,
    ),
    Case(
        "epoch seconds (integers) without a unit",
        orders(["1"], [1704067200]),
        error="column 'timestamp': numbers are not dates without a date unit (1 row, e.g. "
        "1704067200). Pass --date-unit s, ms or us (seconds, milliseconds, microseconds "
        "since 1970-01-01 UTC) or excel (days since 1899-12-30), or --date-format %Y%m%d",
        kinds=TYPED,
    ),
    Case(
        "spreadsheet serials",
        orders(["1", "2"], ["45292", "45292.75"]),
        {"date_unit": "excel"},
        expect={"timestamp": [ts("2024-01-01"), ts("2024-01-01 18:00")]},
    ),
    Case(
        "spreadsheet serials without a unit",
        orders(["1"], ["45292"]),
        error="column 'timestamp': numbers are not dates without a date unit (1 row, e.g. "
        "'45292'). Pass --date-unit s, ms or us (seconds, milliseconds, microseconds since "
        "1970-01-01 UTC) or excel (days since 1899-12-30), or --date-format %Y%m%d",
    ),
    # ------------------------------------------------------------------ dates: zones, range
    Case(
        "offsets are converted to UTC",
        orders(
            ["1", "2", "3"],
            ["2024-01-01T23:30:00+02:00", "2024-01-01 10:00Z", "2024-06-01T00:00-0530"],
        ),
        expect={
            "timestamp": [ts("2024-01-01 21:30"), ts("2024-01-01 10:00"), ts("2024-06-01 05:30")]
        },
    ),
    Case(
        "offsets are converted to the stated zone",
        orders(["1", "2"], ["2024-01-01T23:30:00+02:00", "2024-07-01T00:00:00Z"]),
        {"time_zone": "Asia/Tokyo"},
        expect={"timestamp": [ts("2024-01-02 06:30"), ts("2024-07-01 09:00")]},
    ),
    Case(
        "an unknown time zone",
        orders(["1"], ["2024-01-01"]),
        {"time_zone": "Mars/Olympus"},
        error="--time-zone (time_zone) 'Mars/Olympus' is not an IANA time zone name. Use "
        "names such as UTC, Europe/Berlin or America/New_York",
    ),
    Case(
        "offsets mixed with local times",
        orders(["1", "2", "3"], ["2024-01-01T10:00+01:00", "2024-01-02 10:00", "2024-01-03"]),
        error="column 'timestamp': dates that mix UTC offsets and local times (2 rows without "
        "an offset) (1 row, e.g. '2024-01-01T10:00+01:00'). Give every value an offset, or "
        "none (local times are kept as written)",
    ),
    Case(
        "'never' sentinels and dates before 1900",
        orders(["1", "2", "3"], ["2024-01-01", "9999-12-31", "1600-01-01"]),
        error="column 'timestamp': dates before 1900-01-01 or after 2200-12-31 (2 rows, e.g. "
        "'9999-12-31', '1600-01-01'). Drop or replace such values ('never' sentinels such as "
        "9999-12-31 included) before reading the orders",
    ),
    Case(
        "epoch milliseconds far in the future",
        orders(["1"], ["32503680000000"]),
        {"date_unit": "ms"},
        error="column 'timestamp': dates before 1900-01-01 or after 2200-12-31 (1 row, e.g. "
        "'32503680000000'). Drop or replace such values ('never' sentinels such as "
        "9999-12-31 included) before reading the orders",
    ),
    # ------------------------------------------------------------------ revenue
    Case(
        "text revenue",
        orders(["1", "2"], DAYS, ["5", "abc"]),
        error="column 'revenue': revenue that is not a number (1 row, e.g. 'abc')",
    ),
    Case(
        "decimal-comma revenue",
        orders(["1", "2"], DAYS, ["5", "12,50"]),
        error="column 'revenue': revenue written with a decimal comma, which clvmodels does not "
        "guess (1 row, e.g. '12,50'). Write revenue with a decimal point (12.50), e.g. save the "
        "CSV with a point as decimal separator",
    ),
    Case(
        "missing and infinite revenue",
        orders(["1", "2", "3"], ["2024-01-01"] * 3, ["5", "", "inf"]),
        error="column 'revenue': missing (NaN) or infinite revenue (2 rows, e.g. row 2, row 3). "
        "Fill or drop those rows; clvmodels does not count missing revenue as 0",
    ),
    Case(
        "negative revenue",
        orders(["1", "1", "2"], ["2024-01-01"] * 3, ["5", "-2", "-1"]),
        error="column 'revenue': negative revenue (refunds) (2 rows, e.g. -2.0, -1.0). Pass "
        "--refunds net (refunds='net') to net refunds within the purchase day",
    ),
    Case(
        "refunds netted within the day",
        orders(
            ["1", "1", "2", "2"],
            ["2024-01-01 09:00", "2024-01-01 18:00", "2024-01-02", "2024-01-02"],
            ["5", "-2", "3", "-3"],
        ),
        {"refunds": "net"},
        expect={"customer_id": [1], "timestamp": [ts("2024-01-01 09:00")], "revenue": [3.0]},
    ),
    Case(
        "plain-number revenue text",
        orders(["1", "2"], DAYS, [" 12.50 ", "1e2"]),
        expect={"revenue": [12.5, 100.0]},
    ),
    Case(
        "a missing revenue column names --no-revenue",
        {"customer_id": ["1"], "timestamp": ["2024-01-01"], "amount": ["1"]},
        error="the orders table has no column 'revenue'. Its columns are: customer_id, "
        "timestamp, amount. Name yours with --revenue-col (or pass --no-revenue, "
        "revenue_col=None, for a log without revenue)",
    ),
    Case(
        "no revenue",
        {"customer_id": ["1", "2"], "timestamp": DAYS},
        {"revenue_col": None},
        expect={"customer_id": [1, 2], "timestamp": [ts(d) for d in DAYS]},
    ),
    Case(
        "a value per order",
        {"customer_id": ["1", "2"], "timestamp": DAYS},
        {"revenue_col": None, "value_per_order": 25.0},
        expect={"revenue": [25.0, 25.0]},
    ),
]


def write_source(kind: str, frame: pd.DataFrame, folder: Path) -> Any:
    """``frame`` as the input kind ``kind`` (text columns stay text; numbers stay numbers)."""
    if kind == "frame":
        return frame
    path = (
        folder
        / {"csv": "o.csv", "parquet": "o.parquet", "duckdb": "o.duckdb", "sqlite": "o.sqlite"}[kind]
    )
    if kind == "csv":
        frame.to_csv(path, index=False)
    elif kind == "parquet":
        frame.to_parquet(path, index=False)
    elif kind == "duckdb":
        with duckdb.connect(str(path)) as con:
            con.register("frame", frame)
            con.execute("CREATE TABLE orders AS SELECT * FROM frame")
    else:
        with sqlite3.connect(path) as con:
            frame.to_sql("orders", con, index=False)
    return path


def raw_frame(case: Case) -> pd.DataFrame:
    return pd.DataFrame({k: pd.Series(v, dtype=_dtype(v)) for k, v in case.columns.items()})


def _dtype(values: list[Any]) -> Any:
    if all(isinstance(v, str) for v in values):
        return object
    return None


PARAMS = [
    pytest.param(case, kind, id=f"{kind}-{case.name}")
    for case in CASES
    for kind in KINDS
    if kind in case.kinds
]


@pytest.mark.parametrize(("case", "kind"), PARAMS)
def test_contract(case: Case, kind: str, tmp_path: Path) -> None:
    source = write_source(kind, raw_frame(case), tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)
        if case.error is not None:
            with pytest.raises(DataError) as caught:
                read_orders(source, **case.options)
            assert str(caught.value) == case.error
            return
        result = read_orders(source, **case.options)
    assert case.expect is not None
    for column, values in case.expect.items():
        assert result[column].tolist() == values, column
    if case.options.get("revenue_col", "revenue") is None and "value_per_order" not in case.options:
        assert list(result.columns) == ["customer_id", "timestamp"]


@pytest.mark.spark
@pytest.mark.parametrize(
    "case", [c for c in CASES if "csv" in c.kinds or "parquet" in c.kinds], ids=lambda c: c.name
)
def test_contract_on_spark(case: Case, tmp_path: Path, spark_session_fixture: Any) -> None:
    from clvmodels.spark.read import read_orders_spark

    frame = raw_frame(case)
    kind = "csv" if "csv" in case.kinds else "parquet"
    source = write_source(kind, frame, tmp_path)
    options = {k: v for k, v in case.options.items()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)
        try:
            result = read_orders_spark(spark_session_fixture, str(source), **options)
            rows = result.toPandas()
        except DataError as exc:
            if case.error is None and "Spark cannot" in str(exc):
                pytest.skip(str(exc))
            assert case.error is not None, str(exc)
            assert str(exc) == case.error or "Spark cannot" in str(exc)
            return
    assert case.error is None, f"Spark accepted what DuckDB refuses: {case.error}"
    assert case.expect is not None
    for column, values in case.expect.items():
        got = rows[column].tolist()
        if column == "timestamp":
            got = [pd.Timestamp(v) for v in got]
        assert got == values, column


@pytest.fixture(scope="module")
def spark_session_fixture() -> Any:
    from clvmodels.spark.session import spark_session

    session = spark_session("local[1]", "clvmodels-contract-tests")
    yield session
    session.stop()


# ---------------------------------------------------------------------- beyond single values
def test_native_timestamps_and_dates_with_a_format_are_checked(tmp_path: Path) -> None:
    """A typed column gets the format too: its text must match (never silently ignored)."""
    frame = pd.DataFrame(
        {"customer_id": [1, 2], "timestamp": pd.to_datetime(DAYS), "revenue": [1.0, 2.0]}
    )
    ok = read_orders(frame)
    assert ok["timestamp"].tolist() == [ts(d) for d in DAYS]
    with pytest.raises(DataError, match=r"dates that do not match the date format '%m/%d/%Y'"):
        read_orders(frame, date_format="%m/%d/%Y")


def test_tz_aware_column_goes_to_the_stated_zone() -> None:
    frame = pd.DataFrame(
        {
            "customer_id": [1],
            "timestamp": pd.to_datetime(["2024-01-01 23:30"]).tz_localize("Europe/Berlin"),
            "revenue": [1.0],
        }
    )
    assert read_orders(frame)["timestamp"].tolist() == [ts("2024-01-01 22:30")]
    tokyo = read_orders(frame, time_zone="Asia/Tokyo")
    assert tokyo["timestamp"].tolist() == [ts("2024-01-02 07:30")]


@pytest.mark.parametrize("machine_zone", ["America/New_York", "Asia/Tokyo"])
def test_results_do_not_depend_on_the_machine_time_zone(machine_zone: str, tmp_path: Path) -> None:
    csv = tmp_path / "o.csv"
    csv.write_text(
        "customer_id,timestamp,revenue\n1,2024-01-01T23:30:00+02:00,1\n1,2024-01-03 23:30:00,2\n"
    )
    berlin = pd.DataFrame(
        {
            "customer_id": [2],
            "timestamp": pd.to_datetime(["2024-01-01 23:30"]).tz_localize("Europe/Berlin"),
            "revenue": [1.0],
        }
    )
    berlin.to_parquet(tmp_path / "tz.parquet")
    script = textwrap.dedent(
        f"""
        import warnings
        from clvmodels.data.io import read_orders
        warnings.simplefilter("ignore")
        print(read_orders({str(tmp_path / "tz.parquet")!r})["timestamp"].tolist())
        try:
            read_orders({str(csv)!r})
        except Exception as exc:
            print(exc)
        """
    )
    env = {**os.environ, "TZ": machine_zone}
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert out[0] == "[Timestamp('2024-01-01 22:30:00')]"
    assert out[1].startswith("column 'timestamp': dates that mix UTC offsets and local times")


def test_same_day_revenue_that_overflows_is_an_error() -> None:
    frame = pd.DataFrame(
        {
            "customer_id": [7, 7, 8],
            "timestamp": pd.to_datetime(
                ["2024-01-01 09:00", "2024-01-01 10:00", "2024-01-02 00:00"]
            ),
            "revenue": [1.5e308, 1.5e308, 1.0],
        }
    )
    with pytest.raises(DataError) as caught:
        rfm_summary(frame)
    assert str(caught.value) == (
        "column 'revenue': revenue that overflows to infinity when summed (1 row, e.g. "
        "customer 7). Check the revenue unit: sums of these customers' revenue exceed the "
        "largest floating-point number"
    )


@pytest.mark.parametrize("kind", ["duckdb", "sqlite"])
@pytest.mark.parametrize(
    ("query", "problem"),
    [
        ("DELETE FROM orders", "it starts with DELETE"),
        ("SELECT 1; DROP TABLE orders", "it has 2 statements"),
        ("WITH x AS (SELECT 1) DELETE FROM orders", "it is a DELETE statement"),
    ],
)
def test_query_must_be_one_select(kind: str, query: str, problem: str, tmp_path: Path) -> None:
    frame = raw_frame(CASES[3])
    source = write_source(kind, frame, tmp_path)
    with pytest.raises(DataError) as caught:
        read_orders(source, query=query)
    assert str(caught.value) == (
        f"--query (query) must be a single read-only SELECT statement: {problem}. For example "
        '--query "SELECT * FROM orders WHERE revenue >= 0"'
    )
    assert len(read_orders(source, query="SELECT * FROM orders WHERE customer_id <> ''")) == 2
    result = CliRunner().invoke(
        cli, ["rfm", str(source), "--query", query, "-o", str(tmp_path / "r.csv")]
    )
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert problem in result.output


def test_non_utf8_csv_through_pyarrow_keeps_ids_as_text(tmp_path: Path) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes(
        "kunde;datum;umsatz\n007;01.02.2024;5\nJürgen;03.02.2024;2,5\n".encode("latin-1")
    )
    with pytest.raises(
        DataError,
        match=r"column 'umsatz': revenue written with a decimal comma, which clvmodels does not "
        r"guess \(1 row, e.g. '2,5'\)",
    ):
        read_orders(
            path,
            encoding="latin-1",
            customer_col="kunde",
            date_col="datum",
            revenue_col="umsatz",
            date_format="%d.%m.%Y",
        )
    path.write_bytes(
        "kunde;datum;umsatz\n007;01.02.2024;5\nJürgen;03.02.2024;2.5\n".encode("latin-1")
    )
    result = read_orders(
        path,
        encoding="latin-1",
        customer_col="kunde",
        date_col="datum",
        revenue_col="umsatz",
        date_format="%d.%m.%Y",
    )
    assert result["customer_id"].tolist() == ["007", "Jürgen"]
    assert result["timestamp"].tolist() == [ts("2024-02-01"), ts("2024-02-03")]
    assert result["revenue"].tolist() == [5.0, 2.5]


def test_fingerprint_ignores_row_order_and_input_kind(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "customer_id": [1, 2, 2, 3],
            "timestamp": pd.to_datetime(
                ["2024-01-01", "2024-01-02 10:00", "2024-01-05", "2024-02-01"], format="ISO8601"
            ),
            "revenue": [1.0, 2.5, 2.5, 4.0],
        }
    )
    prints = set()
    for kind in KINDS:
        shuffled = frame.sample(frac=1.0, random_state=len(kind)).reset_index(drop=True)
        source = write_source(kind, shuffled, tmp_path / kind) if kind != "frame" else shuffled
        prints.add(fingerprint(source, up_to="2024-01-31"))
    assert len(prints) == 1
    assert fingerprint(frame, up_to="2024-01-31") != fingerprint(frame)
    assert fingerprint(frame.iloc[:3]) != fingerprint(pd.concat([frame.iloc[:3], frame.iloc[:1]]))


def test_fingerprint_is_of_the_orders_up_to_the_observation_end(tmp_path: Path) -> None:
    """Files that differ only after the observation end share a fingerprint, and the fit
    records it; files that differ on or before it do not."""
    header = "customer_id,timestamp,revenue\n1,2024-01-01,10\n1,2024-01-20,5\n2,2024-01-31,7\n"
    files = {
        "base": header + "1,2024-02-10,3\n",
        "after": header + "3,2024-02-01,8\n2,2024-03-01,9\n",
        "before": header + "3,2024-01-31,8\n",
        "changed": header.replace("1,2024-01-20,5", "1,2024-01-20,6"),
    }
    paths = {}
    for name, text in files.items():
        paths[name] = tmp_path / f"{name}.csv"
        paths[name].write_text(text)
    prints = {name: fingerprint(path, up_to="2024-01-31") for name, path in paths.items()}
    assert prints["base"] == prints["after"]
    assert prints["before"] != prints["base"]
    assert prints["changed"] != prints["base"]
    assert fingerprint(paths["base"]) != fingerprint(paths["after"])  # all orders differ

    # the RFM table a fit records counts and fingerprints the same orders
    summaries = {
        name: rfm_summary(str(paths[name]), observation_end="2024-01-31", with_fingerprint=True)
        for name in ("base", "after")
    }
    assert {s.attrs["fingerprint"] for s in summaries.values()} == {prints["base"]}
    assert [s.attrs["n_orders_used"] for s in summaries.values()] == [3, 3]


@pytest.fixture(autouse=True)
def _folders(tmp_path: Path) -> None:
    for kind in KINDS:
        (tmp_path / kind).mkdir()


def test_no_revenue_and_value_per_order_in_rfm(tmp_path: Path) -> None:
    csv = tmp_path / "visits.csv"
    csv.write_text("customer_id,timestamp\n1,2024-01-01\n1,2024-01-08\n2,2024-01-03\n")
    with pytest.raises(DataError, match="--no-revenue"):
        rfm_summary(csv)
    plain = rfm_summary(OrdersSource(csv, revenue_col=None), time_unit="D")
    assert "monetary_value" not in plain.columns and plain.attrs["revenue"] == "none"
    assert plain["frequency"].tolist() == [1, 0] and plain["recency"].tolist() == [7.0, 0.0]
    holdout = rfm_summary(
        OrdersSource(csv, revenue_col=None), time_unit="D", calibration_end="2024-01-05"
    )
    assert "monetary_value_holdout" not in holdout.columns
    assert holdout["frequency_holdout"].tolist() == [1, 0]
    valued = rfm_summary(OrdersSource(csv, revenue_col=None, value_per_order=25.0), time_unit="D")
    assert valued.attrs["revenue"] == "value_per_order" and valued.attrs["value_per_order"] == 25.0
    assert valued["monetary_value"].tolist() == [25.0, 0.0]
    out = tmp_path / "rfm.csv"
    result = CliRunner().invoke(cli, ["rfm", str(csv), "--no-revenue", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert list(pd.read_csv(out).columns) == ["customer_id", "frequency", "recency", "T", "litt"]
    result = CliRunner().invoke(
        cli, ["rfm", str(csv), "--no-revenue", "--value-per-order", "25", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert pd.read_csv(out)["monetary_value"].tolist() == [25.0, 0.0]
    for bad, message in (
        (["--value-per-order", "25"], "--value-per-order goes with --no-revenue"),
        (["--no-revenue", "--value-per-order", "nan"], "must be within (0, 1e+12]; got nan"),
        (["--no-revenue", "--value-per-order", "-1"], "must be within (0, 1e+12]; got -1.0"),
    ):
        result = CliRunner().invoke(cli, ["rfm", str(csv), *bad, "-o", str(out)])
        assert result.exit_code == 2 and message in result.output, result.output


def test_cli_date_options(tmp_path: Path) -> None:
    csv = tmp_path / "o.csv"
    csv.write_text("customer_id,timestamp,revenue\n1,01/02/2024,5\n1,01/09/2024,5\n")
    out = tmp_path / "r.csv"
    refused = CliRunner().invoke(cli, ["rfm", str(csv), "-o", str(out)])
    assert refused.exit_code == 2 and "day/month dates are ambiguous" in refused.output
    month_first = CliRunner().invoke(
        cli, ["rfm", str(csv), "--date-format", "%m/%d/%Y", "--time-unit", "D", "-o", str(out)]
    )
    assert month_first.exit_code == 0, month_first.output
    assert "first order 2024-01-02" in month_first.output
    assert pd.read_csv(out)["recency"].tolist() == [7.0]
    epoch = tmp_path / "e.csv"
    epoch.write_text("customer_id,timestamp,revenue\n1,1704067200000,5\n")
    refused = CliRunner().invoke(cli, ["rfm", str(epoch), "-o", str(out)])
    assert refused.exit_code == 2 and "--date-unit" in refused.output
    ok = CliRunner().invoke(cli, ["rfm", str(epoch), "--date-unit", "ms", "-o", str(out)])
    assert ok.exit_code == 0 and "first order 2024-01-01" in ok.output


def test_duplicates_counted_in_sql_and_dropped(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "customer_id": ["1", "1", "1", "2"],
            "timestamp": ["2024-01-01", "2024-01-01", "2024-01-01", "2024-01-02"],
            "revenue": ["5", "5", "5", "1"],
        }
    )
    with pytest.warns(DataQualityWarning) as record:
        kept = read_orders(frame)
    assert [str(w.message) for w in record] == [
        "2 order rows are exact duplicates of another row (same customer, time and revenue, "
        "if any); they are kept. Pass --dedupe (dedupe=True) to drop them"
    ]
    assert len(kept) == 4
    with pytest.warns(DataQualityWarning, match="dropped 2 exact duplicate order rows"):
        deduped = read_orders(frame, dedupe=True)
    assert sorted(deduped["customer_id"].tolist()) == [1, 2]


def test_numpy_ids_never_go_through_float() -> None:
    big = np.array([2**62 + 1, 2**62 + 3], dtype=np.int64)
    frame = pd.DataFrame(
        {"customer_id": big, "timestamp": pd.to_datetime(DAYS), "revenue": [1.0, 2.0]}
    )
    assert read_orders(frame)["customer_id"].tolist() == [2**62 + 1, 2**62 + 3]
    assert dt.date(2024, 1, 1) == read_orders(frame)["timestamp"].iloc[0].date()
