"""Issue 3's whole flow, through pixels and a real camera path, on loopback only.

The window's offer QR is grabbed as pixels and decoded; the headless peer (a separate
process, the phone) answers it; the answer QR is rendered into realistic 1280x720 webcam
frames and played through `--camera` as a video file, or served as an IP camera's Motion
JPEG stream over HTTP on 127.0.0.1 (both read by OpenCV, as a webcam is); the window
connects and shows the verification code; the test confirms with Enter, types an amount,
presses Enter; the peer approves; the log shows the acknowledgment.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from gui_support import Peer, decode_widget, make_app, run
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot
from support import synthetic
from support.mjpeg import MjpegCamera

from qrlink_desktop.core.session import State


@pytest.fixture
def ip_camera() -> Iterator[MjpegCamera]:
    with MjpegCamera([], fps=30.0) as camera:  # nothing to show until the phone answers
        yield camera


@pytest.mark.parametrize("source", ["file", "stream"])
def test_offer_pixels_peer_answer_video_confirm_pay_ack(
    qtbot: QtBot,
    qt_loop: asyncio.AbstractEventLoop,
    tmp_path: Path,
    ip_camera: MjpegCamera,
    source: str,
) -> None:
    video = tmp_path / "answer.avi"
    camera = str(video) if source == "file" else ip_camera.url
    app = make_app(tmp_path, "--camera", camera)  # no such file yet; no picture yet
    window = app.window
    qtbot.addWidget(window)
    app.start()
    window.activateWindow()
    qtbot.waitUntil(lambda: app.controller.state == State.AWAITING_ANSWER, timeout=10_000)
    # Nothing to play yet: the viewfinder says so and offers the way forward.
    qtbot.waitUntil(window.answers.retry_camera.isVisible, timeout=10_000)
    expected = "Cannot open video file" if source == "file" else "Cannot open camera stream"
    assert expected in window.answers.viewfinder.message

    # 1. The customer's phone reads the QR from the screen's pixels.
    texts = decode_widget(window.offer.qr)
    assert texts == [window.offer.text]
    peer = Peer(texts[0], "--approve")
    try:
        qtbot.waitUntil(lambda: peer.first("answer") is not None, timeout=15_000)
        answer = peer.first("answer")
        assert answer is not None

        # 2. The phone shows its answer QR to the laptop's webcam.
        frames = synthetic.phone_sequence(answer["text"], seed=7, difficulty=0.4)
        if source == "file":
            synthetic.write_video(video, frames, fps=30)
        else:
            ip_camera.show([f.image for f in frames])
        qtbot.mouseClick(window.answers.retry_camera, Qt.MouseButton.LeftButton)

        # 3. Connected, verified: the code is large and the confirm button has the focus.
        # Decoding the video and connecting: seconds on a busy machine; bound generously.
        qtbot.waitUntil(window.status.code_box.isVisible, timeout=90_000)
        qtbot.waitUntil(lambda: peer.first("sas") is not None, timeout=5_000)
        sas = peer.first("sas")
        assert sas is not None
        shown = window.status.code_label.text().replace(" ", "")
        assert shown == sas["code"]
        assert window.status.state_label.text().startswith("Connected")
        assert window.status.path_label.text().startswith("direct")
        qtbot.waitUntil(lambda: QApplication.focusWidget() is window.status.confirm_button)
        qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Return)

        # 4. The amount field has the focus; type and press Enter.
        qtbot.waitUntil(lambda: QApplication.focusWidget() is window.payment.amount)
        qtbot.keyClicks(window.payment.amount, "12.50")
        qtbot.keyClick(window.payment.amount, Qt.Key.Key_Return)

        # 5. The phone approves; the acknowledgment goes back automatically.
        qtbot.waitUntil(lambda: window.payment.outcome_status == "approved", timeout=10_000)
        assert "APPROVED" in window.payment.outcome.text()
        assert "12.50" in window.payment.outcome.text()

        def acknowledged() -> bool:
            rows = window.payment.log.rows()
            return any(
                r[1] == "→" and r[2] == "payment_acknowledgment" and r[4] == "sent" for r in rows
            )

        qtbot.waitUntil(acknowledged, timeout=5_000)
        flow = [(r[1], r[2], r[4]) for r in window.payment.log.rows()]
        assert flow[:3] == [
            ("→", "payment_request", "answered"),
            ("←", "payment_response", "approved"),
            ("→", "payment_acknowledgment", "sent"),
        ]
        # The conversation is complete: the window closes the channel, the phone exits.
        qtbot.waitUntil(lambda: app.controller.state == State.CLOSED, timeout=5_000)
        qtbot.waitUntil(lambda: peer.proc.poll() is not None, timeout=10_000)
        assert peer.stop() == 0
        assert window.next_button.isVisible()
        ack = [
            e
            for e in peer.events
            if e.get("event") == "message" and e.get("type") == "payment_acknowledgment"
        ]
        assert ack and ack[0]["payload"]["status"] == "approved"

        # The pairing is in the diagnostics, with its timings and path.
        pairing = window.pairings.pairings[-1]
        assert pairing.source == "camera" and pairing.outcome == "success"
        assert {"offer_ready_ms", "answer_scanned_ms", "channel_open_ms", "handshake_ms"} <= set(
            pairing.timings
        )
        assert pairing.path == "host"
        if source == "stream":
            assert ip_camera.clients == 2  # the failed open, then the one that scanned
    finally:
        if peer.proc.poll() is None:
            peer.proc.kill()
        peer.stop()
        run(qtbot, app.shutdown())
