"""The window's middle column: the ways an answer code reaches the till when the page
cannot send it home. The camera (its picker, mirror and decoder), the answer text pasted,
an image opened, dropped or pasted.

It reports what it read (`answer`: the text and where it came from) and what went wrong
(`failed`: a Problem); choices of camera, mirror and decoder go out as a `CameraChoice`
(for the stored settings), and come back through `show_settings` once saved.
"""

from __future__ import annotations

import asyncio
import dataclasses
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QEvent, QObject, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ..core.errors import ErrorCode, QrlinkError
from ..scan.decoders import decoder_names
from ..scan.opening import CameraInfo, list_cameras
from ..scan.scanner import ScanStats, decode_image, decode_image_file
from ..scan.sources import parse_source
from .camera import CameraBridge, CameraRequest, qimage_to_frame
from .notices import Problem, Where
from .settings import Settings
from .viewfinder import Viewfinder

CAMERA_TITLE = "2. Scan the answer code on the customer's phone"
CAMERA_TITLE_FALLBACK = "If the phone shows an answer code: the camera"
ONE_SCAN_HINT = (
    "One scan: the customer's phone sends its answer to this till by itself. The camera "
    "is for a phone that shows an answer code instead (its page hosted elsewhere, or the "
    "guest Wi-Fi keeping it from this till)."
)
VIEWFINDER_MIN_HEIGHT = 180


def camera_label(source: str) -> str:
    try:
        spec = parse_source(source)
    except (QrlinkError, ValueError):
        return source
    return spec.label


@dataclass(frozen=True)
class CameraChoice:
    """The cashier chose a camera, mirroring or a decoder here: for the saved settings."""

    camera: str | None = None
    mirror: bool | None = None
    decoder: str | None = None

    def applied_to(self, settings: Settings) -> Settings:
        return settings.with_overrides(camera=self.camera, mirror=self.mirror, decoder=self.decoder)


def camera_request(settings: Settings) -> CameraRequest:
    s = settings
    return CameraRequest(s.camera, s.decoder, s.mirror, s.size, camera_label(s.camera))


class AnswerColumn(QGroupBox):
    answer = Signal(str, str)  # text, source: camera, paste or image
    failed = Signal(object)  # Problem
    chosen = Signal(object)  # CameraChoice

    def __init__(
        self, camera: CameraBridge, settings: Settings, parent: QWidget | None = None
    ) -> None:
        super().__init__(CAMERA_TITLE, parent)
        self.camera = camera
        self.request = camera_request(settings)  # the camera as the settings ask for it
        self.cameras: list[CameraInfo] = []
        self.camera_notice = ""  # how scanning runs here when not as chosen (libzbar missing)
        self._tasks: set[asyncio.Future[Any]] = set()
        self.viewfinder = Viewfinder()
        self._build()
        self._connect()

    def _build(self) -> None:
        self.camera_picker = QComboBox()
        self.camera_picker.setEditable(True)
        self.camera_picker.setToolTip("Camera number, video file or stream URL; Enter to open")
        self.camera_picker.setMinimumContentsLength(12)
        self.camera_picker.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.mirror_box = QCheckBox("Mirror")
        self.mirror_box.setChecked(self.request.mirror)
        self.decoder_picker = QComboBox()
        self.decoder_picker.addItems(decoder_names())
        self.decoder_picker.setCurrentText(self.request.decoder)
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

        layout = QVBoxLayout(self)
        layout.addLayout(controls)
        layout.addWidget(self.viewfinder)
        layout.addWidget(self.scan_stats)
        layout.addWidget(self.paste_field)
        layout.addLayout(buttons)
        layout.addWidget(self.one_scan_hint)
        layout.addStretch(1)
        # The picture keeps a camera's proportions: the column's height below it goes to
        # the paste field and the hint, not to black bars.
        self.installEventFilter(self)

    def _connect(self) -> None:
        cam = self.camera
        cam.frame.connect(self.viewfinder.show_frame)
        cam.code.connect(lambda text: self.answer.emit(text, "camera"))
        cam.error.connect(self.on_camera_error)
        cam.finished.connect(self.on_camera_finished)
        cam.stats.connect(self.on_scan_stats)
        cam.started.connect(self.on_camera_started)
        cam.notice.connect(self.on_camera_notice)
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

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self and event.type() == QEvent.Type.Resize:
            width = self.contentsRect().width()
            self.viewfinder.setMaximumHeight(max(VIEWFINDER_MIN_HEIGHT, width * 3 // 4))
        return super().eventFilter(watched, event)

    def set_answers_home(self, on: bool) -> None:
        """The page sends its answer home: this column is the fallback, and says so."""
        self.setTitle(CAMERA_TITLE_FALLBACK if on else CAMERA_TITLE)
        self.one_scan_hint.setVisible(on)

    def set_answering(self, can_answer: bool) -> None:
        """Only an offer waiting for its answer takes one pasted or opened."""
        for widget in (self.paste_field, self.paste_button, self.image_button):
            widget.setEnabled(can_answer)

    # -- answers pasted or in images ------------------------------------------------------

    def use_pasted(self) -> None:
        text = self.paste_field.text().strip()
        if not text:
            return
        self.paste_field.clear()
        self.answer.emit(text, "paste")

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
        return self._decoding(path, future)

    def paste_image(self) -> asyncio.Future[Any] | None:
        """The answer code from the clipboard: a picture (a screenshot), or a copied file."""
        mime = QGuiApplication.clipboard().mimeData()
        files = [url.toLocalFile() for url in mime.urls() if url.isLocalFile()] if mime else []
        if files:
            return self.open_image(files[0])
        if mime is None or not mime.hasImage():
            self.failed.emit(
                Problem(
                    Where.IMAGE,
                    ErrorCode.INVALID_ARGUMENT,
                    "the clipboard holds no picture: copy a screenshot of the answer code, "
                    "or its text (then paste it in the answer field)",
                )
            )
            return None
        frame = qimage_to_frame(QGuiApplication.clipboard().image())
        future = asyncio.get_running_loop().run_in_executor(None, decode_image, frame)
        return self._decoding("the pasted picture", future)

    def _decoding(self, path: str, future: asyncio.Future[Any]) -> asyncio.Future[Any]:
        future.add_done_callback(lambda f: self._image_decoded(path, f))
        self._tasks.add(future)
        future.add_done_callback(self._tasks.discard)
        return future

    def _image_decoded(self, path: str, future: asyncio.Future[Any]) -> None:
        try:
            found = future.result()
        except QrlinkError as exc:
            self.failed.emit(Problem(Where.IMAGE, exc.code, exc.message))
            return
        except Exception as exc:
            self.failed.emit(
                Problem(Where.IMAGE, ErrorCode.INVALID_ARGUMENT, f"cannot read {path}: {exc}")
            )
            return
        if not found:
            self.failed.emit(
                Problem(
                    Where.IMAGE,
                    ErrorCode.BOOTSTRAP_PARSE_FAILED,
                    f"no QR code was found in {path}",
                )
            )
            return
        self.answer.emit(found[0].text, "image")

    # -- the camera -----------------------------------------------------------------------

    def start_camera(self) -> None:
        self.retry_camera.hide()
        self.viewfinder.show_message(f"Opening {self.request.label}…")
        self.camera.start(self.request)

    def show_settings(self, settings: Settings) -> None:
        """The saved settings, as they now are: the camera follows them."""
        request = camera_request(settings)
        before, self.request = self.request, request
        for box, value in (
            (self.mirror_box, request.mirror),
            (self.decoder_picker, request.decoder),
        ):
            box.blockSignals(True)
            if isinstance(box, QCheckBox):
                box.setChecked(bool(value))
            else:
                box.setCurrentText(str(value))
            box.blockSignals(False)
        if dataclasses.replace(before, mirror=request.mirror) != request:
            self.start_camera()
        elif before.mirror != request.mirror:
            self.camera.set_mirror(request.mirror)  # the picture flips; nothing reopens

    def on_camera_started(self, label: str) -> None:
        self.retry_camera.hide()
        self.camera_notice = ""
        self._set_camera_picker(str(self.request.source))

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
            f"{stats.capture_fps:.0f} fps · {self.request.decoder} "
            f"{stats.decode_ms:.1f} ms per frame" + (f" — {n}" if (n := self.camera_notice) else "")
        )

    def set_cameras(self, cameras: list[CameraInfo]) -> None:
        self.cameras = cameras
        self._set_camera_picker(str(self.request.source))

    def _set_camera_picker(self, current: str) -> None:
        self.camera_picker.blockSignals(True)
        self.camera_picker.clear()
        for cam in self.cameras:
            self.camera_picker.addItem(f"{cam.index}: {cam.name}", str(cam.index))
        index = self.camera_picker.findData(current)
        if index < 0:
            self.camera_picker.addItem(camera_label(current), current)
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
        if not source:
            return
        if source == str(self.request.source):
            self.start_camera()  # the same camera, chosen again: open it again
        else:
            self.chosen.emit(CameraChoice(camera=source))  # opened once saved

    def on_mirror(self, mirror: bool) -> None:
        self.chosen.emit(CameraChoice(mirror=mirror))

    def on_decoder(self, name: str) -> None:
        if name and name != self.request.decoder:
            self.chosen.emit(CameraChoice(decoder=name))
