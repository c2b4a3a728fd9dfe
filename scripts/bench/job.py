"""What a job is: its sides, its agreement check, its target and verdict, its notes.

Each module of :mod:`bench.jobs` defines one :class:`Job` (``JOB``); :mod:`bench.registry`
lists them in the order the benchmark runs them.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .common import SIDE_NAMES

#: One job side (or a helper task) in its own process: (options, work folder) -> result.
Child = Callable[[argparse.Namespace, Path], dict[str, Any]]


@dataclass(frozen=True)
class Job:
    """One benchmark job: what runs on each side and how the parent judges the results.

    Attributes
    ----------
    name, target
        The job's name (``--jobs``) and its target as the table prints it.
    sides
        The child run for each side (``ours``; ``pymc``, the comparison side, unless the job
        runs clvmodels alone).
    label, side_names
        The job's name in the table and its sides' names, when they are not the job's name,
        clvmodels and pymc-marketing.
    check
        The agreement check, run in its own process once both sides succeeded.
    compare
        The agreement check computed in the parent from the two sides' results.
    prepare
        What the job needs before its sides run, (options, entry, report) -> False when that
        failed.
    options
        The options a side's process needs beyond ``--job/--side/--out``, (options, side).
    finish
        Adjusts a side's result after its process, (options, side, result, entry) -> result.
    unavailable
        Why a side cannot run on this machine (None when it can).
    verdict
        The target verdict (``met``, ``not_judged``) once our side succeeded, (options, entry,
        row with the ratios) -> the row's new fields.
    notes
        What a reader of the table should know about the job, from its entry.
    digest
        The few agreement figures logged while the benchmark runs.
    """

    name: str
    target: str
    sides: Mapping[str, Child]
    label: str | None = None
    side_names: Mapping[str, str] = field(default_factory=dict)
    check: Child | None = None
    compare: Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]] | None = None
    prepare: Callable[[argparse.Namespace, dict[str, Any], dict[str, Any]], bool] | None = None
    options: Callable[[argparse.Namespace, str], list[str]] | None = None
    finish: (
        Callable[[argparse.Namespace, str, dict[str, Any], dict[str, Any]], dict[str, Any]] | None
    ) = None
    unavailable: Callable[[str], str | None] | None = None
    verdict: (
        Callable[[argparse.Namespace, dict[str, Any], dict[str, Any]], dict[str, Any]] | None
    ) = None
    notes: Callable[[dict[str, Any]], list[str]] | None = None
    digest: Callable[[dict[str, Any]], dict[str, Any]] | None = None

    def side_name(self, side: str) -> str:
        """Who runs this side of the job (pymc-marketing unless the job says otherwise)."""
        return self.side_names.get(side, SIDE_NAMES[side])


def both_sides(entry: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """A job entry's own result and, when both sides succeeded, the comparison side's."""
    ours, pymc = entry.get("ours") or {}, entry.get("pymc") or {}
    return ours, pymc if ours.get("ok") and pymc.get("ok") else None
