"""QR decoders behind one small interface: a frame in, the codes found in it out.

zxing-cpp is the default: on webcam frames of a phone screen it finds more codes, and
faster, than zbar (DESIGN.md §3). pyzbar stays selectable because some cameras and
screens suit it, and it is imported only when asked for, so a machine without libzbar
still scans.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from qrlink_desktop.core.errors import ErrorCode, QrlinkError

from .frames import Frame, Grey, grey

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

    def decode(self, frame: Frame) -> list[Detection]:
        """Every QR code found in a frame, whatever its pixel format."""
        ...


def _four(points: Any) -> Corners:
    p = [(float(x), float(y)) for x, y in points]
    return (p[0], p[1], p[2], p[3])


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

    def decode(self, frame: Frame) -> list[Detection]:
        # Decoding grey skips a colour conversion inside zxing for every downscale it tries.
        results = self._zxing.read_barcodes(
            grey(frame).view(),
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

    def decode(self, frame: Frame) -> list[Detection]:
        image = grey(frame)
        found = self._read(image)
        if not found and self.try_inverted:
            found = self._read(image.inverted())
        return found

    def _read(self, image: Grey) -> list[Detection]:
        detections = []
        pixels = (image.data, image.width, image.height)
        for result in self._pyzbar.decode(pixels, symbols=self._symbols):
            # zbar guesses a text encoding; our codes are ASCII, anything else is foreign.
            text = result.data.decode("utf-8", errors="replace")
            detections.append(Detection(text, _corners_of_polygon(result.polygon)))
        return detections


def _corners_of_polygon(polygon: Any) -> Corners:
    points = [(float(p.x), float(p.y)) for p in polygon]
    if len(points) != 4:
        # zbar can report a hull with more points; reduce it to the enclosing quad.
        return _four(min_area_rect(points))
    return _four(points)


def _hull(points: list[Point]) -> list[Point]:
    """Convex hull, counter-clockwise (Andrew's monotone chain)."""
    pts = sorted(set(points))
    if len(pts) <= 2:
        return pts

    def cross(o: Point, a: Point, b: Point) -> float:
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])

    lower: list[Point] = []
    upper: list[Point] = []
    for p in pts:
        while len(lower) >= 2 and cross(lower[-2], lower[-1], p) <= 0:
            lower.pop()
        lower.append(p)
    for p in reversed(pts):
        while len(upper) >= 2 and cross(upper[-2], upper[-1], p) <= 0:
            upper.pop()
        upper.append(p)
    return lower[:-1] + upper[:-1]


def min_area_rect(points: list[Point]) -> list[Point]:
    """The four corners of the smallest rectangle around the points, in order round it.

    One side of the smallest enclosing rectangle lies on a hull edge, so trying each edge's
    direction finds it; zbar's polygons have a handful of points.
    """
    hull = _hull(points)
    if len(hull) == 1:
        return hull * 4
    best: tuple[float, list[Point]] | None = None
    for i, (x0, y0) in enumerate(hull):
        x1, y1 = hull[(i + 1) % len(hull)]
        length = math.hypot(x1 - x0, y1 - y0)
        if length == 0:
            continue
        ux, uy = (x1 - x0) / length, (y1 - y0) / length  # along the edge
        us = [x * ux + y * uy for x, y in hull]
        vs = [-x * uy + y * ux for x, y in hull]
        u0, u1, v0, v1 = min(us), max(us), min(vs), max(vs)
        area = (u1 - u0) * (v1 - v0)
        if best is None or area < best[0]:
            corners = [(u0, v0), (u1, v0), (u1, v1), (u0, v1)]
            best = (area, [(u * ux - v * uy, u * uy + v * ux) for u, v in corners])
    assert best is not None
    return best[1]


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
