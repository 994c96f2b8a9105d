"""The window and its controller against a stand-in session (fake_session.py) that says
what a real one says, as typed events: every signal is waited for with qtbot.waitSignal,
nothing reaches into private state. The real session's whole flow is in
test_gui_whole_flow.py, test_gui_one_scan.py and test_gui_remote.py."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from fake_session import ANSWER_TEXT, FakeSession
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from qrlink_desktop.core.errors import ErrorCode
from qrlink_desktop.core.events import CodeReady, OfferReady, StateChanged
from qrlink_desktop.core.session import Code, State
from qrlink_desktop.gui.camera import CameraBridge
from qrlink_desktop.gui.cashier import AnswerScanned, AnswerUnusable
from qrlink_desktop.gui.main_window import MainWindow
from qrlink_desktop.gui.notices import Problem, Where
from qrlink_desktop.gui.session import SessionController
from qrlink_desktop.gui.settings import Settings


@pytest.fixture
def fake(qt_loop: asyncio.AbstractEventLoop) -> FakeSession:
    return FakeSession()


@pytest.fixture
def controller(fake: FakeSession) -> Iterator[SessionController]:
    controller = SessionController(lambda: fake)
    yield controller


@pytest.fixture
def window(qtbot: QtBot, controller: SessionController) -> MainWindow:
    window = MainWindow(controller, CameraBridge(), Settings, Settings)  # the defaults
    qtbot.addWidget(window)
    window.show()
    return window


def _waiting(qtbot: QtBot, controller: SessionController) -> OfferReady:
    with qtbot.waitSignal(controller.offerReady, timeout=5_000) as offered:
        controller.start()
    event = offered.args[0]
    assert isinstance(event, OfferReady)
    return event


def test_the_offer_and_each_state_come_as_typed_signals(
    qtbot: QtBot, controller: SessionController, fake: FakeSession
) -> None:
    states: list[State] = []
    controller.stateChanged.connect(lambda event: states.append(event.state))
    offer = _waiting(qtbot, controller)
    assert offer.text.startswith("http://127.0.0.1:8765/#") and fake.calls[:1] == ["prepare"]
    with qtbot.waitSignal(controller.stateChanged, timeout=5_000) as changed:
        controller.submit_answer(ANSWER_TEXT, "paste")
    assert changed.args[0] == StateChanged(State.CONNECTING)
    with qtbot.waitSignal(controller.sasReady, timeout=5_000) as coded:
        fake.paired("654321")
    assert isinstance(coded.args[0], CodeReady) and coded.args[0].code == "654321"
    assert states == [
        State.CREATING_OFFER,
        State.AWAITING_ANSWER,
        State.CONNECTING,
        State.CONNECTED,
    ]


def test_an_unreadable_answer_is_said_once_and_the_offer_waits(
    qtbot: QtBot, controller: SessionController, fake: FakeSession
) -> None:
    _waiting(qtbot, controller)
    problems: list[Problem] = []
    controller.failed.connect(problems.append)
    told: list[object] = []
    controller.sessionEvent.connect(told.append)
    with qtbot.waitSignal(controller.failed, timeout=5_000):
        controller.submit_answer("QL:NOT-AN-ANSWER", "camera")
    assert problems == [
        Problem(Where.ANSWER, ErrorCode.BOOTSTRAP_PARSE_FAILED, "this is not an answer code")
    ]
    assert told == [AnswerScanned("camera"), AnswerUnusable(ErrorCode.BOOTSTRAP_PARSE_FAILED)]
    assert controller.state == State.AWAITING_ANSWER


def test_a_second_answer_while_the_first_is_applied_is_not_applied(
    qtbot: QtBot, controller: SessionController, fake: FakeSession
) -> None:
    _waiting(qtbot, controller)
    with qtbot.waitSignal(controller.stateChanged, timeout=5_000):
        assert controller.submit_answer(ANSWER_TEXT, "camera") is not None
        assert controller.submit_answer(ANSWER_TEXT, "paste") is None  # the race of one scan
    assert [c for c in fake.calls if c.startswith("accept_answer")] == [
        f"accept_answer {ANSWER_TEXT}"
    ]


def test_a_network_failure_reaches_the_window_once(
    qtbot: QtBot, window: MainWindow, controller: SessionController, fake: FakeSession
) -> None:
    _waiting(qtbot, controller)
    problems: list[Problem] = []
    controller.failed.connect(problems.append)
    with qtbot.waitSignal(controller.stateChanged, timeout=5_000):
        controller.submit_answer(ANSWER_TEXT, "paste")
    with qtbot.waitSignal(controller.stateChanged, timeout=5_000) as changed:
        fake.fail(ErrorCode.ICE_FAILED, "no path to the phone")
    assert changed.args[0].state == State.FAILED
    assert problems == [Problem(Where.CONNECTION, ErrorCode.ICE_FAILED, "no path to the phone")]
    assert window.notice.isVisible() and window.next_button.isVisible()
    assert window.notice.label.text().startswith("No path to the phone.")
    assert len(window.pairings.pairings) == 1
    assert window.pairings.pairings[0].outcome == str(ErrorCode.ICE_FAILED)


def test_the_confirmed_code_and_only_it_enables_payment(
    qtbot: QtBot, window: MainWindow, controller: SessionController, fake: FakeSession
) -> None:
    _waiting(qtbot, controller)
    with qtbot.waitSignal(controller.stateChanged, timeout=5_000):
        controller.submit_answer(ANSWER_TEXT, "paste")
    window.activateWindow()
    with qtbot.waitSignal(controller.sasReady, timeout=5_000):
        fake.paired("123456")
    assert window.status.code_label.text() == "123 456"
    assert not window.payment.amount.isEnabled()  # shown, not yet confirmed
    assert controller.request_payment("1.00", "EUR", None) is None  # refused, said
    qtbot.waitUntil(lambda: QApplication.focusWidget() is window.status.confirm_button)
    with qtbot.waitSignal(controller.confirmed, timeout=5_000):
        qtbot.keyClick(window.status.confirm_button, Qt.Key.Key_Return)
    assert fake.status.code == Code.CONFIRMED and fake.status.may_request_payment
    qtbot.waitUntil(window.payment.amount.isEnabled)
    assert QApplication.focusWidget() is window.payment.amount
    assert window.status.confirm_button.isHidden()
    assert controller.request_payment("2.50", "EUR", None) == "fake-request"
    assert "request_payment 2.50 EUR" in fake.calls


@pytest.mark.parametrize("state", list(State))
def test_the_window_presents_every_state(qtbot: QtBot, window: MainWindow, state: State) -> None:
    window.on_state(StateChanged(state))
    waiting = state == State.AWAITING_ANSWER
    assert window.offer.waiting == waiting
    assert window.answers.paste_field.isEnabled() == waiting
    assert window.next_button.isVisible() == (state in (State.CLOSED, State.FAILED))
    assert not window.payment.amount.isEnabled()  # nothing confirmed in any of them
    assert window.payment.hint_label.text()


def test_next_customer_after_a_failure_starts_over(
    qtbot: QtBot, window: MainWindow, controller: SessionController, fake: FakeSession
) -> None:
    _waiting(qtbot, controller)
    fake.fail(ErrorCode.TIMEOUT, "nothing heard")
    with qtbot.waitSignal(controller.offerReady, timeout=5_000):
        qtbot.mouseClick(window.next_button, Qt.MouseButton.LeftButton)
    assert controller.state == State.AWAITING_ANSWER and fake.calls.count("new_customer") == 2
    assert not window.notice.isVisible()
