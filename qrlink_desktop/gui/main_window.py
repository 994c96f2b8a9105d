"""The cashier's window: the offer on the left, the camera in the middle, the pairing and
the payment on the right, failures across the top.

With one scan (the customer's page sends its answer home) the camera is the fallback: the
offer QR and the code are what the cashier looks at, so the camera column is the narrow
one. The window sizes itself from the screen's available area and stays usable at
1280×720 (`fit_to`).

The window presents and forwards: what the cashier does goes to the `SessionController`
(the session) or the `AnswerColumn` (camera, paste, images); what they report comes back
as signals and is shown here. The settings are the app's (app.py), and the window keeps no
copy: it reads those in force through `effective` (and is told by `set_effective` when
they change), the saved ones through `stored` when the Settings dialog opens, and asks for
changes with `settingsChanged`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from PySide6.QtCore import QRect, QSize, Qt, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QGroupBox,
    QMainWindow,
    QPushButton,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ..core.errors import ErrorCode
from ..core.events import CodeReady, Direction, MessageEvent, OfferReady, StateChanged
from ..core.messages import MessageType
from ..core.publication import PublicationChanged, PublicationState
from ..core.session import State
from .answer_column import AnswerColumn, CameraChoice
from .camera import CameraBridge
from .cashier import WindowEvent
from .diagnostics import DiagnosticsPanel, PairingLog
from .notices import Action, NoticeBar, Problem, Where, notice_for
from .offer_panel import OfferPanel
from .payment_panel import PaymentPanel
from .session import SessionController
from .settings import Settings
from .settings_dialog import SettingsDialog
from .status_panel import StatusPanel

log = logging.getLogger(__name__)

# The size the window asks for on a large screen; a smaller screen gets what it has.
PREFERRED_SIZE = QSize(1400, 820)
# The window manager's title bar and frame, not known before the window is shown.
FRAME_ALLOWANCE = QSize(16, 48)
# The columns' shares of the width: offer, camera (the fallback), pairing and payment.
COLUMN_SHARES = (0.35, 0.26, 0.39)

# What the offer panel says under a code that is no longer waiting for an answer.
_OFFER_DONE = {
    State.CONNECTING: "Answer received — connecting…",
    State.CONNECTED: "Paired with the customer's phone",
    State.DISCONNECTED: "Paired with the customer's phone",
    State.CLOSED: "Finished — Ctrl+N for the next customer",
    State.FAILED: "Not paired — Ctrl+N for a new code",
}

# What the payment panel says while no payment may be requested.
_PAYMENT_HINT = {
    State.CONNECTED: "Confirm the verification code to request a payment.",
    State.DISCONNECTED: "The connection is interrupted; requests wait until it is back.",
    State.CLOSED: "This customer's connection has ended.",
    State.FAILED: "This customer's connection has ended.",
}


class MainWindow(QMainWindow):
    settingsChanged = Signal(object)  # the stored Settings, changed: to save and apply
    closing = Signal()

    def __init__(
        self,
        controller: SessionController,
        camera: CameraBridge,
        effective: Callable[[], Settings],
        stored: Callable[[], Settings],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.controller = controller
        self.camera = camera
        # The app's settings, read when needed, never kept here: those in force for this
        # run (stored plus command-line overrides), and the stored ones the dialog edits.
        self._effective = effective
        self._stored = stored
        self.pairings = PairingLog()
        self._request_amounts: dict[str, tuple[str, str]] = {}
        self.setWindowTitle("qrlink — cashier")
        self.resize(PREFERRED_SIZE)

        self.notice = NoticeBar()
        self.offer = OfferPanel()
        settings = effective()
        self.answers = AnswerColumn(camera, settings)
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
        split.addWidget(self.answers)
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
        self.answers.set_answers_home(on)
        self.status.show_state(self.controller.state)

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
        c.sasReady.connect(self.on_code)
        c.confirmed.connect(self.on_confirmed)
        c.message.connect(self.on_message)
        c.rttChanged.connect(self.status.show_rtt)
        c.closed.connect(self.on_closed)
        c.failed.connect(self.on_failed)
        c.sessionEvent.connect(self.on_any_event)
        c.remoteChanged.connect(self.on_remote)

        a = self.answers
        a.answer.connect(self.submit_answer)
        a.failed.connect(self.on_failed)
        a.chosen.connect(self.on_camera_choice)

        self.offer.refreshDue.connect(c.refresh_offer)
        self.status.confirmClicked.connect(c.confirm)
        self.status.rejectClicked.connect(c.reject_code)
        self.payment.requested.connect(self.request_payment)
        self.notice.triggered.connect(self.on_notice_action)
        self.next_button.clicked.connect(self.new_customer)
        self.new_action.triggered.connect(self.new_customer)
        self.remote_action.triggered.connect(self.publish_remote)
        self.offer.remote_button.clicked.connect(self.publish_remote)
        self.open_action.triggered.connect(lambda: a.open_image())
        self.paste_image_action.triggered.connect(lambda: a.paste_image())
        self.export_action.triggered.connect(lambda: self.diagnostics.export())
        self.settings_action.triggered.connect(lambda: self.open_settings())

    # -- session --------------------------------------------------------------------------

    def _next_customer_in_log(self) -> None:
        self.notice.clear()
        self.payment.clear_outcome()
        if self.payment.log.topLevelItemCount():
            self.payment.log.add_separator("— next customer —")

    def new_customer(self) -> None:
        self._next_customer_in_log()
        self.controller.new_customer()

    def publish_remote(self) -> None:
        """Remote customer: publish a fresh offer under the handle (remote mode)."""
        if self.controller.remote is None or self.controller.remote_active:
            return
        self._next_customer_in_log()
        self.controller.publish_remote()
        self.update_remote_controls()

    def on_remote(self, change: PublicationChanged) -> None:
        handle = change.handle
        match change.state:
            case PublicationState.PUBLISHING:
                text = f"Publishing as {handle}…"
            case PublicationState.PUBLISHED:
                until = time.strftime("%H:%M", time.localtime(change.expires_at or 0))
                text = f"Published as {handle} — waiting for the customer (until {until})"
            case PublicationState.ANSWERED:
                text = f"Answered through the service as {handle}"
            case PublicationState.FAILED:
                text = f"Not published as {handle} — the QR code still works"
            case _:  # ended: what it came to stays said, a withdrawn publication goes
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

    def on_offer(self, event: OfferReady) -> None:
        if not self.controller.remote_active:
            self.offer.set_remote_status("")
        self.offer.show_offer(event, self._effective().effective_page_url)
        self.camera.reset()  # the same answer may be shown again for a new code

    def on_state(self, event: StateChanged) -> None:
        self.status.show_state(event.state, event.pair)
        self.present_state(event.state)

    def on_code(self, event: CodeReady) -> None:
        self.status.show_code(event.code)

    def present_state(self, state: State) -> None:
        """What each state enables, in one place."""
        self.offer.set_waiting(state == State.AWAITING_ANSWER, _OFFER_DONE.get(state, ""))
        can_answer = state == State.AWAITING_ANSWER
        self.answers.set_answering(can_answer)
        self.open_action.setEnabled(can_answer)
        ended = state in (State.CLOSED, State.FAILED)
        self.next_button.setVisible(ended)
        self.update_remote_controls()
        # One question, the session's: a request made while the path is quiet waits.
        may = self.controller.status.may_request_payment
        hint = _PAYMENT_HINT.get(state, "Pair with the customer's phone first.")
        self.payment.set_enabled(may, "" if may and state == State.CONNECTED else hint)
        if ended and not self.notice.isVisible():
            self.next_button.setFocus(Qt.FocusReason.OtherFocusReason)
        if state == State.AWAITING_ANSWER and not self.payment.log.topLevelItemCount():
            self.payment.clear_outcome()

    def on_confirmed(self) -> None:
        self.status.show_confirmed()
        self.present_state(self.controller.state)  # enables payments; focus to the amount

    def on_closed(self, reason: str) -> None:
        if self.controller.state == State.CLOSED and reason:
            self.status.show_state(State.CLOSED, detail=reason)

    def on_failed(self, problem: Problem) -> None:
        if problem.where in (Where.PAYMENT, Where.CONFIRM) and problem.code in (
            ErrorCode.MESSAGE_INVALID,
            ErrorCode.NOT_VERIFIED,
        ):
            self.payment.show_error(notice_for(problem).text)
            return
        self.notice.show_notice(notice_for(problem))
        if self.notice.buttons:
            self.notice.buttons[0].setFocus(Qt.FocusReason.OtherFocusReason)

    def on_any_event(self, event: WindowEvent) -> None:
        self.pairings.on_event(event)
        self.diagnostics.refresh_after(event)

    def on_message(self, event: MessageEvent) -> None:
        self.payment.log.add_message(event)
        if event.type == MessageType.PAYMENT_RESPONSE and event.direction == Direction.IN:
            request_id = str(event.payload.get("requestId"))
            amount, currency = self._request_amounts.get(request_id, ("", ""))
            self.payment.show_response(event, amount, currency)

    def request_payment(self, amount: str, currency: str, reference: str) -> None:
        request_id = self.controller.request_payment(amount, currency, reference)
        if request_id is not None:
            self._request_amounts[request_id] = (amount, currency)
            self.payment.show_requested(amount, currency)

    def on_notice_action(self, value: str) -> None:
        match Action(value):
            case Action.NEW_OFFER:
                self.new_customer()
            case Action.RECONNECT:
                self.controller.new_customer(keep_conversation=True)
            case Action.PASTE:
                self.answers.paste_field.setFocus(Qt.FocusReason.OtherFocusReason)
            case Action.OPEN_IMAGE:
                self.answers.open_image()
            case Action.RETRY_CAMERA:
                self.answers.start_camera()
            case Action.SETTINGS:
                self.open_settings()
            case Action.RETRY_REMOTE:
                self.publish_remote()
            case Action.USE_QR:
                self.use_qr()

    def submit_answer(self, text: str, source: str) -> None:
        """An answer from the camera, pasted, or read from an image."""
        if self.controller.state != State.AWAITING_ANSWER:
            # An answer to an earlier code, or the camera's after the page's own answer
            # came over the network: the first one won.
            log.info("an answer from the %s came after the first one; ignored", source)
            return
        self.notice.clear()
        self.controller.submit_answer(text, source)

    # -- settings (the app's) -------------------------------------------------------------

    def start_camera(self) -> None:
        self.answers.start_camera()

    async def find_cameras(self) -> None:
        await self.answers.find_cameras()

    def on_camera_choice(self, choice: CameraChoice) -> None:
        self.settingsChanged.emit(choice.applied_to(self._stored()))

    def open_settings(self) -> SettingsDialog:
        dialog = SettingsDialog(self._stored(), self.answers.cameras, self)
        dialog.accepted.connect(lambda: self.apply_settings(dialog.result_settings))
        dialog.open()
        return dialog

    def apply_settings(self, stored: Settings | None) -> None:
        """New stored settings from the dialog; `app.py` saves them and rebuilds the
        session, then calls `set_effective` with the overrides applied."""
        if stored is not None:
            self.settingsChanged.emit(stored)

    def set_effective(self, settings: Settings) -> None:
        """The app's settings changed: what the window shows follows them."""
        if not self.payment.amount.text():
            self.payment.set_currency(settings.effective_currency)
        self.update_remote_controls()
        self.answers.show_settings(settings)

    # -- closing --------------------------------------------------------------------------

    def closeEvent(self, event: QCloseEvent) -> None:
        self.camera.stop()
        self.closing.emit()
        super().closeEvent(event)
