"""The small seeded orders of the database read tests, and how to put them in each engine."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
from click.testing import CliRunner

from clvmodels.cli import cli


def seeded_orders(n_customers: int = 40, seed: int = 13, text_ids: bool = True) -> pd.DataFrame:
    """Orders with ids such as ``007`` (or integers), times to the second, revenue in cents."""
    rng = np.random.default_rng(seed)
    rows = []
    start = pd.Timestamp("2023-01-01")
    for i in range(1, n_customers + 1):
        first = start + pd.Timedelta(seconds=int(rng.integers(0, 300 * 86400)))
        times = [first] + [
            first + pd.Timedelta(seconds=int(s))
            for s in rng.integers(3600, 400 * 86400, size=int(rng.integers(0, 6)))
        ]
        for t in times:
            cents = int(rng.integers(1, 50_000))
            rows.append(
                (f"{i:03d}" if text_ids else i * 1000 + 7, t, f"{cents // 100}.{cents % 100:02d}")
            )
    frame = pd.DataFrame(rows, columns=["customer_id", "timestamp", "revenue"])
    return frame.sort_values("timestamp", kind="stable").reset_index(drop=True)


def write_csv(frame: pd.DataFrame, path: Path) -> Path:
    """The oracle's file: revenue as written (two decimals), times in ISO 8601."""
    frame.assign(timestamp=frame["timestamp"].dt.strftime("%Y-%m-%d %H:%M:%S")).to_csv(
        path, index=False
    )
    return path


def typed(frame: pd.DataFrame) -> pa.Table:
    """The orders as Arrow with revenue a decimal(12, 2), as a database stores money."""
    return pa.table(
        {
            "customer_id": pa.array(frame["customer_id"].tolist()),
            "timestamp": pa.array(frame["timestamp"].dt.to_pydatetime(), pa.timestamp("us")),
            "revenue": pa.array(frame["revenue"].tolist()).cast(pa.decimal128(12, 2)),
        }
    )


def write_duckdb(frame: pd.DataFrame, path: Path, schema: str, table: str) -> Path:
    """The orders in a DuckDB file, in ``schema.table`` (quoted), beside another table."""
    arrow = typed(frame)
    with duckdb.connect(str(path)) as con:
        con.register("src", arrow)
        q = '"' + schema.replace('"', '""') + '"'
        t = '"' + table.replace('"', '""') + '"'
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {q}")
        con.execute(f"CREATE TABLE {q}.{t} AS SELECT * FROM src")
        con.execute("CREATE TABLE other AS SELECT 1 AS x")
    return path


def write_sqlite(frame: pd.DataFrame, path: Path, table: str) -> Path:
    """The orders in a SQLite file (times as ISO text, revenue as written), beside another."""
    with contextlib.closing(sqlite3.connect(path)) as con:
        t = '"' + table.replace('"', '""') + '"'
        con.execute(f"CREATE TABLE {t} (customer_id, timestamp TEXT, revenue NUMERIC)")
        con.executemany(
            f"INSERT INTO {t} VALUES (?, ?, ?)",
            [
                (c, ts.isoformat(sep=" "), r)
                for c, ts, r in frame.itertuples(index=False, name=None)
            ],
        )
        con.execute("CREATE TABLE other (x)")
        con.commit()
    return path


def write_postgres(
    url: str, frame: pd.DataFrame, schema: str, table: str, *, tz: bool, numeric: str
) -> None:
    """The orders in PostgreSQL ``schema.table``: timestamptz (UTC) or timestamp, numeric."""
    import adbc_driver_postgresql.dbapi as pg

    q = '"' + schema.replace('"', '""') + '"'
    t = '"' + table.replace('"', '""') + '"'
    arrow = pa.table(
        {
            "customer_id": pa.array(frame["customer_id"].tolist()),
            "timestamp": pa.array(
                frame["timestamp"].dt.to_pydatetime(), pa.timestamp("us", tz="UTC" if tz else None)
            ),
            "revenue": pa.array(frame["revenue"].tolist(), pa.string()),
        }
    )
    with pg.connect(url) as con, con.cursor() as cur:
        cur.execute(f"CREATE SCHEMA IF NOT EXISTS {q}")
        cur.adbc_ingest(table, arrow, mode="replace", db_schema_name=schema)
        cur.execute(
            f"ALTER TABLE {q}.{t} ALTER COLUMN revenue TYPE {numeric} USING revenue::{numeric}"
        )
        con.commit()


def run(*args: str):
    """``clv ARGS`` in this process; stdout and stderr apart."""
    return CliRunner().invoke(cli, list(args), catch_exceptions=True)


def fixed_model_dir(path: Path) -> Path:
    """A fixed BG/NBD + Gamma-Gamma posterior saved as a model folder (no fitting)."""
    from conftest import BGNBD_PUBLISHED, GAMMA_GAMMA_PUBLISHED, fixed_posterior

    from clvmodels.model import CLVModel
    from clvmodels.models.bgnbd import BetaGeoModel
    from clvmodels.models.gamma_gamma import GammaGammaModel
    from clvmodels.persistence import save_model

    model = CLVModel.from_posteriors(
        BetaGeoModel.from_posterior(
            fixed_posterior(BGNBD_PUBLISHED), {"method": "mcmc"}, method="mcmc"
        ),
        GammaGammaModel.from_posterior(
            fixed_posterior(GAMMA_GAMMA_PUBLISHED, seed=1), {"method": "mcmc"}, method="mcmc"
        ),
        time_unit="W",
        method="mcmc",
        data_info={"calibration_end": "2023-12-31", "first_order": "2023-01-01"},
    )
    return Path(save_model(model, path))


def ingest_postgres(url: str, frame: pd.DataFrame, table: str) -> None:
    """``frame`` as the PostgreSQL table ``table`` (replaced), in its Arrow types."""
    import adbc_driver_postgresql.dbapi as pg

    with pg.connect(url) as con, con.cursor() as cur:
        cur.adbc_ingest(table, pa.Table.from_pandas(frame, preserve_index=False), mode="replace")
        con.commit()
