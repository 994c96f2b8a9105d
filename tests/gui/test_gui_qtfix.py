"""PySide6 6.12.0 loses a reference to True on every Python-side signal emit; the gui
package guards against it on import (qtfix.py), or the window dies after a few thousand
camera frames with "Fatal Python error: bool_dealloc"."""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject, Signal

import qrlink_desktop.gui  # noqa: F401 - importing applies the guard
from qrlink_desktop.gui import qtfix


class _Emitter(QObject):
    frame = Signal(object)


def test_many_emits_leave_true_alive() -> None:
    emitter = _Emitter()
    emitter.frame.connect(lambda _v: None)
    for _ in range(20_000):  # ~11 minutes of viewfinder frames at 30 fps
        emitter.frame.emit({"ok": True})
    assert sys.getrefcount(True) > 1_000


def test_guard_is_applied_exactly_when_needed() -> None:
    assert qtfix.guard() == qtfix.emit_leaks_true() or sys.version_info >= (3, 12)
