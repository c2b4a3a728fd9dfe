"""Run the `clv` command: ``python -m clvmodels``."""

from clvmodels.cli import main

main()
