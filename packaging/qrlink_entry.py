"""The bundle's entry point: the `qrlink` command, as the installed console script runs it.

With QRLINK_STARTUP_PROBE=1 it opens the cashier's window instead (as `qrlink gui` does),
prints `window shown` on standard output the moment the window is first shown, and closes
it: `packaging/measure.py` times start-up to the first window that way.
"""

from __future__ import annotations

import os
import sys


def _probe() -> int:
    from PySide6.QtCore import QTimer
    from PySide6.QtGui import QShowEvent

    from qrlink_desktop import app
    from qrlink_desktop.gui.main_window import MainWindow

    original = MainWindow.showEvent

    def show_event(self: MainWindow, event: QShowEvent) -> None:
        original(self, event)
        if not getattr(self, "_probe_reported", False):
            self._probe_reported = True  # type: ignore[attr-defined]
            print("window shown", flush=True)
            QTimer.singleShot(0, self.close)

    MainWindow.showEvent = show_event  # type: ignore[method-assign,assignment]
    return app.main(sys.argv[1:])


def main() -> int:
    if os.environ.get("QRLINK_STARTUP_PROBE"):
        return _probe()
    from qrlink_desktop.cli import main as cli_main

    return cli_main()


if __name__ == "__main__":
    sys.exit(main())
