"""Work a job starts in the background while DuckDB, which releases the GIL, reads and counts."""

from __future__ import annotations

import importlib
import threading


def import_meanwhile(module: str) -> threading.Thread:
    """A started thread importing ``module``; join it before using the module.

    matplotlib's half second of imports then runs while DuckDB reads the inputs (an import
    that failed fails again, with its error, where the module is used).
    """
    thread = threading.Thread(target=importlib.import_module, args=(module,), daemon=False)
    thread.start()
    return thread
