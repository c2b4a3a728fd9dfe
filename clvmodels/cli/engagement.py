"""The engagement command: DAU, WAU, MAU, stickiness, session lengths and visitor retention."""

from __future__ import annotations

from typing import Any

import click

from clvmodels.cli.common import guarded, observation_end_option, say
from clvmodels.cli.marketing_options import pop_visits_options, visits_column_options
from clvmodels.cli.outputs import check_outputs, folder_output


@click.command()
@click.argument("visits", type=click.Path(dir_okay=False))
@visits_column_options
@observation_end_option("Last day used (default: the last visit's day).")
@click.option(
    "-o",
    "--output",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False),
    help="Folder for the CSV tables, summary.json and the plots.",
)
@click.option("--no-plots", is_flag=True, help="Write no PNG plots.")
@guarded
def engagement(
    visits: str, out_dir: str, observation_end: Any, no_plots: bool, **kwargs: Any
) -> None:
    """How people use the product: DAU, WAU, MAU, stickiness, sessions and their lengths.

    VISITS has one row a session (uid, device, start_ts, end_ts, source_id; name yours with
    the --visits-*-col options). DAU is the mean, over every day from the first visit's day
    to the observation end (days without visits count 0), of the distinct users with a
    session starting that day; WAU and MAU the same over the ISO weeks and calendar months
    fully inside that range; sticky_wau = DAU / WAU, sticky_mau = DAU / MAU. A session's
    length is end - start in seconds. Writes into OUT_DIR: daily.csv, weekly.csv,
    monthly.csv, by_device.csv, by_source.csv, retention.csv (visitors by first-visit month
    and age in months), session_lengths.csv, summary.json and three plots. Rows without a
    uid or start are dropped, sessions without an end or ending before they start lose their
    length, sessions after the observation end are left out: all counted in summary.json
    "data_problems" and printed.

    Example:

    \b
      clv engagement visits_log.csv -o engagement/
      clv engagement visits.parquet --visits-uid-col user_id --observation-end 2018-05-31 \\
          -o engagement/ --no-plots
    """
    folder_output(out_dir, "--output", "a folder of tables and plots")
    from clvmodels.jobs.engagement import engagement_files, engagement_job

    check_outputs(
        inputs={"VISITS": visits},
        outputs={"--output": engagement_files(out_dir, plots=not no_plots)},
    )
    columns = pop_visits_options(kwargs)
    end = observation_end.date().isoformat() if observation_end is not None else None
    run = engagement_job(visits, out_dir, **columns, observation_end=end, plots=not no_plots)
    _print_summary(run.summary)
    say(f"wrote {len(run.written)} files into {out_dir}")


def _number(value: Any, fmt: str) -> str:
    return "n/a" if value is None else format(value, fmt)


def _print_summary(summary: dict[str, Any]) -> None:
    say(
        f"engagement of {summary['users']:,} users, {summary['sessions']:,} sessions from "
        f"{summary['first_day']} to {summary['observation_end']} ({summary['days']:,} days, "
        f"{summary['complete_weeks']} full weeks, {summary['complete_months']} full months)"
    )
    say(
        f"  DAU {_number(summary['dau'], ',.1f')}, WAU {_number(summary['wau'], ',.1f')}, "
        f"MAU {_number(summary['mau'], ',.1f')}; sticky DAU/WAU "
        f"{_number(summary['sticky_wau'], '.1%')}, DAU/MAU {_number(summary['sticky_mau'], '.1%')}"
    )
    say(
        f"  sessions per user a day {_number(summary['sessions_per_user_per_day'], '.2f')}; "
        f"median session {_number(summary['session_seconds_median'], ',.0f')} s, "
        f"most frequent {_number(summary['session_seconds_mode'], ',d')} s"
    )
    problems = {k: v for k, v in summary["data_problems"].items() if k != "examples" and v}
    if problems:
        say("  data problems: " + ", ".join(f"{k} {v:,}" for k, v in problems.items()))
