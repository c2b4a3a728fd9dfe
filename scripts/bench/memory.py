"""Peak resident memory read from /proc: this process's own, and a process tree's (the JVM)."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any


def vm_hwm_mb() -> float | None:
    """This process's own peak resident memory (VmHWM of /proc/self/status), in MB."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024 / 1e6
    except OSError:
        pass
    return None


def _proc_status_kib(pid: int, field: str) -> int | None:
    """A ``kB`` field (VmRSS, VmHWM) of /proc/PID/status, or None when unreadable."""
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


def _process_tree(root: int) -> dict[int, str]:
    """``root`` and all its descendants, pid to command name, from /proc."""
    children: dict[int, list[int]] = {}
    names: dict[int, str] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        close = stat.rfind(")")
        pid, ppid = int(entry.name), int(stat[close + 2 :].split()[1])
        names[pid] = stat[stat.find("(") + 1 : close]
        children.setdefault(ppid, []).append(pid)
    tree: dict[int, str] = {}
    todo = [root]
    while todo:
        pid = todo.pop()
        tree[pid] = names.get(pid, "?")
        todo.extend(children.get(pid, []))
    return tree


class TreeMemory:
    """Peak resident memory of this process and its descendants (Spark's JVM), from /proc.

    A thread sums VmRSS over the process tree every ``interval`` seconds (the sampled peak
    is a lower bound of the tree's true peak) and keeps each process's VmHWM, its exact own
    peak (their sum is an upper bound: the processes need not peak at the same moment).
    ``os.wait4``'s ru_maxrss would see the Python process alone: the JVM outlives it.
    """

    def __init__(self, interval: float = 0.05) -> None:
        self.interval = interval
        self.peak_sum_kib = 0
        self.hwm_kib: dict[int, tuple[str, int]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> TreeMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)

    def sample(self) -> None:
        """Add one sample of the process tree."""
        total = 0
        for pid, name in _process_tree(os.getpid()).items():
            total += _proc_status_kib(pid, "VmRSS") or 0
            hwm = _proc_status_kib(pid, "VmHWM")
            if hwm is not None:
                self.hwm_kib[pid] = (name, max(hwm, self.hwm_kib.get(pid, (name, 0))[1]))
        self.peak_sum_kib = max(self.peak_sum_kib, total)

    def report(self) -> dict[str, Any]:
        """Sampled tree peak, the sum of per-process peaks, and each process's peak (MB)."""
        return {
            "tree_peak_sampled_mb": self.peak_sum_kib * 1024 / 1e6,
            "tree_hwm_sum_mb": sum(kib for _, kib in self.hwm_kib.values()) * 1024 / 1e6,
            "processes_hwm_mb": {
                f"{name} ({pid})": kib * 1024 / 1e6 for pid, (name, kib) in self.hwm_kib.items()
            },
        }
