"""Failures as the cashier reads them: one sentence, then a way forward with its buttons.

`notice_for` turns a `Problem` (where it happened, its code and the sentence the session
or the scanner said) into a `Notice`; `NoticeBar` shows it at the top of the window.
Buttons name actions; the window decides what each action does.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from enum import StrEnum

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QWidget

from ..core.errors import ErrorCode


class Action(StrEnum):
    NEW_OFFER = "New offer"
    RECONNECT = "Reconnect"
    PASTE = "Paste answer"
    OPEN_IMAGE = "Open image…"
    RETRY_CAMERA = "Try the camera again"
    SETTINGS = "Settings…"
    RETRY_REMOTE = "Try again"
    USE_QR = "Use the QR code"
    DISMISS = "Dismiss"


class Where(StrEnum):
    """Where a problem happened: it decides the way forward as much as its code does."""

    CONNECTION = "connection"  # the session's own `error` events
    PEER = "peer"  # the customer's side sent an `error`
    OFFER = "offer"
    REFRESH = "refresh"
    ANSWER = "answer"
    CONFIRM = "confirm"
    VERIFICATION = "verification"
    PAYMENT = "payment"
    CLOSE = "close"
    REMOTE = "remote"  # the rendezvous service, or nobody answering the published offer
    TURN = "turn"  # TURN credentials from the service
    CAMERA = "camera"
    IMAGE = "image"  # an image of the answer code (opened, dropped or pasted)
    SETTINGS = "settings"


@dataclass(frozen=True)
class Problem:
    """Something that went wrong, for the cashier: where, its code, the sentence."""

    where: Where
    code: str  # an ErrorCode, the other side's code, or INTERNAL
    message: str


@dataclass(frozen=True)
class Notice:
    text: str
    actions: tuple[Action, ...]
    code: str
    severe: bool = True


def _sentence(message: str) -> str:
    message = message.strip()
    if not message:
        return ""
    message = message[0].upper() + message[1:]
    return message if message.endswith((".", "!", "?")) else message + "."


E = ErrorCode
_A = Action
# code -> (way forward, actions). The session's sentence says what happened; this says
# what to do about it.
_FORWARD: dict[str, tuple[str, tuple[Action, ...]]] = {
    E.BOOTSTRAP_GENERATION_FAILED: (
        "Check the STUN/TURN servers in Settings, then make a new offer.",
        (_A.NEW_OFFER, _A.SETTINGS),
    ),
    E.BOOTSTRAP_PARSE_FAILED: (
        "Ask the customer to show the answer code again, or paste it.",
        (_A.PASTE, _A.OPEN_IMAGE),
    ),
    E.CONNECTION_FAILED: ("Make a new offer and scan again.", (_A.NEW_OFFER,)),
    E.ICE_FAILED: (
        "Check that the phone is on the same network, or add a TURN server in Settings; "
        "then make a new offer.",
        (_A.NEW_OFFER, _A.SETTINGS),
    ),
    E.DATA_CHANNEL_FAILED: ("Make a new offer and scan again.", (_A.NEW_OFFER,)),
    E.TIMEOUT: ("Make a new offer and scan again.", (_A.NEW_OFFER,)),
    E.MESSAGE_SEND_FAILED: (
        "Reconnect with the same customer to send it again.",
        (_A.RECONNECT,),
    ),
    E.MESSAGE_INVALID: ("Correct it and send again.", (_A.DISMISS,)),
    E.MESSAGE_TOO_LARGE: ("Shorten it and send again.", (_A.DISMISS,)),
    E.VERIFICATION_FAILED: (
        "Someone may be in between: make a new offer and pair again.",
        (_A.NEW_OFFER,),
    ),
    E.PROTOCOL_VERSION_UNSUPPORTED: (
        "The customer's page is too old or too new for this app; ask them to reload it, "
        "then make a new offer.",
        (_A.NEW_OFFER,),
    ),
    E.NOT_VERIFIED: ("Confirm the verification code first.", (_A.DISMISS,)),
    E.RATE_LIMITED: ("If payments stop working, make a new offer.", (_A.NEW_OFFER, _A.DISMISS)),
    E.REMOTE_SERVICE_ERROR: ("Try again in a moment.", (_A.NEW_OFFER,)),
    E.INVALID_ARGUMENT: ("Check the input and try again.", (_A.DISMISS,)),
}

_CAMERA_ACTIONS = (_A.RETRY_CAMERA, _A.PASTE, _A.OPEN_IMAGE)


def notice_for(problem: Problem) -> Notice:
    """The notice for a problem: its sentence, then what to do about it."""
    code, where = str(problem.code), problem.where
    said = _sentence(problem.message)
    if where == Where.CAMERA:
        # The scan layer's sentences already end with what to do ("… or paste the
        # answer instead."); the buttons carry it out.
        return Notice(said, _CAMERA_ACTIONS, code)
    if where == Where.IMAGE:
        return Notice(
            f"{said} Try another image, paste the answer, or scan it.",
            (_A.OPEN_IMAGE, _A.PASTE),
            code,
        )
    if where == Where.PEER:
        return Notice(
            f"The customer's phone reported: {said} Make a new offer if this repeats.",
            (_A.DISMISS, _A.NEW_OFFER),
            code,
            severe=False,
        )
    if where == Where.REMOTE:
        # The service failed or nobody answered in time: publish again, or let the
        # customer scan the code on the screen (which works without the service).
        return Notice(
            f"{said} Try again, or let the customer scan the QR code ({code}).",
            (_A.RETRY_REMOTE, _A.USE_QR),
            code,
        )
    if where == Where.SETTINGS:
        return Notice(f"{said} Open Settings to correct it.", (_A.SETTINGS,), code)
    forward, actions = _FORWARD.get(code, ("Make a new offer and try again.", (_A.NEW_OFFER,)))
    return Notice(f"{said} {forward}".strip(), actions, code)


class NoticeBar(QFrame):
    """A band across the top: the sentence, then one button per action (the first has
    the focus, so Enter takes the way forward)."""

    triggered = Signal(str)  # Action value

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("noticeBar")
        self.notice: Notice | None = None
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._layout = QHBoxLayout(self)
        self._layout.setContentsMargins(12, 8, 12, 8)
        self._layout.addWidget(self.label, 1)
        self.buttons: list[QPushButton] = []
        self.hide()

    def show_notice(self, notice: Notice) -> None:
        self.notice = notice
        self.label.setText(notice.text)
        colour = "#7a1010" if notice.severe else "#6b4e00"
        self.setStyleSheet(
            f"#noticeBar {{ background: {colour}; border-radius: 6px; }}"
            "#noticeBar QLabel { color: white; font-weight: 600; }"
        )
        for button in self.buttons:
            self._layout.removeWidget(button)
            button.deleteLater()
        self.buttons = []
        for action in notice.actions:
            button = QPushButton(action.value)
            button.setAutoDefault(True)
            # A partial, not a lambda with a default argument: PySide6 6.12 mis-counts
            # references to the `checked` bool passed to such lambdas (a crash at exit).
            button.clicked.connect(functools.partial(self._trigger, action))
            self._layout.addWidget(button)
            self.buttons.append(button)
        self.show()

    def _trigger(self, action: Action, *_checked: object) -> None:
        self.clear()
        self.triggered.emit(action.value)

    def clear(self) -> None:
        self.notice = None
        self.hide()
