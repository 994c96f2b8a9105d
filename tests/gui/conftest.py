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
from PySide6.QtCore import QObject, Signal
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication


class LoopHost(QObject):
    """The application as the tests' qasync loop sees it (the loop's documented `app`).

    qasync stops a loop by calling its application's `exit()`. On the real QApplication,
    with no `exec()` running, that marks the thread to quit and every Qt event loop
    pytest-qt starts afterwards would return at once; here `exit()` leaves Qt alone. The
    loop hooks its after-run cleanup to `aboutToQuit`, which teardown emits.
    """

    aboutToQuit = Signal()  # QCoreApplication's name: qasync connects to it

    def exit(self, code: int = 0) -> None:
        """Nothing to quit: Qt's loops belong to pytest-qt."""


@pytest.fixture
def qt_loop(qapp: QApplication) -> Iterator[asyncio.AbstractEventLoop]:
    """An asyncio loop run by Qt's event loop, as in the app; `qtbot.wait*` turn it.

    `already_running` because no `run_forever` is ever called here: the Qt event loop
    that pytest-qt spins while waiting runs the asyncio callbacks.
    """
    host = LoopHost()
    loop = qasync.QEventLoop(host, already_running=True)  # type: ignore[arg-type]
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
    loop.stop()
    host.aboutToQuit.emit()
    # The loop said it was running (already_running=True) through asyncio's hook for
    # loop implementations; it is no longer.
    asyncio.events._set_running_loop(None)
    loop.close()
    asyncio.set_event_loop(None)
    gc.collect()
