"""``cli_startup``: ``clv --help`` and ``clv --version`` as whole processes.

The median of several runs each (``--startup-runs``), against a process that imports
pymc-marketing and prints its version; each process is timed with ``os.wait4``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path
from typing import Any

from ..job import Job
from ..runner import clv_command, run_timed

TARGET = "`clv --help` and `clv --version` ≤ 0.5 s (median)"
STARTUP_MAX_SECONDS = 0.5


def _commands(ours: bool) -> dict[str, list[str]]:
    """The measured commands of one side, by name."""
    if ours:
        return {"help": [*clv_command(), "--help"], "version": [*clv_command(), "--version"]}
    code = "import pymc_marketing; print(pymc_marketing.__version__)"
    return {"import_and_version": [sys.executable, "-c", code]}


def child_startup(args: argparse.Namespace, out: Path, *, ours: bool) -> dict[str, Any]:
    """Median wall time of ``clv --help`` and ``clv --version`` (or of importing pymc-marketing)."""
    runs = max(1, args.startup_runs)
    commands = _commands(ours)
    medians, peaks, all_runs = {}, {}, {}
    for name, cmd in commands.items():
        results = [run_timed(cmd) for _ in range(runs)]
        all_runs[name] = [round(r["seconds"], 4) for r in results]
        medians[name] = statistics.median(r["seconds"] for r in results)
        peaks[name] = max(r["peak_rss_mb"] for r in results)
    return {
        "call_seconds": max(medians.values()),
        "process_medians_seconds": medians,
        "runs_seconds": all_runs,
        "command_peak_rss_mb": max(peaks.values()),
        "measured_commands": {name: " ".join(cmd) for name, cmd in commands.items()},
    }


def child_ours(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """The `clv` side."""
    return child_startup(args, out, ours=True)


def child_pymc(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """The pymc-marketing side."""
    return child_startup(args, out, ours=False)


def options(args: argparse.Namespace, side: str) -> list[str]:
    """How many runs of each command."""
    return ["--startup-runs", str(args.startup_runs)]


def verdict(args: argparse.Namespace, entry: dict[str, Any], row: dict[str, Any]) -> dict:
    """Met when the slower median is ≤ 0.5 s."""
    return {"met": bool(entry["ours"]["call_seconds"] <= STARTUP_MAX_SECONDS)}


def _medians(result: dict[str, Any]) -> str:
    return ", ".join(f"{k} {v:.3f} s" for k, v in result["process_medians_seconds"].items())


def notes(entry: dict[str, Any]) -> list[str]:
    """The medians of each side's commands."""
    ours, pymc = entry.get("ours") or {}, entry.get("pymc") or {}
    if not ours.get("ok"):
        return []
    line = (
        "seconds: the slower median of `clv --help` and `clv --version` "
        f"({_medians(ours)}); pymc-marketing: a process that imports it and prints its "
        "version"
    )
    if pymc.get("ok"):
        line += f" ({_medians(pymc)})"
    return [line]


JOB = Job(
    name="cli_startup",
    target=TARGET,
    sides={"ours": child_ours, "pymc": child_pymc},
    options=options,
    verdict=verdict,
    notes=notes,
)
