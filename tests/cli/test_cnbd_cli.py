"""clv fit --model bgcnbd|mbgcnbd [--k K], clv show and clv score through click's CliRunner.

The RFM table needs ``litt`` (the sum of the logs of each customer's inter-purchase times),
which the DuckDB summary emits; a table without it is refused, naming the column.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

import clvmodels.jobs.fit as fit_job
from clvmodels.cli import cli
from clvmodels.examples.simulate import simulate_orders


def run(*args: str | Path):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def orders_file(tmp_path_factory) -> Path:  # type: ignore[no-untyped-def]
    orders, _ = simulate_orders(400, seed=3)
    path = tmp_path_factory.mktemp("cnbd") / "orders.csv"
    orders.to_csv(path, index=False)
    return path


def test_fit_show_score_with_given_k(orders_file, tmp_path) -> None:  # type: ignore[no-untyped-def]
    model_dir = tmp_path / "model"
    result = run("fit", orders_file, "-o", model_dir, "--model", "mbgcnbd", "--k", "2")
    assert result.exit_code == 0, result.output
    assert "MBG/CNBD-k" in result.output and "k = 2 (given)" in result.output
    shown = json.loads(run("show", model_dir, "--json").output)
    assert shown["transaction_model"]["name"] == "mbgcnbd"
    assert shown["transaction_model"]["fit_report"]["k"] == 2
    assert shown["transaction_model"]["params"]["k"] == 2.0
    scores = tmp_path / "scores.csv"
    result = run("score", model_dir, orders_file, "-o", scores)
    assert result.exit_code == 0, result.output
    table = pd.read_csv(scores)
    assert table["expected_purchases"].notna().all() and (table["p_alive"] < 1).any()


def test_k_refused_for_other_models(orders_file, tmp_path) -> None:  # type: ignore[no-untyped-def]
    result = run("fit", orders_file, "-o", tmp_path / "m", "--model", "bgnbd", "--k", "2")
    assert result.exit_code == 2 and "--k is an option of bgcnbd and mbgcnbd" in result.output


def test_rfm_without_litt_is_refused_naming_the_column(orders_file, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    original = fit_job.rfm_summary
    monkeypatch.setattr(
        fit_job,
        "rfm_summary",
        lambda *a, **k: original(*a, **k).drop(columns="litt", errors="ignore"),
    )
    result = run("fit", orders_file, "-o", tmp_path / "m", "--model", "bgcnbd", "--k", "2")
    assert result.exit_code == 2 and "litt" in result.output
