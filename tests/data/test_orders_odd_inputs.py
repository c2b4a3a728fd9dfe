"""Odd inputs as users bring them: each works correctly or fails with one clear message.

The expected RFM values are written out by hand from the three orders of ``_ROWS``
(customer 1 on 2024-01-05 and 2024-03-01, customer 2 on 2024-02-07).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from clvmodels.cli import cli
from clvmodels.data.contract import OrdersSource
from clvmodels.errors import DataError
from clvmodels.summaries.rfm import rfm_summary

_ROWS = [("1", "2024-01-05", "10"), ("2", "2024-02-07", "5"), ("1", "2024-03-01", "3")]
_HEADER = ("customer_id", "timestamp", "revenue")


def _csv(
    path: Path,
    rows: list[tuple[str, ...]] = _ROWS,
    *,
    sep: str = ",",
    end: str = "\n",
    header: tuple[str, ...] = _HEADER,
    prefix: bytes = b"",
) -> Path:
    text = end.join(sep.join(r) for r in [header, *rows]) + end
    path.write_bytes(prefix + text.encode())
    return path


def _clv(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["rfm", *args])
    return result.exit_code, result.output


def _error(*args: str) -> str:
    code, output = _clv(*args)
    assert code == 2, output
    lines = [line for line in output.splitlines() if line.startswith("Error: ")]
    assert len(lines) == 1, output
    return lines[0]


def _check_rfm(path: Path, customers: list[str] | list[int]) -> None:
    rfm = pd.read_csv(path)
    assert rfm["customer_id"].tolist() == customers
    assert rfm["frequency"].tolist() == [1, 0]
    assert rfm["recency"].tolist() == [8.0, 0.0]  # 56 days in weeks
    assert rfm["T"].tolist() == pytest.approx([8.0, 23 / 7])  # 2024-02-07 .. 2024-03-01
    assert rfm["monetary_value"].tolist() == [3.0, 0.0]


# ------------------------------------------------------------------ --date-format
@pytest.mark.parametrize("fmt", ["%Y", "%Y-%m", "%d", "%Y-%m-%d %H"])
def test_date_format_that_matches_a_prefix_or_too_much_is_an_error(
    tmp_path: Path, fmt: str
) -> None:
    path = _csv(tmp_path / "orders.csv")
    assert _error(str(path), "--date-format", fmt, "-o", str(tmp_path / "r.csv")) == (
        f"Error: column 'timestamp': dates that do not match the date format {fmt!r} "
        "(3 rows, e.g. '2024-01-05', '2024-02-07', '2024-03-01'). "
        "Check --date-format (date_format) against the examples"
    )


def test_date_format_is_applied_to_typed_columns(tmp_path: Path) -> None:
    """A Parquet TIMESTAMP column is matched by its text: %Y alone does not describe it."""
    frame = pd.DataFrame(
        {
            "customer_id": [1, 2],
            "timestamp": pd.to_datetime(["2024-01-05", "2024-02-07"]),
            "revenue": [1.0, 2.0],
        }
    )
    path = tmp_path / "orders.parquet"
    frame.to_parquet(path)
    assert _error(str(path), "--date-format", "%Y", "-o", str(tmp_path / "r.csv")) == (
        "Error: column 'timestamp': dates that do not match the date format '%Y' "
        "(2 rows, e.g. 2024-01-05 00:00:00, 2024-02-07 00:00:00). "
        "Check --date-format (date_format) against the examples"
    )
    out = tmp_path / "ok.csv"
    assert _clv(str(path), "--date-format", "%Y-%m-%d %H:%M:%S", "-o", str(out))[0] == 0


def test_date_format_partly_matching_counts_only_the_mismatches(tmp_path: Path) -> None:
    rows = [("1", "05/01/2024", "10"), ("2", "07/02/2024 10:00", "5"), ("1", "01/03/2024", "3")]
    path = _csv(tmp_path / "orders.csv", rows)
    assert _error(str(path), "--date-format", "%d/%m/%Y", "-o", str(tmp_path / "r.csv")) == (
        "Error: column 'timestamp': dates that do not match the date format '%d/%m/%Y' "
        "(1 row, e.g. '07/02/2024 10:00'). Check --date-format (date_format) against the examples"
    )


def test_date_format_with_date_unit_is_an_error() -> None:
    with pytest.raises(DataError) as info:
        OrdersSource("orders.csv", date_format="%Y%m%d", date_unit="s")
    assert str(info.value) == (
        "--date-format (date_format) and --date-unit (date_unit) cannot both be given: a format "
        "reads dates written as text, a unit reads numbers. Pass one of them"
    )


# ------------------------------------------------------------------ the same column twice
@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (
            ["--date-col", "customer_id"],
            "--customer-col (customer_col) and --date-col (date_col) both name the column "
            "'customer_id'",
        ),
        (
            ["--revenue-col", "timestamp"],
            "--date-col (date_col) and --revenue-col (revenue_col) both name the column "
            "'timestamp'",
        ),
        (
            ["--revenue-col", "customer_id"],
            "--customer-col (customer_col) and --revenue-col (revenue_col) both name the column "
            "'customer_id'",
        ),
    ],
)
def test_one_column_for_two_flags_is_an_error(
    tmp_path: Path, flags: list[str], message: str
) -> None:
    path = _csv(tmp_path / "orders.csv")
    assert _error(str(path), *flags, "-o", str(tmp_path / "r.csv")) == (
        f"Error: {message}. The customer, date and revenue must be three different columns"
    )


# ------------------------------------------------------------------ empty files
def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_bytes(b"")
    assert _error(str(path), "-o", str(tmp_path / "r.csv")) == (
        f"Error: {path}: the file is empty (0 bytes). "
        "An orders table needs a header row and one row per order"
    )


@pytest.mark.parametrize("end", ["\n", "\r\n", ""])
def test_header_only_csv(tmp_path: Path, end: str) -> None:
    path = tmp_path / "orders.csv"
    path.write_text(",".join(_HEADER) + end)
    assert _error(str(path), "-o", str(tmp_path / "r.csv")) == (
        f"Error: the orders table has no rows ({path})"
    )


def test_query_without_rows_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "orders.parquet"
    pd.DataFrame(
        {"customer_id": [1], "timestamp": [pd.Timestamp("2024-01-01")], "revenue": [1.0]}
    ).to_parquet(path)
    empty = tmp_path / "empty.parquet"
    pd.read_parquet(path).iloc[:0].to_parquet(empty)
    assert _error(str(empty), "-o", str(tmp_path / "r.csv")) == (
        f"Error: the orders table has no rows ({empty})"
    )


# ------------------------------------------------------------------ files that work
@pytest.mark.parametrize(
    "kind",
    ["bom", "crlf", "bom_crlf", "tab"],
)
def test_bom_crlf_and_tabs_read_correctly(tmp_path: Path, kind: str) -> None:
    path = _csv(
        tmp_path / "orders.csv",
        end="\r\n" if "crlf" in kind else "\n",
        prefix=b"\xef\xbb\xbf" if "bom" in kind else b"",
        sep="\t" if kind == "tab" else ",",
    )
    out = tmp_path / "rfm.csv"
    code, output = _clv(str(path), "-o", str(out))
    assert code == 0, output
    _check_rfm(out, [1, 2])


def test_quoted_ids_with_spaces_keep_inner_spaces(tmp_path: Path) -> None:
    rows = [
        ('" A 1 "', "2024-01-05", "10"),
        ('"B  2"', "2024-02-07", "5"),
        ('"A 1"', "2024-03-01", "3"),
    ]
    path = _csv(tmp_path / "orders.csv", rows)
    out = tmp_path / "rfm.csv"
    code, output = _clv(str(path), "-o", str(out))
    assert code == 0, output
    # surrounding white space is not part of an id (docs/orders.md); inner spaces are
    _check_rfm(out, ["A 1", "B  2"])


def test_folder_of_parquet_files(tmp_path: Path) -> None:
    folder = tmp_path / "orders"
    folder.mkdir()
    frame = pd.DataFrame(
        {
            "customer_id": [1, 2, 1],
            "timestamp": pd.to_datetime([r[1] for r in _ROWS]),
            "revenue": [10.0, 5.0, 3.0],
        }
    )
    frame.iloc[:2].to_parquet(folder / "part-0.parquet")
    frame.iloc[2:].to_parquet(folder / "part-1.parquet")
    (folder / "_SUCCESS").write_text("")
    out = tmp_path / "rfm.csv"
    code, output = _clv(str(folder), "-o", str(out))
    assert code == 0, output
    _check_rfm(out, [1, 2])
    assert rfm_summary(OrdersSource(folder)).attrs["n_orders"] == 3


def test_folder_without_parquet_files(tmp_path: Path) -> None:
    folder = tmp_path / "orders"
    folder.mkdir()
    assert _error(str(folder), "-o", str(tmp_path / "r.csv")) == (
        f"Error: {folder} is a folder without Parquet files (.parquet); it is not a table "
        "clvmodels reads. Give a table file, or a folder of .parquet files with the same columns"
    )
    _csv(folder / "orders.csv")
    pd.DataFrame({"a": [1]}).to_parquet(folder / "x.parquet")
    assert _error(str(folder), "-o", str(tmp_path / "r.csv")) == (
        f"Error: {folder} holds other files than Parquet (e.g. orders.csv); a folder is read "
        "only when all its data files are .parquet"
    )


# ------------------------------------------------------------------ files that cannot work
def test_european_csv_with_decimal_commas(tmp_path: Path) -> None:
    rows = [("1", "05.01.2024", "12,50"), ("2", "07.02.2024", "5,00"), ("1", "01.03.2024", "3")]
    path = _csv(tmp_path / "orders.csv", rows, sep=";", header=("kunde", "datum", "umsatz"))
    names = ["--customer-col", "kunde", "--date-col", "datum", "--revenue-col", "umsatz"]
    out = str(tmp_path / "r.csv")
    assert _error(str(path), *names, "-o", out) == (
        "Error: column 'datum': day/month dates are ambiguous without a date format (3 rows, "
        "e.g. '05.01.2024', '07.02.2024', '01.03.2024'). Pass --date-format (date_format) "
        "'%d.%m.%Y' (day first) or '%m.%d.%Y' (month first)"
    )
    assert _error(str(path), *names, "--date-format", "%d.%m.%Y", "-o", out) == (
        "Error: column 'umsatz': revenue written with a decimal comma, which clvmodels does not "
        "guess (2 rows, e.g. '12,50', '5,00'). Write revenue with a decimal point (12.50), e.g. "
        "save the CSV with a point as decimal separator"
    )


def test_header_in_another_case_than_the_flag(tmp_path: Path) -> None:
    path = _csv(tmp_path / "orders.csv", header=("Customer_ID", "timestamp", "Revenue"))
    assert _error(str(path), "-o", str(tmp_path / "r.csv")) == (
        "Error: the orders table has no column 'customer_id', 'revenue'. Its columns are: "
        "Customer_ID, timestamp, Revenue. Name yours with --customer-col, --revenue-col (or pass "
        "--no-revenue, revenue_col=None, for a log without revenue). Column names are "
        "case-sensitive: the table has 'Customer_ID' for 'customer_id', 'Revenue' for 'revenue'"
    )
    out = tmp_path / "rfm.csv"
    code, output = _clv(
        str(path), "--customer-col", "Customer_ID", "--revenue-col", "Revenue", "-o", str(out)
    )
    assert code == 0, output
    _check_rfm(out, [1, 2])


def test_excel_scientific_ids_in_a_text_column(tmp_path: Path) -> None:
    rows = [
        ("1.23E+20", "2024-01-05", "10"),
        ("1.23457E+19", "2024-02-07", "5"),
        ("A7", "2024-03-01", "3"),
    ]
    path = _csv(tmp_path / "orders.csv", rows)
    assert _error(str(path), "-o", str(tmp_path / "r.csv")) == (
        "Error: column 'customer_id': customer ids written in scientific notation (a spreadsheet "
        "rounded them, so different customers may look alike) (2 rows, e.g. '1.23E+20', "
        "'1.23457E+19'). Export the ids as text (in Excel: format the column as Text before "
        "saving)"
    )
