"""Reading databases safely: names quoted, queries read-only, passwords hidden, clear errors."""

from __future__ import annotations

import contextlib
import socket
import sqlite3
from urllib.parse import quote

import duckdb
import pandas as pd
import pytest
from db_orders import run, seeded_orders, write_csv, write_duckdb, write_postgres, write_sqlite

from clvmodels.data.database_read import exact_numeric, read_postgres
from clvmodels.data.database_url import parse_database_url
from clvmodels.errors import DataError

pytestmark = pytest.mark.postgres
PASSWORD = "Hidden-Pw-5521"
#: A schema and a table whose names would break SQL that pasted them.
SCHEMA = 'x"; DROP TABLE t; --'
TABLE = 'shop "data"; it\'s'
QUOTED = '"x""; DROP TABLE t; --"."shop ""data""; it\'s"'


@pytest.fixture(scope="module")
def db(postgres, tmp_path_factory):
    """A PostgreSQL database with the orders under odd names, a bystander table t, and files."""
    folder = tmp_path_factory.mktemp("security")
    url = postgres.create_database("read_security")
    frame = seeded_orders(n_customers=12, seed=5)
    write_postgres(url, frame, SCHEMA, TABLE, tz=False, numeric="numeric(12,2)")
    write_postgres(url, frame, "public", "orders", tz=False, numeric="numeric(12,2)")
    postgres.psql(
        "CREATE TABLE t (x int); INSERT INTO t VALUES (1); CREATE SEQUENCE s", "read_security"
    )
    csv = write_csv(frame, folder / "orders.csv")
    duck = write_duckdb(frame, folder / "shop.duckdb", SCHEMA, TABLE)
    with duckdb.connect(str(duck)) as con:  # a view that reads another file
        con.execute(f"CREATE VIEW leak AS SELECT * FROM read_csv('{csv}')")
        con.execute("CREATE TABLE t AS SELECT 1 AS x")
    lite = write_sqlite(frame, folder / "shop.sqlite", TABLE)
    with contextlib.closing(sqlite3.connect(lite)) as con:
        con.execute("CREATE TABLE t (x)")
        con.execute("INSERT INTO t VALUES (1)")
        con.commit()
    oracle = folder / "oracle.csv"
    assert run("rfm", str(csv), "-o", str(oracle)).exit_code == 0
    return {
        "server": postgres,
        "url": url,
        "secret": url.replace("clvtest@", f"clvtest:{PASSWORD}@"),
        "csv": csv,
        "duck": duck,
        "lite": lite,
        "oracle": pd.read_csv(oracle, dtype={"customer_id": str}),
        "folder": folder,
    }


def _rfm(db, *args: str, code: int = 0):
    out = db["folder"] / "out.csv"
    out.unlink(missing_ok=True)
    result = run("rfm", *args, "-o", str(out))
    assert result.exit_code == code, result.output
    assert PASSWORD not in result.output
    if code:
        assert "Traceback" not in result.output and not out.exists()
        lines = [line for line in result.output.splitlines() if line.startswith("Error")]
        assert len(lines) == 1, result.output
        return lines[0]
    return pd.read_csv(out, dtype={"customer_id": str})


def _bystanders_intact(db) -> None:
    assert db["server"].psql("SELECT count(*) FROM t", "read_security").strip() == "1"
    assert db["server"].psql("SELECT count(*) FROM orders", "read_security").strip() != "0"
    with duckdb.connect(str(db["duck"]), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM t").fetchone() == (1,)
    with contextlib.closing(sqlite3.connect(db["lite"])) as con:
        assert con.execute("SELECT count(*) FROM t").fetchone() == (1,)


# ------------------------------------------------------------------ names are quoted
def test_odd_names_round_trip_in_every_engine(db):
    fragment = "#" + quote(QUOTED, safe="")
    sources = [
        (db["secret"] + fragment,),
        (db["secret"], "--table", QUOTED),
        (f"duckdb:///{db['duck']}{fragment}",),
        (str(db["duck"]), "--table", QUOTED),
        (f"sqlite:///{db['lite']}#" + quote('"shop ""data""; it\'s"', safe=""),),
    ]
    for source in sources:
        pd.testing.assert_frame_equal(_rfm(db, *source), db["oracle"], obj=str(source))
    _bystanders_intact(db)


def test_table_and_fragment_must_agree(db):
    line = _rfm(db, db["secret"] + "#orders", "--table", "t", code=2)
    assert "#orders" in line and "t" in line
    pd.testing.assert_frame_equal(
        _rfm(db, db["secret"] + "#orders", "--table", "ORDERS"), db["oracle"]
    )


# ------------------------------------------------------------------ queries cannot write
@pytest.mark.parametrize(
    "query",
    [
        "INSERT INTO t VALUES (2)",
        "CREATE TABLE u (x int)",
        "UPDATE t SET x = 3",
        "SELECT 1; DROP TABLE orders",
        "SELECT * FROM orders; DROP TABLE t",
        "WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d",
        "SELECT *, nextval('s') FROM orders",
        "SELECT *, set_config('transaction_read_only', 'off', true) FROM orders",
    ],
)
def test_a_postgres_query_cannot_write(db, query):
    line = _rfm(db, db["secret"], "--query", query, code=2)
    assert "query" in line
    _bystanders_intact(db)


def test_the_read_only_transaction_holds_without_the_select_check(db):
    url = parse_database_url(db["secret"])
    for query in ("CREATE TABLE u (x int)", "DROP TABLE t", "INSERT INTO t VALUES (2)"):
        with pytest.raises(DataError, match="read-only transaction") as caught:
            read_postgres(url, query=query)
        assert PASSWORD not in str(caught.value)
    _bystanders_intact(db)


@pytest.mark.parametrize(
    "query",
    [
        "COPY t TO '{out}'",
        "SELECT * FROM read_csv('{csv}')",
        "SELECT * FROM read_text('/etc/passwd')",
        "ATTACH '{out}.duckdb' AS other",
        "SELECT * FROM t; COPY t TO '{out}'",
    ],
)
def test_a_duckdb_query_reaches_no_file(db, query):
    out = db["folder"] / "written.csv"
    text = query.format(out=out, csv=db["csv"])
    for source in (f"duckdb:///{db['duck']}", str(db["duck"])):
        _rfm(db, source, "--query", text, code=2)
    assert not out.exists() and not (db["folder"] / "written.csv.duckdb").exists()
    _bystanders_intact(db)


def test_allow_file_access_lets_a_duckdb_query_read_files(db):
    query = f"SELECT * FROM read_csv('{db['csv']}', all_varchar = true)"
    line = _rfm(db, f"duckdb:///{db['duck']}", "--query", query, code=2)
    assert "disabled" in line or "Permission" in line
    read = _rfm(db, f"duckdb:///{db['duck']}", "--query", query, "--allow-file-access")
    pd.testing.assert_frame_equal(read, db["oracle"])
    _rfm(db, f"duckdb:///{db['duck']}#leak", code=2)  # a view of the file reads no file
    pd.testing.assert_frame_equal(
        _rfm(db, f"duckdb:///{db['duck']}#leak", "--allow-file-access"), db["oracle"]
    )


@pytest.mark.parametrize(
    "query",
    [
        "SELECT * FROM t; DROP TABLE t",
        "WITH x AS (SELECT 1) REPLACE INTO t VALUES (5)",
        "SELECT * FROM t WHERE x IN (SELECT 1) ; DELETE FROM t",
    ],
)
def test_a_sqlite_query_cannot_write(db, query):
    _rfm(db, f"sqlite:///{db['lite']}", "--query", query, code=2)
    _bystanders_intact(db)


# ------------------------------------------------------------------ errors
def test_an_unknown_table_lists_the_tables(db):
    line = _rfm(db, db["secret"] + "#nope", code=2)
    assert "no table nope" in line and "orders" in line and "t" in line
    assert '"x""; DROP TABLE t; --"' in line  # the odd schema listed, quoted
    for source in (f"duckdb:///{db['duck']}#nope", f"sqlite:///{db['lite']}#nope"):
        line = _rfm(db, source, code=2)
        assert "no table nope" in line and "t" in line.split("tables are:")[1]
    line = _rfm(db, db["secret"], code=2)
    assert "tables" in line and "--table" in line


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("mysql://u:{pw}@h/db#orders", "is not a database"),
        ("postgresql://u:{pw}@127.0.0.1#orders", "names no database"),
        ("duckdb:///missing.duckdb#orders", "file not found"),
        ("sqlite:///{csv}#orders", "is not a sqlite database"),
        ("postgresql://u:{pw}@127.0.0.1:5432/db#a.b.c", "parts"),
    ],
)
def test_bad_urls_are_one_line(db, url, expected):
    line = _rfm(db, url.format(pw=PASSWORD, csv=db["csv"]), code=2)
    if expected:
        assert expected in line


def test_an_unreachable_server_is_one_line_with_the_password_hidden(db):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed once the block ends: nothing listens
    line = _rfm(db, f"postgresql://bob:{PASSWORD}@127.0.0.1:{port}/shop#orders", code=2)
    assert f"postgresql://bob:***@127.0.0.1:{port}/shop" in line
    assert "PGPASSWORD" in line and ".pgpass" in line


def test_a_password_never_shows_in_warnings_or_errors(db):
    """Duplicate rows make a warning; a bad column an error: neither shows the password."""
    db["server"].psql(
        "CREATE TABLE dups AS SELECT * FROM orders UNION ALL SELECT * FROM orders", "read_security"
    )
    result = run("rfm", db["secret"] + "#dups", "-o", str(db["folder"] / "d.csv"))
    assert result.exit_code == 0 and "duplicates" in result.output
    assert PASSWORD not in result.output
    assert "no column" in _rfm(db, db["secret"] + "#t", code=2)  # _rfm checks the password


def test_numeric_becomes_exact():
    import pyarrow as pa

    opaque = pa.opaque(pa.string(), "numeric", "PostgreSQL")

    def column(values, typmod):
        storage = pa.array(values, pa.string())
        field = pa.field(
            "v", opaque, metadata={"POSTGRESQL:type": "numeric", "POSTGRESQL:typmod": str(typmod)}
        )
        return pa.Table.from_arrays(
            [pa.ExtensionArray.from_storage(opaque, storage)], schema=pa.schema([field])
        )

    money = exact_numeric(column(["12.34", "-0.10", None], ((12 << 16) | 2) + 4))
    assert money.schema.field("v").type == pa.decimal128(12, 2)
    assert money.column("v").to_pylist()[0] == __import__("decimal").Decimal("12.34")
    bare = exact_numeric(column(["0.1000000000000000055511151231257827", "7"], -1))
    assert bare.column("v").to_pylist() == ["0.1000000000000000055511151231257827", "7"]
    nan = exact_numeric(column(["1.50", "nan"], ((10 << 16) | 2) + 4))
    assert nan.schema.field("v").type == pa.string()


def test_table_is_refused_where_it_cannot_apply(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """--table with --query, or --table of a CSV file, is an error, never silently ignored."""
    import sqlite3

    import pytest

    from clvmodels.data.io import read_table
    from clvmodels.errors import DataError

    csv = tmp_path / "orders.csv"
    csv.write_text("customer_id,timestamp,revenue\n1,2024-01-01,5\n")
    with pytest.raises(DataError, match="holds one table: leave --table out"):
        read_table(csv, table="orders")
    db = tmp_path / "shop.sqlite"
    with sqlite3.connect(db) as con:
        con.execute("CREATE TABLE orders (customer_id INT)")
    with pytest.raises(DataError, match="both say what to read"):
        read_table(db, table="orders", query="SELECT 1 AS x")
    assert list(read_table(db, table="orders").columns) == ["customer_id"]
