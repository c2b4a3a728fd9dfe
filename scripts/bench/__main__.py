"""``python scripts/bench [options]`` (``make bench``): run the benchmark.

Python runs this file with ``scripts/bench`` itself first on ``sys.path``; the package's
modules import one another as ``bench.*``, so the folder above it (``scripts``) takes that
place. The children each side spawns run the same way (``python scripts/bench --job ...``).
"""

import sys
from pathlib import Path

if __package__ in (None, ""):
    here = Path(__file__).resolve().parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != here]
    sys.path.insert(0, str(here.parent))

from bench.cli import main

sys.exit(main())
