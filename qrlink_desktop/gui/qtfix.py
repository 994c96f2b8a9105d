"""A guard against PySide6 6.12.0's reference-count bug in `SignalInstance.emit`.

In PySide6/shiboken6 6.12.0 every `signal.emit(...)` made from Python releases one
reference to `True` that it never took (6.11.3 does not). `True` starts with a few
hundred to a few thousand references, so after that many emits (the viewfinder emits 30
a second, qasync emits one per `call_soon_threadsafe`) CPython deallocates `True` and
aborts: "Fatal Python error: bool_dealloc". The tests saw it at exit after about fifteen
pairings; a cashier's window would die within minutes.

The fix belongs in the pin (PySide6-Essentials 6.11.3, or a release that fixes it).
Until then, `guard()` probes for the bug once and, only if it is present, gives `True`
a reference count no process will exhaust, which is what CPython 3.12 does for `True`
anyway (immortal objects). `True` is never freed in a running interpreter, so the extra
count changes nothing else.
"""

from __future__ import annotations

import ctypes
import logging
import sys

from PySide6.QtCore import QObject, Signal

log = logging.getLogger(__name__)

_HEADROOM = 1 << 40  # a trillion emits: ~1000 years at 30 a second
_guarded = False


class _Probe(QObject):
    ping = Signal()


def emit_leaks_true() -> bool:
    """True when emitting a signal from Python loses a reference to `True`."""
    probe = _Probe()
    before = sys.getrefcount(True)
    for _ in range(8):
        probe.ping.emit()
    leaked = before - sys.getrefcount(True)
    # Give back what the probe itself took.
    if leaked > 0:
        ctypes.pythonapi.Py_IncRef.argtypes = [ctypes.py_object]
        for _ in range(leaked):
            ctypes.pythonapi.Py_IncRef(True)
    return leaked >= 8


def guard() -> bool:
    """Apply the workaround if this PySide6 needs it; True if it was applied."""
    global _guarded
    if _guarded:
        return True
    if sys.implementation.name != "cpython" or sys.version_info >= (3, 12):
        return False  # True is immortal there: the stray decrefs are no-ops
    if not emit_leaks_true():
        return False
    # ob_refcnt is the first field of every CPython object (non-debug builds).
    ctypes.c_ssize_t.from_address(id(True)).value += _HEADROOM
    _guarded = True
    log.info("PySide6 signal emit leaks references to True: compensated (qtfix)")
    return True
