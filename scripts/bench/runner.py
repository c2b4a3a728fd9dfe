"""Each job side in a fresh process, timed and measured by the parent (``os.wait4``).

:func:`run_child` runs this benchmark (``python scripts/bench --job NAME --side SIDE``) in a
subprocess and reads its JSON result line; :func:`run_timed` runs any command (the `clv`
commands of the cli jobs) and returns its wall time and peak memory.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from .common import log

#: The package folder: ``python scripts/bench`` runs its ``__main__.py``.
PACKAGE_DIR = Path(__file__).resolve().parent


def _wait(cmd: list[str], stdout: Any, stderr: Any, timeout: float) -> tuple[int, Any, bool]:
    """Run ``cmd``, killing it after ``timeout`` seconds; (exit code, rusage, timed out)."""
    proc = subprocess.Popen(cmd, stdout=stdout, stderr=stderr)
    deadline = time.perf_counter() + timeout
    timed_out = False
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.perf_counter() > deadline and not timed_out:
            proc.kill()
            timed_out = True
        time.sleep(0.05)
    proc.returncode = os.waitstatus_to_exitcode(status)  # we reaped it, tell Popen
    return proc.returncode, usage, timed_out


def _result_line(stdout_path: Path, job: str) -> dict[str, Any] | None:
    """The last JSON line of the child's stdout that reports on ``job``."""
    for line in reversed(stdout_path.read_text(errors="replace").splitlines()):
        if line.startswith("{"):
            try:
                parsed = json.loads(line)
            except json.JSONDecodeError:
                continue
            if parsed.get("job") == job:
                return dict(parsed)
    return None


def run_child(
    args: argparse.Namespace, job: str, side: str, *, tag: str = "", extra: list[str] | None = None
) -> dict[str, Any]:
    """Run one job side in a fresh process; return its JSON result plus rusage numbers."""
    out = Path(args.out)
    logs = out / "logs"
    logs.mkdir(exist_ok=True)
    name = f"{job}-{side}{tag}"
    cmd = [sys.executable, str(PACKAGE_DIR), "--job", job, "--side", side, "--out", str(out)]
    cmd += extra or []
    stdout_path, stderr_path = logs / f"{name}.out", logs / f"{name}.err"
    load_before = [round(v, 2) for v in os.getloadavg()]
    started = time.perf_counter()
    with open(stdout_path, "wb") as stdout, open(stderr_path, "wb") as stderr:
        exit_code, usage, timed_out = _wait(cmd, stdout, stderr, args.timeout)
    rusage = {
        "exit_code": exit_code,
        "timed_out": timed_out,
        "process_seconds": time.perf_counter() - started,
        "peak_rss_mb": usage.ru_maxrss * 1024 / 1e6,
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
        "command": " ".join(cmd[1:]),
        "load_average_before": load_before,
    }
    result = _result_line(stdout_path, job)
    if exit_code != 0 or result is None:
        tail = stderr_path.read_text(errors="replace").splitlines()[-15:]
        why = "timed out" if timed_out else f"exit code {exit_code}"
        log(f"  {name} FAILED ({why}); last stderr lines:\n    " + "\n    ".join(tail))
        return {"ok": False, **rusage, "stderr_tail": tail}
    return {"ok": True, **result, **rusage}


def clv_command() -> list[str]:
    """The `clv` console script of this interpreter's environment (``python -m`` if absent)."""
    script = Path(sys.executable).with_name("clv")
    return [str(script)] if script.exists() else [sys.executable, "-m", "clvmodels"]


def run_timed(cmd: list[str]) -> dict[str, Any]:
    """Run ``cmd`` as its own process, timed with ``os.wait4`` (wall seconds, ru_maxrss MB)."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    # read both pipes to their end in threads, then reap with wait4 for the rusage
    chunks: dict[str, bytes] = {}

    def drain(name: str, stream: Any) -> None:
        chunks[name] = stream.read()

    readers = [
        threading.Thread(target=drain, args=(name, stream))
        for name, stream in (("stdout", proc.stdout), ("stderr", proc.stderr))
    ]
    for reader in readers:
        reader.start()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    for reader in readers:
        reader.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    stdout = chunks.get("stdout", b"").decode(errors="replace")
    stderr = chunks.get("stderr", b"").decode(errors="replace")
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed (exit {proc.returncode}): {stderr[-2000:]}")
    return {"seconds": seconds, "peak_rss_mb": usage.ru_maxrss * 1024 / 1e6, "stdout": stdout}
