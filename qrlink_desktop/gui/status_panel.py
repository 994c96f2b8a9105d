"""Where the pairing stands: the session state, the network path, the round-trip time,
and, once the handshake has run, the 6-digit verification code with the confirm step.

The state shown is the session's state machine state (core/session.py), named for the
cashier; nothing here keeps a state of its own.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ..core.events import PathInfo
from ..core.sas import format_code
from ..core.session import State

# What each specification state means to the cashier, and its colour.
STATE_TEXT: dict[State, tuple[str, str]] = {
    State.IDLE: ("Ready", "#666666"),
    State.CREATING_OFFER: ("Preparing the code…", "#666666"),
    State.AWAITING_ANSWER: ("Waiting for the customer's answer code", "#1f5fa8"),
    State.CONNECTING: ("Connecting to the phone…", "#1f5fa8"),
    State.CONNECTED: ("Connected", "#1b7a2f"),
    State.DISCONNECTED: ("Connection interrupted — waiting for it to come back", "#9a6700"),
    State.CLOSED: ("Closed", "#666666"),
    State.FAILED: ("Failed", "#b42318"),
}

# One scan: the page sends its answer home by itself; the camera is the fallback.
WAITING_ONE_SCAN = "Waiting for the customer's phone — or show its answer code to the camera"

PATH_TEXT = {
    "host": "direct (local network)",
    "prflx": "direct (local network)",
    "srflx": "direct (through NAT)",
    "relay": "relay (TURN server)",
}


def describe_path(local: str | None, remote: str | None) -> str:
    if not local:
        return "—"
    if "relay" in (local, remote):
        return PATH_TEXT["relay"]
    if "srflx" in (local, remote):
        return PATH_TEXT["srflx"]
    return PATH_TEXT.get(local, local)


class StatusPanel(QWidget):
    confirmClicked = Signal()
    rejectClicked = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state: State = State.IDLE
        self.one_scan = False  # the customer's page can send its answer home
        self.state_label = QLabel()
        self.state_label.setWordWrap(True)
        self.state_label.setAccessibleName("Session state")
        bold = QFont(self.state_label.font())
        bold.setBold(True)
        bold.setPointSizeF(bold.pointSizeF() * 1.2)
        self.state_label.setFont(bold)
        self.path_label = QLabel("—")
        self.rtt_label = QLabel("—")

        grid = QGridLayout()
        grid.addWidget(QLabel("Path:"), 0, 0)
        grid.addWidget(self.path_label, 0, 1)
        grid.addWidget(QLabel("Round trip:"), 1, 0)
        grid.addWidget(self.rtt_label, 1, 1)
        grid.setColumnStretch(1, 1)

        # The verification step, hidden until the handshake has produced a code.
        self.code_box = QFrame()
        self.code_box.setObjectName("codeBox")
        self.code_box.setStyleSheet("#codeBox { border: 2px solid #1f5fa8; border-radius: 8px; }")
        self.code_label = QLabel()
        self.code_label.setAccessibleName("Verification code")
        self.code_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        big = QFont("monospace")
        big.setStyleHint(QFont.StyleHint.Monospace)
        big.setPointSize(34)
        big.setBold(True)
        self.code_label.setFont(big)
        self.code_hint = QLabel("Does the phone show the same code?")
        self.code_hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.confirm_button = QPushButton("Same code — confirm (Enter)")
        # autoDefault: a focused button outside a dialog takes Enter only with it.
        self.confirm_button.setAutoDefault(True)
        self.confirm_button.clicked.connect(self.confirmClicked)
        self.reject_button = QPushButton("Codes differ")
        self.reject_button.setAutoDefault(True)
        self.reject_button.clicked.connect(self.rejectClicked)
        buttons = QHBoxLayout()
        buttons.addWidget(self.confirm_button, 2)
        buttons.addWidget(self.reject_button, 1)
        box = QVBoxLayout(self.code_box)
        box.addWidget(self.code_label)
        box.addWidget(self.code_hint)
        box.addLayout(buttons)
        self.code_box.hide()

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.state_label)
        layout.addLayout(grid)
        layout.addWidget(self.code_box)
        self.show_state(State.IDLE)

    def show_state(self, state: State, pair: PathInfo | None = None, detail: str = "") -> None:
        self.state = state
        text, colour = STATE_TEXT[self.state]
        if self.state == State.AWAITING_ANSWER and self.one_scan:
            text = WAITING_ONE_SCAN
        if detail:
            text = f"{text}: {detail}"
        self.state_label.setText(text)
        self.state_label.setStyleSheet(f"color: {colour};")
        self.state_label.setToolTip(f"Session state {self.state.value}")
        if self.state == State.CONNECTED and pair is not None:
            self.path_label.setText(describe_path(pair.local, pair.remote))
        if self.state in (State.IDLE, State.CREATING_OFFER, State.AWAITING_ANSWER):
            self.path_label.setText("—")
            self.rtt_label.setText("—")
            self.code_box.hide()
        if self.state in (State.CLOSED, State.FAILED):
            self.confirm_button.setEnabled(False)
            self.reject_button.setEnabled(False)

    def show_rtt(self, ms: float) -> None:
        self.rtt_label.setText(f"{ms:.1f} ms" if ms < 100 else f"{ms:.0f} ms")

    def show_code(self, code: str) -> None:
        self.code_label.setText(format_code(code))
        self.code_hint.setText("Does the phone show the same code?")
        self.confirm_button.setEnabled(True)
        self.reject_button.setEnabled(True)
        self.confirm_button.show()
        self.reject_button.show()
        self.code_box.show()
        self.confirm_button.setFocus(Qt.FocusReason.OtherFocusReason)

    def show_confirmed(self) -> None:
        self.code_hint.setText("Code confirmed: payments can be requested.")
        self.confirm_button.hide()
        self.reject_button.hide()
