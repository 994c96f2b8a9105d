"""`python -m qrlink_desktop.pages`: serve the built page alone (no answers taken)."""

import sys

from qrlink_desktop.pages.server import main

sys.exit(main())
