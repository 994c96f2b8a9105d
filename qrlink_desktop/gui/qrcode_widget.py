"""The offer QR code, drawn from its module matrix so it stays crisp at any size.

As in Electrum's QR widget, `paintEvent` only draws: the matrix is computed once when the
text changes. Modules are whole device pixels (the largest integer size that fits), so
no module edge is smoothed into grey, and the quiet zone comes with the matrix.
"""

from __future__ import annotations

from PySide6.QtCore import QRect, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

from ..scan import qrimage

DARK = QColor(0, 0, 0)
LIGHT = QColor(255, 255, 255)
STALE = QColor(232, 232, 232)


class QrCodeWidget(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.text = ""
        self.placeholder = "Preparing the offer…"
        self._modules: qrimage.Modules | None = None
        self._runs: list[tuple[int, int, int]] = []  # (row, first column, length) of dark runs
        # An offer that was answered or has expired must not be scanned again: it is
        # replaced by a grey square with the reason, not merely faded (zxing reads faded).
        self.stale = False
        self.stale_text = ""
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(180, 180)
        self.setAccessibleName("Offer QR code")

    def set_text(self, text: str) -> None:
        if text == self.text:
            return
        self.text = text
        self._modules = qrimage.modules(text) if text else None
        self._runs = _dark_runs(self._modules) if self._modules is not None else []
        self.stale = False
        self.update()

    def set_stale(self, stale: bool, text: str = "") -> None:
        if (stale, text) != (self.stale, self.stale_text):
            self.stale, self.stale_text = stale, text
            self.update()

    @property
    def module_count(self) -> int:
        return 0 if self._modules is None else len(self._modules)

    def sizeHint(self) -> QSize:
        return QSize(360, 360)

    def heightForWidth(self, width: int) -> int:
        return width

    def hasHeightForWidth(self) -> bool:
        return True

    def symbol_rect(self) -> QRect:
        """Where the symbol (quiet zone included) is drawn, in logical pixels."""
        n = self.module_count
        if n == 0:
            return QRect()
        ratio = self.devicePixelRatioF()
        side = min(self.width(), self.height())
        # Whole device pixels per module; a symbol too large to fit uses fractional ones.
        module = max(1, int(side * ratio) // n) / ratio
        extent = round(module * n)
        return QRect((self.width() - extent) // 2, (self.height() - extent) // 2, extent, extent)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), self.palette().window())
        rect = self.symbol_rect()
        if self._modules is None or rect.isEmpty():
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, self.placeholder)
            return
        if self.stale:
            painter.fillRect(rect, STALE)
            painter.setPen(QColor(90, 90, 90))
            painter.drawText(
                rect.adjusted(16, 16, -16, -16),
                Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                self.stale_text,
            )
            return
        n = self.module_count
        module = rect.width() / n
        painter.fillRect(rect, LIGHT)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(DARK)
        painter.translate(rect.topLeft())
        painter.scale(module, module)
        for row, col, length in self._runs:
            painter.drawRect(col, row, length, 1)


def _dark_runs(modules: qrimage.Modules) -> list[tuple[int, int, int]]:
    """Horizontal runs of dark modules: ~4x fewer rectangles to draw than modules."""
    runs = []
    for row, line in enumerate(modules):
        col, n = 0, len(line)
        while col < n:
            if line[col]:
                start = col
                while col < n and line[col]:
                    col += 1
                runs.append((row, start, col - start))
            else:
                col += 1
    return runs
