"""The demo (``make demo``) end to end on a small customer base: what it says it wrote exists."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb


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
