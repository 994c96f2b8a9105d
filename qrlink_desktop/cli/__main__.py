"""`python -m qrlink_desktop.cli`: the `qrlink` command."""

import contextlib
import sys

from . import main

with contextlib.suppress(BrokenPipeError):
    sys.exit(main())
