"""QR decoders behind one small interface: a frame in, the codes found in it out.

zxing-cpp is the default: on webcam frames of a phone screen it finds more codes, and
faster, than zbar (DESIGN.md §3). pyzbar stays selectable because some cameras and
screens suit it, and it is imported only when asked for, so a machine without libzbar
still scans.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import cv2
import numpy as np

from qrlink_desktop.core.errors import ErrorCode, QrlinkError

Point = tuple[float, float]
Corners = tuple[Point, Point, Point, Point]


@dataclass(frozen=True)
class Detection:
    """A decoded QR code and where it is, in the pixel coordinates of the decoded frame.

    `corners` go round the code (top-left, top-right, bottom-right, bottom-left of the
    symbol as the decoder saw it), ready to draw as a closed outline.
    """

    text: str
    corners: Corners

    @property
    def center(self) -> Point:
        xs, ys = zip(*self.corners, strict=True)
        return (sum(xs) / 4.0, sum(ys) / 4.0)

    def mirrored(self, frame_width: int) -> Detection:
        """The same detection in a left-right mirrored view of a frame this wide."""
        flipped = tuple((frame_width - 1 - x, y) for x, y in self.corners)
        return Detection(self.text, _four(flipped))


@runtime_checkable
class Decoder(Protocol):
    name: str

    def decode(self, frame: np.ndarray) -> list[Detection]:
        """Every QR code found in a BGR or greyscale uint8 frame."""
        ...


def _four(points: Any) -> Corners:
    p = [(float(x), float(y)) for x, y in points]
    return (p[0], p[1], p[2], p[3])


def _check_frame(frame: np.ndarray) -> None:
    if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8:
        raise TypeError("a frame is a numpy uint8 array")
    if frame.ndim not in (2, 3) or (frame.ndim == 3 and frame.shape[2] not in (3, 4)):
        raise ValueError(f"a frame is greyscale (H, W) or BGR (H, W, 3), not {frame.shape}")


def _grey(frame: np.ndarray) -> np.ndarray:
    _check_frame(frame)
    if frame.ndim == 2:
        return np.ascontiguousarray(frame)
    code = cv2.COLOR_BGRA2GRAY if frame.shape[2] == 4 else cv2.COLOR_BGR2GRAY
    return cv2.cvtColor(frame, code)


class ZxingDecoder:
    """zxing-cpp, restricted to QR codes, trying hard.

    It finds codes at any rotation, light-on-dark (a phone in dark mode) and mirrored (a
    selfie camera's flipped image) on its own, so no second pass is needed here.
    """

    name = "zxing"

    def __init__(self) -> None:
        try:
            zxingcpp = importlib.import_module("zxingcpp")
        except ImportError as exc:
            raise QrlinkError(
                ErrorCode.INVALID_ARGUMENT,
                f"The zxing decoder needs the zxing-cpp package (pip install zxing-cpp). ({exc})",
            ) from exc
        self._zxing = zxingcpp
        self._formats = zxingcpp.BarcodeFormat.QRCode

    def decode(self, frame: np.ndarray) -> list[Detection]:
        # Decoding grey skips a colour conversion inside zxing for every downscale it tries.
        grey = _grey(frame)
        results = self._zxing.read_barcodes(
            grey,
            formats=self._formats,
            try_rotate=True,
            try_downscale=True,
            try_invert=True,
        )
        detections = []
        for result in results:
            if not result.valid:
                continue
            p = result.position
            corners = (p.top_left, p.top_right, p.bottom_right, p.bottom_left)
            detections.append(Detection(result.text, _four((c.x, c.y) for c in corners)))
        return detections


class PyzbarDecoder:
    """zbar through pyzbar, restricted to QR codes.

    zbar reads mirrored codes on its own but not light-on-dark ones, so a frame that
    yields nothing is tried again inverted: a frame with no code costs two passes.
    """

    name = "pyzbar"

    def __init__(self, *, try_inverted: bool = True) -> None:
        try:
            pyzbar = importlib.import_module("pyzbar.pyzbar")
        except ImportError as exc:  # pyzbar missing, or it could not load libzbar
            raise QrlinkError(
                ErrorCode.INVALID_ARGUMENT,
                "The pyzbar decoder needs the pyzbar package and the zbar library "
                "(on Debian or Ubuntu: apt install libzbar0; then pip install pyzbar). "
                f"Choose the zxing decoder instead. ({exc})",
            ) from exc
        self._pyzbar = pyzbar
        self._symbols = [pyzbar.ZBarSymbol.QRCODE]
        self.try_inverted = try_inverted

    def decode(self, frame: np.ndarray) -> list[Detection]:
        grey = _grey(frame)
        found = self._read(grey)
        if not found and self.try_inverted:
            found = self._read(255 - grey)
        return found

    def _read(self, grey: np.ndarray) -> list[Detection]:
        detections = []
        for result in self._pyzbar.decode(grey, symbols=self._symbols):
            # zbar guesses a text encoding; our codes are ASCII, anything else is foreign.
            text = result.data.decode("utf-8", errors="replace")
            detections.append(Detection(text, _corners_of_polygon(result.polygon)))
        return detections


def _corners_of_polygon(polygon: Any) -> Corners:
    points: np.ndarray = np.array([(p.x, p.y) for p in polygon], np.float32)
    if len(points) != 4:
        # zbar can report a hull with more points; reduce it to the enclosing quad.
        points = cv2.boxPoints(cv2.minAreaRect(points))
    return _four(points)


_FACTORIES: dict[str, Callable[[], Decoder]] = {
    "zxing": ZxingDecoder,
    "pyzbar": PyzbarDecoder,
}

DEFAULT_DECODER = "zxing"


def decoder_names() -> list[str]:
    """Every decoder this build knows of, available here or not."""
    return list(_FACTORIES)


def get_decoder(name: str = DEFAULT_DECODER) -> Decoder:
    """A decoder by name ("zxing" or "pyzbar"); a QrlinkError if unknown or unusable."""
    factory = _FACTORIES.get(name.strip().lower())
    if factory is None:
        known = ", ".join(_FACTORIES)
        raise QrlinkError(
            ErrorCode.INVALID_ARGUMENT, f"Unknown QR decoder {name!r}; choose one of {known}."
        )
    return factory()


def available_decoders() -> list[str]:
    """The decoders that can run on this machine, the default first."""
    names = []
    for name in _FACTORIES:
        try:
            get_decoder(name)
        except (QrlinkError, ImportError):
            continue
        names.append(name)
    return names
