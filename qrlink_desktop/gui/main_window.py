"""The cashier's window: the offer on the left, the camera in the middle, the pairing and
the payment on the right, failures across the top.

With one scan (the customer's page sends its answer home) the camera is the fallback: the
offer QR and the code are what the cashier looks at, so the camera column is the narrow
one. The window sizes itself from the screen's available area and stays usable at
1280×720 (`fit_to`).

The window presents and forwards: what the cashier does goes to the `SessionController`
(engine) or the `CameraBridge` (scanner); what they report comes back as signals and is
shown here. It is given both by `app.py`, which also reacts to `settingsChanged`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from PySide6.QtCore import QEvent, QObject, QRect, QSize, Qt, Signal
from PySide6.QtGui import QAction, QCloseEvent, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMainWindow,
    QPushButton,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ..core.errors import ErrorCode, QrlinkError
from ..core.session import State
from ..scan.decoders import decoder_names
from ..scan.scanner import ScanStats, decode_image, decode_image_file
from ..scan.sources import CameraInfo, list_cameras, parse_source
from .camera import CameraBridge, CameraRequest, qimage_to_frame
from .diagnostics import DiagnosticsPanel, PairingLog
from .notices import Action, NoticeBar, notice_for
from .offer_panel import OfferPanel
from .payment_panel import PaymentPanel
from .session import RemoteStatus, SessionController
from .settings import Settings
from .settings_dialog import SettingsDialog
from .status_panel import StatusPanel
from .viewfinder import Viewfinder

log = logging.getLogger(__name__)

# The size the window asks for on a large screen; a smaller screen gets what it has.
PREFERRED_SIZE = QSize(1400, 820)
# The window manager's title bar and frame, not known before the window is shown.
FRAME_ALLOWANCE = QSize(16, 48)
# The columns' shares of the width: offer, camera (the fallback), pairing and payment.
COLUMN_SHARES = (0.35, 0.26, 0.39)
CAMERA_TITLE = "2. Scan the answer code on the customer's phone"
CAMERA_TITLE_FALLBACK = "If the phone shows an answer code: the camera"
ONE_SCAN_HINT = (
    "One scan: the customer's phone sends its answer to this till by itself. The camera "
    "is for a phone that shows an answer code instead (its page hosted elsewhere, or the "
    "guest Wi-Fi keeping it from this till)."
)
VIEWFINDER_MIN_HEIGHT = 180

# What the offer panel says under a code that is no longer waiting for an answer.
_OFFER_DONE = {
    State.CONNECTING: "Answer received — connecting…",
    State.CONNECTED: "Paired with the customer's phone",
    State.DISCONNECTED: "Paired with the customer's phone",
    State.CLOSED: "Finished — Ctrl+N for the next customer",
    State.FAILED: "Not paired — Ctrl+N for a new code",
}


class MainWindow(QMainWindow):
    settingsChanged = Signal(object)
    closing = Signal()

    def __init__(
        self,
        controller: SessionController,
        camera: CameraBridge,
        settings: Settings,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.controller = controller
        self.camera = camera
        self.settings = settings  # effective: stored settings plus command-line overrides
        self.stored_settings = settings  # what the settings dialog edits and saves
        self.pairings = PairingLog()
        self.cameras: list[CameraInfo] = []
        self.camera_notice = ""  # how scanning runs here when not as chosen (libzbar missing)
        self._request_amounts: dict[str, tuple[str, str]] = {}
        self._tasks: set[asyncio.Future[Any]] = set()
        self.setWindowTitle("qrlink — cashier")
        self.resize(PREFERRED_SIZE)

        self.notice = NoticeBar()
        self.offer = OfferPanel()
        self.viewfinder = Viewfinder()
        self.status = StatusPanel()
        self.payment = PaymentPanel(
            controller.out_status, controller.envelope_json, settings.effective_currency
        )
        self.diagnostics = DiagnosticsPanel(self.pairings)
        self._build_layout()
        self._build_actions()
        self._connect()
        self.present_state(controller.state)

    # -- layout ---------------------------------------------------------------------------

    def _build_camera_box(self) -> QGroupBox:
        box = QGroupBox(CAMERA_TITLE)
        self.camera_box = box
        self.camera_picker = QComboBox()
        self.camera_picker.setEditable(True)
        self.camera_picker.setToolTip("Camera number, video file or stream URL; Enter to open")
        self.camera_picker.setMinimumContentsLength(12)
        self.camera_picker.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.mirror_box = QCheckBox("Mirror")
        self.mirror_box.setChecked(self.settings.mirror)
        self.decoder_picker = QComboBox()
        self.decoder_picker.addItems(decoder_names())
        self.decoder_picker.setCurrentText(self.settings.decoder)
        self.decoder_picker.setToolTip("QR decoder")
        self.retry_camera = QPushButton("Try again")
        self.retry_camera.hide()
        controls = QHBoxLayout()
        controls.addWidget(QLabel("Camera:"))
        controls.addWidget(self.camera_picker, 1)
        controls.addWidget(self.retry_camera)
        controls.addWidget(self.mirror_box)
        controls.addWidget(self.decoder_picker)

        self.paste_field = QLineEdit()
        self.paste_field.setPlaceholderText("No camera? Paste the answer text, Enter")
        self.paste_field.setAccessibleName("Answer text")
        self.paste_button = QPushButton("Use")
        self.image_button = QPushButton("Open image…")
        self.image_button.setToolTip(
            "A screenshot or photo of the answer code (or drop it on the picture)"
        )
        buttons = QHBoxLayout()
        buttons.addWidget(self.paste_button)
        buttons.addWidget(self.image_button)
        buttons.addStretch(1)
        self.scan_stats = QLabel("")
        self.scan_stats.setStyleSheet("color: palette(mid);")
        self.one_scan_hint = QLabel(ONE_SCAN_HINT)
        self.one_scan_hint.setWordWrap(True)
        self.one_scan_hint.setStyleSheet("color: palette(mid);")
        self.one_scan_hint.hide()

        layout = QVBoxLayout(box)
        layout.addLayout(controls)
        layout.addWidget(self.viewfinder)
        layout.addWidget(self.scan_stats)
        layout.addWidget(self.paste_field)
        layout.addLayout(buttons)
        layout.addWidget(self.one_scan_hint)
        layout.addStretch(1)
        # The picture keeps a camera's proportions: the column's height below it goes to
        # the paste field and the hint, not to black bars.
        box.installEventFilter(self)
        return box

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is getattr(self, "camera_box", None) and event.type() == QEvent.Type.Resize:
            width = self.camera_box.contentsRect().width()
            self.viewfinder.setMaximumHeight(max(VIEWFINDER_MIN_HEIGHT, width * 3 // 4))
        return super().eventFilter(watched, event)

    def _build_layout(self) -> None:
        offer_box = QGroupBox("Offer")
        QVBoxLayout(offer_box).addWidget(self.offer)
        status_box = QGroupBox("3. Pairing")
        self.next_button = QPushButton("Next customer (Ctrl+N)")
        self.next_button.setAutoDefault(True)
        self.next_button.hide()
        status_layout = QVBoxLayout(status_box)
        status_layout.addWidget(self.status)
        status_layout.addWidget(self.next_button)
        payment_box = QWidget()
        QVBoxLayout(payment_box).addWidget(self.payment)
        self.tabs = QTabWidget()
        self.tabs.addTab(payment_box, "4. Payment")
        self.tabs.addTab(self.diagnostics, "Diagnostics")
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addWidget(status_box)
        right_layout.addWidget(self.tabs, 1)

        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(offer_box)
        split.addWidget(self._build_camera_box())
        split.addWidget(right)
        split.setChildrenCollapsible(False)
        self.split = split
        self._share_columns(PREFERRED_SIZE.width())

        central = QWidget()
        layout = QVBoxLayout(central)
        layout.addWidget(self.notice)
        layout.addWidget(split, 1)
        self.setCentralWidget(central)

    def _share_columns(self, width: int) -> None:
        self.split.setSizes([round(width * share) for share in COLUMN_SHARES])

    def fit_to(self, available: QRect) -> None:
        """Size and place the window within a screen's available area (what the task bar
        leaves): the preferred size where it fits, the whole area where it does not, so a
        till's 1366×768 or 1280×720 screen shows everything."""
        room = available.size() - FRAME_ALLOWANCE
        size = PREFERRED_SIZE.boundedTo(room).expandedTo(self.minimumSizeHint())
        self.resize(size)
        self._share_columns(size.width())
        left = available.x() + max(0, (available.width() - size.width()) // 2)
        top = available.y() + max(0, (available.height() - size.height() - 32) // 2)
        self.move(left, top)

    def set_answers_home(self, on: bool) -> None:
        """The customer's page sends its answer over the network (the window serves it):
        the camera becomes the fallback, and the window says so."""
        self.status.one_scan = on
        self.camera_box.setTitle(CAMERA_TITLE_FALLBACK if on else CAMERA_TITLE)
        self.one_scan_hint.setVisible(on)
        self.status.show_state({"state": str(self.controller.state)})

    def _build_actions(self) -> None:
        menu = self.menuBar().addMenu("&Session")
        self.new_action = QAction("&New customer", self)
        self.new_action.setShortcut(QKeySequence.StandardKey.New)  # Ctrl+N
        self.new_action.setShortcutContext(Qt.ShortcutContext.ApplicationShortcut)
        menu.addAction(self.new_action)
        self.open_action = QAction("&Open answer image…", self)
        self.open_action.setShortcut(QKeySequence.StandardKey.Open)
        menu.addAction(self.open_action)
        self.paste_image_action = QAction("&Paste answer image", self)
        self.paste_image_action.setShortcut(QKeySequence("Ctrl+Shift+V"))
        self.paste_image_action.setToolTip("A screenshot of the answer code, or a copied file")
        menu.addAction(self.paste_image_action)
        self.remote_action = QAction("&Remote customer", self)
        self.remote_action.setShortcut(QKeySequence("Ctrl+R"))
        self.remote_action.setToolTip("Publish a fresh offer under the handle in Settings")
        menu.addAction(self.remote_action)
        self.export_action = QAction("&Export diagnostics…", self)
        menu.addAction(self.export_action)
        self.settings_action = QAction("&Settings…", self)
        self.settings_action.setShortcut(QKeySequence("Ctrl+,"))
        menu.addAction(self.settings_action)
        menu.addSeparator()
        quit_action = QAction("&Quit", self)
        quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.close)
        menu.addAction(quit_action)

    def _connect(self) -> None:
        c = self.controller
        c.offerReady.connect(self.on_offer)
        c.stateChanged.connect(self.on_state)
        c.sasReady.connect(lambda e: self.status.show_code(str(e["code"])))
        c.confirmed.connect(self.on_confirmed)
        c.message.connect(self.on_message)
        c.rttChanged.connect(self.status.show_rtt)
        c.closed.connect(self.on_closed)
        c.failed.connect(self.on_failed)
        c.engineEvent.connect(self.on_any_event)
        c.remoteChanged.connect(self.on_remote)

        cam = self.camera
        cam.frame.connect(self.viewfinder.show_frame)
        cam.code.connect(lambda text: self.submit_answer(text, "camera"))
        cam.error.connect(self.on_camera_error)
        cam.finished.connect(self.on_camera_finished)
        cam.stats.connect(self.on_scan_stats)
        cam.started.connect(self.on_camera_started)
        cam.notice.connect(self.on_camera_notice)

        self.offer.refreshDue.connect(c.refresh_offer)
        self.status.confirmClicked.connect(c.confirm)
        self.status.rejectClicked.connect(c.reject_code)
        self.payment.requested.connect(self.request_payment)
        self.notice.triggered.connect(self.on_notice_action)
        self.next_button.clicked.connect(self.new_customer)
        self.new_action.triggered.connect(self.new_customer)
        self.remote_action.triggered.connect(self.publish_remote)
        self.offer.remote_button.clicked.connect(self.publish_remote)
        self.open_action.triggered.connect(lambda: self.open_image())
        self.paste_image_action.triggered.connect(lambda: self.paste_image())
        self.export_action.triggered.connect(lambda: self.diagnostics.export())
        self.settings_action.triggered.connect(lambda: self.open_settings())
        self.paste_field.returnPressed.connect(self.use_pasted)
        self.paste_button.clicked.connect(self.use_pasted)
        self.image_button.clicked.connect(lambda: self.open_image())
        self.viewfinder.fileDropped.connect(self.open_image)
        self.mirror_box.toggled.connect(self.on_mirror)
        self.decoder_picker.currentTextChanged.connect(self.on_decoder)
        line = self.camera_picker.lineEdit()
        if line is not None:
            line.returnPressed.connect(self.on_camera_picked)
        self.camera_picker.activated.connect(lambda _i: self.on_camera_picked())
        self.retry_camera.clicked.connect(self.start_camera)

    # -- session --------------------------------------------------------------------------

    def new_customer(self) -> None:
        self.notice.clear()
        self.payment.clear_outcome()
        if self.payment.log.topLevelItemCount():
            self.payment.log.add_separator("— next customer —")
        self.controller.new_customer()

    def publish_remote(self) -> None:
        """Remote customer: publish a fresh offer under the handle (remote mode)."""
        if self.controller.remote is None or self.controller.remote_active:
            return
        self.notice.clear()
        self.payment.clear_outcome()
        if self.payment.log.topLevelItemCount():
            self.payment.log.add_separator("— next customer —")
        self.controller.publish_remote()
        self.update_remote_controls()

    def on_remote(self, event: dict[str, Any]) -> None:
        status = event.get("status")
        handle = event.get("handle", "")
        if status == RemoteStatus.PUBLISHING:
            text = f"Publishing as {handle}…"
        elif status == RemoteStatus.PUBLISHED:
            until = time.strftime("%H:%M", time.localtime(float(event.get("expiresAt", 0))))
            text = f"Published as {handle} — waiting for the customer (until {until})"
        elif status == RemoteStatus.ANSWERED:
            text = f"Answered through the service as {handle}"
        elif status == RemoteStatus.FAILED:
            text = f"Not published as {handle} — the QR code still works"
        else:  # ended: what it came to stays said, a withdrawn publication goes
            text = self.offer.remote_label.text()
            if not text.startswith(("Answered", "Not published")):
                text = ""
        self.offer.set_remote_status(text)
        self.update_remote_controls()

    def update_remote_controls(self) -> None:
        """The Remote customer button and action: shown in remote mode, usable when no
        publication is under way and no customer is connected."""
        configured = self.controller.remote is not None
        busy = self.controller.remote_active or self.controller.state in (
            State.CONNECTING,
            State.CONNECTED,
            State.DISCONNECTED,
        )
        self.offer.remote_button.setVisible(configured)
        self.offer.remote_button.setEnabled(configured and not busy)
        self.remote_action.setVisible(configured)
        self.remote_action.setEnabled(configured and not busy)
        if not configured and not self.controller.remote_active:
            self.offer.set_remote_status("")

    def use_qr(self) -> None:
        """After a remote failure: the code on screen still works; a new one if it expired."""
        remaining = self.offer.remaining
        if self.controller.state != State.AWAITING_ANSWER or remaining is None or remaining <= 0:
            self.new_customer()
        self.offer.qr.setFocus(Qt.FocusReason.OtherFocusReason)

    def on_offer(self, event: dict[str, Any]) -> None:
        if not self.controller.remote_active:
            self.offer.set_remote_status("")
        self.offer.show_offer(event, self.settings.effective_page_url)
        self.camera.reset()  # the same answer may be shown again for a new code

    def on_state(self, event: dict[str, Any]) -> None:
        self.status.show_state(event)
        self.present_state(State(event["state"]))

    def present_state(self, state: State) -> None:
        """What each state enables, in one place."""
        self.offer.set_waiting(state == State.AWAITING_ANSWER, _OFFER_DONE.get(state, ""))
        can_answer = state == State.AWAITING_ANSWER
        for widget in (self.paste_field, self.paste_button, self.image_button):
            widget.setEnabled(can_answer)
        self.open_action.setEnabled(can_answer)
        ended = state in (State.CLOSED, State.FAILED)
        self.next_button.setVisible(ended)
        self.update_remote_controls()
        if state == State.CONNECTED:
            if self.controller.is_confirmed:
                self.payment.set_enabled(True)
            else:
                self.payment.set_enabled(
                    False, "Confirm the verification code to request a payment."
                )
        elif state == State.DISCONNECTED:
            self.payment.set_enabled(
                False, "The connection is interrupted; requests wait until it is back."
            )
        elif ended:
            self.payment.set_enabled(False, "This customer's connection has ended.")
            if not self.notice.isVisible():
                self.next_button.setFocus(Qt.FocusReason.OtherFocusReason)
        else:
            self.payment.set_enabled(False, "Pair with the customer's phone first.")
        if state == State.AWAITING_ANSWER and not self.payment.log.topLevelItemCount():
            self.payment.clear_outcome()

    def on_confirmed(self) -> None:
        self.status.show_confirmed()
        self.present_state(self.controller.state)  # enables payments; focus to the amount

    def on_closed(self, reason: str) -> None:
        if self.controller.state == State.CLOSED and reason:
            self.status.show_state({"state": str(State.CLOSED)}, reason)

    def on_failed(self, error: dict[str, Any]) -> None:
        code = str(error.get("code", ""))
        where = error.get("where")
        if where in ("payment", "confirm") and code in (
            ErrorCode.MESSAGE_INVALID,
            ErrorCode.NOT_VERIFIED,
        ):
            self.payment.show_error(notice_for(error).text)
            return
        notice = notice_for(error)
        self.notice.show_notice(notice)
        if self.notice.buttons:
            self.notice.buttons[0].setFocus(Qt.FocusReason.OtherFocusReason)

    def on_any_event(self, event: dict[str, Any]) -> None:
        self.pairings.on_event(event)
        if event.get("event") in ("answer_scanned", "sas", "error", "closed", "state"):
            self.diagnostics.refresh()

    def on_message(self, event: dict[str, Any]) -> None:
        self.payment.log.add_message(event)
        payload = event.get("payload", {})
        if event.get("type") == "payment_response" and event.get("direction") == "in":
            amount, currency = self._request_amounts.get(str(payload.get("requestId")), ("", ""))
            self.payment.show_response(event, amount, currency)

    def request_payment(self, amount: str, currency: str, reference: str) -> None:
        request_id = self.controller.request_payment(amount, currency, reference)
        if request_id is not None:
            self._request_amounts[request_id] = (amount, currency)
            self.payment.show_requested(amount, currency)

    def on_notice_action(self, value: str) -> None:
        action = Action(value)
        if action == Action.NEW_OFFER:
            self.new_customer()
        elif action == Action.RECONNECT:
            self.controller.new_customer(keep_conversation=True)
        elif action == Action.PASTE:
            self.paste_field.setFocus(Qt.FocusReason.OtherFocusReason)
        elif action == Action.OPEN_IMAGE:
            self.open_image()
        elif action == Action.RETRY_CAMERA:
            self.start_camera()
        elif action == Action.SETTINGS:
            self.open_settings()
        elif action == Action.RETRY_REMOTE:
            self.publish_remote()
        elif action == Action.USE_QR:
            self.use_qr()

    # -- answers: camera, paste, image ------------------------------------------------------

    def submit_answer(self, text: str, source: str) -> None:
        if self.controller.state != State.AWAITING_ANSWER:
            # An answer to an earlier code, or the camera's after the page's own answer
            # came over the network: the first one won.
            log.info("an answer from the %s came after the first one; ignored", source)
            return
        self.notice.clear()
        self.controller.submit_answer(text, source)

    def use_pasted(self) -> None:
        text = self.paste_field.text().strip()
        if not text:
            return
        self.paste_field.clear()
        self.submit_answer(text, "paste")

    def open_image(self, path: str | None = None) -> asyncio.Future[Any] | None:
        if path is None:
            path, _ = QFileDialog.getOpenFileName(
                self,
                "Open an image of the answer code",
                "",
                "Images (*.png *.jpg *.jpeg *.gif *.bmp *.webp);;All files (*)",
            )
        if not path:
            return None
        # A large photo takes a while to decode: never on the GUI thread.
        future = asyncio.get_running_loop().run_in_executor(None, decode_image_file, path)
        future.add_done_callback(lambda f: self._image_decoded(path, f))
        self._tasks.add(future)
        future.add_done_callback(self._tasks.discard)
        return future

    def paste_image(self) -> asyncio.Future[Any] | None:
        """The answer code from the clipboard: a picture (a screenshot), or a copied file."""
        mime = QGuiApplication.clipboard().mimeData()
        files = [url.toLocalFile() for url in mime.urls() if url.isLocalFile()] if mime else []
        if files:
            return self.open_image(files[0])
        if mime is None or not mime.hasImage():
            self.on_failed(
                {
                    "where": "image",
                    "code": str(ErrorCode.INVALID_ARGUMENT),
                    "message": "the clipboard holds no picture: copy a screenshot of the "
                    "answer code, or its text (then paste it in the answer field)",
                }
            )
            return None
        frame = qimage_to_frame(QGuiApplication.clipboard().image())
        future = asyncio.get_running_loop().run_in_executor(None, decode_image, frame)
        future.add_done_callback(lambda f: self._image_decoded("the pasted picture", f))
        self._tasks.add(future)
        future.add_done_callback(self._tasks.discard)
        return future

    def _image_decoded(self, path: str, future: asyncio.Future[Any]) -> None:
        try:
            found = future.result()
        except QrlinkError as exc:
            self.on_failed({"where": "image", **exc.to_dict()})
            return
        except Exception as exc:
            self.on_failed(
                {
                    "where": "image",
                    "code": str(ErrorCode.INVALID_ARGUMENT),
                    "message": f"cannot read {path}: {exc}",
                }
            )
            return
        if not found:
            self.on_failed(
                {
                    "where": "image",
                    "code": str(ErrorCode.BOOTSTRAP_PARSE_FAILED),
                    "message": f"no QR code was found in {path}",
                }
            )
            return
        self.submit_answer(found[0].text, "image")

    # -- camera ---------------------------------------------------------------------------

    def camera_request(self) -> CameraRequest:
        s = self.settings
        return CameraRequest(s.camera, s.decoder, s.mirror, s.size, _camera_label(s.camera))

    def start_camera(self) -> None:
        self.retry_camera.hide()
        self.viewfinder.show_message(f"Opening {self.camera_request().label}…")
        self.camera.start(self.camera_request())

    def on_camera_started(self, label: str) -> None:
        self.retry_camera.hide()
        self.camera_notice = ""
        self._set_camera_picker(self.settings.camera)

    def on_camera_notice(self, sentence: str) -> None:
        # Not a failure: scanning goes on (e.g. with zxing-cpp alone); said under the picture.
        self.camera_notice = sentence
        self.scan_stats.setText(sentence)

    def on_camera_error(self, code: str, message: str) -> None:
        if "paste" not in message.lower():
            message += " Try again, or paste the answer or open an image of it below."
        self.viewfinder.show_message(message, keep_frame=False)
        self.retry_camera.show()
        self.scan_stats.setText("")

    def on_camera_finished(self) -> None:
        if self.retry_camera.isVisible():
            return  # the error said it already
        self.viewfinder.show_message(
            "The video has ended. Play it again with Try again, or paste the answer.",
            keep_frame=True,
        )
        self.retry_camera.show()

    def on_scan_stats(self, stats: ScanStats) -> None:
        if self.retry_camera.isVisible():
            return  # the last report of a source that failed or ended says nothing useful
        self.scan_stats.setText(
            f"{stats.capture_fps:.0f} fps · {self.settings.decoder} "
            f"{stats.decode_ms:.1f} ms per frame" + (f" — {n}" if (n := self.camera_notice) else "")
        )

    def set_cameras(self, cameras: list[CameraInfo]) -> None:
        self.cameras = cameras
        self._set_camera_picker(self.settings.camera)

    def _set_camera_picker(self, current: str) -> None:
        self.camera_picker.blockSignals(True)
        self.camera_picker.clear()
        for cam in self.cameras:
            self.camera_picker.addItem(f"{cam.index}: {cam.name}", str(cam.index))
        index = self.camera_picker.findData(current)
        if index < 0:
            self.camera_picker.addItem(_camera_label(current), current)
            index = self.camera_picker.count() - 1
        self.camera_picker.setCurrentIndex(index)
        self.camera_picker.blockSignals(False)

    async def find_cameras(self) -> None:
        """Probe the cameras off the GUI thread (opening a device can take a while)."""
        cameras = await asyncio.get_running_loop().run_in_executor(None, list_cameras)
        self.set_cameras(cameras)

    def on_camera_picked(self) -> None:
        text = self.camera_picker.currentText().strip()
        index = self.camera_picker.findText(text)
        data = self.camera_picker.itemData(index) if index >= 0 else None
        source = str(data) if data is not None else text
        if source:
            self._change_setting(camera=source)
            self.start_camera()

    def on_mirror(self, mirror: bool) -> None:
        self._change_setting(mirror=mirror)
        self.camera.set_mirror(mirror)

    def on_decoder(self, name: str) -> None:
        if name and name != self.settings.decoder:
            self._change_setting(decoder=name)
            self.start_camera()

    # -- settings -------------------------------------------------------------------------

    def _change_setting(self, **changes: Any) -> None:
        self.settings = self.settings.with_overrides(**changes)
        self.stored_settings = self.stored_settings.with_overrides(**changes)
        self.settingsChanged.emit(self.stored_settings)

    def open_settings(self) -> SettingsDialog:
        dialog = SettingsDialog(self.stored_settings, self.cameras, self)
        dialog.accepted.connect(lambda: self.apply_settings(dialog.result_settings))
        dialog.open()
        return dialog

    def apply_settings(self, stored: Settings | None) -> None:
        """New stored settings from the dialog; `app.py` saves them and rebuilds the
        engine, then calls `set_effective` with the overrides applied."""
        if stored is None:
            return
        self.stored_settings = stored
        self.settingsChanged.emit(stored)

    def set_effective(self, settings: Settings) -> None:
        camera_changed = self.camera_request() != CameraRequest(
            settings.camera,
            settings.decoder,
            settings.mirror,
            settings.size,
            _camera_label(settings.camera),
        )
        self.settings = settings
        self.mirror_box.blockSignals(True)
        self.mirror_box.setChecked(settings.mirror)
        self.mirror_box.blockSignals(False)
        self.decoder_picker.blockSignals(True)
        self.decoder_picker.setCurrentText(settings.decoder)
        self.decoder_picker.blockSignals(False)
        if not self.payment.amount.text():
            self.payment.set_currency(settings.effective_currency)
        self.update_remote_controls()
        if camera_changed:
            self.start_camera()

    # -- closing --------------------------------------------------------------------------

    def closeEvent(self, event: QCloseEvent) -> None:
        self.camera.stop()
        self.closing.emit()
        super().closeEvent(event)


def _camera_label(source: str) -> str:
    try:
        spec = parse_source(source)
    except (QrlinkError, ValueError):
        return source
    return spec.label
