"""The window on a till's screen: 1366×768 and 1280×720. It sizes itself from the screen's
available area, its minimum fits 1280×720, and in the busiest state (the code to confirm,
a payment's result, a failure notice) nothing the cashier needs is cut off or squashed."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from gui_support import make_app
from PySide6.QtCore import QPoint, QRect, QSize
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot

from qrlink_desktop.core.errors import ErrorCode
from qrlink_desktop.core.events import Direction, MessageEvent, PathInfo
from qrlink_desktop.core.messages import MessageType
from qrlink_desktop.core.session import State
from qrlink_desktop.gui.main_window import FRAME_ALLOWANCE, PREFERRED_SIZE, MainWindow
from qrlink_desktop.gui.notices import Problem, Where

TILL_SCREENS = [(1366, 768), (1280, 720)]


def _clipped(widget: QWidget, window: MainWindow) -> str | None:
    """Why the widget is not wholly on screen at a usable size, or None."""
    if not widget.isVisible():
        return "hidden"
    hint = widget.minimumSizeHint()
    if widget.width() < hint.width() or widget.height() < hint.height():
        return f"squashed to {widget.size()} (needs {hint})"
    child: QWidget = widget
    parent = widget.parentWidget()
    while parent is not None:  # every ancestor must hold it whole
        top_left = child.mapTo(parent, QPoint(0, 0))
        if not parent.rect().contains(QRect(top_left, child.size())):
            return f"cut off by {type(parent).__name__} {parent.objectName()!r}"
        if parent is window:
            return None
        child, parent = parent, parent.parentWidget()
    return "not in the window"


def _busiest(window: MainWindow) -> None:
    window.set_answers_home(True)
    window.status.show_state(State.CONNECTED, PathInfo("host", "prflx", "direct"))
    window.status.show_code("123456")
    response = MessageEvent(
        Direction.IN, MessageType.PAYMENT_RESPONSE, "resp", {"requestId": "r", "status": "approved"}
    )
    window.payment.show_response(response, "1234.50", "EUR")
    window.payment.set_enabled(True)
    window.on_failed(Problem(Where.CONNECTION, ErrorCode.TIMEOUT, "slow"))


@pytest.mark.parametrize(("width", "height"), TILL_SCREENS, ids=lambda v: str(v))
def test_the_window_fits_a_till_screen(
    qtbot: QtBot, qt_loop: asyncio.AbstractEventLoop, tmp_path: Path, width: int, height: int
) -> None:
    app = make_app(tmp_path)
    window = app.window
    qtbot.addWidget(window)
    window.fit_to(QRect(0, 0, width, height))
    window.show()
    _busiest(window)
    qtbot.waitExposed(window)
    qtbot.wait(50)  # let the layouts settle after the last change
    # The window and its frame within the screen.
    assert window.width() + FRAME_ALLOWANCE.width() <= width
    assert window.height() + FRAME_ALLOWANCE.height() <= height
    assert QRect(0, 0, width, height).contains(window.geometry())
    important = {
        "offer QR": window.offer.qr,
        "offer countdown": window.offer.countdown,
        "paste field": window.answers.paste_field,
        "paste button": window.answers.paste_button,
        "viewfinder": window.answers.viewfinder,
        "pairing state": window.status.state_label,
        "verification code": window.status.code_label,
        "confirm button": window.status.confirm_button,
        "amount": window.payment.amount,
        "currency": window.payment.currency,
        "reference": window.payment.reference,
        "request button": window.payment.send_button,
        "payment result": window.payment.outcome,
        "failure notice": window.notice,
    }
    problems = {name: why for name, w in important.items() if (why := _clipped(w, window))}
    assert problems == {}
    # Texts that must be read whole: the result band, the currency, the code.
    outcome = window.payment.outcome
    assert outcome.width() >= outcome.fontMetrics().horizontalAdvance(outcome.text())
    assert window.payment.currency.currentText() == "EUR"
    code = window.status.code_label
    assert code.width() >= code.fontMetrics().horizontalAdvance(code.text())
    # The offer QR keeps a size a phone reads from a step away.
    assert min(window.offer.qr.width(), window.offer.qr.height()) >= 250
    # The camera is the fallback: the narrowest column.
    assert window.answers.viewfinder.width() < window.offer.qr.width()
    app.camera.stop()


def test_the_minimum_is_within_1280_by_720(
    qtbot: QtBot, qt_loop: asyncio.AbstractEventLoop, tmp_path: Path
) -> None:
    app = make_app(tmp_path)
    window = app.window
    qtbot.addWidget(window)
    _busiest(window)
    room = QSize(1280, 720) - FRAME_ALLOWANCE
    hint = window.minimumSizeHint()
    assert hint.width() <= room.width() and hint.height() <= room.height(), hint
    # A large screen gets the preferred size, centred in its available area.
    window.fit_to(QRect(0, 30, 1920, 1050))
    assert window.size() == PREFERRED_SIZE
    assert window.x() == (1920 - PREFERRED_SIZE.width()) // 2 and window.y() >= 30
    app.camera.stop()
