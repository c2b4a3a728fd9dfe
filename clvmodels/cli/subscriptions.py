"""The subscriptions command: a billing table -> one row per customer (SUBS) and its report.

It parses, calls :func:`clvmodels.jobs.subscriptions.subscriptions_file` and prints.
"""

from __future__ import annotations

from typing import Any

import click

from clvmodels.cli.common import (
    DATE,
    UserError,
    WholeNumberType,
    day_text,
    guarded,
    say,
)
from clvmodels.cli.outputs import check_outputs, output_path
from clvmodels.data.database_url import is_database_url
from clvmodels.jobs.subscriptions import (
    SubscriptionsResult,
    subscriptions_file,
    subscriptions_files,
)
from clvmodels.subscriptions.billing import MAX_GRACE_DAYS

GRACE_DAYS = WholeNumberType(0, MAX_GRACE_DAYS)


@click.command()
@click.argument("billing", type=click.Path())
@click.option(
    "-o",
    "--output",
    required=True,
    help="The SUBS file to write (.parquet or .csv), or a database table URL#schema.table "
    "(the report then goes into the one-row table <table>_report, same transaction).",
)
@click.option(
    "--billing-period",
    type=click.Choice(["month", "year"], case_sensitive=False),
    required=True,
    help="The period a payment renews: month (365.2425/12 days) or year (365.2425 days).",
)
@click.option("--customer-col", default="company_id", show_default=True, help="Customer id.")
@click.option("--payment-date-col", default="payment_date", show_default=True, help="Paid on.")
@click.option(
    "--paid-until-col", default="paid_until", show_default=True, help="Paid until (excluded)."
)
@click.option(
    "--amount-col", default="amount", show_default=True, help="Amount paid (< 0: a refund)."
)
@click.option("--plan-col", default="plan", show_default=True, help="Plan of the payment.")
@click.option(
    "--status-col",
    default=None,
    help="Payment status column (without it every row is a paid payment), e.g. status.",
)
@click.option(
    "--paid-values",
    default="success,paid",
    show_default=True,
    help="With --status-col: the statuses of paid payments, comma-separated, any case.",
)
@click.option(
    "--grace-days",
    type=GRACE_DAYS,
    default=0,
    show_default=True,
    help="Days unpaid after a paid-until date that are still the same spell (not churned).",
)
@click.option(
    "--observation-end",
    type=DATE,
    help="Day the table was observed to (default: the day of the latest paid payment).",
)
@click.option(
    "--date-format",
    default=None,
    help="strftime format of both dates, e.g. %Y-%m-%d or %d.%m.%Y (default: detected).",
)
@guarded
def subscriptions(
    billing: str,
    output: str,
    billing_period: str,
    paid_values: str,
    observation_end: Any,
    **columns: Any,
) -> None:
    """Summarise a billing table into one row per customer (the SUBS table).

    Paid payments (--status-col in --paid-values) cover [payment date, paid-until). Writes
    customer_id, plan (first payment), plan_last, cohort (period of the first payment),
    first_payment, paid_until, periods_paid (covered days / period, rounded; an annual
    prepayment under monthly billing is 12), churned (paid_until + grace before the
    observation end), T (periods observed, counting the first), reactivations (payments after
    a lapse longer than the grace), first_spell_periods, first_spell_churned, revenue,
    price_per_period and billing_period; and OUTPUT's name + _report.json: unpaid payments
    per status, duplicates, refunds, overlaps (all dropped or merged, and counted).
    docs/subscriptions.md states every rule. BILLING: CSV, Parquet, DuckDB or SQLite.

    Example:

    \b
      clv subscriptions billing.csv --billing-period month -o subs.parquet
      clv subscriptions billing.parquet --billing-period month --status-col status \\
          --paid-values success,paid --grace-days 7 --observation-end 2024-12-31 -o subs.csv
    """
    if is_database_url(output):
        output_path(output)  # a table is named
    files = subscriptions_files(output)
    check_outputs(inputs={"BILLING": billing}, outputs={"--output": list(files.values())})
    values = tuple(v.strip() for v in paid_values.split(",") if v.strip())
    if not values:
        raise UserError("--paid-values needs at least one status")
    result = subscriptions_file(
        billing,
        output,
        billing_period=billing_period.lower(),
        paid_values=values,
        observation_end=day_text(observation_end),
        **columns,
    )
    _print_result(result)


def _print_result(result: SubscriptionsResult) -> None:
    report = result.report
    subs = result.subs
    end = report["observation_end"]
    say(
        f"subscriptions of {report['paid_payments']:,} paid payments "
        f"({report['rows_read']:,} rows read): {report['customers']:,} customers, "
        f"{report['churned']:,} churned, {report['reactivated_customers']:,} reactivated"
    )
    say(
        f"  billing period: {report['billing_period']} ({report['period_days']:.4g} days); "
        f"grace: {report['grace_days']} days; observation end: {end}"
        + (" (default: the latest paid payment)" if report["observation_end_default"] else "")
    )
    unpaid = report["unpaid_by_status"]
    dropped = ", ".join(f"{n:,} {status!r}" for status, n in unpaid.items()) or "none"
    say(f"  unpaid payments dropped: {dropped}")
    say(
        f"  duplicates dropped: {report['duplicates']:,}; refunds netted: {report['refunds']:,} "
        f"({report['refunded_amount']:,.2f}); overlapping periods merged: {report['overlaps']:,}"
    )
    if report["refund_only_customers"]:
        say(f"  customers with refunds only (left out): {report['refund_only_customers']:,}")
    if len(subs):
        say(
            f"  periods paid: median {subs['periods_paid'].median():g}; "
            f"first spells churned: {int(subs['first_spell_churned'].sum()):,}"
        )
    say(f"wrote {result.target}")
    say(f"wrote {result.report_path}")
