"""``clv engagement`` end to end: the folder it writes, what it prints, and bad tables."""

from __future__ import annotations

import json

import pandas as pd
from click.testing import CliRunner

from clvmodels.cli import cli

ROWS = [
    # user, device, start, end, source (renamed columns, as a user's export)
    ("u1", "desktop", "2026-02-01 10:00:00", "2026-02-01 10:01:00", 1),
    ("u1", "desktop", "2026-02-02 10:00:00", "2026-02-02 10:03:00", 1),
    ("u2", "touch", "2026-02-02 11:00:00", "2026-02-02 10:59:00", 2),  # ends before start
    (None, "touch", "2026-02-03 11:00:00", "2026-02-03 11:01:00", 2),  # no uid
    ("u3", "touch", "2026-02-16 12:00:00", "2026-02-16 12:02:00", 2),
    ("u3", "touch", "2026-03-20 12:00:00", "2026-03-20 12:02:00", 2),  # after the end
]
COLUMNS = ["user_id", "device", "start", "end", "source"]
OPTIONS = [
    "--visits-uid-col", "user_id", "--visits-start-col", "start",
    "--visits-end-col", "end", "--visits-source-col", "source",
]  # fmt: skip
FILES = [
    "daily.csv", "weekly.csv", "monthly.csv", "by_device.csv", "by_source.csv",
    "retention.csv", "session_lengths.csv", "summary.json",
]  # fmt: skip
PLOTS = ["active_users.png", "session_lengths.png", "retention.png"]


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=True)


def test_engagement_writes_the_folder(tmp_path) -> None:
    visits = tmp_path / "visits.csv"
    pd.DataFrame(ROWS, columns=COLUMNS).to_csv(visits, index=False)
    out = tmp_path / "out"
    result = run(
        "engagement", str(visits), *OPTIONS, "--observation-end", "2026-02-28", "-o", str(out)
    )
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == sorted(FILES + PLOTS)
    summary = json.loads((out / "summary.json").read_text())
    # Feb 1 .. Feb 28: user-days Feb 1 {u1}, Feb 2 {u1, u2}, Feb 16 {u3} = 4 over 28 days
    assert summary["dau"] == 4 / 28
    # February is the one complete month: {u1, u2, u3}
    assert summary["mau"] == 3
    assert summary["data_problems"]["missing_uid"] == 1
    assert summary["data_problems"]["negative_length"] == 1
    assert summary["data_problems"]["after_observation_end"] == 1
    assert "DAU 0.1" in result.output and "MAU 3.0" in result.output
    assert "missing_uid 1" in result.output and "after_observation_end 1" in result.output
    daily = pd.read_csv(out / "daily.csv")
    assert list(daily.columns) == [
        "date", "dau", "sessions", "sessions_per_user", "session_seconds_median"
    ]  # fmt: skip
    assert daily["date"].iloc[0] == "2026-02-01" and len(daily) == 28
    weekly = pd.read_csv(out / "weekly.csv")
    assert list(weekly.columns)[:2] == ["period_start", "wau"]
    retention = pd.read_csv(out / "retention.csv")
    assert list(retention.columns) == [
        "cohort", "age", "cohort_size", "active_users", "retention", "complete"
    ]  # fmt: skip


def test_engagement_no_plots(tmp_path) -> None:
    visits = tmp_path / "visits.csv"
    pd.DataFrame(ROWS, columns=COLUMNS).to_csv(visits, index=False)
    out = tmp_path / "out"
    result = run("engagement", str(visits), *OPTIONS, "--no-plots", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == sorted(FILES)


def test_engagement_bad_table_is_one_line(tmp_path) -> None:
    visits = tmp_path / "visits.csv"
    pd.DataFrame(ROWS, columns=COLUMNS).to_csv(visits, index=False)
    result = run("engagement", str(visits), "-o", str(tmp_path / "out"))  # default names
    assert result.exit_code == 2
    assert "--visits-uid-col" in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_engagement_refuses_output_over_input(tmp_path) -> None:
    visits = tmp_path / "daily.csv"
    pd.DataFrame(ROWS, columns=COLUMNS).to_csv(visits, index=False)
    result = run("engagement", str(visits), *OPTIONS, "-o", str(tmp_path))
    assert result.exit_code == 2
    assert pd.read_csv(visits).shape == (len(ROWS), len(COLUMNS))


def test_engagement_help_has_examples() -> None:
    result = run("engagement", "--help")
    assert result.exit_code == 0
    assert "clv engagement visits_log.csv -o engagement/" in result.output
    assert "--visits-device-col" in result.output and "--observation-end" in result.output
