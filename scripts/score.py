#!/usr/bin/env python
"""Score job: score every customer with a saved model.

Same arguments as `clv score` (see --help), plus --run-log FILE for the run record.
Example:  .venv/bin/python scripts/score.py models/current orders.parquet -o scores.parquet
"""

import sys

from _job import run_job

if __name__ == "__main__":
    sys.exit(run_job("score", sys.argv[1:]))
