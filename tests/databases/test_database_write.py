"""write_database: tables and views into PostgreSQL, DuckDB and SQLite, all or nothing."""

from __future__ import annotations

import contextlib
import itertools
import sqlite3
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pytest

from clvmodels.data import database_write
from clvmodels.data.database_url import DatabaseURL, TableName, parse_database_url
from clvmodels.data.database_write import (
    Append,
    Replace,
    View,
    qualified,
    write_database,
)
from clvmodels.data.io import write_table_chunks
from clvmodels.errors import DataError

ENGINES = ["duckdb", "sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
_schemas = itertools.count()


@pytest.fixture(scope="module")
def pg_database(request) -> str:
    return request.getfixturevalue("postgres").create_database("write_tests")


@pytest.fixture
def db(request, tmp_path) -> tuple[DatabaseURL, str]:
    """A database of each engine and a schema of its own (a fresh one per test)."""
    engine = request.param
    schema = f"w{next(_schemas)}"
    if engine == "postgresql":
        return parse_database_url(request.getfixturevalue("pg_database")), schema
    return parse_database_url(f"{engine}:///{tmp_path / f'w.{engine}'}"), schema


def rows(url: DatabaseURL, sql: str) -> list[tuple[Any, ...]]:
    """Read back with the engine's own driver (not the code under test)."""
    if url.engine == "duckdb":
        with contextlib.closing(duckdb.connect(str(url.path), read_only=True)) as con:
            return con.execute(sql).fetchall()
    if url.engine == "sqlite":
        with contextlib.closing(sqlite3.connect(url.path)) as con:
            return con.execute(sql).fetchall()
    import adbc_driver_postgresql.dbapi as pg

    with pg.connect(url.connect_url) as con, con.cursor() as cur:
        cur.execute(sql)
        return [tuple(r) for r in cur.fetchall()]


def table_names(url: DatabaseURL) -> set[str]:
    sql = {
        "duckdb": "SELECT table_name FROM information_schema.tables",
        "sqlite": "SELECT name FROM sqlite_master",
        "postgresql": "SELECT relname FROM pg_class",
    }[url.engine]
    return {r[0] for r in rows(url, sql)}


def frame(n: int = 3, start: int = 0) -> pd.DataFrame:
    ids = np.arange(start, start + n, dtype="int64")
    return pd.DataFrame(
        {
            "customer_id": ids,
            "code": pd.Series([f"{i:03d}" for i in ids], dtype="str"),  # "007" stays text
            "first": pd.Timestamp("2024-01-31 09:30:15.123456") + pd.to_timedelta(ids, "D"),
            "repeat": ids % 2 == 0,
            "clv": np.where(ids % 3 == 1, np.nan, ids * 1.5),
            "segment": pd.Categorical(np.where(ids % 2 == 0, "loyal", "lost")),
        }
    )


def expected_rows(df: pd.DataFrame, engine: str) -> list[tuple[Any, ...]]:
    """What a driver gives back for ``frame``'s rows, built from the frame by hand."""
    out = []
    for r in df.itertuples(index=False):
        stamp: Any = r.first.to_pydatetime()
        repeat: Any = bool(r.repeat)
        if engine == "sqlite":  # text and 0/1 there
            stamp, repeat = stamp.isoformat(sep=" "), int(repeat)
        clv = None if np.isnan(r.clv) else float(r.clv)
        out.append((int(r.customer_id), r.code, stamp, repeat, clv, str(r.segment)))
    return out


def q(url: DatabaseURL, name: str, schema: str) -> str:
    return qualified(url, name, schema)


@pytest.mark.parametrize("db", ENGINES, indirect=True)
def test_write_and_read_back_equal(db):
    url, schema = db
    df = frame(5)
    shown = write_database(url, {"customers": Replace(df)}, schema=schema)
    assert shown == [f"{schema}_customers" if url.engine == "sqlite" else f"{schema}.customers"]
    got = rows(url, f"SELECT * FROM {q(url, 'customers', schema)} ORDER BY customer_id")
    assert got == expected_rows(df, url.engine)
    if url.engine == "postgresql":
        types = rows(
            url,
            "SELECT column_name, data_type FROM information_schema.columns "
            f"WHERE table_schema = '{schema}' AND table_name = 'customers' ORDER BY 1",
        )
        assert dict(types) == {
            "customer_id": "bigint",
            "code": "text",
            "first": "timestamp without time zone",
            "repeat": "boolean",
            "clv": "double precision",
            "segment": "text",
        }


@pytest.mark.parametrize("db", ENGINES, indirect=True)
def test_views_are_recreated_and_show_the_new_data(db):
    url, schema = db
    view = View("SELECT count(*) AS n, max(customer_id) AS s FROM {t[customers]}")
    write_database(url, {"customers": Replace(frame(3)), "totals": view}, schema=schema)
    assert rows(url, f"SELECT n, s FROM {q(url, 'totals', schema)}") == [(3, 2)]
    write_database(url, {"customers": Replace(frame(4, 10)), "totals": view}, schema=schema)
    assert rows(url, f"SELECT n, s FROM {q(url, 'totals', schema)}") == [(4, 13)]
    assert not {n for n in table_names(url) if n.startswith(database_write.TEMP_PREFIX)}


def _state(url: DatabaseURL, schema: str) -> tuple[Any, ...]:
    return (
        rows(url, f"SELECT customer_id FROM {q(url, 'customers', schema)} ORDER BY 1"),
        rows(url, f"SELECT customer_id FROM {q(url, 'runs', schema)} ORDER BY 1"),
        rows(url, f"SELECT n FROM {q(url, 'totals', schema)}"),
    )


@pytest.mark.parametrize("db", ENGINES, indirect=True)
@pytest.mark.parametrize("how", ["bad frame", "raises after the first table"])
def test_a_failure_midway_leaves_tables_views_and_rows(db, how, monkeypatch):
    url, schema = db
    view = View("SELECT count(*) AS n FROM {t[customers]}")

    def items(start: int, last: pd.DataFrame) -> dict[str, Any]:
        return {
            "customers": Replace(frame(3, start)),
            "runs": Append(frame(1, start)),
            "totals": view,
            "last": Replace(last),
        }

    write_database(url, items(0, frame(1)), schema=schema)
    before = _state(url, schema)
    assert before == ([(0,), (1,), (2,)], [(0,)], [(3,)])
    bad = frame(2)
    if how == "bad frame":
        bad["clv"] = pd.Series([1.5, "x"], dtype=object)  # no column type holds both
    else:
        original = database_write.replace_table
        calls = []

        def replace_then_fail(*args: Any) -> None:
            original(*args)
            calls.append(args[1])
            if len(calls) == 1:
                raise RuntimeError("the process was killed")

        monkeypatch.setattr(database_write, "replace_table", replace_then_fail)
    with pytest.raises(DataError) as err:
        write_database(url, items(100, bad), schema=schema)
    assert "nothing was changed" in str(err.value)
    assert str(url) in str(err.value)
    assert _state(url, schema) == before
    assert not {n for n in table_names(url) if n.startswith(database_write.TEMP_PREFIX)}


@pytest.mark.parametrize("db", ENGINES, indirect=True)
def test_names_with_quotes_semicolons_and_spaces(db):
    url, _ = db
    schema = 'odd "s"; DROP TABLE keep; --' if url.engine != "sqlite" else "odd s"
    name = 'Orders 1997"; DROP TABLE keep; --'
    write_database(url, {"keep": Replace(frame(2))})
    shown = write_database(
        url,
        {name: Replace(frame(3)), "v; x": View("SELECT count(*) FROM {t[" + name + "]}")},
        schema=schema,
    )
    stored = name if url.engine != "sqlite" else f"{schema}_{name}"
    assert stored in table_names(url)
    assert rows(url, f"SELECT count(*) FROM {q(url, name, schema)}") == [(3,)]
    assert rows(url, f"SELECT * FROM {q(url, 'v; x', schema)}") == [(3,)]
    assert rows(url, 'SELECT count(*) FROM "keep"') == [(2,)]
    assert shown[0] == str(TableName(stored) if url.engine == "sqlite" else TableName(name, schema))


def test_sqlite_has_no_schemas_the_schema_is_a_prefix(tmp_path):
    url = parse_database_url(f"sqlite:///{tmp_path / 'p.sqlite'}")
    assert qualified(url, "customers", "clv") == '"clv_customers"'
    assert qualified(url, "customers", None) == '"customers"'
    duck = parse_database_url(f"duckdb:///{tmp_path / 'p.duckdb'}")
    assert qualified(duck, "customers", "clv") == '"clv"."customers"'
    write_database(url, {"customers": Replace(frame(2))}, schema="clv")
    assert table_names(url) == {"clv_customers"}


@pytest.mark.parametrize("engine", ["duckdb", "sqlite"])
def test_file_engines_a_users_view_follows_the_new_table(tmp_path, engine):
    url = parse_database_url(f"{engine}:///{tmp_path / f'u.{engine}'}")
    write_database(url, {"customers": Replace(frame(2))})
    connect = duckdb.connect if engine == "duckdb" else sqlite3.connect
    with contextlib.closing(connect(str(url.path))) as con:
        con.execute("CREATE VIEW mine AS SELECT count(*) AS n FROM customers")
        if engine == "duckdb":
            con.commit()
    write_database(url, {"customers": Replace(frame(5))})
    assert rows(url, "SELECT n FROM mine") == [(5,)]


@pytest.mark.postgres
def test_postgres_a_users_view_blocks_the_swap_and_nothing_changes(pg_database, postgres):
    url = parse_database_url(pg_database)
    write_database(url, {"customers": Replace(frame(2))}, schema="blocked")
    postgres.psql(
        "CREATE VIEW public.mine AS SELECT count(*) AS n FROM blocked.customers", "write_tests"
    )
    with pytest.raises(DataError) as err:
        write_database(
            url, {"customers": Replace(frame(5)), "other": Replace(frame(1))}, schema="blocked"
        )
    assert "the view public.mine depends on blocked.customers" in str(err.value)
    assert "nothing was changed" in str(err.value)
    assert rows(url, "SELECT n FROM public.mine") == [(2,)]
    assert "other" not in table_names(url)


@pytest.mark.postgres
def test_postgres_names_longer_than_63_bytes_are_refused(pg_database):
    url = parse_database_url(pg_database)
    fits = "é" * 31 + "x"  # 63 bytes
    assert write_database(url, {fits: Replace(frame(1))}, schema="long") == [
        str(TableName(fits, "long"))
    ]
    assert rows(url, f"SELECT count(*) FROM {q(url, fits, 'long')}") == [(1,)]
    with pytest.raises(DataError, match="64 bytes long; PostgreSQL keeps at most 63"):
        write_database(url, {fits + "y": Replace(frame(1))}, schema="long")


@pytest.mark.postgres
def test_postgres_password_never_in_an_error(postgres):
    url = parse_database_url(f"postgresql://clvtest:s3cr%40t@127.0.0.1:{postgres.port}/nosuchdb")
    with pytest.raises(DataError) as err:
        write_database(url, {"t": Replace(frame(1))})
    assert "s3cr" not in str(err.value) and "***" in str(err.value)


@pytest.mark.parametrize("db", ENGINES, indirect=True)
def test_chunks_go_into_one_transaction(db):
    url, schema = db
    target = url.with_table(TableName("scores", schema))
    chunks = (frame(2, start) for start in (0, 2, 4))
    assert write_table_chunks(chunks, target) == 6
    table = q(url, "scores", schema)
    assert rows(url, f"SELECT customer_id FROM {table} ORDER BY 1") == [(i,) for i in range(6)]

    def failing():
        yield frame(2, 10)
        raise RuntimeError("killed while scoring")

    with pytest.raises(DataError, match="killed while scoring"):
        write_table_chunks(failing(), target)
    assert rows(url, f"SELECT count(*) FROM {table}") == [(6,)]


def test_append_with_other_columns_is_refused(tmp_path):
    url = parse_database_url(f"duckdb:///{tmp_path / 'a.duckdb'}")
    write_database(url, {"runs": Append(frame(1))})
    with pytest.raises(DataError, match="has the columns customer_id, code"):
        write_database(url, {"runs": Append(frame(1).drop(columns="code"))})
    assert rows(url, "SELECT count(*) FROM runs") == [(1,)]


def test_a_failed_write_into_a_new_file_leaves_no_file(tmp_path):
    path = tmp_path / "new.duckdb"
    url = parse_database_url(f"duckdb:///{path}")
    with pytest.raises(DataError):
        write_database(url, {"v": View("SELECT * FROM {t[missing]}")})
    assert not path.exists()
    with pytest.raises(DataError, match=r"folder .* does not exist"):
        write_database(parse_database_url("sqlite:///no/such/folder/x.sqlite"), {})
