"""``clv experiment --model``: a model per group, end to end, and the one-line errors.

A simulated experiment (``simulate_experiment``, 3,000 users, the default arms: B converts
fewer users, 22% against 30%, who buy more often and drop out less) is written as CSV; one
model per arm is fitted with the package (MAP, weeks) on that arm's orders and saved; then
``clv experiment --model A=.. --model B=..`` runs and ``clv report --experiment`` builds its
section from the folder. The truth is the simulator's own (``true_effects``: B's value per
user is +5.69 above A's while its conversion is 8 points lower): the clv rows must have the
sign of the true value difference and conversion the opposite sign.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from clvmodels import CLVModel, rfm_summary, save_model
from clvmodels.cli import cli
from clvmodels.examples.experiments import simulate_experiment

ORDER_FLAGS = ["--customer-col", "uid", "--date-col", "timestamp", "--revenue-col", "revenue"]


@pytest.fixture(scope="module")
def experiment(tmp_path_factory: pytest.TempPathFactory) -> dict:
    folder = tmp_path_factory.mktemp("experiment")
    sim = simulate_experiment(3_000, seed=0)
    sim.assignments.to_csv(folder / "ab.csv", index=False)
    sim.orders.to_csv(folder / "orders.csv", index=False)
    models = {}
    for group in ("A", "B"):
        users = sim.assignments.loc[sim.assignments["variant"] == group, "uid"]
        orders = sim.orders[sim.orders["uid"].isin(users)]
        rfm = rfm_summary(orders.rename(columns={"uid": "customer_id"}), time_unit="W")
        model = CLVModel(time_unit="W", method="map", seed=0).fit(rfm)
        models[group] = save_model(model, folder / f"model_{group}")
    return {"folder": folder, "sim": sim, "models": models}


def _args(experiment: dict, out: Path, *models: str) -> list[str]:
    folder = experiment["folder"]
    return [
        "experiment",
        "--assignments",
        str(folder / "ab.csv"),
        "--orders",
        str(folder / "orders.csv"),
        *ORDER_FLAGS,
        "-o",
        str(out),
        *[part for m in models for part in ("--model", m)],
    ]


def test_a_model_per_group_recovers_the_sign_of_the_value_effect(experiment, tmp_path) -> None:
    models = experiment["models"]
    out = tmp_path / "ab"
    result = CliRunner().invoke(cli, _args(experiment, out, f"A={models['A']}", f"B={models['B']}"))
    assert result.exit_code == 0, result.output
    truth = experiment["sim"].true_effects().set_index("group").loc["B"]
    assert truth["value_difference"] > 0 > truth["conversion_difference"]  # the simulation's
    tests = pd.read_csv(out / "tests.csv")
    clv = tests[tests["metric"] == "clv"].iloc[0]
    conversion = tests[(tests["metric"] == "conversion") & (tests["test"] == "chi2")].iloc[0]
    assert clv["group"] == "B" and clv["test"] == "posterior"
    assert np.sign(clv["difference"]) == np.sign(truth["value_difference"])
    assert np.sign(conversion["difference"]) == -np.sign(truth["value_difference"])
    assert clv["ci_low"] < clv["difference"] < clv["ci_high"]
    table = pd.read_csv(out / "clv.csv").set_index("group")
    assert clv["difference"] == pytest.approx(
        table.loc["B", "mean_clv"] - table.loc["A", "mean_clv"]
    )
    info = json.loads((out / "experiment.json").read_text())
    assert info["settings"]["clv_models"] == "one per group"
    assert info["settings"]["clv_draws"] == 1  # MAP: one draw, whatever --draws says
    assert info["clv_warning"] is None and "WARNING" not in result.output
    assert "its own model" in info["clv_note"]
    assert info["models"] == {"A": str(models["A"]), "B": str(models["B"])}

    report = tmp_path / "report.html"
    result = CliRunner().invoke(
        cli,
        [
            "report",
            "-o",
            str(report),
            "--orders",
            str(experiment["folder"] / "orders.csv"),
            *ORDER_FLAGS,
            "--experiment",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    page = report.read_text()
    assert "id='experiment'" in page and "Predicted CLV after the window" in page


def test_one_model_for_all_groups_is_warned_loudly(experiment, tmp_path, monkeypatch) -> None:
    """The one model comes from clv.toml's [defaults] model_dir (a file fills --model)."""
    (tmp_path / "clv.toml").write_text(f"[defaults]\nmodel_dir = '{experiment['models']['A']}'\n")
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "ab"
    result = CliRunner().invoke(cli, _args(experiment, out))
    assert result.exit_code == 0, result.output
    assert "WARNING: one model scored every group" in result.output
    info = json.loads((out / "experiment.json").read_text())
    assert info["settings"]["clv_models"] == "one for all groups"
    assert info["clv_note"].startswith("WARNING: one model scored every group")
    assert "shrinks the groups together" in info["clv_warning"]


@pytest.mark.parametrize(
    ("models", "message"),
    [
        (["A={A}"], "--model: no model for group B; with a model per group every group"),
        (["A={A}", "B={B}", "C={B}"], "--model: group C is not in the assignments"),
        (["{A}", "B={B}"], "--model: give one folder for every group"),
        (["A={A}", "A={B}"], "--model: group 'A' is given two models"),
        (["=x"], "write a model per group as GROUP=DIR"),
    ],
)
def test_model_errors_are_one_line(experiment, tmp_path, models, message) -> None:
    given = [m.format(**{g: str(p) for g, p in experiment["models"].items()}) for m in models]
    out = tmp_path / "ab"
    result = CliRunner().invoke(cli, _args(experiment, out, *given))
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output and not (out / "experiment.json").exists()
