"""What every part of the benchmark shares: the seed, the simulation, the scoring settings."""

from __future__ import annotations

import datetime as dt
import sys

SIDES = ("ours", "pymc")
SIDE_NAMES = {"ours": "clvmodels", "pymc": "pymc-marketing"}

SEED = 2024
#: BG/NBD parameters (weeks) of the simulation: ~10.4 orders (~10.1 purchase days) per
#: customer over the default 730 days, found empirically at 100k customers. The
#: simulator's defaults (close to CDNOW) give ~1.6 orders per customer.
BENCH_BGNBD = {"r": 1.0, "alpha": 3.0, "a": 0.8, "b": 5.0}
#: Gamma-Gamma parameters of the simulation (the simulator's defaults, close to CDNOW).
BENCH_GAMMA_GAMMA = {"p": 6.0, "q": 4.0, "v": 15.0}

TIME_UNIT = "W"
HORIZON = "12M"
HORIZON_MONTHS = 12
ANNUAL_DISCOUNT_RATE = 0.1
#: pymc-marketing's discount_rate is monthly: (1 + d) ** month; this equals 10% a year.
MONTHLY_DISCOUNT_RATE = (1 + ANNUAL_DISCOUNT_RATE) ** (1 / 12) - 1
SCORE_DRAWS = 100
#: Relative sd of the multiplicative jitter of the fixed scoring posterior around the MAP.
POSTERIOR_JITTER = 0.02
WARMUP_CUSTOMERS = 2_000

BG_PARAMS = ("r", "alpha", "a", "b")
GG_PARAMS = ("p", "q", "v")


def log(message: str) -> None:
    """A progress message on stderr."""
    stamp = dt.datetime.now().strftime("%H:%M:%S")
    print(f"[bench {stamp}] {message}", file=sys.stderr, flush=True)
