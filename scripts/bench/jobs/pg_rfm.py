"""``pg_rfm``: ``clv rfm postgresql://...#orders -o ...`` (days) as a whole process.

The benchmark's orders (``OUT/orders.parquet``, ~10M at the default 1M customers) are loaded,
untimed, into a PostgreSQL table ``orders (customer_id bigint, "timestamp" timestamp, revenue
numeric(12, 2))`` — the types a shop's database has. The server is a throw-away one that the
benchmark starts on 127.0.0.1 (``tests/pg_server.py``) and stops at the end, or an existing one
given with ``--postgres-url`` (its ``orders`` table is then replaced: use a scratch database).

Our side runs the command, which reads the table through ADBC (COPY, Arrow) into DuckDB. The
other side is what people write: ``pandas.read_sql`` of the table through SQLAlchemy and
psycopg 3, then ``pymc_marketing.clv.rfm_summary(time_unit="D")``. Each process is timed with
``os.wait4``. In days both define the RFM alike (same-day orders are one purchase; recency and
T in whole days), so the check compares them: the same customers with the same frequency,
recency, T and monetary value.
"""

from __future__ import annotations

import argparse
import atexit
import sys
import time
from pathlib import Path
from typing import Any

from ..common import log
from ..job import Job, both_sides
from ..runner import PACKAGE_DIR, clv_command, run_timed

TARGET = (
    "`clv rfm` from PostgreSQL ≥ 5× faster than pandas.read_sql + pymc-marketing rfm_summary, "
    "clv peak ≤ 1500 MB (judged at 10M orders)"
)
PG_RFM_MIN_RATIO = 5.0
PG_RFM_MAX_PEAK_MB = 1500.0
PG_RFM_FULL_ORDERS = 10_000_000

PANDAS_CODE = """
import sys, time
import pandas as pd
from sqlalchemy import create_engine
from pymc_marketing.clv import rfm_summary
url = sys.argv[1].replace("postgresql://", "postgresql+psycopg://", 1)
started = time.perf_counter()
orders = pd.read_sql('SELECT customer_id, "timestamp", revenue FROM orders', create_engine(url))
orders["revenue"] = orders["revenue"].astype(float)
read_seconds = time.perf_counter() - started
rfm = rfm_summary(orders, customer_id_col="customer_id", datetime_col="timestamp",
                  monetary_value_col="revenue", time_unit="D")
print("read_seconds", read_seconds, "rfm_seconds", time.perf_counter() - started - read_seconds)
rfm.to_parquet(sys.argv[2], index=False)
"""


def _tests_dir() -> Path:
    return PACKAGE_DIR.parent.parent / "tests"


def prepare(args: argparse.Namespace, entry: dict[str, Any], report: dict[str, Any]) -> bool:
    """Start a throw-away server (unless --postgres-url) and load the orders into it."""
    import adbc_driver_postgresql.dbapi as pg
    import pyarrow as pa
    import pyarrow.parquet as pq

    url = args.postgres_url
    if url is None:
        sys.path.insert(0, str(_tests_dir()))
        from pg_server import start_server  # the tests' throw-away server

        try:
            server = start_server()
        except (RuntimeError, OSError) as exc:
            log(f"pg_rfm: cannot start PostgreSQL: {exc}")
            return False
        atexit.register(server.stop)
        url = server.url()
    orders_path = Path(args.out) / "orders.parquet"
    log(f"pg_rfm: loading {orders_path} into PostgreSQL (untimed)")
    started = time.perf_counter()
    table = pq.read_table(orders_path)
    revenue = table.column("revenue").cast(pa.decimal128(12, 2), safe=False)
    table = table.set_column(table.schema.get_field_index("revenue"), "revenue", revenue)
    with pg.connect(url) as con:
        cur = con.cursor()
        cur.execute("DROP TABLE IF EXISTS orders")
        cur.execute(
            'CREATE TABLE orders (customer_id bigint, "timestamp" timestamp, '
            "revenue numeric(12, 2))"
        )
        cur.adbc_ingest("orders", table, mode="append")
        cur.execute("ANALYZE orders")
        con.commit()
    entry["data"] = {
        "orders": table.num_rows,
        "load_seconds": time.perf_counter() - started,
        "server": "throw-away (127.0.0.1)" if args.postgres_url is None else "--postgres-url",
    }
    args.pg_url = url
    return True


def options(args: argparse.Namespace, side: str) -> list[str]:
    """The server's URL, for the sides' processes."""
    return ["--pg-url", args.pg_url]


def child_pg_rfm(args: argparse.Namespace, out: Path, *, ours: bool) -> dict[str, Any]:
    """``clv rfm URL#orders -o ...`` or the pandas.read_sql process, on the same table."""
    import pyarrow.parquet as pq

    target = out / f"pg_rfm_{'ours' if ours else 'pymc'}.parquet"
    if ours:
        cmd = [*clv_command(), "rfm", f"{args.pg_url}#orders", "--time-unit", "D", "-o",
               str(target)]  # fmt: skip
    else:
        cmd = [sys.executable, "-c", PANDAS_CODE, args.pg_url, str(target)]
    result = run_timed(cmd)
    lines = result["stdout"].strip().splitlines()
    return {
        "call_seconds": result["seconds"],
        "command_peak_rss_mb": result["peak_rss_mb"],
        "n_customers": pq.ParquetFile(target).metadata.num_rows,
        "measured_command": " ".join(cmd)
        if ours
        else "python -c <pandas.read_sql (SQLAlchemy + psycopg 3), rfm_summary>",
        "output_tail": lines[-3:],
    }


def child_ours(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """The `clv rfm` side."""
    return child_pg_rfm(args, out, ours=True)


def child_pymc(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """The pandas.read_sql + pymc-marketing side."""
    return child_pg_rfm(args, out, ours=False)


def child_check(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """Same customers, frequency, recency and T; monetary value within 1e-9 (relative)."""
    import numpy as np
    import pandas as pd

    columns = ["customer_id", "frequency", "recency", "T", "monetary_value"]
    ours, other = (
        pd.read_parquet(out / f"pg_rfm_{side}.parquet", columns=columns)
        .sort_values("customer_id")
        .reset_index(drop=True)
        for side in ("ours", "pymc")
    )
    same_ids = ours["customer_id"].equals(other["customer_id"])
    same = {
        name: bool(
            same_ids and np.array_equal(ours[name].to_numpy(float), other[name].to_numpy(float))
        )
        for name in ("frequency", "recency", "T")
    }
    money = bool(
        same_ids
        and np.allclose(ours["monetary_value"], other["monetary_value"], rtol=1e-9, atol=1e-9)
    )
    return {
        "agreement": {
            "agree": same_ids and all(same.values()) and money,
            "customers": len(ours),
            "same_customers": bool(same_ids),
            **{f"same_{name}": value for name, value in same.items()},
            "same_monetary_value": money,
        }
    }


def verdict(args: argparse.Namespace, entry: dict[str, Any], row: dict[str, Any]) -> dict:
    """Met at 10M orders when ≥ 5× faster and `clv rfm` peaks at ≤ 1500 MB."""
    ours, pymc = both_sides(entry)
    n_orders = (entry.get("data") or {}).get("orders", 0)
    if n_orders < PG_RFM_FULL_ORDERS:
        return {"met": None, "not_judged": f"fewer than the target's {PG_RFM_FULL_ORDERS:,} orders"}
    if pymc is None:
        return {"met": None}
    return {
        "met": bool(
            pymc["call_seconds"] / ours["call_seconds"] >= PG_RFM_MIN_RATIO
            and ours["command_peak_rss_mb"] <= PG_RFM_MAX_PEAK_MB
        )
    }


def notes(entry: dict[str, Any]) -> list[str]:
    """What both processes run."""
    data = entry.get("data") or {}
    if not data:
        return []
    return [
        f"{data['orders']:,} orders in a PostgreSQL table (bigint, timestamp, numeric(12,2); "
        f"{data['server']} server, loaded untimed in {data['load_seconds']:.1f} s); both sides "
        "are whole processes: `clv rfm URL#orders` (ADBC COPY to Arrow, DuckDB) against "
        "pandas.read_sql through SQLAlchemy + psycopg 3, then pymc_marketing.clv.rfm_summary, "
        "both in days; "
        "peak = the process's ru_maxrss"
    ]


def digest(agreed: dict[str, Any]) -> dict[str, Any]:
    """Which columns agree."""
    return {key: value for key, value in agreed.items() if key.startswith("same_")}


JOB = Job(
    name="pg_rfm",
    target=TARGET,
    label="clv rfm from PostgreSQL (process)",
    side_names={"pymc": "pandas.read_sql + pymc-marketing"},
    sides={"ours": child_ours, "pymc": child_pymc},
    check=child_check,
    prepare=prepare,
    options=options,
    verdict=verdict,
    notes=notes,
    digest=digest,
)
