"""The window's parts on their own: QR widget, viewfinder, offer, payment, log, diagnostics."""

from __future__ import annotations

import gc
import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from gui_support import assert_outline_on_code, decode_widget, qimage_to_bgr, symbol_pixels
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent, QGuiApplication, QImage, QPolygonF
from PySide6.QtWidgets import QPlainTextEdit
from pytestqt.qtbot import QtBot

from qrlink_desktop.core.conversation import OutStatus
from qrlink_desktop.core.errors import ErrorCode
from qrlink_desktop.core.events import (
    CodeReady,
    Direction,
    ErrorEvent,
    MessageEvent,
    OfferReady,
    PathInfo,
    StateChanged,
)
from qrlink_desktop.core.messages import MessageType
from qrlink_desktop.core.session import State
from qrlink_desktop.gui.camera import frame_to_qimage, outline, qimage_to_frame
from qrlink_desktop.gui.cashier import AnswerScanned, AnswerUnusable
from qrlink_desktop.gui.diagnostics import DiagnosticsPanel, PairingLog
from qrlink_desktop.gui.message_log import MessageLog
from qrlink_desktop.gui.offer_panel import OfferPanel, format_remaining
from qrlink_desktop.gui.payment_panel import PaymentPanel
from qrlink_desktop.gui.qrcode_widget import QrCodeWidget
from qrlink_desktop.gui.viewfinder import Viewfinder
from qrlink_desktop.scan import qrimage
from qrlink_desktop.scan.decoders import get_decoder

OFFER = "HTTP://192.0.2.1:8765/#V75R4H::P/93DYUC806UUPTUKDYI90K/X/.I.13RZCX9MFPKC-62I-Y5R"


# -- the QR code -----------------------------------------------------------------------------


@pytest.mark.parametrize("side", [180, 257, 333, 600, 1001])
def test_qr_is_crisp_decodable_and_has_its_quiet_zone_at_any_size(qtbot: QtBot, side: int) -> None:
    widget = QrCodeWidget()
    qtbot.addWidget(widget)
    widget.resize(side, side + 37)  # not square: the symbol stays square and centred
    widget.set_text(OFFER)
    assert decode_widget(widget) == [OFFER]
    pixels = symbol_pixels(widget)
    # Crisp: whole-pixel modules, so only pure black and pure white, no grey edges.
    assert set(np.unique(pixels)) <= {0, 255}
    n = widget.module_count
    assert n == len(qrimage.modules(OFFER))
    module = pixels.shape[0] // n
    assert pixels.shape[0] == module * n
    # The quiet zone (4 modules) is white all round; the drawn matrix is the module matrix.
    quiet = 4 * module
    assert (pixels[:quiet] == 255).all() and (pixels[-quiet:] == 255).all()
    assert (pixels[:, :quiet] == 255).all() and (pixels[:, -quiet:] == 255).all()
    sampled = pixels[module // 2 :: module, module // 2 :: module, 0] == 0
    assert (sampled == np.array(qrimage.modules(OFFER))).all()


def test_qr_placeholder_then_code_then_faded(qtbot: QtBot) -> None:
    widget = QrCodeWidget()
    qtbot.addWidget(widget)
    widget.resize(300, 300)
    assert widget.module_count == 0 and decode_widget(widget) == []
    widget.set_text(OFFER)
    assert decode_widget(widget) == [OFFER]
    widget.set_stale(True, "Answered")  # an answered or expired code cannot be scanned
    assert decode_widget(widget) == []


# -- the viewfinder --------------------------------------------------------------------------


def test_viewfinder_draws_the_frame_and_outlines_the_code(qtbot: QtBot) -> None:
    view = Viewfinder()
    qtbot.addWidget(view)
    view.resize(640, 360)
    frame = np.full((720, 1280, 3), 90, np.uint8)
    square = QPolygonF([QPointF(400, 200), QPointF(800, 200), QPointF(800, 600), QPointF(400, 600)])
    view.show_frame(frame_to_qimage(frame), [square])
    image = qimage_to_bgr(view.grab().toImage())
    # Half scale: the outline's top edge runs along y = 100 from x = 200 to 400, green.
    b, g, r = (int(v) for v in image[100, 300])
    assert g > 180 and r < 120 and b < 160
    assert view.frames_painted >= 1
    view.show_message("No camera found at index 0.")
    assert view.image is None and view.message.startswith("No camera")


@pytest.mark.parametrize("mirrored", [False, True])
def test_the_outline_lands_on_an_off_centre_code(qtbot: QtBot, mirrored: bool) -> None:
    # The code sits in the left third of a 720p frame; the view is letterboxed (bars above
    # and below) and, mirrored, shows the code in its right third. Picture and outline go
    # through the same transform, so the outline must frame the code wherever it is shown.
    text = "QL:" + "OFFCENTRE" * 10
    code = cv2.cvtColor(qrimage.render_grey(text, scale=5), cv2.COLOR_GRAY2BGR)
    frame = np.full((720, 1280, 3), 170, np.uint8)
    top, left = 180, 90
    frame[top : top + code.shape[0], left : left + code.shape[1]] = code
    [found] = get_decoder("zxing").decode(frame)
    view = Viewfinder()
    qtbot.addWidget(view)
    view.resize(800, 600)
    image = frame_to_qimage(frame)

    view.show_frame(image, [outline(found)], mirrored)
    centre = assert_outline_on_code(view, text)
    assert (centre[0] > 400) is mirrored  # shown in the right half when mirrored
    assert centre[1] > 75 + 180 * 800 / 1280  # below the letterbox bar, where it is
    # And the view maps each of the decoder's corners onto the code where it is shown.
    view.outlines = []
    [seen] = get_decoder("zxing").decode(qimage_to_bgr(view.grab().toImage()))
    shown = np.array(seen.corners)
    for fx, fy in found.corners:
        point = view.to_widget(fx, fy)
        assert np.hypot(*(shown - (point.x(), point.y())).T).min() < 4, (point, shown)


def test_viewfinder_takes_a_dropped_image_file(qtbot: QtBot, tmp_path: Path) -> None:
    view = Viewfinder()
    qtbot.addWidget(view)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(tmp_path / "answer.png"))])
    event = QDropEvent(
        QPointF(10, 10),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    with qtbot.waitSignal(view.fileDropped) as blocker:
        view.dropEvent(event)
    assert blocker.args == [str(tmp_path / "answer.png")]


@pytest.mark.parametrize("shape", [(31, 47, 3), (31, 47)])
def test_frame_to_qimage_keeps_every_pixel(shape: tuple[int, ...]) -> None:
    # An odd width: rows are not a multiple of four bytes and must not shift.
    frame = np.random.default_rng(1).integers(0, 255, shape, dtype=np.uint8)
    image = frame_to_qimage(frame)
    expected = frame if frame.ndim == 3 else cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
    assert image.format() in (QImage.Format.Format_BGR888, QImage.Format.Format_Grayscale8)
    assert (qimage_to_bgr(image) == expected).all()


def test_frame_to_qimage_shares_the_frames_pixels_and_keeps_them_alive() -> None:
    frame = np.full((8, 8, 3), 200, np.uint8)
    image = frame_to_qimage(frame)
    frame[4, 4] = (1, 2, 3)  # no copy: the image shows the array's own pixels
    assert image.pixelColor(4, 4).getRgb()[:3] == (3, 2, 1)
    del frame
    gc.collect()
    assert qimage_to_bgr(image)[0, 0, 0] == 200  # the array lives as long as the image


def test_qimage_to_frame_gives_bgr_pixels() -> None:
    frame = np.random.default_rng(3).integers(0, 255, (9, 13, 3), dtype=np.uint8)
    assert (qimage_to_frame(frame_to_qimage(frame)) == frame).all()


# -- the offer panel -------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.t = 1_800_000_000.0

    def __call__(self) -> float:
        return self.t


def _offer(expires_at: int) -> OfferReady:
    return OfferReady(OFFER, "00" * 8, expires_at, 60, "compact", 0.4, ("host",))


def test_offer_counts_down_and_asks_for_a_refresh_once(qtbot: QtBot) -> None:
    clock = FakeClock()
    panel = OfferPanel(clock=clock)
    qtbot.addWidget(panel)
    panel.timer.stop()
    panel.show_offer(_offer(int(clock.t + 300)), "http://192.0.2.1:8765/")
    assert panel.countdown.text() == "Valid for 5:00"
    assert "http://192.0.2.1:8765/" in panel.url_label.text()
    clock.t += 100.2
    panel.tick()
    assert panel.countdown.text() == "Valid for 3:20"
    with qtbot.waitSignal(panel.refreshDue, timeout=100):
        clock.t += 125  # a quarter of the lifetime left
        panel.tick()
    with qtbot.assertNotEmitted(panel.refreshDue):
        clock.t += 1
        panel.tick()
    clock.t += 100
    panel.tick()
    assert "expired" in panel.countdown.text() and panel.qr.stale
    panel.set_waiting(False, "Answer received — connecting…")
    assert panel.countdown.text() == "Answer received — connecting…"
    assert format_remaining(0.4) == "0:01" and format_remaining(-3) == "0:00"


def test_copy_link_puts_the_offer_on_the_clipboard(qtbot: QtBot) -> None:
    panel = OfferPanel()
    qtbot.addWidget(panel)
    panel.show_offer(_offer(4_000_000_000), "http://x/")
    qtbot.mouseClick(panel.copy_button, Qt.MouseButton.LeftButton)
    assert QGuiApplication.clipboard().text() == OFFER
    assert panel.copy_button.text() == "Copied"
    # The window closes before the label turns back: its timer goes with the button
    # (it used to fire on a deleted button, an error in whatever test ran next).
    with qtbot.waitSignal(panel.destroyed):
        panel.deleteLater()
    qtbot.wait(1700)


# -- the payment panel -----------------------------------------------------------------------


def _panel(qtbot: QtBot) -> PaymentPanel:
    panel = PaymentPanel(lambda mid: None, lambda mid: None, "EUR")
    qtbot.addWidget(panel)
    panel.show()
    panel.set_enabled(True)
    return panel


@pytest.mark.parametrize(
    ("typed", "currency", "error"),
    [
        ("", "EUR", "Type the amount"),
        ("0", "EUR", "greater than zero"),
        ("12.345", "EUR", "2 decimal places"),
        ("5.5", "JPY", "0 decimal places"),
        ("10", "XYZ", "not an ISO 4217"),
        (".", "EUR", "not an amount"),
    ],
)
def test_amount_is_refused_with_a_sentence(
    qtbot: QtBot, typed: str, currency: str, error: str
) -> None:
    panel = _panel(qtbot)
    panel.amount.setText(typed)
    panel.currency.setEditText(currency)
    with qtbot.assertNotEmitted(panel.requested):
        panel.submit()
    assert error in panel.error_label.text()


def test_enter_in_the_amount_sends_a_valid_request(qtbot: QtBot) -> None:
    panel = _panel(qtbot)
    qtbot.keyClicks(panel.amount, "abc12,5x0")  # letters never get in; a comma is a point
    assert panel.amount.text() == "12,50"
    panel.reference.setText("INV-7")
    with qtbot.waitSignal(panel.requested) as blocker:
        qtbot.keyClick(panel.amount, Qt.Key.Key_Return)
    assert blocker.args == ["12.50", "EUR", "INV-7"]
    panel.show_requested("12.50", "EUR")
    assert panel.outcome_status == "requested" and panel.amount.text() == ""
    response = MessageEvent(
        Direction.IN,
        MessageType.PAYMENT_RESPONSE,
        "resp",
        {"requestId": "req", "status": "declined", "reason": "card refused"},
    )
    panel.show_response(response, "12.50", "EUR")
    assert panel.outcome_status == "declined"
    assert "DECLINED" in panel.outcome.text() and "card refused" in panel.outcome.text()


def test_payment_fields_are_off_until_confirmed(qtbot: QtBot) -> None:
    panel = PaymentPanel(lambda mid: None, lambda mid: None, "GBP")
    qtbot.addWidget(panel)
    assert not panel.amount.isEnabled() and panel.currency.currentText() == "GBP"
    with qtbot.assertNotEmitted(panel.requested):
        panel.amount.setText("1")
        panel.submit()


# -- the message log -------------------------------------------------------------------------


def test_log_reads_statuses_from_the_outbox_and_shows_json(qtbot: QtBot) -> None:
    outbox: dict[str, OutStatus] = {"req": OutStatus.SENT, "ack": OutStatus.ANSWERED}
    envelopes = {
        "req": {
            "type": "payment_request",
            "payload": {"amount": "1", "currency": "EUR"},
            "timestamp": 1,
            "messageId": "req",
        }
    }
    log = MessageLog(outbox.get, envelopes.get)
    qtbot.addWidget(log)
    log.add_message(
        MessageEvent(
            Direction.OUT, MessageType.PAYMENT_REQUEST, "req", {"amount": "1", "currency": "EUR"}
        )
    )
    assert log.rows()[0][1:] == ("→", "payment_request", "1 EUR", "sent")
    outbox["req"] = OutStatus.RETRYING
    log.refresh()
    assert log.rows()[0][4] == "retrying"
    outbox["req"] = OutStatus.FAILED
    log.refresh()
    assert log.rows()[0][4] == "failed"
    log.add_message(
        MessageEvent(
            Direction.IN,
            MessageType.PAYMENT_RESPONSE,
            "resp",
            {"requestId": "req", "status": "approved"},
        )
    )
    log.add_message(
        MessageEvent(
            Direction.OUT,
            MessageType.PAYMENT_ACKNOWLEDGMENT,
            "ack",
            {"requestId": "req", "status": "approved"},
        )
    )
    outbox["req"] = OutStatus.ANSWERED
    log.refresh()
    assert [r[4] for r in log.rows()] == ["answered", "approved", "sent"]
    assert json.loads(log.message_json("req")) == envelopes["req"]
    # Not in the conversation any more: the event's own fields.
    assert json.loads(log.message_json("resp"))["payload"]["status"] == "approved"
    dialog = log.show_json(log.topLevelItem(0))  # what a double-click opens
    assert dialog is not None
    text = dialog.findChild(QPlainTextEdit)
    assert text is not None and '"messageId": "req"' in text.toPlainText()
    dialog.close()


# -- diagnostics ------------------------------------------------------------------------------


def _pair(log: PairingLog, t: float, *, relay: bool = False, error: str | None = None) -> None:
    log.on_event(_offer(2_000_000_000), now=t)
    log.on_event(AnswerScanned("camera"), now=t + 2.5)
    log.on_event(StateChanged(State.CONNECTING), now=t + 2.6)
    if error:
        log.on_event(ErrorEvent(ErrorCode(error), "x"), now=t + 3)
        log.on_event(StateChanged(State.FAILED), now=t + 3)
        return
    local = "relay" if relay else "host"
    path = "relay" if relay else "direct"
    log.on_event(StateChanged(State.CONNECTED, PathInfo(local, "prflx", path)))
    log.on_event(
        CodeReady(
            "123456",
            1,
            {},
            {
                "offer_ready_ms": 0.4,
                "ice_connected_ms": 10.0,
                "dtls_connected_ms": 20.0,
                "channel_open_ms": 25.0,
                "handshake_ms": 3.0,
            },
        )
    )


def test_diagnostics_records_counts_and_exports(qtbot: QtBot, tmp_path: Path) -> None:
    log = PairingLog()
    _pair(log, 0)
    _pair(log, 10, relay=True)
    _pair(log, 20, error="ICE_FAILED")
    # A misread answer is not a pairing: the offer is still waiting.
    log.on_event(AnswerScanned("paste"))
    log.on_event(AnswerUnusable(ErrorCode.BOOTSTRAP_PARSE_FAILED))
    assert log.summary() == {
        "pairings": 3,
        "successes": 2,
        "failures": 1,
        "relayShare": 0.5,
        "answersRefused": {},
    }
    first = log.pairings[0]
    assert first.timings == {
        "offer_ready_ms": 0.4,
        "answer_scanned_ms": 2500.0,
        "ice_connected_ms": 10.0,
        "dtls_connected_ms": 20.0,
        "channel_open_ms": 25.0,
        "handshake_ms": 3.0,
    }
    assert [p.outcome for p in log.pairings] == ["success", "success", "ICE_FAILED"]
    panel = DiagnosticsPanel(log)
    qtbot.addWidget(panel)
    panel.refresh()
    assert panel.table.rowCount() == 3
    assert panel.table.item(0, panel.table.columnCount() - 1).text() == "ICE_FAILED"
    assert "relayed: 50%" in panel.summary.text()
    out = panel.export(str(tmp_path / "diag.json"))
    assert out is not None
    data: dict[str, Any] = json.loads(out.read_text())
    assert data["summary"]["successes"] == 2 and len(data["pairings"]) == 3
    assert data["pairings"][1]["path"] == "relay"
    # Refused answer requests (one scan) are counted by code, shown and exported.
    for code in ("VERIFICATION_FAILED", "RATE_LIMITED", "RATE_LIMITED"):
        log.on_refused(code)
    panel.refresh_summary()
    assert "answers refused: 3" in panel.summary.text()
    assert "RATE_LIMITED 2" in panel.summary.toolTip()
    assert log.summary()["answersRefused"] == {"VERIFICATION_FAILED": 1, "RATE_LIMITED": 2}
