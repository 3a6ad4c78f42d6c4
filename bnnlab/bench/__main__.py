"""`python -m bnnlab.bench`: the engine benchmarks (`bnnlab.bench.engine`)."""

import sys

from bnnlab.bench.engine import cli_main

if __name__ == "__main__":
    sys.exit(cli_main())
