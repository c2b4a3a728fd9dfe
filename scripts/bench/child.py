"""One job side (or helper task) in this process: its result as one JSON line on stdout."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from .memory import vm_hwm_mb
from .registry import child_for


def child_main(args: argparse.Namespace) -> None:
    """Run one job side and print its result as a JSON line on stdout."""
    import warnings

    warnings.simplefilter("ignore")  # pymc/arviz chatter would drown the progress messages
    run = child_for(args.job, args.side)
    result = run(args, Path(args.out))
    result.update(job=args.job, side=args.side, vm_hwm_mb=vm_hwm_mb())
    print(json.dumps(result), flush=True)
