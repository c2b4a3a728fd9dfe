#!/usr/bin/env python
"""Train job: fit BG/NBD + Gamma-Gamma on an orders table and save the model directory.

Same arguments as `clv fit` (see --help), plus --run-log FILE for the run record.
Example (cron):  .venv/bin/python scripts/train.py orders.parquet -o models/current --method map
"""

import sys

from _job import run_job

if __name__ == "__main__":
    sys.exit(run_job("fit", sys.argv[1:]))
