"""What the benchmark writes: the machine's description, each job's verdict, OUT/bench.md."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

from .common import SIDES
from .registry import JOBS

#: The libraries whose versions the report prints.
VERSIONED = (
    "clvmodels",
    "pymc-marketing",
    "pymc",
    "pytensor",
    "numpy",
    "scipy",
    "pandas",
    "duckdb",
    "pyarrow",
    "xarray",
    "arviz",
)
#: Result fields printed under a side in the Markdown details, when present.
DETAIL_KEYS = (
    "params",
    "n_tuples",
    "n_draws",
    "pre_import_seconds",
    "find_map_seconds",
    "sampling_seconds",
    "sampler",
    "settings",
    "posterior",
    "convergence",
    "setup_seconds",
    "breakdown_seconds",
    "repeat_call_seconds",
    "session_start_seconds",
    "warm_call_seconds",
    "memory",
    "command_peak_rss_mb",
    "process_medians_seconds",
    "runs_seconds",
    "measured_commands",
    "measured_command",
)


def _proc_line(path: str, prefix: str) -> str | None:
    """The first line of a /proc file that starts with ``prefix``, or None."""
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(prefix):
                return line
    except OSError:
        pass
    return None


def _git_commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            cwd=Path(__file__).resolve().parent,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def machine_info() -> dict[str, Any]:
    """CPU, memory, Python and library versions of this machine."""
    cpu = _proc_line("/proc/cpuinfo", "model name")
    memory = _proc_line("/proc/meminfo", "MemTotal:")
    total_ram_gib = int(memory.split()[1]) * 1024 / 2**30 if memory else float("nan")
    versions = {}
    for package in VERSIONED:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "total_ram_gib": round(total_ram_gib, 1),
        "cpu_model": cpu.split(":", 1)[1].strip() if cpu else "unknown",
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average_at_start": [round(v, 2) for v in os.getloadavg()],
        "versions": versions,
        "git_commit": _git_commit() or "unknown",
        "date": dt.datetime.now().isoformat(timespec="seconds"),
    }


def summarise(job: str, entry: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    """Ratios and target verdict of one job (None: not applicable at this size)."""
    spec = JOBS[job]
    ours, pymc = entry.get("ours"), entry.get("pymc")
    row: dict[str, Any] = {"target": spec.target}
    ours_ok = bool(ours and ours.get("ok"))
    if ours_ok and pymc and pymc.get("ok"):
        assert ours is not None
        pymc_call = pymc.get("call_seconds_extrapolated", pymc["call_seconds"])
        pymc_process = pymc.get("process_seconds_extrapolated", pymc["process_seconds"])
        row["ratio_call"] = pymc_call / ours["call_seconds"]
        row["ratio_process"] = pymc_process / ours["process_seconds"]
        row["ratio_peak_rss"] = pymc["peak_rss_mb"] / ours["peak_rss_mb"]
    row["met"] = None
    if ours_ok and spec.verdict is not None:
        row.update(spec.verdict(args, entry, row))
    return row


def fmt(value: Any, digits: int = 2) -> str:
    """Format a number for the table (— when missing)."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    return f"{value:,.{digits}f}"


def short(value: Any) -> str:
    """``value`` as compact JSON, floats to 6 significant digits."""

    def clean(v: Any) -> Any:
        if isinstance(v, float):
            return float(f"{v:.6g}")
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items()}
        if isinstance(v, list):
            return [clean(x) for x in v]
        return v

    return json.dumps(clean(value), ensure_ascii=False)


def _header(report: dict[str, Any]) -> list[str]:
    """The title, the machine and data paragraphs and how to read the table."""
    m = report["machine"]
    data = report["data"]
    return [
        "# clvmodels vs pymc-marketing benchmark",
        "",
        f"Machine: {m['nproc']} cores ({m['cpu_model']}), {m['total_ram_gib']} GiB RAM, "
        f"Python {m['python']}, load average at start {m['load_average_at_start']}; "
        + ", ".join(f"{k} {v}" for k, v in m["versions"].items())
        + f"; commit {m['git_commit']}; {m['date']}.",
        "",
        f"Data: {data['customers']:,} simulated customers, {data['n_orders']:,} orders "
        f"({data['orders_per_customer']:.1f} per customer), {data['first_day']} to "
        f"{data['last_day']}; BG/NBD {data['bgnbd']}, Gamma-Gamma {data['gamma_gamma']}, "
        f"seed {data['seed']}. The nuts and cdnow_clv jobs have their own data (see their "
        "details).",
        "",
        "Seconds are the measured call (perf_counter inside a fresh subprocess); ratio = "
        "pymc-marketing s / clvmodels s; peak = ru_maxrss of that job's whole process "
        "(MB = 10^6 bytes), except Spark's, which adds its JVM (see rfm_spark). In rfm_spark "
        "the columns hold clvmodels on DuckDB and clvmodels on Spark local[2]; in cohorts "
        "the pymc-marketing column holds the pandas notebook way, as in cli_engagement and "
        "cli_conversion (their own simulated visits: see their details).",
        "",
    ]


def _table_row(job: str, entry: dict[str, Any]) -> str:
    """One job's row of the results table."""
    ours, pymc, summary = entry.get("ours") or {}, entry.get("pymc") or {}, entry["summary"]
    pymc_s = fmt(pymc.get("call_seconds_extrapolated", pymc.get("call_seconds")))
    pymc_peak = fmt(pymc.get("peak_rss_mb"), 0)
    if pymc.get("extrapolated_from"):
        pymc_s += f" (extrapolated from {pymc['extrapolated_from']:,})"
        pymc_peak += f" (at {pymc['extrapolated_from']:,})"
    ratio = fmt(summary.get("ratio_call"), 1)
    met = {True: "yes", False: "NO", None: "—"}[summary["met"]]
    if summary.get("not_judged"):
        met = f"— ({summary['not_judged']})"
    label = JOBS[job].label or job
    return (
        f"| {label} | {fmt(ours.get('call_seconds'))} | {pymc_s} | "
        f"{ratio + '×' if ratio != '—' else ratio} | {fmt(ours.get('peak_rss_mb'), 0)} | "
        f"{pymc_peak} | {summary['target']} | {met} |"
    )


def _side_lines(name: str, r: dict[str, Any]) -> list[str]:
    """The details of one side of a job: times, peak, extrapolation, its own fields."""
    if not r.get("ok"):
        return [f"- {name}: FAILED (exit code {r.get('exit_code')})"]
    peak_how = f"ru_maxrss; the child's own VmHWM {fmt(r.get('vm_hwm_mb'), 0)} MB"
    cpu_how = ""
    if "peak_rss_mb_python" in r:
        peak_how = (
            "the sum of its processes' VmHWM, the JVM's included; ru_maxrss of the "
            f"Python process alone {r['peak_rss_mb_python']:.0f} MB"
        )
        cpu_how = " (the Python process; the JVM's is not counted)"
    lines = [
        f"- {name}: call {r['call_seconds']:.2f} s, whole process "
        f"{r['process_seconds']:.2f} s, CPU {r['cpu_seconds']:.1f} s{cpu_how}, "
        f"peak {r['peak_rss_mb']:.0f} MB ({peak_how}), "
        f"{r.get('n_customers', 0):,} customers"
    ]
    if r.get("extrapolated_from"):
        lines.append(
            f"  - measured on {r['extrapolated_from']:,} customers and extrapolated "
            f"linearly: call {r['call_seconds_extrapolated']:.1f} s, process "
            f"{r['process_seconds_extrapolated']:.1f} s ({r['extrapolation_reason']})"
        )
    lines += [f"  - {key}: {short(r[key])}" for key in DETAIL_KEYS if key in r]
    return lines


def _details(job: str, entry: dict[str, Any]) -> list[str]:
    """One job's details section."""
    lines = [f"### {job}"]
    lines += [f"- {key}: {short(entry[key])}" for key in ("data", "config") if key in entry]
    for side in SIDES:
        if r := entry.get(side):
            lines += _side_lines(JOBS[job].side_name(side), r)
    summary = entry["summary"]
    if "ratio_process" in summary:
        lines.append(
            f"- ratios: call {summary['ratio_call']:.2f}×, whole process "
            f"{summary['ratio_process']:.2f}×, peak memory {summary['ratio_peak_rss']:.2f}×"
        )
    if "agreement" in entry:
        lines.append(f"- agreement: {short(entry['agreement'])}")
    lines += [f"- note: {note}" for note in entry.get("notes", [])]
    return [*lines, ""]


def markdown(report: dict[str, Any]) -> str:
    """The Markdown report: machine, data, the results table and per-job details."""
    lines = [
        *_header(report),
        "| job | clvmodels s | pymc-marketing s | ratio | clvmodels peak MB "
        "| pymc-marketing peak MB | target | met? |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- | --- |",
    ]
    lines += [_table_row(job, entry) for job, entry in report["jobs"].items()]
    lines += ["", "## Details", ""]
    for job, entry in report["jobs"].items():
        lines += _details(job, entry)
    for key, title in (
        ("score_posterior", "Scoring posterior"),
        ("score_200_posterior", "Scoring posterior of score_200"),
    ):
        if key in report:
            lines += [f"{title}: {short(report[key])}", ""]
    return "\n".join(lines)


def write_report(out: Path, report: dict[str, Any]) -> str:
    """Write OUT/bench.md and OUT/bench.json; return the Markdown."""
    text = markdown(report)
    (out / "bench.md").write_text(text + "\n")
    (out / "bench.json").write_text(json.dumps(report, indent=2, default=str) + "\n")
    return text
