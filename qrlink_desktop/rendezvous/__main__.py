"""`python -m qrlink_desktop.rendezvous`: the same as `qrlink rendezvous`."""

import sys

from qrlink_desktop.rendezvous.command import main

sys.exit(main())
