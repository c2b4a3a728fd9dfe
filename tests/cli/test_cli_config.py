"""Job files (issue 13, item 4): ./clv.toml and --config FILE for every command, and clv run.

The oracle of a setting taken from a file is the same command with that setting typed as a
flag: its output file and its standard output must be the same.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from clvmodels.cli import COMMANDS, cli, load_command
from clvmodels.cli.common import ORDERS_OPTION_NAMES
from clvmodels.cli.config import COMMAND_SETTINGS
from clvmodels.errors import DataError
from clvmodels.jobs.job_file import SCHEMA, read_job_file

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "docs" / "clv.toml.example"
MAPPING = 'customer_col = "uid"\ndate_col = "buy_ts"\nrevenue_col = "amt"\n'
FLAGS = ["--customer-col", "uid", "--date-col", "buy_ts", "--revenue-col", "amt"]


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture
def shop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working folder with orders whose columns only a mapping finds (uid, buy_ts, amt)."""
    data = tmp_path / "data"
    data.mkdir()
    rows = [(1, "2024-01-03", 10.0), (1, "2024-02-20", 5.5), (1, "2024-04-02", 8.0)]
    rows += [(2, "2024-01-15", 7.0), (2, "2024-01-29", 3.0), (3, "2024-03-01", 4.0)]
    pd.DataFrame(rows, columns=["uid", "buy_ts", "amt"]).to_csv(data / "orders.csv", index=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def rfm_run(*args: str, out: str) -> tuple[str, str]:
    """The RFM table written (CSV text) and the standard output (OUT for the output's name)."""
    result = run("rfm", *args, "-o", out)
    assert result.exit_code == 0, result.output
    return Path(out).read_text(), result.stdout.replace(out, "OUT")


# ------------------------------------------------------------------------- the example file
def test_the_example_job_file_parses_and_names_every_key():
    job = read_job_file(EXAMPLE)
    assert job.get("orders", "customer_col") == "client_id"
    assert job.get("orders", "path") == str(EXAMPLE.parent / "data" / "orders.csv")
    assert job.get("defaults", "model_type") == "bgnbd"
    assert job.get("defaults", "model_dir") == str(EXAMPLE.parent / "model")
    assert job.get("defaults", "margin") == 0.3 and job.get("billing", "grace_days") == 7
    assert job.get("run", "to") == str(EXAMPLE.parent / "out")
    text = EXAMPLE.read_text()
    for section, keys in SCHEMA.items():  # complete: every key, set or commented out
        assert f"[{section}]" in text, section
        for key in keys:
            assert re.search(rf"^#? ?{key} = ", text, re.M), (section, key)


def test_the_settings_table_names_real_options():
    assert set(SCHEMA["orders"]) - {"path"} == set(ORDERS_OPTION_NAMES)
    for name, mapping in COMMAND_SETTINGS.items():
        if name not in COMMANDS:
            continue  # clv publish, before its branch is merged
        params = {param.name for param in load_command(name).params}
        assert set(mapping) <= params, (name, set(mapping) - params)
        for section, key in mapping.values():
            assert key in SCHEMA[section], (name, section, key)


# ------------------------------------------------------------------------------ precedence
def test_command_line_beats_config_beats_clv_toml_beats_default(shop: Path):
    (shop / "clv.toml").write_text(
        f'[orders]\npath = "data/orders.csv"\n{MAPPING}[defaults]\ntime_unit = "D"\n'
    )
    (shop / "sub").mkdir()
    (shop / "sub" / "job.toml").write_text('[defaults]\ntime_unit = "M"\n')
    orders = str(shop / "data" / "orders.csv")

    from_clv_toml = rfm_run(out="a.csv")
    assert from_clv_toml == rfm_run(orders, *FLAGS, "--time-unit", "D", out="a2.csv")
    from_config = rfm_run("--config", "sub/job.toml", out="b.csv")
    assert from_config == rfm_run(orders, *FLAGS, "--time-unit", "M", out="b2.csv")
    before = run("--config", "sub/job.toml", "rfm", "-o", "b3.csv")
    assert before.exit_code == 0 and Path("b3.csv").read_text() == from_config[0]
    typed = rfm_run("--config", "sub/job.toml", "--time-unit", "W", out="c.csv")
    assert typed == rfm_run(orders, *FLAGS, "--time-unit", "W", out="c2.csv")
    (shop / "clv.toml").write_text(f'[orders]\npath = "data/orders.csv"\n{MAPPING}')
    default = rfm_run(out="d.csv")  # no time unit in any file: the built-in W
    assert default == typed
    assert from_clv_toml[0] != from_config[0] != typed[0]  # the time unit changes the table
    assert "time unit: days" in from_clv_toml[1] and "time unit: months" in from_config[1]


def test_the_output_says_which_settings_came_from_where(shop: Path):
    (shop / "clv.toml").write_text(f'[orders]\npath = "data/orders.csv"\n{MAPPING}')
    (shop / "job.toml").write_text('[defaults]\ntime_unit = "M"\n[orders]\nrevenue_col = "amt"\n')
    result = run("rfm", "--config", "job.toml", "--date-col", "buy_ts", "-o", "r.csv")
    assert result.exit_code == 0, result.output
    (block,) = [line for line in result.stderr.splitlines() if line.startswith("settings:")]
    orders = shop / "data" / "orders.csv"
    assert f"ORDERS {orders}, --customer-col uid (clv.toml [orders])" in block
    assert "--revenue-col amt, --time-unit M (job.toml [orders]" in block or (
        "--revenue-col amt (job.toml [orders])" in block
        and "--time-unit M (job.toml [defaults])" in block
    )
    assert "from the command line: --date-col, --output" in block
    assert block.endswith("others: built-in defaults")
    assert "settings:" not in result.stdout
    plain = run("rfm", str(orders), *FLAGS, "-o", "p.csv")  # no file used: no block
    assert "settings:" not in plain.output


# ------------------------------------------------------------------------------ bad files
@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[ordres]\n", "unknown section [ordres]. Did you mean [orders]"),
        ('[orders]\ncustomer_coll = "x"\n', "unknown key 'customer_coll' in [orders]. Did you "),
        ("[defaults]\nmodel_folder = 'm'\n", "Did you mean model_dir"),
        ('[defaults]\nmargin = "0.3"\n', "[defaults] margin must be a number; got text '0.3'"),
        ("[defaults]\nmargin = 0\n", "[defaults] margin must be within (0, 1]; got 0"),
        ("[defaults]\nmodel_type = 'model/'\n", "model_type must be one of bgnbd, pareto, mbgnbd"),
        ('[defaults]\nhorizon = "99999M"\n', "[defaults] horizon a duration must be at most"),
        ("[orders]\ndedupe = 1\n", "[orders] dedupe must be true or false; got 1"),
        ("orders = 3\n", "orders must be a section [orders]"),
        ("[orders\n", "is not valid TOML"),
    ],
)
def test_a_bad_job_file_is_one_line_naming_file_section_and_key(shop, text, message):
    (shop / "job.toml").write_text(text)
    result = run("rfm", "data/orders.csv", *FLAGS, "-o", "r.csv", "--config", "job.toml")
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("Error: job file job.toml")
    assert message in result.stderr, result.stderr
    assert not (shop / "r.csv").exists()


def test_a_broken_clv_toml_stops_every_command_but_not_help(shop: Path):
    (shop / "clv.toml").write_text("[defaults]\ntime_units = 'W'\n")
    result = run("rfm", "data/orders.csv", *FLAGS, "-o", "r.csv")
    assert result.exit_code == 2 and "clv.toml: unknown key 'time_units'" in result.stderr
    assert "Did you mean time_unit?" in result.stderr
    assert run("rfm", "--help").exit_code == 0
    twice = run("--config", "clv.toml", "rfm", "--config", "clv.toml", "-o", "r.csv")
    assert twice.exit_code == 2 and "given twice" in twice.stderr
    missing = run("rfm", "--config", "nowhere.toml", "-o", "r.csv")
    assert missing.exit_code == 2 and "--config nowhere.toml: no such file" in missing.stderr


def test_a_password_in_a_url_is_accepted_and_never_printed(tmp_path: Path):
    (tmp_path / "job.toml").write_text('[run]\nto = "postgresql://etl:s3cret@db:5432/shop"\n')
    job = read_job_file(tmp_path / "job.toml")
    assert job.get("run", "to") == "postgresql://etl:s3cret@db:5432/shop"  # for connecting
    (tmp_path / "bad.toml").write_text('[orders]\npath = "postgresql://etl:s3cret@db"\n')
    with pytest.raises(DataError) as caught:
        read_job_file(tmp_path / "bad.toml")
    assert "s3cret" not in str(caught.value) and "names no database" in str(caught.value)


# ------------------------------------------------------------------ model type vs folder
class Called(Exception):
    """Raised by a stand-in for the library function a command calls, with its arguments."""


def capture(monkeypatch: pytest.MonkeyPatch, module: str, name: str) -> None:
    def stand_in(*args: Any, **kwargs: Any) -> None:
        raise Called(args, kwargs)

    monkeypatch.setattr(f"{module}.{name}", stand_in)


def test_model_type_goes_to_fit_and_model_dir_to_the_commands_that_read_a_model(shop: Path):
    (shop / "clv.toml").write_text(
        f'[orders]\npath = "data/orders.csv"\n{MAPPING}'
        '[defaults]\nmodel_type = "pareto"\nmodel_dir = "models/current"\n'
    )
    monkeypatch = pytest.MonkeyPatch()
    capture(monkeypatch, "clvmodels.jobs.fit", "fit_orders")
    capture(monkeypatch, "clvmodels.jobs.score", "score_orders")
    try:
        missing = run("fit")  # the model folder is never fit's output
        assert missing.exit_code == 2 and "Missing option '-o'" in missing.output
        with pytest.raises(Called) as fitted:
            run("fit", "-o", "new_model")
        (source, model_dir, settings), _ = fitted.value.args
        assert model_dir == "new_model" and settings.transaction_model == "pareto"
        assert source.customer_col == "uid" and source.path == str(shop / "data" / "orders.csv")
        with pytest.raises(Called) as scored:
            run("score", "-o", "scores.csv")
        (model_dir, source, *_), _ = scored.value.args
        assert model_dir == str(shop / "models" / "current")
        assert source.revenue_col == "amt"
    finally:
        monkeypatch.undo()
    result = run("budget", "--payback", "p.csv", "-o", "b.csv")  # --model from the file
    assert result.exit_code == 2 and "models/current" in result.stderr


# ---------------------------------------------------------------------------- clv run
@pytest.fixture
def fake_publish(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """clvmodels.jobs.publish.publish replaced: the calls it gets; nothing is fitted."""
    from clvmodels.jobs.publish import PublishResult

    calls: list[dict[str, Any]] = []

    def publish(orders, to, *, settings, model_dir=None, visits=None, costs=None, echo):
        calls.append(dict(orders=orders, to=to, settings=settings, model_dir=model_dir))
        calls[-1].update(visits=visits, costs=costs)
        echo("publishing")
        return PublishResult(["clv.customers", "clv.runs"], "shown-target")

    monkeypatch.setattr("clvmodels.jobs.publish.publish", publish)
    return calls


def test_clv_run_passes_the_job_file_to_publish(shop: Path, fake_publish: list[dict[str, Any]]):
    jobs = shop / "jobs"
    jobs.mkdir()
    pd.DataFrame(
        {"user": [1, 2], "start": ["2024-01-01", "2024-01-10"], "end": ["2024-01-01", "2024-01-10"]}
    ).assign(src=["ads", "mail"]).to_csv(shop / "data" / "visits.csv", index=False)
    pd.DataFrame({"source_id": ["ads"], "dt": ["2024-01-01"], "spent": [10.0]}).to_csv(
        shop / "data" / "costs.csv", index=False
    )
    (jobs / "nightly.toml").write_text(
        f'[orders]\npath = "../data/orders.csv"\n{MAPPING}'
        '[visits]\npath = "../data/visits.csv"\nvisits_uid_col = "user"\n'
        'visits_start_col = "start"\nvisits_end_col = "end"\nvisits_source_col = "src"\n'
        '[costs]\npath = "../data/costs.csv"\ncosts_col = "spent"\n'
        '[defaults]\nmargin = 0.25\nmodel_type = "mbgnbd"\n'
        '[run]\nto = "duckdb:///out/clv.duckdb"\nschema = "analytics"\n'
    )
    (shop / "clv.toml").write_text("[defaults]\nmargin = 0.9\n")  # not read by clv run
    result = run("run", "jobs/nightly.toml", "--time-unit", "D")
    assert result.exit_code == 0, result.output
    (call,) = fake_publish
    settings = call["settings"]
    assert (settings.margin, settings.model_type, settings.schema) == (0.25, "mbgnbd", "analytics")
    assert (settings.time_unit, settings.horizon, settings.method) == ("D", "12M", "map")
    assert call["to"] == f"duckdb:///{jobs / 'out' / 'clv.duckdb'}" and call["model_dir"] is None
    assert call["orders"].path == str(shop / "data" / "orders.csv")
    assert call["orders"].customer_col == "uid" and call["orders"].date_col == "buy_ts"
    assert call["visits"]["source_id"].tolist() == ["ads", "mail"]  # read with the mapping
    assert call["costs"]["costs"].tolist() == [10.0]
    assert "publishing" in result.stdout and "clv.customers" in result.stdout
    assert "--margin 0.25 (nightly.toml [defaults])" in result.stderr
    assert "from the command line: JOB, --time-unit" in result.stderr
    assert "--margin 0.9" not in result.stderr


def test_clv_run_refuses_bad_input_with_exit_code_2(shop: Path, fake_publish: list[dict[str, Any]]):
    (shop / "job.toml").write_text('[orders]\npath = "data/orders.csv"\n')
    no_target = run("run", "job.toml")
    assert no_target.exit_code == 2 and "Missing option '--to'" in no_target.stderr
    (shop / "job.toml").write_text('[run]\nto = "out"\nshema = "x"\n')
    typo = run("run", "job.toml")
    assert typo.exit_code == 2 and "Did you mean schema?" in typo.stderr
    (shop / "job.toml").write_text('[orders]\npath = "data/orders.csv"\n[visits]\npath = "v.csv"\n')
    alone = run("run", "job.toml", "--to", "out")
    assert alone.exit_code == 2 and "--visits and --costs go together" in alone.stderr
    assert run("--config", "job.toml", "run", "job.toml").exit_code == 2
    assert fake_publish == []


def test_clv_run_never_prints_a_password(shop: Path, fake_publish: list[dict[str, Any]]):
    (shop / "job.toml").write_text(
        f'[orders]\npath = "data/orders.csv"\n{MAPPING}'
        '[run]\nto = "postgresql://etl:s3cret@127.0.0.1:5432/shop"\n'
    )
    result = run("run", "job.toml")
    assert result.exit_code == 0, result.output
    assert fake_publish[0]["to"].endswith("etl:s3cret@127.0.0.1:5432/shop")
    assert "s3cret" not in result.output
    assert "--to postgresql://etl:***@127.0.0.1:5432/shop (job.toml [run])" in result.stderr


# ------------------------------------------------------------- clv run, the real publish job
@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Simulated orders with the shop's own column names (uid, buy_ts, amt, partner), and
    a model fitted on them in ``model/`` (one fit for all; the jobs score with it)."""
    from clvmodels.examples.simulate import simulate_orders

    folder = tmp_path_factory.mktemp("job")
    orders, _ = simulate_orders(150, seed=7, acquisition_days=120, observation_days=300)
    orders["partner"] = np.random.default_rng(7).choice(["p1", "p2"], len(orders))
    orders.rename(columns={"customer_id": "uid", "timestamp": "buy_ts", "revenue": "amt"}).to_csv(
        folder / "orders.csv", index=False
    )
    fitted = run("fit", str(folder / "orders.csv"), *FLAGS, "-o", str(folder / "model"))
    assert fitted.exit_code == 0, fitted.output
    return folder


def test_clv_run_end_to_end_equals_clv_publish_with_flags(
    simulated: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    import duckdb

    monkeypatch.chdir(tmp_path)
    job = simulated / "nightly.toml"
    job.write_text(
        f'[orders]\npath = "orders.csv"\n{MAPPING}'
        '[defaults]\nmargin = 0.4\ndimension_col = "partner"\nhorizon = "6M"\n'
        'model_dir = "model"\n[run]\nto = "published"\n'
    )
    result = run("run", str(job))
    assert result.exit_code == 0, result.output
    for text in ("--margin 0.4", "--dimension-col partner", "--horizon 6M", "--model "):
        assert text in result.stderr
    assert f"--to {simulated / 'published'} (nightly.toml [run])" in result.stderr
    written = simulated / "published"
    assert f"published to {written}" in result.stdout
    flags = [*FLAGS, "--margin", "0.4", "--dimension-col", "partner", "--horizon", "6M"]
    flags += ["--model", str(simulated / "model")]
    typed = run("publish", str(simulated / "orders.csv"), *flags, "--to", "typed")
    assert typed.exit_code == 0, typed.output
    names = {p.stem for p in written.glob("*.parquet")}
    assert {"customers", "cohorts", "top_dimensions", "runs"} <= names
    assert names == {p.stem for p in Path("typed").glob("*.parquet")}
    for name in names - {"runs"}:
        pd.testing.assert_frame_equal(
            pd.read_parquet(written / f"{name}.parquet"), pd.read_parquet(f"typed/{name}.parquet")
        )
    into_db = run("run", str(job), "--to", "duckdb:///shop.duckdb", "--schema", "analytics")
    assert into_db.exit_code == 0, into_db.output
    with duckdb.connect("shop.duckdb", read_only=True) as con:
        customers = con.sql("SELECT * FROM analytics.customers").df()
    pd.testing.assert_frame_equal(
        customers.sort_values("customer_id").reset_index(drop=True),
        pd.read_parquet(written / "customers.parquet")
        .sort_values("customer_id")
        .reset_index(drop=True),
        check_dtype=False,
    )


def test_period_day_in_the_defaults_reaches_clv_kpis(shop: Path):
    (shop / "clv.toml").write_text(
        f'[orders]\npath = "data/orders.csv"\n{MAPPING}[defaults]\nperiod = "day"\n'
    )
    result = run("kpis", "--no-plots", "-o", "k")
    assert result.exit_code == 0, result.output
    kpis = pd.read_csv(shop / "k" / "kpis.csv")
    # daily periods: every day from 2024-01-03 to 2024-04-02 (91 days), as the flag gives
    assert len(kpis) == 91
    # cohorts only know months and weeks: a day from the file is click's one-line error
    refused = run("cohorts", "-o", "c.csv")
    assert refused.exit_code == 2 and "'day' is not one of" in refused.output
