"""The same orders from CSV, Parquet, DuckDB, SQLite and PostgreSQL: identical RFM, scores, cohorts.

The CSV file is the oracle: every other source holds the same orders (ids such as ``007``
or integers, times to the second, revenue in cents) in the engine's own types.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest
from db_orders import (
    fixed_model_dir,
    run,
    seeded_orders,
    typed,
    write_csv,
    write_duckdb,
    write_postgres,
    write_sqlite,
)

from clvmodels.data.contract import OrdersSource
from clvmodels.data.io import fingerprint

pytestmark = pytest.mark.postgres
PASSWORD = "Pw-in-the-URL-7731"


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return fixed_model_dir(tmp_path_factory.mktemp("model") / "model")


@pytest.fixture(scope="module")
def sources(postgres, tmp_path_factory):
    """Each variant's sources: ``{variant: {kind: (ORDERS, extra args)}}``."""
    folder = tmp_path_factory.mktemp("sources")
    url = postgres.create_database("read_same_orders")
    secret = url.replace("clvtest@", f"clvtest:{PASSWORD}@")
    found: dict[str, dict[str, tuple[str, list[str]]]] = {}
    for variant, text_ids in (("text", True), ("int", False)):
        frame = seeded_orders(text_ids=text_ids)
        csv = write_csv(frame, folder / f"{variant}.csv")
        parquet = folder / f"{variant}.parquet"
        typed(frame).to_pandas().to_parquet(parquet)
        duck = write_duckdb(frame, folder / f"{variant}.duckdb", "sales", "orders")
        lite = write_sqlite(frame, folder / f"{variant}.sqlite", "orders")
        # text ids: timestamp and numeric(12, 2); integer ids: timestamptz and bare numeric
        write_postgres(
            url,
            frame,
            "shop",
            variant,
            tz=not text_ids,
            numeric="numeric(12,2)" if text_ids else "numeric",
        )
        found[variant] = {
            "csv": (str(csv), []),
            "parquet": (str(parquet), []),
            "duckdb": (f"duckdb:///{duck}", ["--table", "sales.orders"]),
            "duckdb file": (str(duck), ["--table", "sales.orders"]),
            "sqlite": (f"sqlite:///{lite}#orders", []),
            "postgresql": (f"{secret}#shop.{variant}", []),
        }
    return found


def _outputs(command: list[str], source: tuple[str, list[str]], out) -> pd.DataFrame:
    orders, extra = source
    result = run(*command[:1], *command[1:], orders, *extra, "-o", str(out))
    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output
    return pd.read_csv(out, dtype={"customer_id": str})


@pytest.mark.parametrize("variant", ["text", "int"])
def test_rfm_and_cohorts_are_identical_from_every_source(sources, variant, tmp_path):
    oracle_rfm = _outputs(["rfm"], sources[variant]["csv"], tmp_path / "rfm_csv.csv")
    oracle_cohorts = _outputs(
        ["cohorts", "--no-plots"], sources[variant]["csv"], tmp_path / "c.csv"
    )
    if variant == "text":
        assert oracle_rfm["customer_id"].str.len().eq(3).all()  # "007" kept as written
    assert oracle_rfm["monetary_value"].gt(0).any()
    for kind, source in sources[variant].items():
        rfm = _outputs(["rfm"], source, tmp_path / f"rfm_{kind}.csv")
        pd.testing.assert_frame_equal(rfm, oracle_rfm, obj=f"rfm from {kind}")
        cohorts = _outputs(["cohorts", "--no-plots"], source, tmp_path / f"cohorts_{kind}.csv")
        pd.testing.assert_frame_equal(cohorts, oracle_cohorts, obj=f"cohorts from {kind}")


def test_scores_are_identical_from_every_source(sources, model_dir, tmp_path):
    command = ["score", str(model_dir), "--draws", "10"]
    oracle = _outputs(command, sources["text"]["csv"], tmp_path / "scores_csv.csv")
    assert len(oracle) == 40 and oracle["clv"].notna().all()
    for kind in ("parquet", "duckdb", "sqlite", "postgresql"):
        scores = _outputs(command, sources["text"][kind], tmp_path / f"scores_{kind}.csv")
        pd.testing.assert_frame_equal(scores, oracle, obj=f"scores from {kind}")


def test_fit_on_a_url_stores_the_redacted_url_and_the_csv_fingerprint(sources, tmp_path):
    orders, _ = sources["text"]["postgresql"]
    out = tmp_path / "model"
    result = run("fit", orders, "-o", str(out), "--priors", "flat")
    assert result.exit_code == 0, result.output
    text = (out / "model.json").read_text()
    assert PASSWORD not in text and PASSWORD not in result.output
    stored = json.loads(text)["input"]
    assert stored["path"] == orders.replace(PASSWORD, "***")
    assert stored["fingerprint"] == fingerprint(OrdersSource(sources["text"]["csv"][0]))


def test_timestamptz_follows_the_time_zone_rule(postgres, sources, tmp_path):
    """A TIMESTAMPTZ column is read in the one stated --time-zone, as ISO text with offsets is."""
    frame = seeded_orders(text_ids=False)
    offsets = tmp_path / "offsets.csv"
    frame.assign(timestamp=frame["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%S+00:00")).to_csv(
        offsets, index=False
    )
    zone = ["--time-zone", "America/New_York"]
    oracle = _outputs(["cohorts", "--no-plots", *zone], (str(offsets), []), tmp_path / "o.csv")
    pg = _outputs(
        ["cohorts", "--no-plots", *zone], sources["int"]["postgresql"], tmp_path / "p.csv"
    )
    pd.testing.assert_frame_equal(pg, oracle)
    # and independently: the New York month of each customer's first order
    local = frame.assign(
        timestamp=frame["timestamp"].dt.tz_localize("UTC").dt.tz_convert("America/New_York")
    )
    first = local.groupby("customer_id")["timestamp"].min().dt.strftime("%Y-%m-01")
    sizes = pg.drop_duplicates("cohort").set_index("cohort")["cohort_size"]
    assert sizes.to_dict() == first.value_counts().sort_index().to_dict()
