"""RFM of an orders table on a Spark cluster: the driver program to give spark-submit.

It reads and validates the orders where they are (any path Spark reads, or a catalog table),
summarises them with :func:`clvmodels.spark.jobs.orders_rfm_spark` (the DuckDB engine's
definitions), and leaves the result distributed: Spark writes OUTPUT as a folder of part
files, first beside it and then renamed into place, so a failed job leaves the previous
output untouched. Nothing per customer is collected on the driver.

On a cluster (the orders never leave it)::

    spark-submit --master yarn --deploy-mode client scripts/spark_rfm.py \\
        --orders hdfs:///warehouse/orders/ --output hdfs:///clv/rfm \\
        --customer-col uid --date-col buy_ts --revenue-col amount \\
        --time-unit W --calibration-end 2025-06-30

On this machine::

    spark-submit --master 'local[2]' scripts/spark_rfm.py \\
        --orders bench-output/orders.parquet --output /tmp/rfm --time-unit W

The Python that runs this script needs clvmodels (``pip install 'clvmodels[spark]'``); the
executors run only Spark SQL for this job, so they need no Python packages. Exit codes: 0
done, 2 a problem with the input (one line on standard error).
"""

from __future__ import annotations

import argparse
import sys
import time


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="spark_rfm.py",
        description="RFM (frequency, recency, T, monetary value) per customer, on Spark.",
    )
    parser.add_argument("--orders", required=True, help="Path, URI or catalog table of orders.")
    parser.add_argument(
        "--output", required=True, help="Folder Spark writes the RFM table to (replaced)."
    )
    parser.add_argument(
        "--output-format", choices=["parquet", "csv", "json", "orc"], default="parquet"
    )
    parser.add_argument(
        "--format",
        dest="fmt",
        default=None,
        help="Input format: parquet, csv, table, orc, ... (default: from the path).",
    )
    parser.add_argument("--customer-col", default="customer_id")
    parser.add_argument("--date-col", default="timestamp")
    parser.add_argument("--revenue-col", default="revenue")
    parser.add_argument("--date-format", default=None, help="strftime format, e.g. %%Y%%m%%d.")
    parser.add_argument("--time-unit", choices=["D", "W", "M"], default="W")
    parser.add_argument("--observation-end", default=None, help="YYYY-MM-DD (default: last day).")
    parser.add_argument(
        "--calibration-end", default=None, help="YYYY-MM-DD; adds the holdout columns."
    )
    parser.add_argument("--refunds", choices=["error", "net"], default="error")
    parser.add_argument("--dedupe", action="store_true", help="Drop exact duplicate rows.")
    parser.add_argument(
        "--master",
        default=None,
        help="Only when run with plain python: local[2], yarn, ... (spark-submit sets it).",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)

    from clvmodels.data.paths import output_problem

    problem = output_problem(args.output, [("--orders", args.orders)])
    if problem is not None:  # the output folder is replaced: never onto or around the input
        print(f"Error: --output {args.output} {problem}; nothing was written", file=sys.stderr)
        return 2

    from clvmodels.errors import ClvError
    from clvmodels.spark.jobs import orders_rfm_spark
    from clvmodels.spark.session import spark_session
    from clvmodels.spark.write import write_spark_table
    from clvmodels.units import UNIT_NAMES

    started = time.perf_counter()
    try:
        spark = spark_session(args.master, "clvmodels-rfm")
    except ClvError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 2
    try:
        read_options = {
            "customer_col": args.customer_col,
            "date_col": args.date_col,
            "revenue_col": args.revenue_col,
            "fmt": args.fmt,
            "date_format": args.date_format,
            "refunds": args.refunds,
            "dedupe": args.dedupe,
        }
        result = orders_rfm_spark(
            spark,
            args.orders,
            read_options,
            time_unit=args.time_unit,
            observation_end=args.observation_end,
            calibration_end=args.calibration_end,
        )
        write_spark_table(result.rfm, args.output, fmt=args.output_format)
        written = spark.read.format(args.output_format).option("header", True)
        n_customers = written.load(args.output).count()
    except (ClvError, ValueError) as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 2
    finally:
        spark.stop()
    period = result.period
    print(
        f"RFM of {result.n_orders:,} orders: {n_customers:,} customers; time unit "
        f"{UNIT_NAMES[args.time_unit]} ({args.time_unit}); first order {period.first_order}; "
        f"calibration end {period.calibration_end}; observation end {period.observation_end}"
    )
    print(f"wrote {args.output} ({args.output_format}) in {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
