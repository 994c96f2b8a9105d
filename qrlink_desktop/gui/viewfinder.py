"""The live camera picture with the detected code outlined, or a sentence when there is
no picture. `paintEvent` only draws the latest frame it was given; decoding happened on
the scanner's threads. Image files of the answer QR can be dropped onto it.
"""

from __future__ import annotations

from PySide6.QtCore import QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QDragEnterEvent,
    QDropEvent,
    QImage,
    QPainter,
    QPaintEvent,
    QPen,
    QPolygonF,
    QTransform,
)
from PySide6.QtWidgets import QSizePolicy, QWidget

OUTLINE = QColor(40, 220, 90)


class Viewfinder(QWidget):
    fileDropped = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.image: QImage | None = None
        self.outlines: list[QPolygonF] = []
        self.message = "Starting the camera…"
        self.frames_painted = 0
        self.setAcceptDrops(True)
        self.setMinimumSize(320, 180)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setAccessibleName("Camera viewfinder")

    def sizeHint(self) -> QSize:
        return QSize(480, 270)

    def show_frame(self, image: QImage, outlines: list[QPolygonF]) -> None:
        self.image = image
        self.outlines = outlines
        self.message = ""
        self.update()

    def show_message(self, message: str, *, keep_frame: bool = False) -> None:
        """A sentence over the picture (or instead of it): no camera, denied, ended."""
        self.message = message
        if not keep_frame:
            self.image = None
            self.outlines = []
        self.update()

    def image_rect(self) -> QRectF:
        if self.image is None or self.image.isNull():
            return QRectF()
        iw, ih = self.image.width(), self.image.height()
        scale = min(self.width() / iw, self.height() / ih)
        w, h = iw * scale, ih * scale
        return QRectF((self.width() - w) / 2, (self.height() - h) / 2, w, h)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(24, 24, 24))
        target = self.image_rect()
        if self.image is not None and not target.isEmpty():
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
            painter.drawImage(target, self.image)
            self.frames_painted += 1
            if self.outlines:
                scale = target.width() / self.image.width()
                transform = QTransform().translate(target.x(), target.y()).scale(scale, scale)
                painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
                painter.setPen(QPen(OUTLINE, 4))
                painter.setBrush(QColor(40, 220, 90, 50))
                for polygon in self.outlines:
                    painter.drawPolygon(transform.map(polygon))
        if self.message:
            painter.setPen(QColor(235, 235, 235))
            font = painter.font()
            font.setPointSizeF(font.pointSizeF() * 1.15)
            painter.setFont(font)
            painter.drawText(
                self.rect().adjusted(24, 24, -24, -24),
                Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                self.message,
            )

    # -- drag and drop an image of the answer ------------------------------------------------

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if any(url.isLocalFile() for url in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        for url in event.mimeData().urls():
            if url.isLocalFile():
                self.fileDropped.emit(url.toLocalFile())
                event.acceptProposedAction()
                return
