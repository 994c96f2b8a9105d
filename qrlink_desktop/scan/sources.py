"""Where frames come from: a camera by index, a video file, or a stream URL.

All three go through OpenCV's VideoCapture, so a test that plays a recorded (or
synthetic) video exercises the same path as a real webcam. `open_source("0")` is the
first camera; a path is a file; anything with a scheme (`http://…/video.mjpg`,
`rtsp://…`) is a stream.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Protocol, runtime_checkable
from urllib.parse import urlsplit, urlunsplit

import cv2
import numpy as np

from qrlink_desktop.core.errors import ErrorCode, QrlinkError

from .rates import RateMeter

# A stream that does not answer must fail in seconds, not after FFmpeg's default minutes.
STREAM_TIMEOUT_MS = 5000


class SourceKind(StrEnum):
    DEVICE = "device"
    FILE = "file"
    STREAM = "stream"


@dataclass(frozen=True)
class SourceSpec:
    kind: SourceKind
    target: int | str  # camera index, file path or URL
    text: str  # what the person typed, for messages

    @property
    def label(self) -> str:
        """How to name this source to a person (passwords in URLs hidden)."""
        if self.kind is SourceKind.DEVICE:
            return f"camera {self.target}"
        if self.kind is SourceKind.STREAM:
            return f"stream {redact_url(str(self.target))}"
        return f"video file {self.target}"


def parse_source(spec: str | int) -> SourceSpec:
    """Read a --camera argument: digits are a camera index, a scheme makes a URL."""
    if isinstance(spec, int):
        if spec < 0:
            raise QrlinkError(ErrorCode.INVALID_ARGUMENT, f"Camera index {spec} is negative.")
        return SourceSpec(SourceKind.DEVICE, spec, str(spec))
    text = spec.strip()
    if not text:
        raise QrlinkError(ErrorCode.INVALID_ARGUMENT, "No camera source given.")
    if text.isdigit():
        return SourceSpec(SourceKind.DEVICE, int(text), text)
    if "://" in text:
        return SourceSpec(SourceKind.STREAM, text, text)
    return SourceSpec(SourceKind.FILE, text, text)


def redact_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None and parts.username is None:
        return url
    host = parts.hostname or ""
    netloc = f"***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


@runtime_checkable
class FrameSource(Protocol):
    """What the scanner reads from; `VideoSource` is the real one, tests may fake it."""

    spec: SourceSpec

    @property
    def live(self) -> bool:
        """True when frames arrive on their own schedule and unread ones are lost."""
        ...

    @property
    def ended(self) -> bool:
        """True once a file has played to its end (never for live sources)."""
        ...

    @property
    def nominal_fps(self) -> float | None: ...

    def read(self) -> np.ndarray | None:
        """The next BGR frame; None at the end of a file or when a live read fails."""
        ...

    def close(self) -> None: ...


class VideoSource:
    """A `FrameSource` over cv2.VideoCapture.

    A file plays as fast as it is read, or at its own frame rate with `realtime=True`
    (falling behind drops frames, as a camera would); with `loop=True` it starts over at
    the end instead of ending.
    """

    def __init__(
        self,
        capture: cv2.VideoCapture,
        spec: SourceSpec,
        *,
        realtime: bool = False,
        loop: bool = False,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.spec = spec
        self._capture = capture
        self._realtime = realtime and spec.kind is SourceKind.FILE
        self._loop = loop and spec.kind is SourceKind.FILE
        self._clock = clock
        self._sleep = sleep
        self._ended = False
        self._closed = False
        self._played = 0  # frames delivered since the (re)start of playback
        self._started_at: float | None = None
        self._meter = RateMeter()
        self._pending: np.ndarray | None = None

    @property
    def live(self) -> bool:
        return self.spec.kind is not SourceKind.FILE or self._realtime

    @property
    def ended(self) -> bool:
        return self._ended

    @property
    def nominal_fps(self) -> float | None:
        """The frame rate the camera or file declares (None when it declares none)."""
        fps = float(self._capture.get(cv2.CAP_PROP_FPS))
        # OpenCV reports 0, NaN, or absurd values (90000 for some streams) for unknown.
        return fps if 0.5 <= fps <= 1000.0 else None

    def measured_fps(self, now: float | None = None) -> float:
        """Frames per second actually delivered over the last two seconds."""
        return self._meter.rate(self._clock() if now is None else now)

    @property
    def frame_size(self) -> tuple[int, int]:
        """(width, height) as the capture reports it; 0 before the first frame for some."""
        return (
            int(self._capture.get(cv2.CAP_PROP_FRAME_WIDTH)),
            int(self._capture.get(cv2.CAP_PROP_FRAME_HEIGHT)),
        )

    @property
    def frame_count(self) -> int | None:
        """Frames in a file (as its header says), None for live sources."""
        if self.spec.kind is not SourceKind.FILE:
            return None
        count = int(self._capture.get(cv2.CAP_PROP_FRAME_COUNT))
        return count if count > 0 else None

    def prime(self) -> bool:
        """Read one frame ahead to prove the source really delivers; kept for read()."""
        ok, frame = self._capture.read()
        if ok and frame is not None:
            self._pending = frame
            return True
        return False

    def read(self) -> np.ndarray | None:
        if self._closed or self._ended:
            return None
        if self._realtime:
            self._skip_late_frames()
        frame = self._next_frame()
        if frame is None:
            return None
        if self._realtime:
            # Decode first, then wait: the decoding time is part of the frame interval,
            # and the end of a file is found without waiting for it.
            self._wait_until_due()
        self._played += 1
        self._meter.tick(self._clock())
        return frame

    def _next_frame(self) -> np.ndarray | None:
        if self._pending is not None:
            frame, self._pending = self._pending, None
            return frame
        ok, frame = self._capture.read()
        if ok and frame is not None:
            return frame
        if self.spec.kind is not SourceKind.FILE:
            return None  # a live source missed a frame; the caller decides when it is lost
        if self._loop and self._rewind():
            ok, frame = self._capture.read()
            if ok and frame is not None:
                return frame
        self._ended = True
        return None

    def _due(self) -> float:
        if self._started_at is None:
            self._started_at = self._clock()
        return self._started_at + self._played / (self.nominal_fps or 30.0)

    def _skip_late_frames(self) -> None:
        """Behind by a frame or more: skip to the frame showing now, as a camera would,
        rather than play old frames late."""
        behind = int((self._clock() - self._due()) * (self.nominal_fps or 30.0))
        for _ in range(behind):
            if self._pending is not None:
                self._pending = None
            elif not self._capture.grab():
                break
            self._played += 1

    def _wait_until_due(self) -> None:
        wait = self._due() - self._clock()
        if wait > 0:
            self._sleep(wait)

    def _rewind(self) -> bool:
        self._played = 0
        self._started_at = None
        return bool(self._capture.set(cv2.CAP_PROP_POS_FRAMES, 0))

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._capture.release()

    def __enter__(self) -> VideoSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __iter__(self) -> Iterator[np.ndarray]:
        while (frame := self.read()) is not None:
            yield frame


@contextlib.contextmanager
def _quiet_opencv() -> Iterator[None]:
    """Silence OpenCV's own warnings while probing: our error says it better."""
    logging = getattr(getattr(cv2, "utils", None), "logging", None)
    if logging is None:
        yield
        return
    previous = logging.getLogLevel()
    logging.setLogLevel(logging.LOG_LEVEL_ERROR)
    try:
        yield
    finally:
        logging.setLogLevel(previous)


def _device_node(index: int) -> Path | None:
    """The V4L2 node of a camera index on Linux; None elsewhere."""
    return Path(f"/dev/video{index}") if sys.platform.startswith("linux") else None


def _open_capture(target: int | str, params: list[int]) -> cv2.VideoCapture:
    with _quiet_opencv():
        return cv2.VideoCapture(target, cv2.CAP_ANY, params)


def open_source(
    spec: str | int,
    width: int | None = None,
    height: int | None = None,
    *,
    realtime: bool = False,
    loop: bool = False,
) -> VideoSource:
    """Open a camera index, video file or stream URL; a QrlinkError if it cannot be used.

    `width`/`height` ask a camera for a resolution (it may pick the nearest it has);
    files and streams play at their own size. `realtime` and `loop` apply to files.
    Opening a camera or stream can take a second or more: call this off the GUI thread.
    """
    parsed = parse_source(spec)
    params: list[int] = []
    if parsed.kind is SourceKind.STREAM:
        params = [
            cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
            STREAM_TIMEOUT_MS,
            cv2.CAP_PROP_READ_TIMEOUT_MSEC,
            STREAM_TIMEOUT_MS,
        ]
    if parsed.kind is SourceKind.FILE and not Path(str(parsed.target)).is_file():
        raise QrlinkError(
            ErrorCode.INVALID_ARGUMENT, f"Cannot open video file {parsed.target}: no such file."
        )
    capture = _open_capture(parsed.target, params)
    if not capture.isOpened():
        capture.release()
        raise QrlinkError(ErrorCode.INVALID_ARGUMENT, _cannot_open(parsed))
    if parsed.kind is SourceKind.DEVICE:
        if width:
            capture.set(cv2.CAP_PROP_FRAME_WIDTH, width)
        if height:
            capture.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
        # One buffered frame: a deeper driver queue would show the customer's phone
        # where it was a few frames ago.
        capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)
    source = VideoSource(capture, parsed, realtime=realtime, loop=loop)
    if parsed.kind is SourceKind.FILE and not source.prime():
        source.close()
        raise QrlinkError(
            ErrorCode.INVALID_ARGUMENT,
            f"Cannot open video file {parsed.target}: it holds no frame OpenCV can decode.",
        )
    return source


def _cannot_open(spec: SourceSpec) -> str:
    if spec.kind is SourceKind.DEVICE:
        node = _device_node(int(spec.target))
        if node is not None and node.exists() and not os.access(node, os.R_OK | os.W_OK):
            return (
                f"Permission denied for the camera at index {spec.target} ({node}): "
                "add your user to the 'video' group, or paste the answer instead."
            )
        return f"No camera found at index {spec.target}."
    if spec.kind is SourceKind.STREAM:
        return f"Cannot open camera stream {redact_url(str(spec.target))}."
    return f"Cannot open video file {spec.target}: OpenCV cannot decode it."


@dataclass(frozen=True)
class CameraInfo:
    index: int
    name: str
    width: int
    height: int


def _camera_name(index: int) -> str:
    try:
        return Path(f"/sys/class/video4linux/video{index}/name").read_text().strip()
    except OSError:
        return f"Camera {index}"


def _might_exist(index: int) -> bool:
    node = _device_node(index)
    return node is None or node.exists()


def list_cameras(max_index: int = 5) -> list[CameraInfo]:
    """Cameras at indices 0..max_index-1 that open, without reading a frame.

    On Linux an index with no /dev/video node is skipped without opening anything, so
    a machine with no camera answers at once.
    """
    cameras = []
    for index in range(max_index):
        if not _might_exist(index):
            continue
        capture = _open_capture(index, [])
        try:
            if not capture.isOpened():
                continue
            cameras.append(
                CameraInfo(
                    index,
                    _camera_name(index),
                    int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)),
                    int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)),
                )
            )
        finally:
            capture.release()
    return cameras
