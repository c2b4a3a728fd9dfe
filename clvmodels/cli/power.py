"""The power command: users per arm (and days) of an A/B test for a minimum detectable effect."""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any

import click

from clvmodels.cli.common import (
    DISCOUNT_RATE_TYPE,
    DURATION,
    MARGIN_TYPE,
    NumberType,
    UserError,
    WholeNumberType,
    draws_option,
    guarded,
    orders_options,
    orders_source,
    pop_orders_options,
    say,
)
from clvmodels.experiments.power import (
    ALPHA,
    DAILY_USERS,
    MAX_ARMS,
    MDE_ABSOLUTE,
    MDE_RELATIVE,
    MEAN,
    POWER,
    RATE,
    SD,
)

if TYPE_CHECKING:
    from clvmodels.experiments.power import PowerResult


@click.command()
@click.option(
    "--metric",
    type=click.Choice(["conversion", "mean", "clv"]),
    required=True,
    help="conversion: a rate (Cohen's h); mean: revenue or any mean per user (Cohen's d, "
    "t-test); clv: predicted CLV per user from --model on --orders.",
)
@click.option(
    "--baseline-rate",
    type=NumberType(RATE),
    help="conversion: the control's rate, in (0, 1). mean, clv: the share of users expected "
    "to buy (the others count as 0) when the values come from --orders or --model.",
)
@click.option("--baseline-sd", type=NumberType(SD), help="mean: the sd per user, e.g. 42.5.")
@click.option(
    "--baseline-mean",
    type=NumberType(MEAN),
    help="mean, clv: the control's mean, for --mde-relative (default: the data's mean).",
)
@click.option(
    "--mde-relative",
    type=NumberType(MDE_RELATIVE),
    help="Minimum detectable effect as a share of the baseline: 0.1 = 10% up, -0.1 down.",
)
@click.option(
    "--mde-absolute",
    type=NumberType(MDE_ABSOLUTE),
    help="Minimum detectable effect in the metric's unit: 0.01 = 1 rate point, 5 = 5 a user.",
)
@click.option(
    "--orders",
    "orders_path",
    help="mean: estimate the sd and mean from these orders; clv: the customers to score.",
)
@orders_options
@click.option("--model", "model_dir", help="clv: a fitted model folder (clv fit -o DIR).")
@click.option(
    "--window-days",
    type=WholeNumberType(1, 3660),
    default=28,
    show_default=True,
    help="mean from --orders: revenue per customer in this many days from the first order.",
)
@click.option(
    "--horizon", type=DURATION, default="12M", show_default=True, help="clv: how far ahead."
)
@click.option(
    "--annual-discount-rate",
    type=DISCOUNT_RATE_TYPE,
    default=0.1,
    show_default=True,
    help="clv: yearly discount rate of future margin, in [0, 10].",
)
@click.option(
    "--margin",
    type=MARGIN_TYPE,
    default=1.0,
    show_default=True,
    help="clv: share of revenue that is margin, in (0, 1].",
)
@draws_option("clv: posterior draws used for each customer's mean CLV.")
@click.option("--power", type=NumberType(POWER), default=0.8, show_default=True)
@click.option("--alpha", type=NumberType(ALPHA), default=0.05, show_default=True, help="Two-sided.")
@click.option(
    "--arms",
    type=WholeNumberType(2, MAX_ARMS),
    default=2,
    show_default=True,
    help="Arms including the control.",
)
@click.option(
    "--correction",
    type=click.Choice(["bonferroni", "none"]),
    default="bonferroni",
    show_default=True,
    help="With more than 2 arms: alpha / (arms - 1) for each variant, or alpha for each.",
)
@click.option(
    "--daily-users",
    type=NumberType(DAILY_USERS),
    help="Users entering the experiment a day: also gives the days it takes.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@guarded
def power(
    metric: str,
    orders_path: str | None,
    model_dir: str | None,
    mde_relative: float | None,
    mde_absolute: float | None,
    as_json: bool,
    **kwargs: Any,
) -> None:
    """Users per arm (and days) that an A/B test needs to detect a minimum effect.

    Two-sided tests at --alpha 0.05 and --power 0.8 by default. conversion: Cohen's h of
    --baseline-rate and the rate after --mde-relative or --mde-absolute, solved with
    statsmodels' NormalIndPower. mean: Cohen's d = MDE / sd with the sd from --baseline-sd
    or estimated from --orders (revenue per customer in the --window-days days from their
    first order), solved with the two-sample t-test (tt_ind_solve_power). clv: the sd and
    mean of the predicted CLV of --orders' customers scored by --model, then as for a mean.
    With --daily-users: days = ceil(arms * n_per_arm / daily users). Every assumption is
    printed; --json prints them with n_per_arm (rounded up).

    Example:

    \b
      clv power --metric conversion --baseline-rate 0.05 --mde-relative 0.1
      clv power --metric mean --baseline-sd 40 --mde-absolute 2 --daily-users 5000
      clv power --metric mean --orders orders.csv --window-days 28 --mde-relative 0.05
      clv power --metric clv --model model/ --orders orders.csv --mde-relative 0.05 --json
    """
    from clvmodels.jobs.power import run_power

    for flag, value in (("--mde-relative", mde_relative), ("--mde-absolute", mde_absolute)):
        if value == 0:
            raise UserError(f"{flag} must not be 0: no sample detects no difference")
    if (mde_relative is None) == (mde_absolute is None):
        raise UserError("give the minimum detectable effect: one of --mde-relative, --mde-absolute")
    opts = pop_orders_options(kwargs)
    result = run_power(
        metric,  # type: ignore[arg-type]
        orders=None if orders_path is None else orders_source(orders_path, opts),
        model_dir=model_dir,
        mde_relative=mde_relative,
        mde_absolute=mde_absolute,
        **kwargs,
    )
    if as_json:
        say(json.dumps(result.to_dict(), indent=2))
    else:
        for line in power_lines(result):
            say(line)


def _number(value: float | None) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{value:.6g}"


def power_lines(result: PowerResult) -> list[str]:
    """What ``clv power`` prints: the answer, then every assumption it rests on."""
    lines = [
        f"{result.n_per_arm:,} users per arm ({result.n_total:,} in {result.arms} arms) to "
        f"detect {_effect(result)} with power {result.power:g} at alpha "
        f"{result.alpha:g} (two-sided)"
    ]
    if result.days is not None:
        lines.append(f"  duration: {result.days:,} days at {result.daily_users:,g} users a day")
    lines += [
        "assumptions:",
        f"  test: {result.test}",
        f"  effect size: {result.effect_size_name} = {result.effect_size:.6g}",
        f"  baseline {_number(result.baseline)}, target {_number(result.target)}",
    ]
    if result.baseline_sd is not None:
        lines.append(f"  sd per user: {result.baseline_sd:.6g} ({result.baseline_source})")
    lines += [
        f"  alpha per comparison {result.alpha_per_comparison:.4g} ({_correction(result)}); "
        f"n per arm before rounding up {result.n_per_arm_exact:,.2f}; power at "
        f"{result.n_per_arm:,}: {result.achieved_power:.4f}",
        *(f"  {note}" for note in result.notes),
    ]
    if result.duration_rule is not None:
        lines.append(f"  {result.duration_rule}")
    return lines


def _correction(result: PowerResult) -> str:
    if result.arms == 2:
        return "one comparison"
    return f"{result.correction} over {result.arms - 1} comparisons with the control"


def _effect(result: PowerResult) -> str:
    shown = f"a difference in {result.metric} of {result.mde_absolute:+.6g}"
    if result.mde_relative is not None:
        shown += f" ({result.mde_relative:+.2%} of the baseline)"
    return shown
