"""Running a compiled kernel over contiguous ranges in threads.

The numba kernels of scoring (:mod:`clvmodels.models.kernels.hypergeometric`,
:mod:`clvmodels.predict.draw_summary`)
are compiled with ``nogil=True``: called from several Python threads they run in parallel.
Plain threads, rather than numba's ``parallel=True``, keep compile times short and leave no
OpenMP runtime behind in the process (GNU OpenMP does not survive ``fork``).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np


def n_threads() -> int:
    """Threads to use: the CPUs this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def run_blocks(n: int, block: Callable[[int, int], None], *, min_block: int = 1) -> None:
    """Call ``block(start, stop)`` on contiguous ranges that cover ``range(n)``, in threads.

    Parameters
    ----------
    n : int
        Length of the range to cover.
    block : callable
        Does the work of ``range(start, stop)``; it should release the GIL.
    min_block : int
        Fewest items per range: below ``2 * min_block`` items everything runs in this thread.
    """
    workers = min(n_threads(), n // max(min_block, 1))
    if workers <= 1:
        if n > 0:
            block(0, n)
        return
    bounds = np.linspace(0, n, workers + 1).round().astype(int)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(block, int(lo), int(hi)) for lo, hi in itertools.pairwise(bounds)]
        for future in futures:
            future.result()
