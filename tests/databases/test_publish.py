"""clv publish into PostgreSQL, DuckDB, SQLite and a folder: tables, views, runs, failures.

The oracles are pandas computations in the tests on the orders CSV or on the published
cohort and customers tables; the databases are read back with their own drivers.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from clvmodels.cli import cli
from clvmodels.data.contract import OrdersSource
from clvmodels.examples.simulate import simulate_orders
from clvmodels.jobs.fit import FitSettings, fit_orders

TABLES = {"orders", "customers", "cohorts", "segment_summary", "runs"}
VIEWS = {
    "m1_retention",
    "retention_curve",
    "top_customers",
    "top_dimensions",
    "customer_favourite_dimension",
}
PASSWORD = "Sekr3t-pw-77"
REPO = Path(__file__).resolve().parents[2]


def _orders(n: int, seed: int, start: str, tie_month: str, cut: str) -> pd.DataFrame:
    """Simulated orders up to mid-month ``cut`` (the last month is partial), a partner_id
    column, and two customers acquired in ``tie_month`` whose favourite partner is a tie."""
    orders, _ = simulate_orders(
        n, seed=seed, start=start, acquisition_days=200, observation_days=400
    )
    orders = orders.loc[orders["timestamp"] < pd.Timestamp(cut)]
    rng = np.random.default_rng(seed)
    orders["partner_id"] = rng.choice(["p1", "p2", "p3"], len(orders))
    ties = pd.DataFrame(
        {  # 9001: two orders each of p1 and p2, same revenue -> p1 (smaller value)
            # 9002: two orders each of p2 and p3; p2 has more revenue -> p2
            "customer_id": [9001] * 4 + [9002] * 4,
            "timestamp": pd.to_datetime([f"{tie_month}-0{d} 10:00" for d in range(1, 9)]),
            "revenue": [10.0, 10.0, 10.0, 10.0, 5.0, 5.0, 30.0, 1.0],
            "partner_id": ["p2", "p2", "p1", "p1", "p3", "p3", "p2", "p2"],
        }
    )
    return pd.concat([orders, ties], ignore_index=True)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("publish")
    paths = {"first": folder / "orders1.csv", "second": folder / "orders2.csv"}
    _orders(220, 3, "2024-01-01", "2024-12", "2025-01-16").to_csv(paths["first"], index=False)
    _orders(150, 4, "2024-02-01", "2025-01", "2025-02-15").to_csv(paths["second"], index=False)
    bad = pd.read_csv(paths["second"])
    bad.loc[3, "timestamp"] = "not a date"
    paths["bad"] = folder / "bad.csv"
    bad.to_csv(paths["bad"], index=False)
    paths["model"] = folder / "model"
    fit_orders(OrdersSource(paths["first"]), paths["model"], FitSettings(method="map"))
    return paths


def _publish(orders: Path, to: str, model: Path, *extra: str) -> tuple[int, str]:
    args = ["publish", str(orders), "--to", to, "--model", str(model)]
    args += ["--dimension-col", "partner_id", *extra]
    result = CliRunner().invoke(cli, args)
    return result.exit_code, result.output


# ----------------------------------------------------------------------- reading back
def _read_all(to: str) -> dict[str, pd.DataFrame]:
    """Every table and view of schema clv in the database ``to``, by its short name."""
    if to.startswith("postgresql://"):
        import adbc_driver_postgresql.dbapi as pg

        with pg.connect(to) as con, con.cursor() as cur:
            cur.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'clv'"
            )
            names = [row[0] for row in cur.fetchall()]
            frames = {}
            for name in names:
                cur.execute(f'SELECT * FROM clv."{name}"')
                frames[name] = cur.fetch_arrow_table().to_pandas()
            return frames
    if to.startswith("duckdb://"):
        import duckdb

        with duckdb.connect(to.removeprefix("duckdb:///"), read_only=True) as con:
            names = [
                row[0]
                for row in con.execute(
                    "SELECT table_name FROM information_schema.tables WHERE table_schema = 'clv'"
                ).fetchall()
            ]
            return {name: con.execute(f'SELECT * FROM clv."{name}"').df() for name in names}
    import sqlite3

    con = sqlite3.connect(to.removeprefix("sqlite:///"))
    try:
        names = [
            row[0]
            for row in con.execute(
                "SELECT name FROM sqlite_master WHERE name LIKE 'clv\\_%' ESCAPE '\\'"
            )
        ]
        return {
            name.removeprefix("clv_"): pd.read_sql_query(f'SELECT * FROM "{name}"', con)
            for name in names
        }
    finally:
        con.close()


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    keys = frame.astype(str)
    return frame.loc[keys.sort_values(list(keys.columns)).index].reset_index(drop=True)


def _snapshot(to: str) -> dict[str, pd.DataFrame]:
    return {name: _sorted(frame) for name, frame in _read_all(to).items()}


def _assert_same(before: dict[str, pd.DataFrame], after: dict[str, pd.DataFrame]) -> None:
    assert before.keys() == after.keys()
    for name in before:
        pd.testing.assert_frame_equal(before[name], after[name], obj=name)


# ----------------------------------------------------------------------- the oracles
def _check_views(frames: dict[str, pd.DataFrame], orders_csv: Path) -> None:
    assert TABLES | VIEWS <= frames.keys()
    cohorts = frames["cohorts"]
    complete = cohorts["complete"].astype(bool)
    expected = cohorts.loc[(cohorts["age"] == 1) & complete].sort_values("cohort")
    m1 = frames["m1_retention"].sort_values("cohort")
    assert list(m1.columns) == ["cohort", "cohort_size", "retained_m1", "m1_retention"]
    assert len(m1) >= 3
    assert pd.to_datetime(m1["cohort"]).tolist() == pd.to_datetime(expected["cohort"]).tolist()
    assert m1["retained_m1"].tolist() == expected["active_customers"].tolist()
    np.testing.assert_allclose(
        m1["m1_retention"], expected["active_customers"] / expected["cohort_size"]
    )
    newest = pd.to_datetime(cohorts["cohort"]).max()  # the ties' month, before the partial one
    assert newest not in set(pd.to_datetime(m1["cohort"]))
    assert not complete.all()

    raw = pd.read_csv(orders_csv)
    per = (
        raw.groupby(["customer_id", "partner_id"])
        .agg(orders=("revenue", "size"), revenue=("revenue", "sum"))
        .reset_index()
        .sort_values(
            ["customer_id", "orders", "revenue", "partner_id"],
            ascending=[True, False, False, True],
        )
    )
    favourite = per.drop_duplicates("customer_id").set_index("customer_id")["partner_id"]
    assert favourite[9001] == "p1" and favourite[9002] == "p2"
    view = frames["customer_favourite_dimension"].set_index("customer_id")["partner_id"]
    pd.testing.assert_series_equal(view.sort_index(), favourite.sort_index(), check_dtype=False)
    column = frames["customers"].set_index("customer_id")["favourite_partner_id"]
    pd.testing.assert_series_equal(
        column.sort_index(), favourite.sort_index(), check_dtype=False, check_names=False
    )

    customers = frames["customers"]
    assert customers["customer_id"].nunique() == raw["customer_id"].nunique()
    by_clv = customers.sort_values(["clv", "customer_id"], ascending=[False, True])
    top = frames["top_customers"].sort_values("rank")
    assert top["rank"].tolist() == list(range(1, len(customers) + 1))
    assert top["customer_id"].tolist() == by_clv["customer_id"].tolist()

    partners = raw.groupby("partner_id")["revenue"].sum()
    dims = frames["top_dimensions"].set_index("partner_id")
    np.testing.assert_allclose(dims["revenue"].sort_index(), partners.sort_index())
    assert dims["revenue_rank"].min() == 1


# ----------------------------------------------------------------------- targets
def _targets(postgres_url: str | None, tmp: Path) -> dict[str, str]:
    out = {"duckdb": f"duckdb:///{tmp / 'shop.duckdb'}", "sqlite": f"sqlite:///{tmp / 'shop.db'}"}
    if postgres_url:
        out["postgresql"] = postgres_url
    return out


@pytest.fixture(scope="module")
def pg_url(postgres) -> str:  # type: ignore[no-untyped-def]
    return postgres.create_database("publish_tests")


def _runs(frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    return frames["runs"]


@pytest.mark.parametrize(
    "engine", ["duckdb", "sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_publish_twice_then_fail(
    engine: str, data: dict[str, Path], tmp_path: Path, request
) -> None:  # type: ignore[no-untyped-def]
    """Every table and view; a second publish shows the new data; failures change nothing."""
    to = (
        request.getfixturevalue("pg_url")
        if engine == "postgresql"
        else _targets(None, tmp_path)[engine]
    )
    code, output = _publish(data["first"], to, data["model"])
    assert code == 0, output
    frames = _read_all(to)
    _check_views(frames, data["first"])
    assert len(_runs(frames)) == 1

    code, output = _publish(data["second"], to, data["model"])
    assert code == 0, output
    frames = _read_all(to)
    _check_views(frames, data["second"])  # the views read the new tables
    runs = _runs(frames)
    assert len(runs) == 2 and runs["input_fingerprint"].nunique() == 2
    assert json.loads(runs["settings"].iloc[-1])["dimension_col"] == "partner_id"

    before = _snapshot(to)
    code, output = _publish(data["bad"], to, data["model"])
    assert code == 2 and "not a date" in output
    _assert_same(before, _snapshot(to))


@pytest.mark.parametrize(
    "engine", ["duckdb", "sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_failure_while_writing_keeps_everything(
    engine: str, data: dict[str, Path], tmp_path: Path, request, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    """An exception after the tables are written, and a process killed there, change nothing."""
    import clvmodels.data.database_write as writer

    to = (
        request.getfixturevalue("pg_url")
        if engine == "postgresql"
        else _targets(None, tmp_path)[engine]
    )
    code, output = _publish(data["first"], to, data["model"])
    assert code == 0, output
    before = _snapshot(to)

    real = writer.append_rows

    def failing(*args, **kwargs):  # type: ignore[no-untyped-def]
        real(*args, **kwargs)  # the tables are replaced and runs appended by now
        raise RuntimeError("disk full")

    monkeypatch.setattr(writer, "append_rows", failing)
    code, output = _publish(data["second"], to, data["model"])
    assert code == 2 and "disk full" in output and "nothing was changed" in output
    _assert_same(before, _snapshot(to))
    monkeypatch.undo()

    script = textwrap.dedent(
        f"""
        import os, signal, sys
        import clvmodels.data.database_write as writer
        real = writer.append_rows
        def dying(*args, **kwargs):
            real(*args, **kwargs)
            print("KILLING", flush=True)
            os.kill(os.getpid(), signal.SIGKILL)
        writer.append_rows = dying
        from clvmodels.cli import main
        sys.argv = ["clv", "publish", {str(data["second"])!r}, "--to", {to!r},
                    "--model", {str(data["model"])!r}, "--dimension-col", "partner_id"]
        main()
        """
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == -9 and "KILLING" in done.stdout, done.stderr
    _assert_same(before, _snapshot(to))


@pytest.mark.postgres
def test_password_never_shown_or_stored(data: dict[str, Path], postgres) -> None:  # type: ignore[no-untyped-def]
    url = postgres.create_database("publish_password")
    with_password = url.replace("clvtest@", f"clvtest:{PASSWORD}@")
    code, output = _publish(data["first"], with_password, data["model"])
    assert code == 0, output
    assert PASSWORD not in output and "clvtest:***@" in output
    runs = _read_all(url)["runs"]
    assert len(runs) == 1
    assert PASSWORD not in runs.to_csv()
    assert "clvtest:***@" in runs["target"].iloc[0]

    code, output = _publish(data["bad"], with_password, data["model"])  # an error line, too
    assert code == 2 and PASSWORD not in output


def test_folder_target(data: dict[str, Path], tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Parquet per table and view; a failure while writing leaves the previous files."""
    folder = tmp_path / "published"
    for orders in (data["first"], data["second"]):
        code, output = _publish(orders, str(folder), data["model"])
        assert code == 0, output
    frames = {p.stem: pd.read_parquet(p) for p in folder.glob("*.parquet")}
    _check_views(frames, data["second"])
    assert len(frames["runs"]) == 2
    before = {p.name: p.read_bytes() for p in folder.iterdir()}

    real = pd.DataFrame.to_parquet
    calls = []

    def failing(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(1)
        if len(calls) == 6:
            raise OSError(28, "No space left on device")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(pd.DataFrame, "to_parquet", failing)
    code, output = _publish(data["first"], str(folder), data["model"])
    assert code == 2 and len(calls) == 6
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before


def test_payback_and_budget_with_a_fit(tmp_path: Path) -> None:
    """Visits and costs add payback and budget; without --model the models are fitted."""
    from clvmodels.examples.marketing import simulate_marketing

    visits, orders, costs, _ = simulate_marketing(150, seed=1)
    paths = {name: tmp_path / f"{name}.csv" for name in ("visits", "orders", "costs")}
    for name, frame in (("visits", visits), ("orders", orders), ("costs", costs)):
        frame.to_csv(paths[name], index=False)
    to = f"duckdb:///{tmp_path / 'shop.duckdb'}"
    args = ["publish", str(paths["orders"]), "--to", to, "--visits", str(paths["visits"])]
    args += ["--costs", str(paths["costs"]), "--time-unit", "D", "--margin", "0.5"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    # the model is chosen (--model-type auto, the default) among the dropout_at_zero models
    assert re.search(
        r"model fitted \((pareto|mbgnbd) chosen by --model-type auto, map\)", (result.output)
    )
    assert "model choice among pareto, mbgnbd, mbgcnbd" in result.output
    assert "the models whose customers can drop out" in result.output
    frames = _read_all(to)
    assert {"payback", "budget"} <= frames.keys() and "top_dimensions" not in frames
    payback = frames["payback"]
    assert payback["new_buyers"].sum() == orders["customer_id"].nunique()
    last_day = pd.to_datetime(orders["timestamp"]).max().normalize()
    spent = costs.loc[pd.to_datetime(costs["dt"]) <= last_day, "costs"].sum()
    np.testing.assert_allclose(payback["costs"].sum(), spent)
    assert set(frames["budget"]["source_id"]) <= set(costs["source_id"].astype(str)) | {"unknown"}
    settings = json.loads(frames["runs"]["settings"].iloc[0])
    assert settings["time_unit_used"] == "D" and settings["margin"] == 0.5


def test_an_input_table_or_file_is_never_replaced(data: dict[str, Path], tmp_path: Path) -> None:
    import duckdb

    shop = tmp_path / "shop.duckdb"
    orders = pd.read_csv(data["first"])
    with duckdb.connect(str(shop)) as con:
        con.execute("CREATE TABLE orders AS SELECT * FROM orders")
    args = [str(shop), "--table", "orders", "--to", f"duckdb:///{shop}", "--schema", "main"]
    result = CliRunner().invoke(cli, ["publish", *args, "--dimension-col", "partner_id"])
    assert result.exit_code == 2 and "the orders it writes is the input ORDERS" in result.output
    with duckdb.connect(str(shop), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM orders").fetchone() == (len(orders),)

    folder = tmp_path / "published"
    folder.mkdir()
    inside = folder / "orders.parquet"
    orders.to_parquet(inside)
    result = CliRunner().invoke(
        cli, ["publish", str(inside), "--to", str(folder), "--dimension-col", "partner_id"]
    )
    assert result.exit_code == 2 and "is the input ORDERS" in result.output
    assert [p.name for p in folder.iterdir()] == ["orders.parquet"]


@pytest.mark.parametrize(
    "engine", ["duckdb", "sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_a_publish_removes_what_it_no_longer_writes(
    engine: str, data: dict[str, Path], tmp_path: Path, request
) -> None:  # type: ignore[no-untyped-def]
    """Without --dimension-col, the earlier orders table and dimension views go (stale data)."""
    if engine == "postgresql":
        to = request.getfixturevalue("postgres").create_database("publish_stale")
    else:
        to = _targets(None, tmp_path)[engine]
    assert _publish(data["first"], to, data["model"])[0] == 0
    args = ["publish", str(data["second"]), "--to", to, "--model", str(data["model"])]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    frames = _read_all(to)
    assert not {"orders", "top_dimensions", "customer_favourite_dimension"} & frames.keys()
    assert TABLES - {"orders"} | {"m1_retention", "retention_curve", "top_customers"} <= set(frames)
    assert "favourite_partner_id" not in frames["customers"].columns
    assert len(frames["runs"]) == 2


def test_a_schema_or_folder_of_other_tables_is_never_touched(
    data: dict[str, Path], tmp_path: Path
) -> None:
    """Tables named like the published ones but without the runs table are not clv's: refused."""
    import duckdb

    path = tmp_path / "theirs.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE SCHEMA clv; CREATE TABLE clv.customers AS SELECT 'mine' AS owner")
    code, output = _publish(data["first"], f"duckdb:///{path}", data["model"])
    assert code == 2 and "not written by this job" in output, output
    with duckdb.connect(str(path), read_only=True) as con:
        assert con.execute("SELECT owner FROM clv.customers").fetchall() == [("mine",)]
        tables = con.execute("SELECT table_name FROM information_schema.tables").fetchall()
    assert tables == [("customers",)]

    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "cohorts.parquet").write_bytes(b"not ours")
    code, output = _publish(data["first"], str(folder), data["model"])
    assert code == 2 and "no runs.parquet" in output, output
    assert (folder / "cohorts.parquet").read_bytes() == b"not ours"
    assert sorted(p.name for p in folder.iterdir()) == ["cohorts.parquet"]
