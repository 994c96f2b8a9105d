"""Offscreen Qt for the window tests, and a qasync loop pytest-qt's waits drive."""

from __future__ import annotations

import asyncio
import gc
import os
import time

# Before any Qt import: no display is needed, and none is touched.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from collections.abc import Iterator

import pytest
import qasync
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication


@pytest.fixture
def qt_loop(qapp: QApplication) -> Iterator[asyncio.AbstractEventLoop]:
    """An asyncio loop run by Qt's event loop, as in the app; `qtbot.wait*` turn it.

    `already_running` because no `run_forever` is ever called here: the Qt event loop
    that pytest-qt spins while waiting runs the asyncio callbacks.
    """
    loop = qasync.QEventLoop(qapp, already_running=True)
    asyncio.set_event_loop(loop)
    yield loop
    # Whatever a test left running (aiortc's own tasks too) is cancelled and given the
    # chance to finish, so nothing is destroyed pending.
    pending = asyncio.all_tasks(loop)
    for task in pending:
        task.cancel()
    deadline = time.monotonic() + 2.0
    while any(not t.done() for t in pending) and time.monotonic() < deadline:
        QTest.qWait(10)
    loop._QEventLoop__is_running = False  # type: ignore[attr-defined]  # stop() would also quit Qt
    loop._after_run_forever()  # type: ignore[attr-defined]
    asyncio.events._set_running_loop(None)
    loop.close()
    asyncio.set_event_loop(None)
    gc.collect()
