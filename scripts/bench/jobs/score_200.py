"""``score_200``: clvmodels alone, the ``score`` job's scoring with a 200-draw posterior.

pymc-marketing's prediction memory grows with the draws and already reaches several GB at
100: not attempted.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..common import SCORE_DRAWS, log
from ..job import Job
from ..posterior import build_score_posterior, fit_map_params
from .score import score_ours

#: Scoring draws of the clvmodels-only ``score_200`` job (issue 6: ≥ 200 draws).
SCORE_200_DRAWS = 200
#: Issue 6's scoring target at 1M customers and 200 draws.
SCORE_200_MAX_SECONDS = 30.0
SCORE_200_MAX_PEAK_MB = 2000.0
SCORE_200_FULL_SIZE = 1_000_000
TARGET = "1M customers × 200 draws in ≤ 30 s, peak ≤ 2000 MB"


def child_ours(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """clvmodels' scoring of every customer with the 200-draw posterior."""
    return score_ours(args, out, SCORE_200_DRAWS)


def prepare(args: argparse.Namespace, entry: dict[str, Any], report: dict[str, Any]) -> bool:
    """Build the fixed 200-draw posterior around the fit_map job's MAP (if it ran)."""
    log(f"score_200: building the fixed {SCORE_200_DRAWS}-draw posterior")
    report["score_200_posterior"] = build_score_posterior(
        args, fit_map_params(report), SCORE_200_DRAWS
    )
    return True


def verdict(args: argparse.Namespace, entry: dict[str, Any], row: dict[str, Any]) -> dict:
    """Met at 1M customers when the scoring takes ≤ 30 s and peaks at ≤ 2000 MB."""
    ours = entry["ours"]
    if ours["n_customers"] < SCORE_200_FULL_SIZE:
        return {"not_judged": f"fewer than the target's {SCORE_200_FULL_SIZE:,} customers"}
    return {
        "met": bool(
            ours["call_seconds"] <= SCORE_200_MAX_SECONDS
            and ours["peak_rss_mb"] <= SCORE_200_MAX_PEAK_MB
        )
    }


def notes(entry: dict[str, Any]) -> list[str]:
    """Why pymc-marketing does not run this job."""
    return [
        f"clvmodels alone: pymc-marketing's scoring at {SCORE_DRAWS} draws already peaks "
        "at several GB (the score job) and its prediction memory grows with the draws"
    ]


JOB = Job(
    name="score_200",
    target=TARGET,
    sides={"ours": child_ours},
    prepare=prepare,
    verdict=verdict,
    notes=notes,
)
