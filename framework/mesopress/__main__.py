"""`python -m mesopress`: the entry point; everything happens in `mesopress.cli`."""

from __future__ import annotations

import sys

from mesopress import cli

if __name__ == "__main__":
    sys.exit(cli.main())
