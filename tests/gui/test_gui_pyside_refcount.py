"""PySide6-Essentials 6.12.0 drops a reference to True on every Python-side signal emit,
so the window aborts ("Fatal Python error: bool_dealloc") after a few thousand camera
frames; 6.11.3 does not. This guards the pin in pyproject.toml."""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject, Signal


class _Emitter(QObject):
    frame = Signal(object)


def test_emits_do_not_leak_references_to_true() -> None:
    emitter = _Emitter()
    emitter.frame.connect(lambda _v: None)
    before = sys.getrefcount(True)
    for _ in range(200):
        emitter.frame.emit({"ok": True})
    assert sys.getrefcount(True) >= before - 5  # a leak would drop it by 200
