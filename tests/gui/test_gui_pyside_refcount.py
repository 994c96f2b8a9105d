"""PySide6-Essentials 6.12.0 drops a reference to True on every Python-side signal emit,
so the window aborts ("Fatal Python error: bool_dealloc") after a few thousand camera
frames; 6.11.3 does not. This guards the pin in pyproject.toml.

On Python 3.12 and later True is immortal (PEP 683): a lost reference cannot free it, so
that bug cannot crash the app there, and reference counts cannot show it either. The test
checks, on each interpreter, the property that keeps the window alive: no references lost
where they count (3.11), True immortal where they do not (3.12+). Either way it first
shows that its measurement sees a loss of the size the bug causes.
"""

from __future__ import annotations

import ctypes
import sys
from collections.abc import Callable

from PySide6.QtCore import QObject, Signal

EMITS = 200


class _Emitter(QObject):
    frame = Signal(object)


def _references_lost(action: Callable[[], None]) -> int:
    before = sys.getrefcount(True)
    action()
    return before - sys.getrefcount(True)


def _lose_references() -> None:
    """What the broken release does: one reference to True dropped per emit."""
    for _ in range(EMITS):
        ctypes.pythonapi.Py_DecRef(ctypes.py_object(True))


def test_emits_do_not_lose_references_to_true() -> None:
    emitter = _Emitter()
    emitter.frame.connect(lambda _v: None)

    def emits() -> None:
        for _ in range(EMITS):
            emitter.frame.emit({"ok": True})

    held = [True] * (2 * EMITS)  # references of our own, so the simulated loss is harmless
    try:
        simulated = _references_lost(_lose_references)
    finally:
        for _ in range(EMITS):
            ctypes.pythonapi.Py_IncRef(ctypes.py_object(True))
    del held
    if sys.version_info >= (3, 12):
        assert simulated == 0  # immortal: a lost reference cannot free True
    else:
        assert simulated >= EMITS - 5  # the measurement sees the bug's loss
        assert _references_lost(emits) < 5
