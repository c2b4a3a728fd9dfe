"""Every table argument takes a database URL: visits, costs, billing, SUBS, scores, read_table.

Each table is read from a CSV file (the oracle) and from a database holding the same rows.
"""

from __future__ import annotations

import contextlib
import sqlite3

import duckdb
import pandas as pd
import pytest
from db_orders import fixed_model_dir, ingest_postgres, run, seeded_orders, write_csv

from clvmodels.data.billing import read_billing
from clvmodels.data.io import read_table
from clvmodels.data.marketing import read_costs, read_visits
from clvmodels.data.subscriptions import read_subscriptions

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def pg(postgres):
    return postgres.create_database("read_other_tables")


def _visits() -> pd.DataFrame:
    start = pd.date_range("2024-01-01 08:00", periods=30, freq="7h")
    return pd.DataFrame(
        {
            "uid": [f"u{i % 9:02d}" for i in range(30)],
            "device": ["desktop", "touch"] * 15,
            "start_ts": start,
            "end_ts": start + pd.Timedelta(minutes=20),
            "source_id": [i % 4 + 1 for i in range(30)],
        }
    )


def _costs() -> pd.DataFrame:
    days = pd.date_range("2024-01-01", periods=10, freq="D")
    return pd.DataFrame(
        {"dt": days.repeat(2), "source_id": [1, 2] * 10, "costs": [12.5, 3.25] * 10}
    )


def test_visits_and_costs_from_postgres_equal_csv(pg, tmp_path):
    for name, frame, reader in (
        ("visits", _visits(), read_visits),
        ("costs", _costs(), read_costs),
    ):
        csv = tmp_path / f"{name}.csv"
        frame.to_csv(csv, index=False)
        ingest_postgres(pg, frame, name)
        pd.testing.assert_frame_equal(reader(f"{pg}#{name}"), reader(csv), obj=name)
        pd.testing.assert_frame_equal(reader(pg, table=name), reader(csv), obj=name)


def test_billing_and_subs_from_databases_equal_csv(pg, fh2007_billing, tmp_path):
    billing = fh2007_billing[fh2007_billing["company_id"] % 10 == 0]  # both segments, smaller
    csv = tmp_path / "billing.csv"
    billing.to_csv(csv, index=False)
    ingest_postgres(pg, billing, "billing")
    expected, counts = read_billing(csv)
    got, got_counts = read_billing(f"{pg}#billing")
    pd.testing.assert_frame_equal(got, expected)
    assert got_counts == counts
    subs_csv = tmp_path / "subs.csv"
    result = run("subscriptions", str(csv), "--billing-period", "year", "-o", str(subs_csv))
    assert result.exit_code == 0, result.output
    subs = read_subscriptions(subs_csv)
    lite = tmp_path / "subs.sqlite"
    with contextlib.closing(sqlite3.connect(lite)) as con:
        pd.read_csv(subs_csv, dtype=str).to_sql("subs", con, index=False)
    ingest_postgres(pg, pd.read_csv(subs_csv, dtype=str), "subs")
    for url in (f"sqlite:///{lite}#subs", f"{pg}#subs"):
        pd.testing.assert_frame_equal(read_subscriptions(url), subs, obj=url)


def test_segment_reads_scores_from_a_url(tmp_path):
    orders = write_csv(seeded_orders(), tmp_path / "orders.csv")
    model = fixed_model_dir(tmp_path / "model")
    scores = tmp_path / "scores.csv"
    assert run("score", str(model), str(orders), "--draws", "10", "-o", str(scores)).exit_code == 0
    db = tmp_path / "scores.duckdb"
    with duckdb.connect(str(db)) as con:
        text_ids = "types = {'customer_id': 'VARCHAR'}"
        con.execute(f"CREATE TABLE scores AS SELECT * FROM read_csv('{scores}', {text_ids})")
    outputs = []
    for source in (str(scores), f"duckdb:///{db}#scores", str(db)):
        out = tmp_path / f"seg{len(outputs)}.csv"
        result = run("segment", source, "-o", str(out))
        assert result.exit_code == 0, result.output
        outputs.append(pd.read_csv(out, dtype={"customer_id": str}))
    pd.testing.assert_frame_equal(outputs[1], outputs[0])
    pd.testing.assert_frame_equal(outputs[2], outputs[0])


def test_read_table_takes_urls_and_lists_tables(pg, tmp_path):
    frame = pd.DataFrame({"company_id": ["007", "8"], "employees": [12, 40]})
    ingest_postgres(pg, frame, "companies")
    pd.testing.assert_frame_equal(read_table(f"{pg}#companies"), frame)
    with pytest.raises(Exception, match="companies"):
        read_table(f"{pg}#nope")
