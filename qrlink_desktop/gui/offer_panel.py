"""The offer: its QR code, the time it has left, the link and the page it points to.

The panel counts down from the offer's own expiry and asks for a fresh offer
(`refreshDue`) while a quarter of its lifetime is left; the session hands over the offer
it gathered ahead, so the code changes with no wait, and the old one stays on screen
until the new one is there.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from ..core.events import OfferReady
from .qrcode_widget import QrCodeWidget


def format_remaining(seconds: float) -> str:
    seconds = max(0, int(seconds + 0.999))  # 0.4 s left still reads "0:01"
    return f"{seconds // 60}:{seconds % 60:02d}"


class OfferPanel(QWidget):
    refreshDue = Signal()

    def __init__(
        self, *, clock: Callable[[], float] = time.time, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self._clock = clock
        self.text = ""
        self.expires_at: float | None = None
        self.lifetime = 300.0
        self._refresh_asked = False
        self.waiting = True  # an offer is on screen, waiting for the customer

        self.title = QLabel("<b>1.</b> Customer: scan this code with the phone's camera")
        self.title.setWordWrap(True)
        self.qr = QrCodeWidget()
        self.countdown = QLabel("")
        self.countdown.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.countdown.setAccessibleName("Offer expires in")
        self.url_label = QLabel("")
        self.url_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.url_label.setWordWrap(True)
        self.url_label.setStyleSheet("color: palette(mid);")
        self.copy_button = QPushButton("Copy link")
        self.copy_button.setToolTip("Copy the offer link, to send it by chat or mail")
        self.copy_button.clicked.connect(self.copy_link)
        self.copy_button.setEnabled(False)
        # Remote mode: publish this window's offer on the rendezvous service.
        self.remote_button = QPushButton("Remote customer")
        self.remote_button.setToolTip(
            "Publish a fresh offer under your handle, for a customer who is not at the till"
        )
        self.remote_button.hide()
        self.remote_label = QLabel("")
        self.remote_label.setWordWrap(True)
        self.remote_label.setAccessibleName("Remote mode")
        self.remote_label.hide()

        row = QHBoxLayout()
        row.addWidget(self.countdown, 1)
        row.addWidget(self.remote_button)
        row.addWidget(self.copy_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addWidget(self.qr, 1)
        layout.addLayout(row)
        layout.addWidget(self.remote_label)
        layout.addWidget(self.url_label)

        self.timer = QTimer(self)
        self.timer.setInterval(250)  # the second ticks over on time, not up to 1 s late
        self.timer.timeout.connect(self.tick)
        self.timer.start()

    def show_offer(self, event: OfferReady, page_url: str) -> None:
        self.text = event.text
        self.expires_at = float(event.expires_at or self._clock())
        self.lifetime = max(1.0, self.expires_at - self._clock())
        self._refresh_asked = False
        self.waiting = True
        self.qr.set_text(self.text)
        self.copy_button.setEnabled(True)
        self.url_label.setText(f"Customer page: {page_url}")
        self.tick()

    def set_remote_status(self, text: str) -> None:
        """A line under the code saying whether it is published on the service."""
        self.remote_label.setText(text)
        self.remote_label.setVisible(bool(text))

    def set_waiting(self, waiting: bool, why: str = "") -> None:
        """False once the offer has been answered or withdrawn: no countdown, faded QR."""
        self.waiting = waiting
        self.qr.set_stale(not waiting, why)
        if not waiting:
            self.countdown.setText(why)
        self.tick()

    @property
    def remaining(self) -> float | None:
        return None if self.expires_at is None else self.expires_at - self._clock()

    def tick(self) -> None:
        remaining = self.remaining
        if remaining is None or not self.waiting:
            return
        if remaining <= 0:
            self.countdown.setText("This code has expired: a new one is on its way…")
            self.qr.set_stale(True, "Expired")
        else:
            self.countdown.setText(f"Valid for {format_remaining(remaining)}")
        if remaining <= self.lifetime / 4 and not self._refresh_asked:
            self._refresh_asked = True
            self.refreshDue.emit()

    def copy_link(self) -> None:
        if self.text:
            QGuiApplication.clipboard().setText(self.text)
            self.copy_button.setText("Copied")
            # Tied to the button: a panel closed meanwhile takes its timer with it.
            QTimer.singleShot(1500, self.copy_button, lambda: self.copy_button.setText("Copy link"))
