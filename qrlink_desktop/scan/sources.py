"""Where frames come from: a camera by index, a video file, or a stream URL.

All three are read by OpenCV's `cv2.VideoCapture`, so a test that plays a recorded (or
synthetic) video goes through the same reading, pacing and error handling as a webcam.
How each is opened (a camera with its platform's native backend, a path as a file and
anything with a scheme, `http://…/video.mjpg` or `rtsp://…`, as a stream, both through
FFmpeg) is opening.py's; this module names the source, reads and paces its frames, and
says in a sentence why one cannot be used.

Frames are BGR uint8 numpy arrays (scan/frames.py).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Protocol, runtime_checkable
from urllib.parse import urlsplit, urlunsplit

from qrlink_desktop.core.errors import ErrorCode, QrlinkError

from .frames import Frame
from .imaging import cv2
from .opening import (
    CAMERA_FPS,
    device_node,
    open_device,
    open_file,
    open_with,
    stream_opening,
)
from .rates import RateMeter


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

    def read(self) -> Frame | None:
        """The next BGR frame; None at the end of a file or when a live read fails."""
        ...

    def close(self) -> None: ...


class VideoSource:
    """A `FrameSource` over an open `cv2.VideoCapture`.

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
        backend: str | None = None,
    ) -> None:
        self.spec = spec
        self._realtime = realtime and spec.kind is SourceKind.FILE
        self._loop = loop and spec.kind is SourceKind.FILE
        self._clock = clock
        self._sleep = sleep
        self._ended = False
        self._closed = False
        self._played = 0  # frames delivered since the (re)start of playback
        self._started_at: float | None = None
        self._meter = RateMeter()
        self._pending: Frame | None = None
        self._attach(capture)
        self.backend = backend if backend is not None else self._backend_name()

    def _attach(self, capture: cv2.VideoCapture) -> None:
        self._capture = capture
        # Read now: a released capture answers 0 to everything.
        self._frame_size = (
            int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)),
            int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)),
        )
        count = capture.get(cv2.CAP_PROP_FRAME_COUNT)
        self._frame_count = int(count) if count == count and count > 0 else 0
        fps = float(capture.get(cv2.CAP_PROP_FPS))
        # OpenCV reports 0, NaN, or absurd values (90000 for some streams) for unknown.
        self._nominal_fps = fps if 0.5 <= fps <= 1000.0 else None

    def _backend_name(self) -> str:
        try:
            return str(self._capture.getBackendName())
        except cv2.error:
            return ""

    @property
    def live(self) -> bool:
        return self.spec.kind is not SourceKind.FILE or self._realtime

    @property
    def ended(self) -> bool:
        return self._ended

    @property
    def nominal_fps(self) -> float | None:
        """The frame rate the camera or file declares (None when it declares none)."""
        return self._nominal_fps

    def measured_fps(self, now: float | None = None) -> float:
        """Frames per second actually delivered over the last two seconds."""
        return self._meter.rate(self._clock() if now is None else now)

    @property
    def frame_size(self) -> tuple[int, int]:
        """(width, height) as the capture reported it when opened."""
        return self._frame_size

    @property
    def frame_count(self) -> int | None:
        """Frames in a file (as its header says), None for live sources."""
        if self.spec.kind is not SourceKind.FILE:
            return None
        return self._frame_count or None

    def prime(self) -> bool:
        """Read one frame ahead to prove the source really delivers; kept for read()."""
        if self._pending is None and not self._closed:
            self._pending = self._grab_next()
        return self._pending is not None

    def read(self) -> Frame | None:
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

    def _grab_next(self) -> Frame | None:
        ok, frame = self._capture.read()
        return frame if ok and frame is not None and frame.size else None

    def _next_frame(self) -> Frame | None:
        if self._pending is not None:
            pending, self._pending = self._pending, None
            return pending
        frame = self._grab_next()
        if frame is not None or self.spec.kind is not SourceKind.FILE:
            return frame  # a live source that missed a frame: the caller decides when it is lost
        if self._loop and self._rewind():
            frame = self._grab_next()
            if frame is not None:
                return frame
        self._ended = True
        return None

    def _due(self) -> float:
        if self._started_at is None:
            self._started_at = self._clock()
        return self._started_at + self._played / (self.nominal_fps or CAMERA_FPS)

    def _skip_late_frames(self) -> None:
        """Behind by a frame or more: skip to the frame showing now, as a camera would,
        rather than play old frames late."""
        behind = int((self._clock() - self._due()) * (self.nominal_fps or CAMERA_FPS))
        for _ in range(behind):
            # grab() demuxes and decodes without converting: a frame of inter-coded
            # video needs the ones before it.
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
        """Start the file over by opening it again: unlike seeking, that works the same
        for every container, indexed or not, and notices a file deleted meanwhile."""
        self._played = 0
        self._started_at = None
        self._capture.release()
        capture = open_file(str(self.spec.target))
        if capture is None:
            return False
        self._attach(capture)
        return True

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._pending = None
            self._capture.release()

    def __enter__(self) -> VideoSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __iter__(self) -> Iterator[Frame]:
        while (frame := self.read()) is not None:
            yield frame


def open_source(
    spec: str | int,
    width: int | None = None,
    height: int | None = None,
    *,
    fps: float | None = CAMERA_FPS,
    realtime: bool = False,
    loop: bool = False,
) -> VideoSource:
    """Open a camera index, video file or stream URL; a QrlinkError if it cannot be used.

    `width`, `height` and `fps` are asked of a camera (it may pick the nearest it has);
    files and streams play at their own size and rate. `realtime` and `loop` apply to
    files. Opening a camera or stream can take a second or more: call this off the GUI
    thread.
    """
    parsed = parse_source(spec)
    target = str(parsed.target)
    capture: cv2.VideoCapture | None = None
    backend: str | None = None
    if parsed.kind is SourceKind.DEVICE:
        opened = open_device(int(parsed.target), width, height, fps)
        if opened is not None:
            capture, opening = opened
            backend = opening.backend
    elif parsed.kind is SourceKind.STREAM:
        capture = open_with(stream_opening(target))
    else:
        if not Path(target).is_file():
            raise QrlinkError(
                ErrorCode.INVALID_ARGUMENT, f"Cannot open video file {target}: no such file."
            )
        capture = open_file(target)
    if capture is None:
        raise QrlinkError(ErrorCode.INVALID_ARGUMENT, _cannot_open(parsed))
    source = VideoSource(capture, parsed, realtime=realtime, loop=loop, backend=backend)
    if parsed.kind is SourceKind.FILE and not source.prime():
        source.close()
        raise QrlinkError(ErrorCode.INVALID_ARGUMENT, _cannot_open(parsed))
    return source


def _cannot_open(spec: SourceSpec) -> str:
    if spec.kind is SourceKind.DEVICE:
        node = device_node(int(spec.target))
        if node is not None and node.exists() and not os.access(node, os.R_OK | os.W_OK):
            return (
                f"Permission denied for the camera at index {spec.target} ({node}): "
                "add your user to the 'video' group, or paste the answer instead."
            )
        return f"No camera found at index {spec.target}."
    if spec.kind is SourceKind.STREAM:
        return f"Cannot open camera stream {redact_url(str(spec.target))}."
    return f"Cannot open video file {spec.target}: it holds no video we can decode."
