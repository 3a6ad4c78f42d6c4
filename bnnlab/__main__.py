"""`python -m bnnlab train|bench …` (see bnnlab.cli)."""

import sys

from bnnlab.cli import main

if __name__ == "__main__":
    sys.exit(main())
