"""Where frames come from: a camera by index, a video file, or a stream URL.

All three are read by OpenCV's `cv2.VideoCapture`, so a test that plays a recorded (or
synthetic) video goes through the same reading, pacing and error handling as a webcam.
A camera is opened with its platform's native backend, named explicitly rather than left
to OpenCV's guess: V4L2 on Linux, Media Foundation and then DirectShow on Windows,
AVFoundation on macOS (`camera_openings`). A path is a file and anything with a scheme
(`http://…/video.mjpg`, `rtsp://…`) a stream, both through OpenCV's FFmpeg backend.

Frames are BGR uint8 numpy arrays (scan/frames.py).
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Protocol, runtime_checkable
from urllib.parse import urlsplit, urlunsplit

from qrlink_desktop.core.errors import ErrorCode, QrlinkError

from .frames import Frame
from .imaging import cv2
from .rates import RateMeter

# A stream that does not answer must fail in seconds, not after FFmpeg's default minutes.
STREAM_TIMEOUT_MS = 5000
# A camera that delivers nothing for this long makes read() give up, where the backend
# lets us say so (V4L2, FFmpeg); the scanner's watchdog covers the backends that do not.
READ_TIMEOUT_MS = 2000
# What a camera is asked for when the caller names no rate: what webcams deliver at 720p.
CAMERA_FPS = 30.0


def camera_backends(platform: str | None = None) -> tuple[int, ...]:
    """cv2.VideoCapture's backends for a camera index on `platform`, in the order tried."""
    platform = platform or sys.platform
    if platform.startswith("linux"):
        return (cv2.CAP_V4L2,)
    if platform == "win32":
        # Media Foundation is Windows' current camera API; DirectShow still reaches
        # cameras whose drivers only speak it (older capture cards, some virtual cameras).
        return (cv2.CAP_MSMF, cv2.CAP_DSHOW)
    if platform == "darwin":
        return (cv2.CAP_AVFOUNDATION,)
    return (cv2.CAP_ANY,)


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


@dataclass(frozen=True)
class Opening:
    """One way of opening a source: what `cv2.VideoCapture` is given, then asked for.

    `params` go to the constructor: a backend that does not know one refuses to open, so
    only what the backend is known to take goes there. `requests` are set once it is
    open, each on its own: a camera may refuse a size or rate, and then keeps its own.
    """

    target: int | str
    api: int
    params: tuple[int, ...] = ()
    requests: tuple[tuple[int, float], ...] = ()

    @property
    def backend(self) -> str:
        # By our own table: OpenCV names only the backends built into this copy of it.
        names = {
            cv2.CAP_ANY: "ANY",
            cv2.CAP_V4L2: "V4L2",
            cv2.CAP_MSMF: "MSMF",
            cv2.CAP_DSHOW: "DSHOW",
            cv2.CAP_AVFOUNDATION: "AVFOUNDATION",
            cv2.CAP_FFMPEG: "FFMPEG",
        }
        return names.get(self.api) or cv2.videoio_registry.getBackendName(self.api)


def camera_openings(
    index: int,
    width: int | None = None,
    height: int | None = None,
    fps: float | None = CAMERA_FPS,
    platform: str | None = None,
) -> list[Opening]:
    """How to open the camera at `index` on `platform` (this one by default), best first."""
    return [
        Opening(index, api, (), _camera_requests(api, width, height, fps))
        for api in camera_backends(platform)
    ]


def _camera_requests(
    api: int, width: int | None, height: int | None, fps: float | None
) -> tuple[tuple[int, float], ...]:
    requests: list[tuple[int, float]] = []
    if api in (cv2.CAP_V4L2, cv2.CAP_DSHOW):
        # Most USB webcams send 720p at 30 fps only as Motion JPEG; uncompressed YUYV,
        # which both would pick first, gives them 5-10 fps at that size. (Media
        # Foundation and AVFoundation choose the camera's format themselves; to them
        # this property names the format of the frames handed out, not the camera's.)
        requests.append((cv2.CAP_PROP_FOURCC, float(cv2.VideoWriter.fourcc(*"MJPG"))))
    if width and height:
        requests += [
            (cv2.CAP_PROP_FRAME_WIDTH, float(width)),
            (cv2.CAP_PROP_FRAME_HEIGHT, float(height)),
        ]
    if fps:
        requests.append((cv2.CAP_PROP_FPS, float(fps)))
    # One frame queued in the driver, not four: the picture shows where the phone is now.
    requests.append((cv2.CAP_PROP_BUFFERSIZE, 1.0))
    if api != cv2.CAP_V4L2:  # V4L2 takes its read timeout from the environment instead
        requests.append((cv2.CAP_PROP_READ_TIMEOUT_MSEC, float(READ_TIMEOUT_MS)))
    return tuple(requests)


def file_opening(path: str) -> Opening:
    # An absolute path: FFmpeg would take `clip:1.avi` for the URL of a protocol `clip`.
    return Opening(os.path.abspath(path), cv2.CAP_FFMPEG)


def stream_opening(url: str) -> Opening:
    timeouts = (
        cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
        STREAM_TIMEOUT_MS,
        cv2.CAP_PROP_READ_TIMEOUT_MSEC,
        STREAM_TIMEOUT_MS,
    )
    return Opening(url, cv2.CAP_FFMPEG, timeouts)


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
        capture = _open_file(str(self.spec.target))
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


@contextlib.contextmanager
def _quiet_opencv() -> Iterator[None]:
    """Silence OpenCV's own warnings while opening: our error says it better."""
    logging = cv2.utils.logging
    previous = logging.getLogLevel()
    logging.setLogLevel(logging.LOG_LEVEL_ERROR)
    try:
        yield
    finally:
        logging.setLogLevel(previous)


_env_lock = threading.Lock()


def _opencv_environment(opening: Opening) -> dict[str, str]:
    """Settings OpenCV takes only from environment variables, for this opening."""
    settings: dict[str, str] = {}
    if opening.api == cv2.CAP_V4L2:
        # V4L2 waits this many seconds for a frame before read() gives up (10 by
        # default) and ignores CAP_PROP_READ_TIMEOUT_MSEC. It reads the variable once,
        # the first time a camera makes it wait, so it stays set.
        settings["OPENCV_VIDEOIO_V4L_SELECT_TIMEOUT"] = str(max(1, READ_TIMEOUT_MS // 1000))
    if opening.api == cv2.CAP_FFMPEG:
        # FFmpeg's own messages ("Stream ends prematurely", a webcam's "Corrupt JPEG
        # data") would fill the cashier's terminal; our errors say what matters. Read once.
        settings["OPENCV_FFMPEG_LOGLEVEL"] = "-8"  # AV_LOG_QUIET
    if opening.api == cv2.CAP_MSMF:
        # Media Foundation's hardware transforms make some cameras take 20-30 s to open.
        settings["OPENCV_VIDEOIO_MSMF_ENABLE_HW_TRANSFORMS"] = "0"
    if isinstance(opening.target, str) and urlsplit(opening.target).scheme in ("rtsp", "rtsps"):
        # Over TCP: RTSP over UDP loses packets, and so frames, on Wi-Fi and is blocked
        # by most firewalls. FFmpeg's options reach OpenCV only this way.
        settings["OPENCV_FFMPEG_CAPTURE_OPTIONS"] = "rtsp_transport;tcp"
    return settings


# Read by OpenCV once, at the first camera wait or the first FFmpeg open: left set.
_LASTING = frozenset({"OPENCV_VIDEOIO_V4L_SELECT_TIMEOUT", "OPENCV_FFMPEG_LOGLEVEL"})


def _open_capture(opening: Opening) -> cv2.VideoCapture:
    """cv2.VideoCapture as `opening` says; tests replace it to stand in for a camera."""
    with _env_lock, _quiet_opencv():
        # What the user set in the environment wins; ours is taken back after the open.
        added = {k: v for k, v in _opencv_environment(opening).items() if k not in os.environ}
        os.environ.update(added)
        try:
            return cv2.VideoCapture(opening.target, opening.api, list(opening.params))
        finally:
            for name in added.keys() - _LASTING:
                os.environ.pop(name, None)


def _request(capture: cv2.VideoCapture, requests: Sequence[tuple[int, float]]) -> None:
    with _quiet_opencv():
        for prop, value in requests:
            # False when the camera or backend refuses: it keeps its own setting.
            capture.set(prop, value)


def _open(opening: Opening, *, configure: bool = True) -> cv2.VideoCapture | None:
    capture = _open_capture(opening)
    if not capture.isOpened() or _is_text(capture):
        capture.release()
        return None
    if configure:
        _request(capture, opening.requests)
    return capture


def _is_text(capture: cv2.VideoCapture) -> bool:
    # FFmpeg's `tty` demuxer plays any text file as ANSI art; that is not a video.
    code = int(capture.get(cv2.CAP_PROP_FOURCC))
    return code.to_bytes(4, "little") == b"ansi"


def _open_file(path: str) -> cv2.VideoCapture | None:
    return _open(file_opening(path))


def _device_node(index: int) -> Path | None:
    """The V4L2 node of a camera index on Linux; None elsewhere."""
    return Path(f"/dev/video{index}") if sys.platform.startswith("linux") else None


def _open_device(
    index: int,
    width: int | None,
    height: int | None,
    fps: float | None,
    *,
    configure: bool = True,
) -> tuple[cv2.VideoCapture, Opening] | None:
    node = _device_node(index)
    if node is not None and not node.exists():
        return None  # no such V4L2 device: nothing to open, answered at once
    for opening in camera_openings(index, width, height, fps):
        capture = _open(opening, configure=configure)
        if capture is not None:
            return capture, opening
    return None


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
        opened = _open_device(int(parsed.target), width, height, fps)
        if opened is not None:
            capture, opening = opened
            backend = opening.backend
    elif parsed.kind is SourceKind.STREAM:
        capture = _open(stream_opening(target))
    else:
        if not Path(target).is_file():
            raise QrlinkError(
                ErrorCode.INVALID_ARGUMENT, f"Cannot open video file {target}: no such file."
            )
        capture = _open_file(target)
    if capture is None:
        raise QrlinkError(ErrorCode.INVALID_ARGUMENT, _cannot_open(parsed))
    source = VideoSource(capture, parsed, realtime=realtime, loop=loop, backend=backend)
    if parsed.kind is SourceKind.FILE and not source.prime():
        source.close()
        raise QrlinkError(ErrorCode.INVALID_ARGUMENT, _cannot_open(parsed))
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
    return f"Cannot open video file {spec.target}: it holds no video we can decode."


@dataclass(frozen=True)
class CameraInfo:
    index: int
    name: str
    width: int
    height: int


_V4L2_NODE = re.compile(r"video(\d+)")


def _v4l2_names(sysfs: Path = Path("/sys/class/video4linux")) -> dict[int, str]:
    """Camera index -> the name its Linux driver gives (`/sys/class/video4linux/*/name`)."""
    names: dict[int, str] = {}
    with contextlib.suppress(OSError):
        for entry in sysfs.iterdir():
            match = _V4L2_NODE.fullmatch(entry.name)
            if match is None:
                continue
            with contextlib.suppress(OSError):
                names[int(match.group(1))] = (entry / "name").read_text().strip()
    return names


def list_cameras(max_index: int = 10) -> list[CameraInfo]:
    """The cameras that open, with their names where the platform gives them, without
    reading a frame.

    On Linux only the V4L2 nodes that exist are tried (a UVC camera's second node, for
    metadata, does not open as a camera and is left out), so a machine without a camera
    answers at once. Elsewhere indices 0..max_index-1 are tried with the native backend.
    """
    names = _v4l2_names() if sys.platform.startswith("linux") else {}
    indices = sorted(i for i in names if i < max_index) if names else range(max_index)
    cameras = []
    for index in indices:
        opened = _open_device(index, None, None, None, configure=False)
        if opened is None:
            continue
        capture, _ = opened
        try:
            cameras.append(
                CameraInfo(
                    index,
                    names.get(index) or f"Camera {index}",
                    int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)),
                    int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)),
                )
            )
        finally:
            capture.release()
    return cameras
