"""The demo (``make demo``) end to end on a small customer base: what it says it wrote exists."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd


def test_demo_writes_every_output_and_publishes_the_tables(tmp_path: Path) -> None:
    from clvmodels.jobs.pipeline import run_demo

    lines: list[str] = []
    result = run_demo(tmp_path / "out", n_customers=2_000, method="map", echo=lines.append)
    for label, path in result.paths.items():
        assert Path(path).exists(), label
    published = result.paths["published"]
    with duckdb.connect(str(published), read_only=True) as con:
        m1 = con.execute("SELECT cohort, retained_m1 FROM clv.m1_retention ORDER BY 1").fetchall()
        cohorts = con.execute(
            "SELECT cohort, active_customers FROM clv.cohorts WHERE age = 1 AND complete ORDER BY 1"
        ).fetchall()
        customers = con.execute("SELECT count(*) FROM clv.top_customers").fetchone()
    assert m1 == cohorts and len(m1) >= 3
    assert customers == (len(result.scores),)
    assert any(line.startswith("published 7 presentation tables and views") for line in lines)
    for folder, name in (
        ("engagement", "daily.csv"),
        ("conversion", "buyers.csv"),
        ("kpis", "kpis.csv"),
    ):
        assert (result.paths[folder] / name).exists() and (
            result.paths[folder] / "summary.json"
        ).exists()
    # the report shows the engagement and conversion of the shop, with its numbers
    page = result.paths["report"].read_text(encoding="utf-8")
    assert "<section id='analytics'><h2>Engagement and conversion</h2>" in page
    engaged = json.loads((result.paths["engagement"] / "summary.json").read_text())
    converted = json.loads((result.paths["conversion"] / "summary.json").read_text())
    assert f"<th>DAU (mean daily active users)</th><td>{engaged['dau']:,.2f}</td>" in page
    rate = f"{converted['conversion_rate']:.1%}"
    assert f"<th>conversion rate (buyers / visitors)</th><td>{rate}</td>" in page
    # the experiment: clv experiment's folder, its report section, the CLV lift's true sign
    from clvmodels.examples.experiments import simulate_experiment

    truth = simulate_experiment(10, seed=0).true_effects().set_index("group").loc["B"]
    assert truth["value_difference"] > 0 > truth["conversion_difference"]  # the simulation's
    folder = result.paths["experiment"]
    for name in ("summary.csv", "tests.csv", "clv.csv", "srm.json", "experiment.json"):
        assert (folder / name).exists(), name
    tests = pd.read_csv(folder / "tests.csv")
    clv = tests[(tests["metric"] == "clv") & (tests["group"] == "B")].iloc[0]
    assert np.sign(clv["difference"]) == np.sign(truth["value_difference"])
    assert any(line.strip().startswith("conversion lift B vs A: ") for line in lines)
    assert any(
        line.strip().startswith("CLV lift B vs A: ")
        and f"true {truth['value_difference']:+.2f} per user" in line
        for line in lines
    )
    assert "<section id='experiment'><h2>Experiment</h2>" in page
    assert "Predicted CLV after the window" in page
