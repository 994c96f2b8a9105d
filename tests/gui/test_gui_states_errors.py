"""Every session state is shown, and every failure reaches the cashier as one sentence
with a way forward, through the real window."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
from gui_support import make_app, run
from PIL import Image
from PySide6.QtCore import QMimeData, Qt, QUrl
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot
from support import synthetic

from qrlink_desktop.app import QrlinkApp
from qrlink_desktop.core.errors import ErrorCode
from qrlink_desktop.core.events import PathInfo, StateChanged
from qrlink_desktop.core.session import State
from qrlink_desktop.gui.camera import frame_to_qimage
from qrlink_desktop.gui.notices import Action, Problem, Where, notice_for
from qrlink_desktop.gui.status_panel import STATE_TEXT, StatusPanel, describe_path
from qrlink_desktop.scan import decoders, qrimage


@pytest.fixture
def app(qtbot: QtBot, qt_loop: asyncio.AbstractEventLoop, tmp_path: Path) -> QrlinkApp:
    """The app, not yet started; each test runs it in `with started(app, qtbot):`."""
    return make_app(tmp_path)


@contextlib.contextmanager
def started(app: QrlinkApp, qtbot: QtBot) -> Iterator[QrlinkApp]:
    qtbot.addWidget(app.window)
    app.start()
    try:
        qtbot.waitUntil(lambda: app.controller.state == State.AWAITING_ANSWER, timeout=10_000)
        yield app
    finally:
        run(qtbot, app.shutdown())


# -- states ----------------------------------------------------------------------------------


@pytest.mark.parametrize("state", list(State))
def test_status_panel_names_every_state(qtbot: QtBot, state: State) -> None:
    panel = StatusPanel()
    qtbot.addWidget(panel)
    panel.show_state(state, PathInfo("host", "prflx", "direct"))
    assert panel.state_label.text() == STATE_TEXT[state][0]
    assert state.value in panel.state_label.toolTip()
    if state == State.CONNECTED:
        assert panel.path_label.text() == "direct (local network)"


def test_paths_are_named() -> None:
    assert describe_path("relay", "host") == "relay (TURN server)"
    assert describe_path("host", "relay") == "relay (TURN server)"
    assert describe_path("srflx", "prflx") == "direct (through NAT)"
    assert describe_path(None, None) == "—"


@pytest.mark.parametrize("state", list(State))
def test_window_presents_every_state(qtbot: QtBot, tmp_path: Path, state: State) -> None:
    app = make_app(tmp_path)
    window = app.window
    qtbot.addWidget(window)
    window.show()
    window.on_state(StateChanged(state))
    assert window.status.state_label.text() == STATE_TEXT[state][0]
    waiting = state == State.AWAITING_ANSWER
    assert window.offer.waiting == waiting and window.answers.paste_field.isEnabled() == waiting
    assert window.next_button.isVisible() == (state in (State.CLOSED, State.FAILED))
    assert not window.payment.amount.isEnabled()  # nothing confirmed in any of them
    assert window.payment.hint_label.text()


# The code shown, confirmed, then payments: test_gui_fake_session.py (a stand-in session).


# -- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize("code", list(ErrorCode))
def test_every_error_code_has_a_sentence_and_a_way_forward(code: ErrorCode) -> None:
    notice = notice_for(Problem(Where.CONNECTION, code, "the thing failed"))
    assert notice.text.startswith("The thing failed. ")
    assert notice.text.endswith(".") and len(notice.text) > len("The thing failed. ") + 10
    assert notice.actions


@pytest.mark.parametrize("code", list(ErrorCode))
def test_window_shows_every_engine_error(app: QrlinkApp, qtbot: QtBot, code: ErrorCode) -> None:
    with started(app, qtbot):
        window = app.window
        app.controller.failed.emit(Problem(Where.CONNECTION, code, "something specific happened"))
        assert window.notice.isVisible()
        assert window.notice.label.text().startswith("Something specific happened.")
        assert [b.text() for b in window.notice.buttons] == [
            a.value for a in window.notice.notice.actions
        ]  # type: ignore[union-attr]


def test_bad_pasted_answer_keeps_the_offer_and_says_so(app: QrlinkApp, qtbot: QtBot) -> None:
    with started(app, qtbot):
        window = app.window
        offer = window.offer.text
        qtbot.keyClicks(window.answers.paste_field, "QL:NOT-AN-ANSWER")
        qtbot.keyClick(window.answers.paste_field, Qt.Key.Key_Return)
        qtbot.waitUntil(window.notice.isVisible, timeout=5_000)
        assert window.notice.notice is not None
        assert window.notice.notice.code == ErrorCode.BOOTSTRAP_PARSE_FAILED
        assert "paste" in window.notice.label.text()
        assert Action.PASTE in window.notice.notice.actions
        assert app.controller.state == State.AWAITING_ANSWER and window.offer.text == offer
        assert window.pairings.pairings == []  # a misread is not a pairing
        # The way forward: the paste button puts the cursor back in the field.
        window.activateWindow()
        qtbot.mouseClick(window.notice.buttons[0], Qt.MouseButton.LeftButton)
        assert window.notice.isHidden()
        qtbot.waitUntil(lambda: QApplication.focusWidget() is window.answers.paste_field)


def test_image_without_a_code_and_not_an_image(
    app: QrlinkApp, qtbot: QtBot, tmp_path: Path
) -> None:
    with started(app, qtbot):
        blank = tmp_path / "blank.png"
        Image.fromarray(np.full((200, 200), 255, np.uint8)).save(blank)
        future = app.window.answers.open_image(str(blank))
        assert future is not None
        qtbot.waitUntil(app.window.notice.isVisible, timeout=5_000)
        assert "No QR code was found" in app.window.notice.label.text()
        assert Action.OPEN_IMAGE in app.window.notice.notice.actions  # type: ignore[union-attr]
        app.window.notice.clear()
        text_file = tmp_path / "answer.txt"
        text_file.write_text("not an image")
        app.window.answers.open_image(str(text_file))
        qtbot.waitUntil(app.window.notice.isVisible, timeout=5_000)
        assert "not an image format" in app.window.notice.label.text()


def test_image_of_the_wrong_code_is_a_parse_error(
    app: QrlinkApp, qtbot: QtBot, tmp_path: Path
) -> None:
    with started(app, qtbot):
        image = tmp_path / "offer.png"
        qrimage.write_png(app.window.offer.text, image)  # the offer, not an answer
        app.window.answers.viewfinder.fileDropped.emit(str(image))
        qtbot.waitUntil(app.window.notice.isVisible, timeout=5_000)
        assert app.window.notice.notice is not None
        assert app.window.notice.notice.code == ErrorCode.BOOTSTRAP_PARSE_FAILED
        assert app.controller.state == State.AWAITING_ANSWER


def test_no_camera_is_said_in_the_viewfinder_with_a_retry(app: QrlinkApp, qtbot: QtBot) -> None:
    with started(app, qtbot):
        window = app.window
        qtbot.waitUntil(window.answers.retry_camera.isVisible, timeout=5_000)
        assert window.answers.viewfinder.message.startswith("Cannot open video file")
        assert "paste the answer" in window.answers.viewfinder.message
        window.set_effective(app.settings.with_overrides(camera="7"))  # reopens it
        qtbot.waitUntil(
            lambda: window.answers.viewfinder.message.startswith("No camera found at index 7"),
            timeout=5_000,
        )
        assert window.answers.retry_camera.isVisible() and window.answers.paste_field.isEnabled()


def test_codes_differ_ends_the_pairing_with_a_way_forward(app: QrlinkApp, qtbot: QtBot) -> None:
    with started(app, qtbot):
        app.window.status.show_code("123456")
        qtbot.mouseClick(app.window.status.reject_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(app.window.notice.isVisible)
        assert "differ" in app.window.notice.label.text()
        assert app.window.notice.notice is not None
        assert app.window.notice.notice.actions == (Action.NEW_OFFER,)
        qtbot.waitUntil(lambda: app.controller.state == State.CLOSED, timeout=5_000)
        offer = app.window.offer.text
        qtbot.mouseClick(app.window.notice.buttons[0], Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: app.window.offer.text != offer, timeout=5_000)
        assert app.controller.state == State.AWAITING_ANSWER


def test_payment_refusals_are_shown_under_the_fields(app: QrlinkApp, qtbot: QtBot) -> None:
    with started(app, qtbot):
        window = app.window
        window.payment.set_enabled(True)
        window.payment.amount.setText("1.00")
        window.payment.submit()  # no connection: the engine refuses to send
        assert window.notice.isVisible()
        assert window.notice.notice is not None
        assert window.notice.notice.code == ErrorCode.MESSAGE_SEND_FAILED
        window.notice.clear()
        # What the cashier typed or skipped is answered next to the fields, not in a banner.
        for code in (ErrorCode.MESSAGE_INVALID, ErrorCode.NOT_VERIFIED):
            app.controller.failed.emit(
                Problem(Where.PAYMENT, code, "confirm the verification code first")
            )
            assert window.notice.isHidden()
            assert window.payment.error_label.text().startswith("Confirm the verification code")


def test_ctrl_n_starts_a_new_customer_and_refresh_takes_the_prepared_offer(
    app: QrlinkApp, qtbot: QtBot
) -> None:
    with started(app, qtbot):
        window = app.window
        first = window.offer.text
        window.activateWindow()
        qtbot.keyClick(window, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
        qtbot.waitUntil(lambda: window.offer.text not in ("", first), timeout=5_000)
        second = window.offer.text
        # Automatic refresh near expiry: the next offer was gathered ahead, so no wait.
        with qtbot.waitSignal(app.controller.offerReady, timeout=5_000) as blocker:
            window.offer.refreshDue.emit()
        assert blocker.args[0].text != second
        assert blocker.args[0].ready_ms < 50
        assert app.controller.state == State.AWAITING_ANSWER


def test_a_pasted_picture_or_file_of_the_wrong_code_is_read_and_refused(
    app: QrlinkApp, qtbot: QtBot, tmp_path: Path
) -> None:
    # What the clipboard holds is decoded from its pixels: the offer's own QR, pasted as
    # an answer, is read and refused as one, the way a dropped image is.
    with started(app, qtbot):
        window = app.window
        clipboard = QGuiApplication.clipboard()
        code = cv2.cvtColor(qrimage.render_grey(window.offer.text, scale=4), cv2.COLOR_GRAY2BGR)
        clipboard.setImage(frame_to_qimage(code).copy())
        assert window.answers.paste_image() is not None
        qtbot.waitUntil(window.notice.isVisible, timeout=5_000)
        assert window.notice.notice is not None
        assert window.notice.notice.code == ErrorCode.BOOTSTRAP_PARSE_FAILED
        window.notice.clear()

        image = tmp_path / "offer.png"
        qrimage.write_png(window.offer.text, image)
        copied = QMimeData()
        copied.setUrls([QUrl.fromLocalFile(str(image))])  # a file copied in a file manager
        clipboard.setMimeData(copied)
        assert window.answers.paste_image() is not None
        qtbot.waitUntil(window.notice.isVisible, timeout=5_000)
        assert window.notice.notice is not None
        assert window.notice.notice.code == ErrorCode.BOOTSTRAP_PARSE_FAILED
        window.notice.clear()

        clipboard.setText("no picture here")
        assert window.answers.paste_image() is None
        assert window.notice.isVisible()
        assert "holds no picture" in window.notice.label.text()
        assert app.controller.state == State.AWAITING_ANSWER


def test_without_libzbar_the_window_says_so_once_and_scans_with_zxing(
    qtbot: QtBot,
    qt_loop: asyncio.AbstractEventLoop,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = importlib.import_module

    def without_zbar(name: str, package: str | None = None) -> object:
        if name.startswith("pyzbar"):
            raise ImportError("Unable to find zbar shared library")  # as pyzbar says it
        return real(name, package)

    monkeypatch.setattr(decoders.importlib, "import_module", without_zbar)
    text = "QL:" + "NOZBAR" * 12
    code = cv2.cvtColor(qrimage.render_grey(text, scale=5), cv2.COLOR_GRAY2BGR)
    frame = np.full((480, 640, 3), 200, np.uint8)
    frame[60 : 60 + code.shape[0], 80 : 80 + code.shape[1]] = code
    video = synthetic.write_video(tmp_path / "still.avi", [frame] * 90, fps=30)
    app = make_app(tmp_path, "--camera", str(video))
    window = app.window
    read: list[str] = []
    app.camera.code.connect(read.append)
    with started(app, qtbot):
        qtbot.waitUntil(lambda: read == [text], timeout=10_000)  # zxing-cpp alone reads it
        assert window.answers.camera_notice.startswith("The zbar library is missing")
        assert "apt install libzbar0" in window.answers.camera_notice
        qtbot.waitUntil(
            lambda: window.answers.camera_notice in window.answers.scan_stats.text(), timeout=5_000
        )
        assert window.answers.retry_camera.isHidden()  # not an error: the camera goes on
