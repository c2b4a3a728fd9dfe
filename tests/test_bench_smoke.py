"""Smoke test of scripts/bench (the benchmark package): every job, both sides, at a tiny size."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parents[1] / "scripts" / "bench"
#: Jobs of the first test; rfm_file and cohorts add little, rfm_spark has its own test.
JOBS = ("rfm", "fit_map", "score", "score_200", "cdnow_clv", "nuts")
OURS_ONLY = {"score_200"}
SIDES = ("ours", "pymc")


def run_bench(tmp_path: Path, customers: int, jobs: tuple[str, ...], *extra: str) -> dict:
    cmd = [
        sys.executable,
        str(BENCH),
        "--customers", str(customers),
        "--jobs", ",".join(jobs),
        "--out", str(tmp_path),
        "--no-warmup",  # the untimed compile-cache warm-up only matters for real timings
        *extra,
    ]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "| job | clvmodels s |" in (tmp_path / "bench.md").read_text()
    report: dict[str, Any] = json.loads((tmp_path / "bench.json").read_text())
    assert report["data"]["customers"] == customers
    assert report["machine"]["nproc"] >= 1
    assert set(report["jobs"]) == set(jobs)
    for job in jobs:
        entry = report["jobs"][job]
        for side in ("ours",) if job in OURS_ONLY else SIDES:
            result = entry[side]
            assert result["ok"], (job, side, result)
            assert result["call_seconds"] > 0, (job, side)
            assert result["process_seconds"] >= result["call_seconds"], (job, side)
            assert result["peak_rss_mb"] > 0, (job, side)
        if job not in OURS_ONLY:
            assert entry["summary"]["ratio_call"] > 0, job
    return report


def test_bench_runs_every_job_on_both_sides(tmp_path: Path) -> None:
    report = run_bench(
        tmp_path,
        3000,
        JOBS,
        "--pymc-score-customers", "3000",
        "--nuts-customers", "500",
        "--nuts-chains", "2",
        "--nuts-draws", "100",
        "--nuts-tune", "100",
        "--cdnow-draws", "25",
    )  # fmt: skip
    jobs = report["jobs"]
    for job in ("rfm", "fit_map", "score", "cdnow_clv"):
        assert jobs[job]["agreement"]["agree"], (job, jobs[job]["agreement"])

    # 200 draws, ours alone, judged only at 1M customers
    assert jobs["score_200"]["ours"]["n_draws"] == 200
    assert "pymc" not in jobs["score_200"]
    assert jobs["score_200"]["summary"]["met"] is None
    assert jobs["score_200"]["summary"]["not_judged"]

    # CDNOW: every draw of the 4 x 25 posterior on both sides
    cdnow = jobs["cdnow_clv"]
    assert cdnow["data"]["customers"] == 2357
    assert cdnow["ours"]["n_draws"] == cdnow["pymc"]["n_draws"] == 100
    assert cdnow["agreement"]["clv_aligned_max_rel_diff"] < 1e-6

    # NUTS: 100 draws are too few for the posterior check to be more than a smoke test
    nuts = jobs["nuts"]
    assert nuts["data"]["customers"] == 500
    assert nuts["ours"]["n_tuples"] <= 500
    for side in SIDES:
        assert set(nuts[side]["posterior"]) == {"r", "alpha", "a", "b"}
        assert {"max_r_hat", "min_ess_bulk", "divergences"} <= set(nuts[side]["convergence"])
    assert set(nuts["agreement"]["mean_diff_in_sd"]) == {"r", "alpha", "a", "b"}
    assert nuts["summary"]["met"] is None


@pytest.mark.slow  # ~25 s of pymc-marketing fitting and importing in its processes
def test_bench_times_the_clv_commands_as_processes(tmp_path: Path) -> None:
    report = run_bench(
        tmp_path,
        2000,
        ("cli_startup", "cli_rfm", "cli_fit"),
        "--startup-runs", "2",
        "--cli-fit-models", "bgnbd",
    )  # fmt: skip
    jobs = report["jobs"]
    startup = jobs["cli_startup"]
    assert set(startup["ours"]["process_medians_seconds"]) == {"help", "version"}
    assert all(len(runs) == 2 for runs in startup["ours"]["runs_seconds"].values())
    assert startup["summary"]["met"] in (True, False)
    rfm = jobs["cli_rfm"]
    assert rfm["agreement"]["agree"] and rfm["agreement"]["customers"] == 2000
    assert rfm["ours"]["command_peak_rss_mb"] > 0
    assert rfm["summary"]["not_judged"]  # judged at 1M customers only
    fit = jobs["cli_fit"]
    assert set(fit["ours"]["models"]) == set(fit["pymc"]["models"]) == {"bgnbd"}
    assert fit["agreement"]["agree"], fit["agreement"]  # same data, priors, optimiser
    bgnbd = fit["ours"]["models"]["bgnbd"]
    assert 0 < bgnbd["fit_step_seconds"] < bgnbd["process_seconds"]
    assert fit["ours"]["n_customers"] == 2357
    assert "| cli_fit |" in (tmp_path / "bench.md").read_text()


@pytest.mark.spark
@pytest.mark.skipif(
    importlib.util.find_spec("pyspark") is None or shutil.which("java") is None,
    reason="the Spark engine needs pip install 'clvmodels[spark]' and Java 17",
)
def test_bench_rfm_on_spark_against_duckdb(tmp_path: Path) -> None:
    report = run_bench(tmp_path, 2000, ("rfm_spark",))
    entry = report["jobs"]["rfm_spark"]
    assert entry["agreement"]["agree"], entry["agreement"]
    spark = entry["pymc"]
    assert spark["session_start_seconds"] > 0 and spark["warm_call_seconds"] > 0
    # the JVM's memory is counted: more than the Python process alone
    assert spark["peak_rss_mb"] > spark["peak_rss_mb_python"]
    assert any(name.startswith("java") for name in spark["memory"]["processes_hwm_mb"])


@pytest.mark.slow  # ~25 s: the pymc-marketing side imports PyMC and fits per plan
def test_bench_times_clv_churn_against_the_direct_way(tmp_path: Path) -> None:
    report = run_bench(tmp_path, 100, ("cli_churn",), "--churn-subscriptions", "3000")
    entry = report["jobs"]["cli_churn"]
    assert entry["data"]["subscriptions"] == 3000
    assert entry["agreement"]["agree"], entry["agreement"]
    ours, other = entry["ours"], entry["pymc"]
    assert ours["n_customers"] == other["n_customers"] == 3000
    assert {"read", "sBG fit", "drivers", "plots"} <= set(ours["breakdown_seconds"])
    assert {"read", "Kaplan-Meier", "Cox", "sBG"} <= set(other["breakdown_seconds"])
    assert entry["summary"]["not_judged"]  # judged at 1M subscriptions only
    assert (tmp_path / "cli_churn_ours" / "survival.png").exists()


@pytest.mark.postgres  # ~10 s: a throw-away server, and pymc-marketing imported by its side
def test_bench_reads_orders_from_postgresql(tmp_path: Path) -> None:
    report = run_bench(tmp_path, 300, ("pg_rfm",))
    entry = report["jobs"]["pg_rfm"]
    assert entry["data"]["orders"] == report["data"]["n_orders"]
    assert entry["agreement"]["agree"], entry["agreement"]
    assert entry["agreement"]["customers"] == 300
    assert entry["summary"]["not_judged"]  # judged at 10M orders only
    assert "| clv rfm from PostgreSQL (process) |" in (tmp_path / "bench.md").read_text()


def test_bench_times_clv_engagement_and_conversion_against_pandas(tmp_path: Path) -> None:
    report = run_bench(
        tmp_path, 100, ("cli_engagement", "cli_conversion"), "--visits-users", "2000"
    )
    for job, numbers in (
        ("cli_engagement", ("dau", "wau", "mau", "sticky_wau", "session_seconds_mode")),
        ("cli_conversion", ("visitors", "buyers", "conversion_rate", "median_conversion_day")),
    ):
        entry = report["jobs"][job]
        assert entry["data"]["users"] == 2000 and entry["data"]["visits"] == 20_000
        agreed = entry["agreement"]
        assert agreed["agree"], agreed
        assert set(numbers) <= set(agreed["ours_summary"])
        assert all(agreed["rows"].values()), agreed["rows"]  # every table has rows
        assert entry["ours"]["n_customers"] == entry["pymc"]["n_customers"] == 2000
        assert entry["summary"]["not_judged"]  # judged at 10M visits only
    assert report["jobs"]["cli_engagement"]["agreement"]["rows"]["daily"] == 365
    for folder in ("cli_engagement_ours", "cli_conversion_ours"):
        assert (tmp_path / folder / "summary.json").exists()


def test_bench_visits_check_finds_differences(tmp_path: Path) -> None:
    sys.path.insert(0, str(BENCH.parent))
    from bench.analytics_check import compare_table

    rows = "date,dau,retention\n2017-06-01,4,0.5\n2017-06-02,5,0.25\n"
    (tmp_path / "a.csv").write_text(rows)
    for other, column in (
        (rows, None),
        (rows.replace("0.25", "0.2500001"), "retention"),  # beyond 1e-9
        (rows.replace(",5,", ",6,"), "dau"),
    ):
        (tmp_path / "b.csv").write_text(other)
        result = compare_table(tmp_path / "a.csv", tmp_path / "b.csv", ("date",), ("date",))
        assert result["agree"] is (column is None)
        assert result["differing_columns"] == ([column] if column else [])
    (tmp_path / "b.csv").write_text(rows.replace("2017-06-02", "2017-06-03"))
    result = compare_table(tmp_path / "a.csv", tmp_path / "b.csv", ("date",), ("date",))
    assert not result["same_keys"] and not result["agree"]
    (tmp_path / "b.csv").write_text(rows.replace(",retention", ",kept").replace("0.5\n", "1\n"))
    result = compare_table(tmp_path / "a.csv", tmp_path / "b.csv", ("date",), ("date",))
    assert result["missing_columns"] == ["kept"] and not result["agree"]
