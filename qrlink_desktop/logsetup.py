"""Logging for the window and the command line: a rotating file in the platform's log
directory (INFO, or DEBUG with --verbose) and warnings on standard error.

Log directory: $QRLINK_LOG_DIR if set; Linux $XDG_STATE_HOME/qrlink/log (default
~/.local/state/qrlink/log); macOS ~/Library/Logs/qrlink; Windows %LOCALAPPDATA%/qrlink/Logs.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import sys
from pathlib import Path

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def log_dir() -> Path:
    override = os.environ.get("QRLINK_LOG_DIR")
    if override:
        return Path(override)
    home = Path.home()
    if sys.platform == "darwin":
        return home / "Library" / "Logs" / "qrlink"
    if sys.platform == "win32":
        return Path(os.environ.get("LOCALAPPDATA", home / "AppData" / "Local")) / "qrlink" / "Logs"
    state = os.environ.get("XDG_STATE_HOME") or str(home / ".local" / "state")
    return Path(state) / "qrlink" / "log"


def setup(verbose: bool, name: str = "qrlink") -> Path | None:
    """Configure the root logger; returns the log file, or None when it cannot be written
    (a read-only home must not stop the app)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    console = logging.StreamHandler()
    console.setLevel(logging.DEBUG if verbose else logging.WARNING)
    console.setFormatter(logging.Formatter(FORMAT))
    root.addHandler(console)
    path: Path | None = log_dir() / f"{name}.log"
    try:
        assert path is not None
        path.parent.mkdir(parents=True, exist_ok=True)
        file_handler = logging.handlers.RotatingFileHandler(
            path, maxBytes=1_000_000, backupCount=3, encoding="utf-8"
        )
    except OSError:
        path = None
    else:
        file_handler.setFormatter(logging.Formatter(FORMAT))
        root.addHandler(file_handler)
    if not verbose:
        # aiortc/aioice log expected failures (unreachable candidate pairs) as warnings.
        for noisy in ("aioice", "aiortc"):
            logging.getLogger(noisy).setLevel(logging.ERROR)
    return path
