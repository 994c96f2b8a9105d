"""The bundle's entry point: the `qrlink` command, as the installed console script runs it.

With QRLINK_STARTUP_PROBE=1 it also prints `window shown` on standard output the moment
the cashier's window is first shown, and closes it: `packaging/measure.py` runs
`qrlink gui` that way to time start-up to the first window.
"""

from __future__ import annotations

import os
import sys


def _install_probe() -> None:
    from PySide6.QtCore import QTimer
    from PySide6.QtGui import QShowEvent

    from qrlink_desktop.gui.main_window import MainWindow

    original = MainWindow.showEvent

    def show_event(self: MainWindow, event: QShowEvent) -> None:
        original(self, event)
        if not getattr(self, "_probe_reported", False):
            self._probe_reported = True  # type: ignore[attr-defined]
            print("window shown", flush=True)
            QTimer.singleShot(0, self.close)

    MainWindow.showEvent = show_event  # type: ignore[method-assign,assignment]


def main() -> int:
    if os.environ.get("QRLINK_STARTUP_PROBE"):
        _install_probe()
    from qrlink_desktop.cli import main as cli_main

    return cli_main()


if __name__ == "__main__":
    sys.exit(main())
