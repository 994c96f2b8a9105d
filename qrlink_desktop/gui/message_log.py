"""The message log: every payment message with its direction, type, time and status.

Rows come from the session's `MessageEvent`s; the status of an outgoing message is read
from the conversation's outbox (sent, retrying, answered, failed) each time the log
refreshes, so it is never a copy that could disagree. Double-click (or Enter) on a row
shows the message's JSON.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QBrush, QColor, QKeyEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QPlainTextEdit,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..core.conversation import OutStatus
from ..core.events import Direction, MessageEvent
from ..core.messages import MessageType

COLUMNS = ("Time", "", "Type", "Details", "Status")
TIME, DIRECTION, TYPE, DETAILS, STATUS = range(5)
MESSAGE_ROLE = Qt.ItemDataRole.UserRole

# Messages that expect no reply: the outbox marks them answered as soon as they are
# queued, which reads wrongly; for these, "answered" is shown as "sent".
_NO_REPLY = {MessageType.PAYMENT_ACKNOWLEDGMENT, MessageType.ERROR}
_STATUS_COLOUR = {
    "approved": "#1b7a2f",
    "declined": "#b42318",
    "failed": "#b42318",
    "retrying": "#9a6700",
}


def details(event: MessageEvent) -> str:
    p = event.payload
    match event.type:
        case MessageType.PAYMENT_REQUEST:
            ref = f" · {p['reference']}" if p.get("reference") else ""
            return f"{p.get('amount')} {p.get('currency')}{ref}"
        case MessageType.PAYMENT_RESPONSE | MessageType.PAYMENT_ACKNOWLEDGMENT:
            reason = f" ({p['reason']})" if p.get("reason") else ""
            return f"{str(p.get('status', '')).upper()}{reason}"
        case MessageType.ERROR:
            return f"{p.get('code')}: {p.get('message')}"
    return json.dumps(dict(p))[:80]


StatusOf = Callable[[str], OutStatus | None]
JsonOf = Callable[[str], dict[str, Any] | None]


class MessageLog(QTreeWidget):
    def __init__(self, status_of: StatusOf, json_of: JsonOf, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._status_of = status_of
        self._json_of = json_of
        self.events: dict[str, MessageEvent] = {}
        self.setColumnCount(len(COLUMNS))
        self.setHeaderLabels(list(COLUMNS))
        self.setRootIsDecorated(False)
        self.setUniformRowHeights(True)
        self.setAlternatingRowColors(True)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setAccessibleName("Message log")
        header = self.header()
        header.setStretchLastSection(False)
        header.resizeSection(TIME, 66)
        header.resizeSection(DIRECTION, 24)
        header.setSectionResizeMode(TYPE, header.ResizeMode.ResizeToContents)
        header.resizeSection(STATUS, 76)
        header.setSectionResizeMode(DETAILS, header.ResizeMode.Stretch)
        self.itemDoubleClicked.connect(lambda item, _col: self.show_json(item))
        self.timer = QTimer(self)
        self.timer.setInterval(300)
        self.timer.timeout.connect(self.refresh)
        self.timer.start()

    def add_message(self, event: MessageEvent, at: float | None = None) -> QTreeWidgetItem:
        mid = event.message_id
        self.events[mid] = event
        outgoing = event.direction == Direction.OUT
        item = QTreeWidgetItem(
            [
                time.strftime("%H:%M:%S", time.localtime(at if at is not None else time.time())),
                "→" if outgoing else "←",
                str(event.type),
                details(event),
                "",
            ]
        )
        item.setToolTip(DIRECTION, "sent to the phone" if outgoing else "from the phone")
        item.setData(0, MESSAGE_ROLE, mid)
        self.addTopLevelItem(item)
        self.refresh()  # a reply changes the status of what it answers
        self.scrollToItem(item)
        return item

    def add_separator(self, text: str) -> None:
        item = QTreeWidgetItem([time.strftime("%H:%M:%S"), "", "", text, ""])
        item.setForeground(DETAILS, QBrush(QColor("#888888")))
        self.addTopLevelItem(item)

    def status_text(self, message_id: str) -> str:
        event = self.events.get(message_id)
        if event is None:
            return ""
        kind = event.type
        if event.direction == Direction.IN:
            if kind == MessageType.PAYMENT_RESPONSE:
                return str(event.payload.get("status", "received"))
            return "received"
        status = self._status_of(message_id)
        if status is None:
            return "sent"
        if status == OutStatus.ANSWERED and kind in _NO_REPLY:
            return "sent"
        return str(status.value)

    def _update_status(self, item: QTreeWidgetItem) -> None:
        mid = item.data(0, MESSAGE_ROLE)
        if not mid:
            return
        text = self.status_text(mid)
        if item.text(STATUS) != text:
            item.setText(STATUS, text)
            colour = _STATUS_COLOUR.get(text)
            item.setForeground(STATUS, QBrush(QColor(colour)) if colour else QBrush())

    def items(self) -> list[QTreeWidgetItem]:
        found = (self.topLevelItem(i) for i in range(self.topLevelItemCount()))
        return [item for item in found if item is not None]

    def refresh(self) -> None:
        for item in self.items():
            self._update_status(item)

    def rows(self) -> list[tuple[str, ...]]:
        return [tuple(item.text(c) for c in range(len(COLUMNS))) for item in self.items()]

    def message_json(self, message_id: str) -> str:
        env = self._json_of(message_id)
        event = self.events.get(message_id)
        if env is None and event is not None:
            # The conversation is gone (next customer): the event has it all.
            env = {"type": str(event.type), "payload": dict(event.payload), "messageId": message_id}
        return json.dumps(env, indent=2, ensure_ascii=False)

    def show_json(self, item: QTreeWidgetItem | None) -> QDialog | None:
        mid = item.data(0, MESSAGE_ROLE) if item is not None else None
        if not mid:
            return None
        dialog = QDialog(self)
        dialog.setWindowTitle(f"{item.text(TYPE)} {mid}")  # type: ignore[union-attr]
        text = QPlainTextEdit(self.message_json(mid))
        text.setReadOnly(True)
        text.setMinimumSize(460, 260)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(dialog.reject)
        layout = QVBoxLayout(dialog)
        layout.addWidget(text)
        layout.addWidget(buttons)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self.currentItem():
            self.show_json(self.currentItem())
            return
        super().keyPressEvent(event)
