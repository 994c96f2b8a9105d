"""The live camera picture with the detected code outlined, or a sentence when there is
no picture. `paintEvent` only draws the latest frame it was given; decoding happened on
the scanner's threads. Image files of the answer QR can be dropped onto it.

The picture and the outlines arrive in the frame's own pixels and are drawn through one
transform (`view_transform`: letterbox, scale, and the mirror when it is on), so an
outline cannot land anywhere but on its code.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
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
        self.mirrored = False
        self.message = "Starting the camera…"
        self.frames_painted = 0
        self.setAcceptDrops(True)
        self.setMinimumSize(320, 180)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setAccessibleName("Camera viewfinder")

    def sizeHint(self) -> QSize:
        return QSize(480, 270)

    def show_frame(self, image: QImage, outlines: list[QPolygonF], mirrored: bool = False) -> None:
        """A frame as captured, its codes' outlines in its pixels, and whether to show
        both mirrored (a camera facing the cashier reads like a mirror)."""
        self.image = image
        self.outlines = outlines
        self.mirrored = mirrored
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

    def view_transform(self) -> QTransform:
        """Frame pixels -> widget pixels: scaled to fit, centred (letterbox), and flipped
        left-right within the frame when mirrored. Picture and outlines both use it."""
        target = self.image_rect()
        if self.image is None or target.isEmpty():
            return QTransform()
        scale = target.width() / self.image.width()
        transform = QTransform().translate(target.x(), target.y()).scale(scale, scale)
        if self.mirrored:
            transform.translate(self.image.width(), 0).scale(-1.0, 1.0)
        return transform

    def to_widget(self, x: float, y: float) -> QPointF:
        """Where the frame pixel (x, y) is shown."""
        return self.view_transform().map(QPointF(x, y))

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(24, 24, 24))
        if self.image is not None and not self.image_rect().isEmpty():
            painter.save()
            painter.setTransform(self.view_transform())
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
            painter.drawImage(QPointF(0, 0), self.image)
            self.frames_painted += 1
            if self.outlines:
                painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
                pen = QPen(OUTLINE, 4)
                pen.setCosmetic(True)  # 4 screen pixels wide at any scale
                painter.setPen(pen)
                painter.setBrush(QColor(40, 220, 90, 50))
                for polygon in self.outlines:
                    painter.drawPolygon(polygon)
            painter.restore()
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
