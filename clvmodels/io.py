"""Reading orders tables and writing outputs without ever leaving a half-written file.

The orders table that every other module takes has three columns: ``customer_id``,
``timestamp`` (datetime64) and ``revenue`` (float64, one row an order).
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import os
import shutil
import sqlite3
import tempfile
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Literal

import duckdb
import numpy as np
import pandas as pd

from clvmodels.errors import DataError, DataQualityWarning, Label

ORDER_COLUMNS = ("customer_id", "timestamp", "revenue")
Refunds = Literal["error", "net"]

_CSV_SUFFIXES = {".csv", ".tsv", ".txt"}
_PARQUET_SUFFIXES = {".parquet", ".pq"}
_DUCKDB_SUFFIXES = {".duckdb", ".ddb"}
_SQLITE_SUFFIXES = {".sqlite", ".sqlite3"}


# --------------------------------------------------------------------------------------
# reading
# --------------------------------------------------------------------------------------
def read_table(
    source: str | os.PathLike[str],
    *,
    table: str | None = None,
    query: str | None = None,
    encoding: str = "utf-8",
) -> pd.DataFrame:
    """Read a CSV, Parquet, DuckDB or SQLite file into a DataFrame, as it is.

    Parameters
    ----------
    source : path
        A ``.csv``/``.tsv``/``.txt``, ``.parquet``, DuckDB (``.duckdb``, ``.db``) or SQLite
        (``.sqlite``, ``.db``) file. Database files are told apart by their header.
    table, query : str, optional
        For database files: the table to read, or a SQL query to run. A database with a
        single table needs neither.
    encoding : str
        Text encoding of a CSV file (``utf-8``, ``utf-16`` or ``latin-1``).

    Raises
    ------
    DataError
        When the file is missing, is not a table, or is not in the stated encoding.
    """
    path = Path(source)
    if not path.exists():
        raise DataError(f"file not found: {path}")
    if path.is_dir():
        raise DataError(f"{path} is a folder, not a table file")
    kind = _file_kind(path)
    try:
        if kind == "csv":
            return _read_csv(path, encoding)
        if kind == "parquet":
            return duckdb.execute("SELECT * FROM read_parquet(?)", [str(path)]).df()
        if kind == "duckdb":
            return _read_duckdb(path, table, query)
        if kind == "sqlite":
            return _read_sqlite(path, table, query)
    except DataError:
        raise
    except (duckdb.Error, sqlite3.Error, pd.errors.DatabaseError) as exc:
        raise DataError(f"{path} could not be read as a {kind} table: {_first_line(exc)}") from exc
    raise DataError(f"{path} is not a table file clvmodels reads (CSV, Parquet, DuckDB or SQLite)")


def _file_kind(path: Path) -> str:
    with open(path, "rb") as handle:
        head = handle.read(16)
    if head.startswith(b"SQLite format 3"):
        return "sqlite"
    if head[8:12] == b"DUCK":
        return "duckdb"
    if head.startswith(b"PAR1"):
        return "parquet"
    suffix = path.suffix.lower()
    if suffix in _PARQUET_SUFFIXES:
        return "parquet"
    if suffix in _DUCKDB_SUFFIXES | _SQLITE_SUFFIXES | {".db"}:
        raise DataError(f"{path} is not a DuckDB or SQLite database (its header is neither)")
    if suffix in _CSV_SUFFIXES or suffix == "":
        return "csv"
    if b"\0" in head:
        raise DataError(f"{path} is a binary file, not a table clvmodels reads")
    return "csv"


def _read_csv(path: Path, encoding: str) -> pd.DataFrame:
    try:
        if encoding.lower().replace("_", "-") in {"utf-8", "utf8"}:
            _check_utf8(path)
            frame = duckdb.read_csv(str(path), header=True).df()
        else:
            # DuckDB reads other encodings only through an extension it downloads; pandas
            # decodes them itself.
            frame = pd.read_csv(path, encoding=encoding, sep=_sniff_delimiter(path, encoding))
    except (duckdb.Error, pd.errors.ParserError, UnicodeDecodeError, LookupError) as exc:
        raise DataError(f"{path} is not a readable CSV table: {_first_line(exc)}") from exc
    if frame.shape[1] < 2:
        raise DataError(
            f"{path} does not look like a table: it has {frame.shape[1]} column"
            f" ({', '.join(map(str, frame.columns))}); a CSV orders table needs a header row "
            "and comma-separated columns"
        )
    return frame


def _sniff_delimiter(path: Path, encoding: str) -> str:
    with open(path, encoding=encoding, errors="replace") as handle:
        sample = handle.read(65536)
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


def _check_utf8(path: Path, chunk_bytes: int = 1 << 22) -> None:
    """Raise a DataError naming the first line that is not valid UTF-8."""
    line_no = 1
    carry = b""
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_bytes):
            data = carry + chunk
            try:
                data.decode("utf-8")
                line_no += data.count(b"\n")
                carry = b""
            except UnicodeDecodeError as exc:
                if exc.start >= len(data) - 4 and len(chunk) == chunk_bytes:
                    # a multi-byte character cut by the chunk boundary: read on
                    line_no += data[: exc.start].count(b"\n")
                    carry = data[exc.start :]
                    continue
                line = line_no + data[: exc.start].count(b"\n")
                raise DataError(
                    f"{path} is not UTF-8 text: line {line} has the byte "
                    f"{data[exc.start : exc.start + 1]!r}",
                    hint="Re-save the file as UTF-8, or pass --encoding latin-1 "
                    "(or utf-16) to read it as it is",
                ) from None


def _read_duckdb(path: Path, table: str | None, query: str | None) -> pd.DataFrame:
    with duckdb.connect(str(path), read_only=True) as con:
        if query is None:
            tables = [row[0] for row in con.sql("SHOW TABLES").fetchall()]
            table = _pick_table(path, table, tables)
            return con.sql(f'SELECT * FROM "{table}"').df()
        return con.sql(query).df()


def _read_sqlite(path: Path, table: str | None, query: str | None) -> pd.DataFrame:
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as con:
        if query is None:
            tables = [
                row[0]
                for row in con.execute(
                    "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') ORDER BY name"
                )
            ]
            table = _pick_table(path, table, tables)
            query = f'SELECT * FROM "{table}"'
        return pd.read_sql_query(query, con)


def _pick_table(path: Path, table: str | None, tables: list[str]) -> str:
    if table is not None:
        if table not in tables:
            raise DataError(
                f"{path} has no table '{table}'",
                hint=f"its tables are: {', '.join(tables) or '(none)'}",
            )
        return table
    if len(tables) == 1:
        return tables[0]
    raise DataError(
        f"{path} has {len(tables)} tables; say which with --table or --query",
        hint=f"its tables are: {', '.join(tables) or '(none)'}",
    )


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


# --------------------------------------------------------------------------------------
# validating
# --------------------------------------------------------------------------------------
def read_orders(
    source: str | os.PathLike[str] | pd.DataFrame,
    *,
    customer_col: str = "customer_id",
    date_col: str = "timestamp",
    revenue_col: str = "revenue",
    table: str | None = None,
    query: str | None = None,
    date_format: str | None = None,
    encoding: str = "utf-8",
    refunds: Refunds = "error",
    dedupe: bool = False,
) -> pd.DataFrame:
    """Read and validate an orders table; return ``customer_id, timestamp, revenue``.

    Parameters
    ----------
    source : path or DataFrame
        A table file (see :func:`read_table`) or a DataFrame already in memory.
    customer_col, date_col, revenue_col : str
        The names these columns have in ``source`` (real tables say ``uid``, ``buy_ts``,
        ``client_id``, ``created_at``, ...).
    table, query, encoding
        Passed to :func:`read_table`.
    date_format : str, optional
        A ``strftime`` format for the dates (``%Y%m%d`` for 19970101). Integer dates of eight
        digits are read as ``%Y%m%d`` without it.
    refunds : {"error", "net"}
        Negative revenue is an error by default. ``"net"`` nets refunds within the customer's
        purchase day and drops days whose net revenue is not positive, saying how many.
    dedupe : bool
        Drop exact duplicate rows (they are only warned about by default).

    Returns
    -------
    pandas.DataFrame
        ``customer_id``, ``timestamp`` (datetime64[ns]), ``revenue`` (float64); the input is
        not modified.

    Raises
    ------
    DataError
        Naming the column, how many rows and a few examples, for missing columns, an empty
        table, empty or missing customer ids, unparsable or missing dates, missing or
        non-numeric revenue, and negative revenue (unless ``refunds="net"``).
    """
    raw = (
        source
        if isinstance(source, pd.DataFrame)
        else read_table(source, table=table, query=query, encoding=encoding)
    )
    return validate_orders(
        raw,
        customer_col=customer_col,
        date_col=date_col,
        revenue_col=revenue_col,
        date_format=date_format,
        refunds=refunds,
        dedupe=dedupe,
    )


def check_order_columns(
    columns: Iterable[Any], customer_col: str, date_col: str, revenue_col: str
) -> None:
    """Raise a DataError naming the order columns missing from ``columns`` and their flags.

    Shared by the pandas/DuckDB reader and the Spark reader.
    """
    present = [str(c) for c in columns]
    mapping = {customer_col: "customer_id", date_col: "timestamp", revenue_col: "revenue"}
    missing = [name for name in mapping if name not in present]
    if missing:
        flags = {
            customer_col: "--customer-col",
            date_col: "--date-col",
            revenue_col: "--revenue-col",
        }
        raise DataError(
            f"the orders table has no column {', '.join(repr(m) for m in missing)}",
            hint=f"its columns are: {', '.join(present)}. Name yours with "
            + ", ".join(flags[m] for m in missing),
        )


def validate_orders(
    raw: pd.DataFrame,
    *,
    customer_col: str = "customer_id",
    date_col: str = "timestamp",
    revenue_col: str = "revenue",
    date_format: str | None = None,
    refunds: Refunds = "error",
    dedupe: bool = False,
) -> pd.DataFrame:
    """Validate a raw orders DataFrame; see :func:`read_orders` for the rules."""
    check_order_columns(raw.columns, customer_col, date_col, revenue_col)
    if len(raw) == 0:
        raise DataError("the orders table has no rows")

    customer = clean_customer_ids(raw[customer_col], customer_col)
    timestamp = parse_dates(raw[date_col], date_col, date_format)
    revenue = _parse_revenue(raw[revenue_col], revenue_col)
    orders = pd.DataFrame(
        {
            "customer_id": customer.to_numpy(),
            "timestamp": timestamp.to_numpy(),
            "revenue": revenue.to_numpy(),
        }
    )

    n_duplicates = int(orders.duplicated().sum())
    if n_duplicates:
        if dedupe:
            orders = orders.drop_duplicates(ignore_index=True)
            warnings.warn(
                f"dropped {n_duplicates:,} exact duplicate order rows (--dedupe)",
                DataQualityWarning,
                stacklevel=2,
            )
        else:
            warnings.warn(
                f"{n_duplicates:,} order rows are exact duplicates of another row (same customer, "
                "time and revenue); they are kept. Pass --dedupe (dedupe=True) to drop them",
                DataQualityWarning,
                stacklevel=2,
            )

    negative = orders["revenue"] < 0
    if negative.any():
        if refunds != "net":
            raise DataError(
                "negative revenue (refunds)",
                column=revenue_col,
                n_rows=int(negative.sum()),
                examples=orders.loc[negative, "revenue"].head(5).tolist(),
                hint="Pass --refunds net (refunds='net') to net refunds within the purchase day",
            )
        orders = _net_refunds(orders)
    return orders


def clean_customer_ids(column: pd.Series, name: str) -> pd.Series:
    """Strip text ids and reject empty or missing ones (DataError naming ``name``)."""
    values = column
    bad = values.isna()
    if values.dtype == object or pd.api.types.is_string_dtype(values.dtype):
        as_text = values.astype("string")
        stripped = as_text.str.strip()
        bad = (
            bad
            | (stripped == "").fillna(False)
            | stripped.str.lower().isin(["nan", "none", "null"]).fillna(False)
        )
        values = stripped
    if bad.any():
        rows = np.flatnonzero(bad.to_numpy())
        raise DataError(
            "empty or missing customer ids",
            column=name,
            n_rows=int(bad.sum()),
            examples=[Label(f"row {i + 1}") for i in rows[:5]],
        )
    if pd.api.types.is_float_dtype(values.dtype):
        if (values % 1 == 0).all():
            values = values.astype("int64")
    return values


def parse_dates(column: pd.Series, name: str, date_format: str | None) -> pd.Series:
    """Parse a date column (text, YYYYMMDD integers or datetimes) to naive datetime64[ns]."""
    missing = column.isna()
    if missing.any():
        rows = np.flatnonzero(missing.to_numpy())
        raise DataError(
            "missing dates",
            column=name,
            n_rows=int(missing.sum()),
            examples=[Label(f"row {i + 1}") for i in rows[:5]],
        )
    if pd.api.types.is_datetime64_any_dtype(column.dtype):
        parsed = column
    else:
        source = column
        fmt = date_format
        if fmt is None and pd.api.types.is_integer_dtype(column.dtype):
            if column.between(1000_01_01, 9999_12_31).all():
                fmt = "%Y%m%d"
                source = column.astype("string")
        elif fmt is not None and not pd.api.types.is_string_dtype(column.dtype):
            source = column.astype("string")
        try:
            parsed = pd.to_datetime(source, errors="coerce", format=fmt)
        except (ValueError, TypeError):
            parsed = pd.to_datetime(source.astype("string"), errors="coerce", format="mixed")
        bad = parsed.isna()
        if bad.any():
            raise DataError(
                "dates that cannot be parsed",
                column=name,
                n_rows=int(bad.sum()),
                examples=column[bad].head(5).tolist(),
                hint="Pass --date-format (such as %Y-%m-%d or %d.%m.%Y) if the format is unusual",
            )
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_localize(None)
    return parsed.astype("datetime64[ns]")


def _parse_revenue(column: pd.Series, name: str) -> pd.Series:
    if pd.api.types.is_bool_dtype(column.dtype) or not pd.api.types.is_numeric_dtype(column.dtype):
        numeric = pd.to_numeric(column, errors="coerce")
        bad = numeric.isna() & column.notna()
        if bad.any():
            raise DataError(
                "revenue that is not a number",
                column=name,
                n_rows=int(bad.sum()),
                examples=column[bad].head(5).tolist(),
            )
    else:
        numeric = column
    numeric = numeric.astype("float64")
    missing = ~np.isfinite(numeric.to_numpy())
    if missing.any():
        rows = np.flatnonzero(missing)
        raise DataError(
            "missing (NaN) or infinite revenue",
            column=name,
            n_rows=int(missing.sum()),
            examples=[Label(f"row {i + 1}") for i in rows[:5]],
            hint="Fill or drop those rows; clvmodels does not count missing revenue as 0",
        )
    return numeric


def _net_refunds(orders: pd.DataFrame) -> pd.DataFrame:
    """Net revenue within each customer's purchase day; drop days that are not positive."""
    day = orders["timestamp"].dt.normalize()
    netted = (
        orders.assign(day=day)
        .groupby(["customer_id", "day"], sort=False, as_index=False)
        .agg(timestamp=("timestamp", "min"), revenue=("revenue", "sum"))
    )
    keep = netted["revenue"] > 0
    n_dropped = int((~keep).sum())
    n_refunds = int((orders["revenue"] < 0).sum())
    warnings.warn(
        f"netted {n_refunds:,} refund rows within their purchase day; dropped {n_dropped:,} "
        "customer-days whose net revenue was zero or negative (--refunds net)",
        DataQualityWarning,
        stacklevel=3,
    )
    return netted.loc[keep, ["customer_id", "timestamp", "revenue"]].reset_index(drop=True)


# --------------------------------------------------------------------------------------
# the embedded engine
# --------------------------------------------------------------------------------------
#: DuckDB's working memory per query; beyond it, aggregations spill to a private temporary
#: folder. 512 MB keeps the RFM of 10M orders under 600 MB for the whole process.
DUCKDB_MEMORY_LIMIT = "512MB"


@contextlib.contextmanager
def duckdb_connection(
    memory_limit: str = DUCKDB_MEMORY_LIMIT,
) -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory DuckDB connection with a memory limit and its own spill folder."""
    spill = tempfile.mkdtemp(prefix="clvmodels-duckdb-")
    con = duckdb.connect()
    try:
        con.execute(f"SET memory_limit = '{memory_limit}'")
        con.execute(f"SET temp_directory = '{spill}'")
        with contextlib.suppress(duckdb.Error):  # in Jupyter DuckDB wants ipywidgets for this
            con.execute("SET enable_progress_bar = false")
        yield con
    finally:
        con.close()
        shutil.rmtree(spill, ignore_errors=True)


def _has_nanoseconds(ts: pd.Series) -> bool:
    """Whether ``ts`` holds nanosecond timestamps with a sub-microsecond part."""
    if ts.dtype.kind != "M" or np.datetime_data(ts.dtype)[0] != "ns":
        return False
    ticks = ts.to_numpy().view("int64")
    step = 1 << 20  # in blocks, so the check holds no second copy of a large column
    return any(bool((ticks[i : i + step] % 1000).any()) for i in range(0, len(ticks), step))


def floor_to_microseconds(timestamps: pd.Series) -> pd.Series:
    """``timestamps`` floored to the microsecond when some have a sub-microsecond part.

    DuckDB rounds TIMESTAMP_NS to the nearest microsecond when it casts to DATE; flooring
    first keeps an order at 23:59:59.9999995 on its own day, as pandas and Spark count it.
    """
    if _has_nanoseconds(timestamps):
        return timestamps.dt.floor("us")
    return timestamps


#: ``"timestamp"`` (TIMESTAMP_NS) floored to the microsecond, in integer arithmetic.
_FLOOR_TO_MICROSECONDS = (
    'make_timestamp((epoch_ns("timestamp") - ((epoch_ns("timestamp") % 1000) + 1000) % 1000)'
    " // 1000)"
)


def register_orders(
    con: duckdb.DuckDBPyConnection,
    orders: pd.DataFrame | str | os.PathLike[str],
    name: str = "orders",
) -> None:
    """Make ``orders`` queryable as the view ``name`` with the columns of :data:`ORDER_COLUMNS`.

    A DataFrame (validated by :func:`read_orders`) is scanned in place. A Parquet or CSV
    file with those column names is read by DuckDB itself, without loading it into pandas
    first; its missing values and negative revenue are checked in SQL.
    """
    if isinstance(orders, pd.DataFrame):
        frame = orders[list(ORDER_COLUMNS)]
        if not _has_nanoseconds(frame["timestamp"]):
            con.register(name, frame)
            return
        # DuckDB rounds TIMESTAMP_NS to the nearest microsecond when it casts to DATE, so an
        # order at 23:59:59.9999995 would count on the next day; pandas and Spark truncate.
        # A view floors the timestamps as DuckDB scans them (no copy of the column).
        con.register(f"{name}__nanoseconds", frame)
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW {name} AS SELECT customer_id, "
            f'{_FLOOR_TO_MICROSECONDS} AS "timestamp", revenue FROM {name}__nanoseconds'
        )
        return
    path = Path(orders)
    if not path.exists():
        raise DataError(f"file not found: {path}")
    reader = "read_parquet" if _file_kind(path) == "parquet" else "read_csv"
    relation = con.sql(f"SELECT * FROM {reader}('{_sql_text(str(path))}')")
    missing = [c for c in ORDER_COLUMNS if c not in relation.columns]
    if missing:
        raise DataError(
            f"{path} has no column {', '.join(repr(m) for m in missing)}",
            hint=f"its columns are: {', '.join(relation.columns)}",
        )
    source = f"{reader}('{_sql_text(str(path))}')"
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW {name} AS SELECT customer_id, "
        f'CAST("timestamp" AS TIMESTAMP) AS "timestamp", CAST(revenue AS DOUBLE) AS revenue '
        f"FROM {source}"
    )
    row = con.execute(
        "SELECT COUNT(*), COUNT(*) FILTER (customer_id IS NULL), "
        'COUNT(*) FILTER ("timestamp" IS NULL), '
        "COUNT(*) FILTER (revenue IS NULL OR isnan(revenue)), COUNT(*) FILTER (revenue < 0) "
        f"FROM {name}"
    ).fetchone()
    assert row is not None
    n_rows, no_id, no_date, no_revenue, negative = (int(v) for v in row)
    if n_rows == 0:
        raise DataError("the orders table has no rows")
    for count, column, problem in (
        (no_id, "customer_id", "empty or missing customer ids"),
        (no_date, "timestamp", "missing dates"),
        (no_revenue, "revenue", "missing (NaN) revenue"),
        (negative, "revenue", "negative revenue (refunds)"),
    ):
        if count:
            raise DataError(
                problem,
                column=column,
                n_rows=count,
                hint="Read the file with read_orders() to clean or net it first",
            )


def _sql_text(text: str) -> str:
    return text.replace("'", "''")


# --------------------------------------------------------------------------------------
# writing
# --------------------------------------------------------------------------------------
@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it into place only on success.

    A failed write leaves neither a half-written file nor a clobbered old one.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; outputs get the usual mode
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_table(frame: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write ``frame`` as Parquet, CSV or JSON (by the file's suffix), atomically.

    JSON is a list of records, one object a row, which pandas, DuckDB and spreadsheets open.
    """
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix not in {".parquet", ".csv", ".json"}:
        raise DataError(
            f"output {target} must end in .parquet, .csv or .json (got '{suffix or 'no suffix'}')"
        )
    with atomic_path(target) as tmp:
        if suffix == ".parquet":
            frame.to_parquet(tmp, index=False)
        elif suffix == ".csv":
            frame.to_csv(tmp, index=False)
        else:
            frame.to_json(tmp, orient="records", date_format="iso", indent=1)
    return target


def write_table_chunks(chunks: Iterator[pd.DataFrame], path: str | os.PathLike[str]) -> int:
    """Write the chunks of one table atomically and return its number of rows.

    Parquet is written row group by row group as the chunks come, so memory holds one chunk;
    CSV and JSON are assembled in memory first. An interrupted run leaves no file behind.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    target = Path(path)
    if target.suffix.lower() != ".parquet":
        whole = pd.concat(list(chunks), ignore_index=True)
        write_table(whole, target)
        return len(whole)
    n_rows = 0
    with atomic_path(target) as tmp:
        writer = None
        try:
            for chunk in chunks:
                table = pa.Table.from_pandas(chunk, preserve_index=False)
                if writer is None:
                    writer = pq.ParquetWriter(tmp, table.schema)
                writer.write_table(table)
                n_rows += len(chunk)
        finally:
            if writer is not None:
                writer.close()
    return n_rows


def write_json(obj: Any, path: str | os.PathLike[str]) -> Path:
    """Write a JSON document atomically."""
    target = Path(path)
    with atomic_path(target) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, default=_json_default) + "\n")
    return target


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return str(value)


def fingerprint(orders: pd.DataFrame) -> str:
    """SHA-256 of an orders table's content (row order included), to tie a model to its data."""
    hashed = pd.util.hash_pandas_object(orders[list(ORDER_COLUMNS)], index=False)
    return hashlib.sha256(hashed.to_numpy().tobytes()).hexdigest()
