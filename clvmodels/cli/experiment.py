"""The experiment command: an A/B test on conversion, revenue, orders (and predicted CLV)."""

from __future__ import annotations

from typing import Any

import click

from clvmodels.cli.common import (
    DURATION,
    MARGIN_TYPE,
    SEED,
    UserError,
    WholeNumberType,
    day_text,
    discount_option,
    draws_option,
    guarded,
    observation_end_option,
    orders_options,
    orders_source,
    pop_orders_options,
    say,
)
from clvmodels.cli.outputs import check_outputs, folder_not_file, folder_output
from clvmodels.data.database_url import shown_source
from clvmodels.data.paths import input_tables

WINDOW_DAYS = WholeNumberType(1, 3660)


@click.command()
@click.option(
    "--assignments",
    "assignments_path",
    required=True,
    help="Assignments file or database URL: one row per user, group and assignment time.",
)
@click.option(
    "--assignments-uid-col", default="uid", show_default=True, help="Column with the user id."
)
@click.option(
    "--assignments-group-col",
    default="variant",
    show_default=True,
    help="Column with the group (variant) each user saw.",
)
@click.option(
    "--assignments-time-col",
    default="assigned_at",
    show_default=True,
    help="Column with the assignment time.",
)
@click.option(
    "--assignments-table",
    default=None,
    help="The assignments' table in a database file or URL, e.g. --assignments-table ab_test.",
)
@click.option("--orders", "orders_path", required=True, help="Orders file or database URL.")
@orders_options
@click.option("-o", "--output", "out_dir", required=True, help="Folder to write the outputs into.")
@click.option("--control", default=None, help="The control group (default: first in sort order).")
@click.option(
    "--window-days",
    type=WINDOW_DAYS,
    default=28,
    show_default=True,
    help="Each user's window, in days from their own assignment time.",
)
@click.option(
    "--planned-split",
    default=None,
    help="Planned shares for the SRM test, e.g. A=50,B=50 (default: equal shares).",
)
@click.option(
    "--model",
    "model_dir",
    multiple=True,
    help="Fitted model folders (clv fit): GROUP=DIR once per group (a model per group, "
    "fitted on that group's customers), or one DIR for all groups (a pooled model shrinks the "
    "groups together: warned). Adds each user's predicted CLV over --horizon.",
)
@click.option(
    "--horizon", type=DURATION, default="12M", show_default=True, help="CLV horizon (--model)."
)
@click.option(
    "--margin", type=MARGIN_TYPE, default=1.0, show_default=True, help="Margin share (--model)."
)
@discount_option
@draws_option("Posterior draws used for the CLV intervals (--model; thinned evenly).")
@click.option("--seed", type=SEED, default=0, show_default=True, help="Seeds the bootstrap.")
@observation_end_option(
    "Last day of data; users whose window passes it are left out and counted "
    "(default: the last order's day)."
)
@guarded
def experiment(
    assignments_path: str,
    assignments_uid_col: str,
    assignments_group_col: str,
    assignments_time_col: str,
    assignments_table: str | None,
    orders_path: str,
    out_dir: str,
    control: str | None,
    window_days: int,
    planned_split: str | None,
    model_dir: tuple[str, ...],
    horizon: str,
    margin: float,
    annual_discount_rate: float,
    n_draws: int,
    seed: int,
    observation_end: Any,
    **kwargs: Any,
) -> None:
    """Analyse an A/B test: conversion, revenue and orders per user in each user's window.

    Each user's window runs from their own assignment time for --window-days days; an order
    counts when it falls in it (orders before the assignment or after the window do not count;
    orders by users never assigned are counted and left out). Users whose window passes the
    observation end are left out and counted. The control is compared with every other group:
    conversion by Pearson's chi-squared without continuity correction (with the Wald interval of
    the difference in rates), revenue and orders per user (zeros included) by Welch's t-test,
    Mann-Whitney U (p-value only) and a seeded percentile bootstrap of the difference in means
    (interval only); Holm's correction over the variants within each metric and test. Intervals
    are 95%. The users per group are tested against --planned-split (SRM, flagged when p <
    0.001). User ids match customer ids exactly as written ("007" never matches 7); a user in
    two groups is an error, and a user assigned twice to the same group counts from the first
    assignment.

    OUT_DIR gets summary.csv (group, users, converters, conversion_rate, revenue,
    revenue_per_user, orders_per_user), tests.csv (metric, group, test, difference,
    relative_lift, ci_low, ci_high, p_value, p_value_adjusted), srm.json, checks.json
    (skewness, kurtosis, normality p-value and a note on the t-test per metric and group),
    lifts.png (forest plot) and experiment.json (settings, defaults and counts); with --model
    also clv.csv and the clv rows of tests.csv. Give a model per group (--model A=DIR_A
    --model B=DIR_B, each fitted on its group's customers): one model for all groups shrinks
    them together and may not see a variant's effect on later purchasing (warned).

    Example:

    \b
      clv experiment --assignments assignments.csv --orders orders.csv -o ab/
      clv experiment --assignments ab.parquet --assignments-group-col arm \\
          --orders orders.csv --customer-col uid --date-col buy_ts --control old \\
          --window-days 14 --planned-split old=90,new=10 -o ab/
      clv experiment --assignments ab.csv --orders orders.csv --model A=model_a/ \\
          --model B=model_b/ --horizon 12M --margin 0.3 -o ab/
    """
    from clvmodels.experiments.analysis import parse_split
    from clvmodels.jobs.experiment import experiment_files, model_folders, run_experiment

    opts = pop_orders_options(kwargs)
    folder_output(out_dir, "-o", "a folder of files")
    try:
        split = parse_split(planned_split) if planned_split is not None else None
    except ValueError as exc:
        raise UserError(f"--planned-split: {exc}") from None
    models = model_folders(model_dir)
    folders = [] if models is None else [models] if isinstance(models, str) else [*models.values()]
    check_outputs(
        inputs={"--assignments": assignments_path, "--orders": orders_path, "--model": folders},
        outputs={"--output": [out_dir, *experiment_files(out_dir, model=bool(folders)).values()]},
        tables=input_tables("--orders", opts),
    )
    folder_not_file(out_dir)
    if folders:
        from clvmodels.persistence import read_metadata

        for folder in folders:
            read_metadata(folder)
    outcome = run_experiment(
        assignments_path,
        orders_source(orders_path, opts),
        out_dir,
        assignments_columns={
            "uid_col": assignments_uid_col,
            "group_col": assignments_group_col,
            "time_col": assignments_time_col,
            "table": assignments_table,
            "time_zone": opts.get("time_zone") or "UTC",
        },
        control=control,
        window_days=window_days,
        planned_split=split,
        model_dir=models,
        horizon=horizon,
        margin=margin,
        annual_discount_rate=annual_discount_rate,
        seed=seed,
        observation_end=day_text(observation_end),
        n_draws=n_draws,
        extra={
            "assignments": shown_source(assignments_path),
            "orders": shown_source(orders_path),
            "models": {"all groups": models} if isinstance(models, str) else models,
        },
    )
    for line in experiment_lines(outcome):
        say(line)
    for path in outcome.files.values():
        say(f"wrote {path}")


def experiment_lines(outcome: Any) -> list[str]:
    """What ``clv experiment`` prints: settings, counts, the SRM verdict, each variant's lifts."""
    from clvmodels.jobs.experiment import lift_lines

    info, srm = outcome.info, outcome.analysis.srm
    s, c = info["settings"], info["counts"]
    default = {True: " (default)", False: ""}
    split = ", ".join(f"{g}={share:.1%}" for g, share in s["planned_split"].items())
    lines = [
        f"control: {s['control']}{default[s['control_is_default']]}; variants: "
        + ", ".join(outcome.analysis.variants),
        f"window: {s['window_days']} days from each user's assignment; observation end: "
        f"{s['observation_end']}; intervals {s['confidence_level']:.0%}; bootstrap "
        f"{s['bootstrap_resamples']:,} resamples, seed {s['seed']}",
        f"planned split: {split}{default[s['planned_split_is_default']]}",
        f"{c['users_analysed']:,} users analysed of {c['users_assigned']:,} assigned; left out: "
        f"{c['users_window_past_end']:,} whose window passes the observation end; "
        f"{c['repeated_assignments']:,} repeated assignment rows (the first counts)",
        f"orders not counted: {c['orders_by_unassigned']:,} by {c['customers_unassigned']:,} "
        "customers never assigned, and every order before a user's assignment or after "
        "their window",
    ]
    observed = ", ".join(f"{g}={n:,}" for g, n in srm["observed"].items())
    if srm["flagged"]:
        lines.append(
            f"SAMPLE RATIO MISMATCH: users per group {observed} do not match the planned split "
            f"(chi2={srm['chi2']:.2f}, p={srm['p_value']:.2g} < {srm['threshold']}): the "
            "assignment is broken; do not trust the results below until it is explained"
        )
    else:
        lines.append(
            f"sample ratio: OK (users {observed}; chi2={srm['chi2']:.2f}, p={srm['p_value']:.3g})"
        )
    if info.get("clv_warning"):
        lines.append(info["clv_warning"])
    lines += lift_lines(outcome.tests, outcome.analysis.variants)
    if info.get("clv_note"):
        lines.append(f"clv: {info['clv_note']}")
    return lines
