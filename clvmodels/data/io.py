"""Reading orders tables and writing outputs without ever leaving a half-written file.

The orders table that every other module takes has three columns: ``customer_id``,
``timestamp`` (datetime64) and ``revenue`` (float64, one row an order). Reading goes through
the orders contract, checked once in DuckDB SQL for every input kind
(:mod:`clvmodels.data.contract`, ``docs/orders.md``); :func:`read_orders` is the pandas face of it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from clvmodels.data.contract import ORDERS_VIEW, OrdersInfo, Refunds, register_orders_source
from clvmodels.data.contract import OrdersSource as OrdersSource
from clvmodels.data.contract import check_order_columns as check_order_columns
from clvmodels.data.database_url import DatabaseURL, shown_source
from clvmodels.data.paths import OutputTarget, output_target
from clvmodels.data.readers import RAW_VIEW, first_line, register_source
from clvmodels.errors import DataError

ORDER_COLUMNS = ("customer_id", "timestamp", "revenue")


# --------------------------------------------------------------------------------------
# reading
# --------------------------------------------------------------------------------------
def read_table(
    source: str | os.PathLike[str],
    *,
    table: str | None = None,
    query: str | None = None,
    encoding: str = "utf-8",
    all_text: bool = False,
    allow_file_access: bool = False,
) -> pd.DataFrame:
    """Read a CSV, Parquet, DuckDB or SQLite file, or a database table, into a DataFrame.

    Parameters
    ----------
    source : path or str
        A ``.csv``/``.tsv``/``.txt``, ``.parquet``, DuckDB (``.duckdb``, ``.db``) or SQLite
        (``.sqlite``, ``.db``) file (database files are told apart by their header), or a
        database URL: ``postgresql://user@host/db#sales.orders``, ``duckdb:///shop.duckdb#t``,
        ``sqlite:///shop.sqlite#t`` (:func:`clvmodels.data.readers.register_source`).
    table, query : str, optional
        For databases: the table to read, or a single read-only SELECT to run. A database
        with a single table needs neither.
    encoding : str
        Text encoding of a CSV file (``utf-8``, ``utf-16`` or ``latin-1``).
    all_text : bool
        Read every CSV column as text, so that no type is guessed (ids such as ``007`` or
        numbers beyond 64 bits stay as written); other kinds keep their stored types.
    allow_file_access : bool
        Let a DuckDB file's query read or write other files (off by default).

    Raises
    ------
    DataError
        When the file is missing, is not a table, or is not in the stated encoding; when a
        database's table is not there or its server cannot be reached (password hidden).
    """
    with duckdb_connection() as con:
        register_source(
            con,
            source,
            table=table,
            query=query,
            encoding=encoding,
            all_text=all_text,
            allow_file_access=allow_file_access,
        )
        try:
            return con.execute(f"SELECT * FROM {RAW_VIEW}").df()
        except duckdb.Error as exc:
            raise DataError(f"{shown_source(source)} could not be read: {first_line(exc)}") from exc


# --------------------------------------------------------------------------------------
# validating
# --------------------------------------------------------------------------------------


def read_orders(
    source: str | os.PathLike[str] | pd.DataFrame,
    *,
    customer_col: str = "customer_id",
    date_col: str = "timestamp",
    revenue_col: str | None = "revenue",
    table: str | None = None,
    query: str | None = None,
    date_format: str | None = None,
    date_unit: str | None = None,
    time_zone: str = "UTC",
    encoding: str = "utf-8",
    refunds: Refunds = "error",
    dedupe: bool = False,
    value_per_order: float | None = None,
) -> pd.DataFrame:
    """Read and validate an orders table; return ``customer_id, timestamp, revenue``.

    The rules are the orders contract (``docs/orders.md``), checked in DuckDB SQL by
    :func:`clvmodels.data.contract.register_orders_source` for files and DataFrames alike.

    Parameters
    ----------
    source : path or DataFrame
        A table file (see :func:`read_table`) or a DataFrame already in memory.
    customer_col, date_col : str
        The names these columns have in ``source`` (real tables say ``uid``, ``buy_ts``,
        ``client_id``, ``created_at``, ...).
    revenue_col : str or None
        The revenue column; ``None`` reads none (a log of customers and dates only).
    table, query, encoding
        Passed to :func:`read_table`.
    date_format : str, optional
        A ``strftime`` format that every date must match (``%Y%m%d`` for 19970101). Without
        it: native dates, ISO 8601 text and eight-digit ``YYYYMMDD`` integers.
    date_unit : {"s", "ms", "us", "excel"}, optional
        The unit of numeric dates (epoch seconds/milliseconds/microseconds, or spreadsheet
        serial days since 1899-12-30).
    time_zone : str
        IANA zone that values with a UTC offset are converted to, then made naive.
    refunds : {"error", "net"}
        Negative revenue is an error by default. ``"net"`` nets refunds within the customer's
        purchase day and drops days whose net revenue is not positive, saying how many.
    dedupe : bool
        Drop exact duplicate rows (they are only warned about by default).
    value_per_order : float, optional
        With ``revenue_col=None``: every order's revenue.

    Returns
    -------
    pandas.DataFrame
        ``customer_id`` (int64, or text exactly as written), ``timestamp`` (datetime64[ns])
        and ``revenue`` (float64; absent without revenue); the input is not modified.

    Raises
    ------
    DataError
        Naming the column, how many rows and a few examples (see ``docs/orders.md``).
    """
    spec = OrdersSource(
        source,
        table=table,
        query=query,
        customer_col=customer_col,
        date_col=date_col,
        revenue_col=revenue_col,
        date_format=date_format,
        date_unit=date_unit,
        time_zone=time_zone,
        encoding=encoding,
        refunds=refunds,
        dedupe=dedupe,
        value_per_order=value_per_order,
    )
    return orders_frame(spec)


def orders_frame(source: OrdersSource) -> pd.DataFrame:
    """The validated orders of ``source`` as a DataFrame (see :func:`read_orders`)."""
    with duckdb_connection() as con:
        register_orders_source(con, source)
        frame = con.execute(f"SELECT * FROM {ORDERS_VIEW}").df()
    frame["timestamp"] = frame["timestamp"].astype("datetime64[ns]")
    if frame["customer_id"].dtype.kind not in "iu":
        frame["customer_id"] = frame["customer_id"].astype("string")
    return frame


def validate_orders(
    raw: pd.DataFrame,
    *,
    customer_col: str = "customer_id",
    date_col: str = "timestamp",
    revenue_col: str | None = "revenue",
    date_format: str | None = None,
    date_unit: str | None = None,
    time_zone: str = "UTC",
    refunds: Refunds = "error",
    dedupe: bool = False,
    value_per_order: float | None = None,
) -> pd.DataFrame:
    """Validate a raw orders DataFrame: :func:`read_orders` on a frame (the same SQL)."""
    return read_orders(
        raw,
        customer_col=customer_col,
        date_col=date_col,
        revenue_col=revenue_col,
        date_format=date_format,
        date_unit=date_unit,
        time_zone=time_zone,
        refunds=refunds,
        dedupe=dedupe,
        value_per_order=value_per_order,
    )


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


def unordered(con: duckdb.DuckDBPyConnection) -> None:
    """Let DuckDB drop the insertion order (faster, leaner; for queries that ORDER their results).

    Kept as it is when a DuckDB file input has locked the connection's configuration.
    """
    with contextlib.suppress(duckdb.Error):
        con.execute("SET preserve_insertion_order = false")


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


def register_orders(
    con: duckdb.DuckDBPyConnection,
    orders: pd.DataFrame | str | os.PathLike[str] | OrdersSource,
    name: str = ORDERS_VIEW,
    *,
    defer_duplicates: bool = False,
) -> OrdersInfo:
    """Make ``orders`` queryable as the view ``name`` (``customer_id, timestamp, revenue``).

    The default name, ``clv_orders``, never shadows a table of an attached DuckDB file.

    Every kind goes through the same SQL contract
    (:func:`clvmodels.data.contract.register_orders_source`): an :class:`OrdersSource` with its
    options; a file path or a DataFrame with the column names of :data:`ORDER_COLUMNS`. A
    DataFrame is scanned in place and a file is read by DuckDB itself, never into pandas.
    ``defer_duplicates`` leaves the exact-duplicate count to the caller
    (:func:`clvmodels.data.contract.register_orders_source`).
    """
    if isinstance(orders, OrdersSource):
        source = orders
    else:  # validated orders (as read_orders returns them) were warned about already
        source = OrdersSource(orders, warn_duplicates=not isinstance(orders, pd.DataFrame))
    return register_orders_source(con, source, name, defer_duplicates=defer_duplicates)


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


def write_table(frame: pd.DataFrame, path: str | os.PathLike[str] | DatabaseURL) -> OutputTarget:
    """Write ``frame`` as Parquet, CSV or JSON (by the file's suffix), atomically, or as a table.

    JSON is a list of records, one object a row, which pandas, DuckDB and spreadsheets open.
    A database URL with a table (``duckdb:///shop.duckdb#clv.rfm``) replaces that table in one
    transaction (:func:`clvmodels.data.database_write.write_database`).
    """
    return write_tables([(frame, path)])[0]


def write_tables(
    outputs: Sequence[tuple[pd.DataFrame, str | os.PathLike[str] | DatabaseURL]],
) -> list[OutputTarget]:
    """Write several tables: files one by one (each atomically), or tables in one database.

    The tables of one database and schema are written in one transaction (a failure leaves
    every table as it was).

    Returns the targets written, as they may be shown (database URLs with their table).
    """
    pairs = [(frame, output_target(path)) for frame, path in outputs]
    if not any(isinstance(t, DatabaseURL) for _, t in pairs):
        return [_write_file(frame, t) for frame, t in pairs]  # type: ignore[arg-type]
    from clvmodels.data.database_write import write_tables_to_database

    return list(write_tables_to_database(pairs))  # type: ignore[arg-type]


def _write_file(frame: pd.DataFrame, target: Path) -> Path:
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


def write_table_chunks(
    chunks: Iterator[pd.DataFrame], path: str | os.PathLike[str] | DatabaseURL
) -> int:
    """Write the chunks of one table atomically and return its number of rows.

    Parquet is written row group by row group as the chunks come, so memory holds one chunk;
    CSV and JSON are assembled in memory first. A database table (``URL#table``) gets each
    chunk appended to a temporary table, swapped in at the end in the same transaction. An
    interrupted run leaves no file behind and the old table as it was.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    target = output_target(path)
    n_rows = 0

    def counted() -> Iterator[pd.DataFrame]:
        nonlocal n_rows
        for chunk in chunks:
            n_rows += len(chunk)
            yield chunk

    if isinstance(target, DatabaseURL):
        from clvmodels.data.database_write import Replace, write_tables_to_database

        write_tables_to_database([(Replace(counted()), target)])
        return n_rows
    if target.suffix.lower() != ".parquet":
        whole = pd.concat(list(chunks), ignore_index=True)
        write_table(whole, target)
        return len(whole)
    with atomic_path(target) as tmp:
        writer = None
        try:
            for chunk in counted():
                table = pa.Table.from_pandas(chunk, preserve_index=False)
                if writer is None:
                    writer = pq.ParquetWriter(tmp, table.schema)
                writer.write_table(table)
        finally:
            if writer is not None:
                writer.close()
    return n_rows


def json_row(obj: Mapping[str, Any]) -> pd.DataFrame:
    """A JSON report as a one-row table: one column per entry, nested ones as JSON text."""
    row = {
        str(key): json.dumps(value, default=_json_default)
        if isinstance(value, Mapping | list | tuple)
        else _json_default(value)
        if isinstance(value, np.generic | pd.Timestamp)
        else value
        for key, value in obj.items()
    }
    return pd.DataFrame([row])


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


def fingerprint(
    orders: pd.DataFrame | str | os.PathLike[str] | OrdersSource,
    *,
    up_to: Any = None,
) -> str:
    """SHA-256 of the validated orders up to the observation end ``up_to``, to tie a model to them.

    Parameters
    ----------
    orders : DataFrame, path or OrdersSource
        The orders, read and validated by the orders contract.
    up_to : date, optional
        The observation end: orders after this day do not change the fingerprint. Without
        it, the last order's day (the default observation end), so every order counts.

    Computed in SQL from the validated view (:func:`counted_fingerprint`): the same for every
    input kind and row order.
    """
    with duckdb_connection() as con:
        register_orders(con, orders)
        return counted_fingerprint(con, up_to=up_to)[1]


def counted_fingerprint(
    con: duckdb.DuckDBPyConnection, name: str = ORDERS_VIEW, *, up_to: Any = None
) -> tuple[int, str]:
    """``(rows, fingerprint)`` of the view ``name``'s rows up to the day ``up_to`` (all without it).

    The one definition of the orders' fingerprint (:func:`fingerprint` runs it on any orders
    input), for a connection where the orders are registered already. Each row's text (id, ISO
    time to the microsecond, revenue) is hashed with MD5; the fingerprint hashes the row count
    and the sum of those hashes, so it depends on the rows (duplicates included) and not on
    their order or on the input's file kind. One scan counts the rows and hashes them.
    """
    columns = [row[0] for row in con.execute(f"DESCRIBE {name}").fetchall()]
    parts = ["CAST(customer_id AS VARCHAR)", "strftime(\"timestamp\", '%Y-%m-%dT%H:%M:%S.%f')"]
    if "revenue" in columns:
        parts.append("CAST(revenue AS VARCHAR)")
    where = ""
    params: list[Any] = []
    if up_to is not None:
        where = 'WHERE CAST("timestamp" AS DATE) <= CAST(? AS DATE)'
        params = [pd.Timestamp(up_to).date()]
    row = con.execute(
        f"SELECT count(*), CAST(coalesce(sum(md5_number_lower(concat_ws('|', {', '.join(parts)})) "
        f"::HUGEINT), 0) AS VARCHAR) FROM {name} {where}",
        params,
    ).fetchone()
    assert row is not None
    return int(row[0]), hashlib.sha256(f"{row[0]}:{row[1]}".encode()).hexdigest()
