"""The segment command: one segment per scored customer, by ordered rules, and a summary."""

from __future__ import annotations

from pathlib import Path

import click
import pandas as pd

from clvmodels.cli.common import (
    UserError,
    guarded,
    say,
)
from clvmodels.cli.outputs import check_outputs, one_destination, output_path
from clvmodels.data.io import read_table, write_tables
from clvmodels.data.paths import derived_target, input_tables, same_output
from clvmodels.segments.assign import segment_customers, segment_summary
from clvmodels.segments.rules import DEFAULT_RULES_NAME, NO_CLV_RULES_NAME
from clvmodels.segments.rules_file import default_rules, load_rules
from clvmodels.segments.scores import has_clv


@click.command()
@click.argument("scores", type=click.Path(dir_okay=False))
@click.option(
    "-o",
    "--output",
    required=True,
    help="Segmented customers: .parquet, .csv or .json, or a database table URL#schema.table.",
)
@click.option(
    "--rules",
    "rules_file",
    type=click.Path(dir_okay=False),
    help=f"TOML file of segment rules (default: the documented {DEFAULT_RULES_NAME}).",
)
@click.option(
    "--summary",
    "summary_output",
    help="Segment summary file (default: <OUTPUT stem>_summary.<suffix> beside OUTPUT; for a "
    "database table, the table <table>_summary, written in the same transaction).",
)
@click.option("--table", help="Table to read from a DuckDB or SQLite file.")
@click.option("--query", help="SQL query to run on a DuckDB or SQLite file.")
@guarded
def segment(
    scores: str,
    output: str,
    rules_file: str | None,
    summary_output: str | None,
    table: str | None,
    query: str | None,
) -> None:
    """Give every scored customer one segment (first matching rule) and summarise them.

    SCORES is a table from `clv score`. Adds the RFM quartile scores r_score, f_score,
    m_score (1-4, 4 best) and rfm_score, since_last, is_repeat, p_alive_known,
    clv_percentile, T_percentile and segment, and writes a summary per segment: customers,
    share, total and mean CLV, mean P(alive), mean expected purchases. The default rules
    (high_value, loyal, promising_new, at_risk, occasional, one_time, hibernating, lost) are
    explained in clvmodels/segment_rules.toml; copy and edit it to define your own. One-time
    buyers are never in the active segments (high_value, loyal, occasional), and their
    P(alive) is used only when it means something (not BG/NBD's P(alive) = 1, which the
    command detects and says). Scores without CLV
    (a model fitted without revenue) get the no-CLV rules of
    clvmodels/segment_rules_no_clv.toml (P(alive), expected purchases, frequency, recency).

    Example:

    \b
      clv segment scores.parquet -o segments.parquet
      clv segment scores.csv -o segments.csv --rules my_rules.toml --summary summary.csv
    """
    target = output_path(output)
    summary_target = (
        output_path(summary_output, flag="--summary")
        if summary_output
        else derived_target(target, "summary")
    )
    one_destination(target, {"--summary": summary_target})
    if same_output(summary_target, target):
        raise UserError(f"--summary {summary_target} is the same file as the output")
    check_outputs(
        inputs={"SCORES": scores, "--rules": rules_file},
        outputs={"--output": [target] if summary_output else [target, summary_target]}
        | ({"--summary": summary_target} if summary_output else {}),
        tables=input_tables("SCORES", {"table": table, "query": query}),
    )
    table_in = read_table(scores, table=table, query=query)
    clv = has_clv(table_in)
    rules = load_rules(rules_file) if rules_file else default_rules(clv=clv)
    segmented = segment_customers(table_in, rules=rules)
    summary = segment_summary(segmented, rules=rules)
    written = write_tables([(segmented, target), (summary, summary_target)])
    default = DEFAULT_RULES_NAME if clv else NO_CLV_RULES_NAME
    say(f"rules: {Path(rules_file) if rules_file else f'default rules: {default}'}")
    if not clv:
        say(
            "the scores have no CLV (the model was fitted without revenue): the rules use only "
            "P(alive), expected purchases, frequency, recency and tenure"
        )
    known = "means something" if segmented.attrs["one_time_p_alive_known"] else "says nothing"
    say(
        f"P(alive) of one-time buyers {known} (p_alive_known): "
        f"{segmented.attrs['one_time_p_alive_basis']}"
    )
    say(f"segmented {len(segmented):,} customers into {len(rules)} segments (first match wins)")
    _print_summary(summary)
    for path in written:
        say(f"wrote {path}")


def _print_summary(summary: pd.DataFrame) -> None:
    width = max(7, *(len(name) for name in summary["segment"]))
    clv = "total_clv" in summary.columns
    clv_header = f"{'total CLV':>15}{'mean CLV':>11}" if clv else ""
    say(
        f"  {'segment':<{width}}{'customers':>11}{'share':>8}{clv_header}"
        f"{'P(alive)':>10}{'purchases':>11}"
    )
    for row in summary.to_dict(orient="records"):
        clv_cells = f"{row['total_clv']:>15,.2f}{row['mean_clv']:>11,.2f}" if clv else ""
        say(
            f"  {row['segment']:<{width}}{row['customers']:>11,}{row['share']:>8.1%}"
            f"{clv_cells}{row['mean_p_alive']:>10.3f}{row['mean_expected_purchases']:>11.2f}"
        )
    say("  (P(alive) and purchases are segment means; purchases over the scoring horizon)")
