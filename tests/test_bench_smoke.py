"""Smoke test of scripts/bench.py: every job, both sides, at a tiny size."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "scripts" / "bench.py"
JOBS = ("rfm", "fit_map", "score")


def test_bench_runs_every_job_on_both_sides(tmp_path: Path) -> None:
    cmd = [
        sys.executable,
        str(BENCH),
        "--customers", "3000",
        "--jobs", ",".join(JOBS),
        "--out", str(tmp_path),
        "--pymc-score-customers", "3000",
        "--no-warmup",  # the untimed compile-cache warm-up only matters for real timings
    ]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]

    report = json.loads((tmp_path / "bench.json").read_text())
    assert report["data"]["customers"] == 3000
    assert report["machine"]["nproc"] >= 1
    assert set(report["jobs"]) == set(JOBS)
    for job in JOBS:
        entry = report["jobs"][job]
        for side in ("ours", "pymc"):
            result = entry[side]
            assert result["ok"], (job, side, result)
            assert result["call_seconds"] > 0, (job, side)
            assert result["process_seconds"] >= result["call_seconds"], (job, side)
            assert result["peak_rss_mb"] > 0, (job, side)
        assert entry["summary"]["ratio_call"] > 0, job
        assert entry["agreement"]["agree"], (job, entry["agreement"])
    assert "| job | clvmodels s |" in (tmp_path / "bench.md").read_text()
