"""`python -m bnnlab train|bench …` (see bnnlab.cli)."""

import sys

from bnnlab.cli import main
from bnnlab.core import jax_cache

if __name__ == "__main__":
    if sys.argv[1:2] != ["bench"]:  # benchmarks time compiles: they compile afresh
        jax_cache.enable()  # a second run loads the compiled programs from disk
    sys.exit(main())
