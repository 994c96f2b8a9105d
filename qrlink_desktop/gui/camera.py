"""The bridge from the scanner's worker threads to Qt signals.

The scanner captures and decodes on its own threads and calls back there. Each callback
here only wraps and emits a signal; Qt queues it to the GUI thread. The frame, a numpy
array from OpenCV, becomes a QImage over the array's own pixels, not a copy (QImage,
unlike QPixmap, is safe off the GUI thread), and a new frame is dropped while the previous
one is still waiting to be drawn, so a busy GUI thread shows fewer frames instead of
falling behind the camera. Mirroring is left to the viewfinder, which draws the picture
and the outlines through one transform.

This module and the scan layer are the only places that touch numpy (tests/test_layering.py),
loaded on first use (scan/imaging.py) so that the window shows before it is.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, QPointF, Signal
from PySide6.QtGui import QImage, QPolygonF

from ..core.errors import QrlinkError
from ..scan.decoders import DEFAULT_DECODER, Detection
from ..scan.frames import Frame, check_frame
from ..scan.imaging import np
from ..scan.scanner import PreviewFrame, Scanner, ScanStats, SourceArg

log = logging.getLogger(__name__)


_FORMATS = {1: QImage.Format.Format_Grayscale8, 3: QImage.Format.Format_BGR888}


def frame_to_qimage(frame: Frame) -> QImage:
    """A QImage over the frame's own pixels (BGR or grey), without copying them.

    PySide6 keeps the buffer it was given, and so the array, alive until the last copy
    of the image is gone; the scanner never writes to a frame after capture, so sharing
    it with the GUI thread is safe.
    """
    frame = check_frame(frame)
    channels = 1 if frame.ndim == 2 else frame.shape[2]
    if channels == 4:
        frame = frame[:, :, :3]
        channels = 3
    if frame.strides[-1] != 1 or (frame.ndim == 3 and frame.strides[1] != channels):
        frame = np.ascontiguousarray(frame)  # a view with gaps between pixels: pack it
    height, width = frame.shape[:2]
    return QImage(frame.data, width, height, frame.strides[0], _FORMATS[channels])


def qimage_to_frame(image: QImage) -> Frame:
    """The BGR pixels of a QImage, as a frame the decoders read (a pasted picture)."""
    converted = image.convertToFormat(QImage.Format.Format_BGR888)
    height, width, stride = converted.height(), converted.width(), converted.bytesPerLine()
    data = np.frombuffer(converted.constBits(), np.uint8, count=stride * height)
    return data.reshape(height, stride)[:, : width * 3].reshape(height, width, 3).copy()


def outline(detection: Detection) -> QPolygonF:
    return QPolygonF([QPointF(x, y) for x, y in detection.corners])


@dataclass(frozen=True)
class CameraRequest:
    """What to open and how; the window asks, the bridge builds the scanner."""

    source: SourceArg
    decoder: str = DEFAULT_DECODER
    mirror: bool = True
    size: tuple[int, int] | None = None
    label: str = ""


class CameraBridge(QObject):
    # image as captured, outlines as QPolygonF in its pixels, mirrored (draw both flipped)
    frame = Signal(QImage, list, bool)
    code = Signal(str)  # a code confirmed over several frames
    error = Signal(str, str)  # error code, sentence
    notice = Signal(str)  # how scanning runs here, e.g. libzbar missing (not an error)
    stats = Signal(object)  # ScanStats
    finished = Signal()  # the source ended by itself (end of a file, or after an error)
    started = Signal(str)  # label of the source being opened

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.scanner: Scanner | None = None
        self.request: CameraRequest | None = None
        self._generation = 0
        self._frame_pending = threading.Event()
        self.frames_shown = 0
        self.frames_skipped = 0
        self.frame.connect(self._frame_taken)

    # -- control (GUI thread) ------------------------------------------------------------

    def start(self, request: CameraRequest) -> None:
        """(Re)open a source: a new scanner, since one scans once. Returns at once: the
        source is opened on the capture thread, failures arrive as `error`."""
        self.stop()
        self.request = request
        self._generation += 1
        generation = self._generation

        def only_current(callback: Callable[..., None]) -> Callable[..., None]:
            # Callbacks of a replaced scanner may still arrive; drop them.
            def call(*args: Any) -> None:
                if generation == self._generation:
                    callback(*args)

            return call

        width, height = request.size or (None, None)
        try:
            self.scanner = Scanner(
                request.source,
                decoder=request.decoder,
                mirror=request.mirror,
                width=width,
                height=height,
                on_preview=only_current(self._preview),
                on_code=only_current(self.code.emit),
                on_error=only_current(lambda exc: self.error.emit(str(exc.code), exc.message)),
                on_stats=only_current(self.stats.emit),
                on_finished=only_current(self.finished.emit),
            )
        except QrlinkError as exc:  # e.g. pyzbar chosen but libzbar missing
            self.scanner = None
            self.error.emit(str(exc.code), exc.message)
            return
        self.started.emit(request.label or str(request.source))
        if self.scanner.notice:
            self.notice.emit(self.scanner.notice)
        self.scanner.start()

    def stop(self) -> None:
        scanner, self.scanner = self.scanner, None
        self._generation += 1
        self._frame_pending.clear()
        if scanner is not None:
            # A camera stuck in its driver must not hold the window: its threads are
            # daemons and end by themselves.
            scanner.stop(timeout=0.5)

    def set_mirror(self, mirror: bool) -> None:
        if self.scanner is not None:
            self.scanner.mirror = mirror
        if self.request is not None:
            self.request = CameraRequest(
                self.request.source,
                self.request.decoder,
                mirror,
                self.request.size,
                self.request.label,
            )

    def reset(self) -> None:
        """Accept the same code again (a new offer wants a new answer, maybe re-shown)."""
        if self.scanner is not None:
            self.scanner.reset()

    def current_stats(self) -> ScanStats | None:
        return self.scanner.stats() if self.scanner is not None else None

    # -- worker threads ------------------------------------------------------------------

    def _preview(self, preview: PreviewFrame) -> None:
        if self._frame_pending.is_set():
            self.frames_skipped += 1
            return
        self._frame_pending.set()
        image = frame_to_qimage(preview.image)
        self.frame.emit(image, [outline(d) for d in preview.detections], preview.mirrored)

    def _frame_taken(self) -> None:
        # Connected first, so it runs (on the GUI thread) before the viewfinder's slot
        # returns to the loop: the next frame may then be converted and queued.
        self._frame_pending.clear()
        self.frames_shown += 1
