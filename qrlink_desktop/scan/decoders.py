"""QR decoders behind one small interface: a frame in, the codes found in it out.

Three choices, all reading the frame's grey plane:

- `zxing+pyzbar` (the default): zxing-cpp on every frame and, on a frame where it finds
  nothing, zbar (through pyzbar) on the same grey pixels, as long as zbar stays within
  its time budget (`PYZBAR_SHARE` of the time, so decoding keeps pace with the camera).
  The two miss different frames, so together they read more than either alone
  (docs/scan.md). Without libzbar it says so once and goes on with zxing-cpp alone.
- `zxing`: zxing-cpp alone, the fastest (~1.5 ms a 720p frame).
- `pyzbar`: zbar alone (~20 ms), for a camera and screen that suit it.
"""

from __future__ import annotations

import importlib
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from qrlink_desktop.core.errors import ErrorCode, QrlinkError

from .frames import Frame, grey
from .imaging import cv2

log = logging.getLogger(__name__)

Point = tuple[float, float]
Corners = tuple[Point, Point, Point, Point]

# The share of the time zbar may take in the combined decoder: at most half a core, so a
# 30 fps camera's frames are still all read by zxing-cpp and shown on time.
PYZBAR_SHARE = 0.5
# How much unused budget carries over: one zbar pass on a hard frame (p95 ~50 ms), not
# a long idle spell's worth, which would let zbar hog the decode thread afterwards.
PYZBAR_BURST = 0.06


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


@runtime_checkable
class Decoder(Protocol):
    name: str

    def decode(self, frame: Frame) -> list[Detection]:
        """Every QR code found in a frame (BGR or grey)."""
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
        return self.decode_grey(grey(frame))

    def decode_grey(self, image: Frame) -> list[Detection]:
        # Grey in: zxing skips its own colour conversion for every downscale it tries.
        results = self._zxing.read_barcodes(
            image,
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


def _missing_zbar(exc: BaseException) -> QrlinkError:
    return QrlinkError(
        ErrorCode.INVALID_ARGUMENT,
        "The pyzbar decoder needs the zbar library "
        "(on Debian or Ubuntu: apt install libzbar0; on macOS: brew install zbar). "
        f"Choose the zxing decoder instead. ({exc})",
    )


class PyzbarDecoder:
    """zbar through pyzbar, restricted to QR codes.

    zbar reads mirrored codes on its own but not light-on-dark ones, so a frame that
    yields nothing is tried again inverted (unless `try_inverted` is off: the combined
    decoder leaves light-on-dark codes to zxing-cpp, which reads them anyway).
    """

    name = "pyzbar"

    def __init__(self, *, try_inverted: bool = True) -> None:
        try:
            pyzbar = importlib.import_module("pyzbar.pyzbar")
        except ImportError as exc:  # pyzbar could not load libzbar
            raise _missing_zbar(exc) from exc
        self._pyzbar = pyzbar
        self._symbols = [pyzbar.ZBarSymbol.QRCODE]
        self.try_inverted = try_inverted

    def decode(self, frame: Frame) -> list[Detection]:
        return self.decode_grey(grey(frame))

    def decode_grey(self, image: Frame) -> list[Detection]:
        found = self._read(image)
        if not found and self.try_inverted:
            found = self._read(cv2.bitwise_not(image))
        return found

    def _read(self, image: Frame) -> list[Detection]:
        height, width = image.shape
        detections = []
        for result in self._pyzbar.decode((image.tobytes(), width, height), symbols=self._symbols):
            # zbar guesses a text encoding; our codes are ASCII, anything else is foreign.
            text = result.data.decode("utf-8", errors="replace")
            detections.append(Detection(text, _corners_of_polygon(result.polygon)))
        return detections


class TimeBudget:
    """A share of the clock's time that work may take on average, with a small carry-over.

    Credit grows by `share` seconds per second of `clock` up to `burst`; work may start
    while the credit is positive and costs what it took. `clock` is the time frames
    arrive in: the camera's in the app, a simulated 30 fps one in the benchmark.
    """

    def __init__(
        self, share: float, burst: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if not 0.0 < share <= 1.0:
            raise ValueError(f"a time share runs from 0 to 1, not {share}")
        self.share = share
        self.burst = burst
        self._clock = clock
        self._credit = burst
        self._at = clock()

    def allows(self) -> bool:
        now = self._clock()
        self._credit = min(self.burst, self._credit + (now - self._at) * self.share)
        self._at = now
        return self._credit > 0.0

    def spend(self, seconds: float) -> None:
        self._credit -= seconds


class ZxingThenPyzbar:
    """zxing-cpp on every frame; pyzbar on the same grey frame where zxing found nothing.

    zbar takes ~15x longer than zxing-cpp, so it runs within a `TimeBudget`: a frame that
    finds the budget spent is left to zxing alone, and the decode thread keeps up with the
    camera. `passes`, `rescued` and `skipped` count what zbar did. Without libzbar,
    `notice` says so in one sentence and every frame goes to zxing-cpp alone.
    """

    name = "zxing+pyzbar"

    def __init__(
        self,
        *,
        share: float = PYZBAR_SHARE,
        burst: float = PYZBAR_BURST,
        clock: Callable[[], float] = time.monotonic,
        timer: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.zxing = ZxingDecoder()
        self.pyzbar: PyzbarDecoder | None
        self.notice: str | None = None
        try:
            self.pyzbar = PyzbarDecoder(try_inverted=False)
        except QrlinkError as exc:
            self.pyzbar = None
            self.notice = (
                "The zbar library is missing, so frames zxing-cpp cannot read are not "
                "tried with pyzbar (on Debian or Ubuntu: apt install libzbar0)."
            )
            log.warning("%s (%s)", self.notice, exc.message)
        self.budget = TimeBudget(share, burst, clock)
        self._timer = timer
        self.passes = 0  # frames zbar looked at
        self.rescued = 0  # frames only zbar read
        self.skipped = 0  # frames zxing missed that found zbar's budget spent

    def decode(self, frame: Frame) -> list[Detection]:
        image = grey(frame)
        found = self.zxing.decode_grey(image)
        if found or self.pyzbar is None:
            return found
        if not self.budget.allows():
            self.skipped += 1
            return []
        started = self._timer()
        found = self.pyzbar.decode_grey(image)
        self.budget.spend(self._timer() - started)
        self.passes += 1
        self.rescued += bool(found)
        return found


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
    "zxing+pyzbar": ZxingThenPyzbar,
    "zxing": ZxingDecoder,
    "pyzbar": PyzbarDecoder,
}

DEFAULT_DECODER = "zxing+pyzbar"


def decoder_names() -> list[str]:
    """Every decoder this build knows of, available here or not."""
    return list(_FACTORIES)


def get_decoder(name: str = DEFAULT_DECODER) -> Decoder:
    """A decoder by name ("zxing+pyzbar", "zxing" or "pyzbar"); a QrlinkError if unknown
    or unusable (pyzbar alone without libzbar)."""
    factory = _FACTORIES.get(name.strip().lower())
    if factory is None:
        known = ", ".join(_FACTORIES)
        raise QrlinkError(
            ErrorCode.INVALID_ARGUMENT, f"Unknown QR decoder {name!r}; choose one of {known}."
        )
    return factory()


def available_decoders() -> list[str]:
    """The decoders that can run on this machine, the default first (it always runs: on
    zxing-cpp alone when libzbar is missing)."""
    names = []
    for name in _FACTORIES:
        try:
            get_decoder(name)
        except (QrlinkError, ImportError):
            continue
        names.append(name)
    return names
