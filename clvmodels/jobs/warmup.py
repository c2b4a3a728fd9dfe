"""Fill the compile caches once, so that a user's first fit is as fast as the next ones.

``python -m clvmodels.jobs.warmup`` (run by ``make install``) fits a small simulated customer base
with every transaction model (BG/NBD, Pareto/NBD, MBG/NBD by MAP and by Laplace; BG/CNBD-k
and MBG/CNBD-k by MAP) and Gamma-Gamma, and scores the customers. That compiles, and stores on
disk, what a first fit would otherwise compile: the numba kernels of
:mod:`clvmodels.models.kernels.bgnbd_likelihood`, :mod:`clvmodels.models.kernels.hypergeometric`
and :mod:`clvmodels.models.kernels.cnbd_numerator` (``cache=True``, next to the modules) and
PyTensor's numba-linked and C-compiled graphs (PyTensor's compiledir). Measured on the CDNOW
sample with empty caches: the first ``clv fit`` took 20 s (BG/NBD MAP), 16 s (Pareto/NBD MAP)
and 28 s (BG/NBD Laplace), the next ones 4-7 s. NUTS is left out: nutpie compiles each model
afresh in every process, so a warm-up saves it ~2 s of ~15 s.
"""

from __future__ import annotations

import argparse
import time
import warnings
from collections.abc import Callable, Sequence

from clvmodels.models.settings import Method, TransactionModelName

#: (transaction model, method) pairs that are fitted.
FITS: tuple[tuple[TransactionModelName, Method], ...] = (
    ("bgnbd", "map"),
    ("pareto", "map"),
    ("mbgnbd", "map"),
    ("bgnbd", "laplace"),
    ("pareto", "laplace"),
    ("mbgnbd", "laplace"),
    # BG/CNBD-k and MBG/CNBD-k: the k search's graph and the chosen k's
    ("bgcnbd", "map"),
    ("mbgcnbd", "map"),
)


def warm_up(
    n_customers: int = 2000,
    fits: Sequence[tuple[TransactionModelName, Method]] = FITS,
    echo: Callable[[str], None] = print,
) -> dict[str, float]:
    """Fit and score each of ``fits`` on ``n_customers`` simulated customers.

    Returns the seconds each step took (the first run compiles, later runs load the caches).
    """
    from clvmodels.errors import DataError
    from clvmodels.examples.simulate import simulate_orders
    from clvmodels.model import CLVModel
    from clvmodels.summaries.rfm import rfm_summary

    orders, _ = simulate_orders(n_customers, seed=1)
    rfm = rfm_summary(orders, time_unit="W")
    seconds: dict[str, float] = {}
    for kind, method in fits:
        started = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a tiny sample's fit may be reported unconverged
            # the settings of `clv fit` (4 chains x 1,000 draws): the Laplace draws' graph
            # depends on their number, so other settings would fill other cache entries
            model = CLVModel(time_unit="W", transaction_model=kind, method=method).fit(rfm)
            try:
                model.score(rfm, horizon="12M", n_draws=20)
            except DataError as exc:  # a small sample's fit may be refused: say so, go on
                echo(f"  {kind:<7} {method:<8} not scored: {str(exc).split(';')[0]}")
        seconds[f"{kind}/{method}"] = round(time.perf_counter() - started, 2)
        echo(f"  {kind:<7} {method:<8} {seconds[f'{kind}/{method}']:6.1f} s")
    return seconds


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: ``python -m clvmodels.jobs.warmup [--customers N]``."""
    parser = argparse.ArgumentParser(prog="python -m clvmodels.jobs.warmup", description=__doc__)
    parser.add_argument("--customers", type=int, default=2000, help="simulated customers")
    args = parser.parse_args(argv)
    print("Compiling clvmodels' models once (numba and PyTensor caches)...")
    started = time.perf_counter()
    warm_up(args.customers)
    print(f"done in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
