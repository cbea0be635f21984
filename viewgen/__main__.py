"""``python -m viewgen``: the ``viewgen`` command (what Lightning's DDP launcher re-runs in each process)."""

import sys

from viewgen.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
