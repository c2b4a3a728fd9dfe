"""Shared by the job scripts: run one `clv` command and record how the run went.

A scheduler calls ``scripts/train.py``, ``scripts/score.py``, ...; each passes its arguments to
one `clv` command and appends a JSON line (job, arguments, start, seconds, exit code) to the
file named by ``--run-log`` (default: ``clv-runs.jsonl`` in the working directory).
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import time
from pathlib import Path


def run_job(command: str, argv: list[str]) -> int:
    from clvmodels.cli import cli
    from clvmodels.cli.display import run_cli

    log = Path("clv-runs.jsonl")
    if "--run-log" in argv:
        at = argv.index("--run-log")
        log = Path(argv[at + 1])
        argv = argv[:at] + argv[at + 2 :]
    started = time.perf_counter()
    began = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    code = 0
    try:
        sys.argv = ["clv", command, *argv]
        run_cli(cli)
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    if "--help" not in argv and "-h" not in argv:
        record = {
            "job": command,
            "args": argv,
            "started": began,
            "seconds": round(time.perf_counter() - started, 3),
            "exit_code": code,
        }
        with open(log, "a") as handle:
            handle.write(json.dumps(record) + "\n")
    return code
