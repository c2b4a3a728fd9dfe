"""The rules of the orders contract: one message each, shared by the DuckDB and Spark readers.

``docs/orders.md`` states them for users; :mod:`clvmodels.data.contract` checks them in DuckDB
SQL and :mod:`clvmodels.spark.validate` in Spark. The visits, costs and billing
tables (:mod:`clvmodels.data.marketing`, :mod:`clvmodels.data.billing`, checked in pandas by
:mod:`clvmodels.data.columns`) follow the same rules for their ids and dates, and add the rules
of their own columns (sources, session times, costs, paid-until dates, plans, amounts).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from clvmodels.errors import DataError


@dataclass(frozen=True)
class Rule:
    """One rule of the orders contract: its name, the column it is about, its message."""

    name: str
    column: Literal["customer", "date", "revenue", "table", "source", "costs", "billing"]
    problem: str
    hint: str | None = None

    def error(
        self,
        column: str | None,
        *,
        n_rows: int | None = None,
        examples: Iterable[Any] = (),
        hint: str | None = None,
        **fields: Any,
    ) -> DataError:
        """The DataError of this rule, naming ``column``; ``fields`` fill the ``{}`` parts.

        ``hint`` replaces the rule's own hint as it is (it is not a template).
        """
        if hint is None and self.hint:
            hint = self.hint.format(**fields)
        return DataError(
            self.problem.format(**fields),
            column=column,
            n_rows=n_rows,
            examples=examples,
            hint=hint,
        )


#: The rules, in the order they are checked; one message each, shared by every engine.
RULES: dict[str, Rule] = {
    rule.name: rule
    for rule in (
        Rule("no_rows", "table", "the orders table has no rows{where}"),
        Rule("missing_id", "customer", "empty or missing customer ids"),
        Rule(
            "scientific_id",
            "customer",
            "customer ids written in scientific notation (a spreadsheet rounded them, so "
            "different customers may look alike)",
            "Export the ids as text (in Excel: format the column as Text before saving)",
        ),
        Rule(
            "float_id",
            "customer",
            "customer ids in a floating-point column that are not whole numbers of at most "
            "2^53 (they cannot be kept exactly)",
            "Store the ids as text or integers (a float holds integers exactly only up to 2^53)",
        ),
        Rule("missing_date", "date", "missing dates"),
        Rule(
            "bad_format",
            "date",
            "the date format {date_format!r} is not a valid strftime format ({reason})",
            "Use strftime codes such as %Y-%m-%d, %d/%m/%Y or %Y%m%d in --date-format",
        ),
        Rule(
            "format_mismatch",
            "date",
            "dates that do not match the date format {date_format!r}",
            "Check --date-format (date_format) against the examples",
        ),
        Rule(
            "bad_date",
            "date",
            "dates that cannot be parsed",
            "Pass --date-format (such as %Y-%m-%d or %d.%m.%Y) if the format is unusual",
        ),
        Rule(
            "day_month",
            "date",
            "day/month dates are ambiguous without a date format",
            "Pass --date-format (date_format) {formats}",
        ),
        Rule(
            "number_date",
            "date",
            "numbers are not dates without a date unit",
            "Pass --date-unit s, ms or us (seconds, milliseconds, microseconds since "
            "1970-01-01 UTC) or excel (days since 1899-12-30), or --date-format %Y%m%d",
        ),
        Rule(
            "mixed_offsets",
            "date",
            "dates that mix UTC offsets and local times ({n_naive:,} rows without an offset)",
            "Give every value an offset, or none (local times are kept as written)",
        ),
        Rule(
            "date_range",
            "date",
            "dates before 1900-01-01 or after 2200-12-31",
            "Drop or replace such values ('never' sentinels such as 9999-12-31 included) "
            "before reading the orders",
        ),
        Rule("not_number", "revenue", "revenue that is not a number"),
        Rule(
            "decimal_comma",
            "revenue",
            "revenue written with a decimal comma, which clvmodels does not guess",
            "Write revenue with a decimal point (12.50), e.g. save the CSV with a "
            "point as decimal separator",
        ),
        Rule(
            "missing_revenue",
            "revenue",
            "missing (NaN) or infinite revenue",
            "Fill or drop those rows; clvmodels does not count missing revenue as 0",
        ),
        Rule(
            "negative_revenue",
            "revenue",
            "negative revenue (refunds)",
            "Pass --refunds net (refunds='net') to net refunds within the purchase day",
        ),
        Rule(
            "revenue_overflow",
            "revenue",
            "revenue that overflows to infinity when summed",
            "Check the revenue unit: sums of these customers' revenue exceed the largest "
            "floating-point number",
        ),
        # the visits and costs tables (clvmodels.data.marketing), and the tables read back
        Rule("missing_column", "table", "the {table} has no column {columns}"),
        Rule("empty_table", "table", "the {table} has no rows"),
        Rule("missing_source", "source", "missing sources"),
        Rule(
            "session_order",
            "date",
            "sessions that end before they start ({end} < {start})",
            "Fix or drop those rows; the session times are probably swapped",
        ),
        Rule("costs_not_number", "costs", "costs that are not numbers"),
        Rule(
            "missing_costs",
            "costs",
            "missing (NaN) or infinite costs",
            "Fill or drop those rows; clvmodels does not count missing costs as 0",
        ),
        Rule(
            "negative_costs",
            "costs",
            "negative costs",
            "Costs are money spent on a source on a day and cannot be negative",
        ),
        # the billing table (clvmodels.data.billing, clvmodels.subscriptions.billing)
        Rule(
            "missing_paid_until",
            "billing",
            "paid payments without a paid-until date",
            "Every paid payment needs the date it pays until; name that column with "
            "--paid-until-col (paid_until_col)",
        ),
        Rule(
            "paid_until_order",
            "billing",
            "payments paid until before their payment date ({paid_until} < {payment_date})",
            "Fix or drop those rows; the two dates are probably swapped",
        ),
        Rule(
            "missing_plan",
            "billing",
            "paid payments without a plan",
            "Fill the plan of every paid payment, or name the plan column with --plan-col "
            "(plan_col)",
        ),
        Rule("amount_not_number", "billing", "amounts that are not numbers"),
        Rule(
            "missing_amount",
            "billing",
            "missing (NaN) or infinite amounts of paid payments",
            "Fill or drop those rows; clvmodels does not count a missing amount as 0",
        ),
        Rule(
            "after_observation_end",
            "billing",
            "payments after the observation end {observation_end}",
            "Pass a later --observation-end (observation_end), or drop the payments after it",
        ),
    )
}


#: The time part of a day/month date (``12/1/2010 8:26``, ``01.02.2024T10:15:30``), as a regex.
DAY_MONTH_TIME = r"[ T][0-9]{1,2}:[0-9]{2}(:[0-9]{2})?$"


def day_month_formats(first: int, second: int, sep: str, time_example: str) -> str:
    """The ``{formats}`` of the day/month rule: the format(s) the values allow.

    ``first`` and ``second`` are the largest first and second fields of the dates, ``sep``
    their separator, ``time_example`` the time part of one of them ('' when they have none):
    a value above 12 proves which field is the day.
    """
    time = ""
    if time_example:
        clock = "%H:%M:%S" if time_example.count(":") == 2 else "%H:%M"
        time = f"{time_example[0]}{clock}"
    day_first = f"%d{sep}%m{sep}%Y{time}"
    month_first = f"%m{sep}%d{sep}%Y{time}"
    if first > 12 >= second:
        return f"'{day_first}': values above 12 come first, so the day does"
    if second > 12 >= first:
        return f"'{month_first}': values above 12 come second, so the day does"
    return f"'{day_first}' (day first) or '{month_first}' (month first)"
