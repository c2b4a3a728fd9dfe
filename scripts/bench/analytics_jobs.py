"""What the cli_engagement and cli_conversion jobs share: their sides, target and notes.

Both jobs run on the visits and orders of :mod:`bench.visits` (simulated once a run,
untimed). Each side is a whole process timed with ``os.wait4`` (:func:`bench.runner.run_timed`)
after an untimed run on the small warm-up copy: ours runs the `clv` command, the other side
the pandas notebook way of :mod:`bench.analytics_direct`. Both write their files into
``OUT/<job>_ours`` and ``OUT/<job>_pandas``; the check (its own process,
:mod:`bench.analytics_check`) compares them.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .job import Job, both_sides
from .runner import PACKAGE_DIR, clv_command, run_timed
from .visits import VISITS_PER_USER, VISITS_USERS, prepare_visits, visits_paths

MIN_RATIO = 5.0
MAX_PEAK_MB = 1000.0
FULL_VISITS = VISITS_USERS * VISITS_PER_USER


def target(command: str) -> str:
    """The jobs' target as the table prints it."""
    return (
        f"`{command}` process ≥ {MIN_RATIO:.0f}× faster than pandas (the notebook way) at "
        f"≤ {MAX_PEAK_MB:.0f} MB peak (judged at {FULL_VISITS / 1e6:.0f}M visits)"
    )


@dataclass(frozen=True)
class Sides:
    """One job's two commands: ``ours`` (clv arguments) and the direct function's name."""

    job: str
    clv_args: Callable[[Path, Path, Path], list[str]]
    direct: str

    def folder(self, out: Path, side: str, warmup: bool) -> Path:
        name = f"{self.job}_{'ours' if side == 'ours' else 'pandas'}"
        return out / (("warmup_" if warmup else "") + name)

    def command(self, side: str, visits: Path, orders: Path, target: Path) -> list[str]:
        if side == "ours":
            return [*clv_command(), *self.clv_args(visits, orders, target)]
        code = (
            "import sys; sys.path.insert(0, sys.argv[1]); "
            f"from bench.analytics_direct import {self.direct}; {self.direct}(*sys.argv[2:])"
        )
        return [sys.executable, "-c", code, str(PACKAGE_DIR.parent), str(visits), str(orders),
                str(target)]  # fmt: skip

    def run(self, args: argparse.Namespace, out: Path, side: str) -> dict[str, Any]:
        """Warm up on the small copy (unless --no-warmup), then the timed run; its result."""
        for warmup in [True, False] if not args.no_warmup else [False]:
            target = self.folder(out, side, warmup)
            if target.is_dir():
                shutil.rmtree(target)
            cmd = self.command(side, *visits_paths(out, warmup), target)
            result = run_timed(cmd)
        summary = json.loads((target / "summary.json").read_text())
        return {
            "call_seconds": result["seconds"],
            "command_peak_rss_mb": result["peak_rss_mb"],
            "breakdown_seconds": summary.get("seconds"),
            "n_customers": summary.get("users", summary.get("visitors", 0)),
            "warmed_up": not args.no_warmup,
            "measured_command": " ".join(cmd)
            if side == "ours"
            else f"python -c <bench.analytics_direct.{self.direct}: pandas, matplotlib>",
            "output_tail": result["stdout"].strip().splitlines()[-3:],
        }


def options(args: argparse.Namespace, side: str) -> list[str]:
    """The jobs' size (and whether to warm up), for their processes."""
    warmup = ["--no-warmup"] if args.no_warmup else []
    return ["--visits-users", str(args.visits_users), *warmup]


def verdict(args: argparse.Namespace, entry: dict[str, Any], row: dict[str, Any]) -> dict:
    """Met at 10M visits when ≥ 5× faster than pandas and the command peaks at ≤ 1000 MB."""
    ours, other = both_sides(entry)
    n_visits = (entry.get("data") or {}).get("visits", 0)
    if n_visits < FULL_VISITS:
        return {"met": None, "not_judged": f"fewer than the target's {FULL_VISITS:,} visits"}
    if other is None:
        return {"met": None}
    return {
        "met": bool(
            other["call_seconds"] / ours["call_seconds"] >= MIN_RATIO
            and ours["command_peak_rss_mb"] <= MAX_PEAK_MB
        )
    }


def notes(entry: dict[str, Any]) -> list[str]:
    """What both processes run, and each step's seconds."""
    ours, other = both_sides(entry)
    data = entry.get("data") or {}
    if not ours.get("ok") or not data:
        return []
    warm = (
        f", each after an untimed run on the warm-up copy ({data['warmup_users']:,} users)"
        if ours["warmed_up"]
        else ""
    )
    lines = [
        f"{data['visits']:,} simulated visits of {data['users']:,} users and "
        f"{data['orders']:,} orders of {data['buyers']:,} buyers (bench/visits.py, seed "
        f"{data['seed']}, Parquet); both sides are whole processes on the same files{warm}; "
        "peak = the process's ru_maxrss",
    ]
    for side, result in (("clvmodels", ours), ("pandas", other)):
        if result and result.get("breakdown_seconds"):
            steps = result["breakdown_seconds"]
            lines.append(f"{side} steps: " + ", ".join(f"{k} {v:.2f} s" for k, v in steps.items()))
    return lines


def visits_job(
    sides: Sides, command: str, agreement: Callable[[Path, Path], dict[str, Any]]
) -> Job:
    """The :class:`Job` of ``sides``: both sides timed as processes, ``agreement`` the check."""

    def child_ours(args: argparse.Namespace, out: Path) -> dict[str, Any]:
        return sides.run(args, out, "ours")

    def child_pymc(args: argparse.Namespace, out: Path) -> dict[str, Any]:
        return sides.run(args, out, "pymc")

    def child_check(args: argparse.Namespace, out: Path) -> dict[str, Any]:
        ours, other = (sides.folder(out, side, False) for side in ("ours", "pymc"))
        return {"agreement": agreement(ours, other)}

    return Job(
        name=sides.job,
        target=target(command),
        sides={"ours": child_ours, "pymc": child_pymc},
        label=f"{command} (process)",
        side_names={"pymc": "pandas (notebook way)"},
        check=child_check,
        prepare=prepare_visits,
        options=options,
        verdict=verdict,
        notes=notes,
        digest=digest,
    )


def digest(agreed: dict[str, Any]) -> dict[str, Any]:
    """Which parts agree, and the worst difference."""
    return {k: v for k, v in agreed.items() if k.startswith("same_") or k == "max_rel_diff"}
