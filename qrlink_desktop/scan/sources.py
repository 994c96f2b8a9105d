"""Where frames come from: a camera by index, a video file, or a stream URL.

All three are demuxed and decoded by PyAV (FFmpeg), so a test that plays a recorded (or
synthetic) video exercises the same path as a real webcam. `open_source("0")` is the
first camera (V4L2 on Linux, AVFoundation on macOS, DirectShow on Windows); a path is a
file; anything with a scheme (`http://…/video.mjpg`, `rtsp://…`) is a stream.

Frames are `av.VideoFrame`s in whatever pixel format the decoder produced (yuvj420p for
Motion JPEG, yuyv422 for many raw webcams); a consumer converts the ones it uses with
`frames.grey()` or `frames.rgb()`, never `frame.reformat()`, whose converter lives on the
frame and is not safe for two threads at once. Nothing here needs numpy or OpenCV.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Protocol, runtime_checkable
from urllib.parse import urlsplit, urlunsplit

import av
from av.container import InputContainer
from av.packet import Packet
from av.video.stream import VideoStream

from qrlink_desktop.core.errors import ErrorCode, QrlinkError

from .rates import RateMeter

# A stream that does not answer must fail in seconds, not after FFmpeg's default minutes.
STREAM_TIMEOUT_MS = 5000

# What opening a container can raise: FFmpeg's errors, and PyAV's ValueError for a
# device format this FFmpeg build does not have.
_OPEN_ERRORS = (av.FFmpegError, ValueError)


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

    def read(self) -> av.VideoFrame | None:
        """The next frame, in the decoder's pixel format; None at the end of a file or
        when a live read fails."""
        ...

    def close(self) -> None: ...


class VideoSource:
    """A `FrameSource` over the first video stream of a PyAV input container.

    A file plays as fast as it is read, or at its own frame rate with `realtime=True`
    (falling behind drops frames, as a camera would); with `loop=True` it starts over at
    the end instead of ending.
    """

    def __init__(
        self,
        container: InputContainer,
        spec: SourceSpec,
        *,
        realtime: bool = False,
        loop: bool = False,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
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
        self._pending: av.VideoFrame | None = None
        self._attach(container)

    def _attach(self, container: InputContainer) -> None:
        self._container = container
        self._stream: VideoStream = container.streams.video[0]
        self._packets: Iterator[Packet] | None = container.demux(self._stream)
        # A packet can decode to more than one frame (a decoder flushing at the end).
        self._decoded: deque[av.VideoFrame] = deque()
        # Read now: a stream's fields point into its container, freed by close().
        context = self._stream.codec_context
        self._frame_size = (context.width, context.height)
        self._frame_count = self._stream.frames
        # average_rate only: guessed_rate is FFmpeg's guess (25 for any MJPEG stream).
        rate = self._stream.average_rate
        fps = float(rate) if rate else 0.0
        # Some containers declare their time base (90000) as a rate.
        self._nominal_fps = fps if 0.5 <= fps <= 1000.0 else None

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
        """(width, height) as the container reports it when opened."""
        return self._frame_size

    @property
    def frame_count(self) -> int | None:
        """Frames in a file (as its header says), None for live sources."""
        if self.spec.kind is not SourceKind.FILE:
            return None
        return self._frame_count if self._frame_count > 0 else None

    def prime(self) -> bool:
        """Read one frame ahead to prove the source really delivers; kept for read()."""
        if self._pending is None and not self._closed:
            self._pending = self._decode_next()
        return self._pending is not None

    def read(self) -> av.VideoFrame | None:
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

    def _next_frame(self) -> av.VideoFrame | None:
        if self._pending is not None:
            pending, self._pending = self._pending, None
            return pending
        frame = self._decode_next()
        if frame is not None or self.spec.kind is not SourceKind.FILE:
            return frame  # a live source that missed a frame: the caller decides when it is lost
        if self._loop and self._rewind():
            frame = self._decode_next()
            if frame is not None:
                return frame
        self._ended = True
        return None

    def _decode_next(self) -> av.VideoFrame | None:
        """The next decoded frame; None at the end, after a read error, or when a live
        source has a damaged frame or none ready yet."""
        while not self._decoded:
            if self._packets is None:
                return None
            try:
                packet = next(self._packets)
            except StopIteration:
                self._packets = None
                return None
            except BlockingIOError:
                # AVFoundation answers "try again" when the next frame is not ready yet.
                # The demux generator is finished once it raised: start another.
                self._packets = self._container.demux(self._stream)
                return None
            except av.FFmpegError:
                # A stream that dropped or timed out, a device unplugged, a truncated
                # file: no frame comes after it, and retrying would only spin.
                self._packets = None
                return None
            try:
                self._decoded.extend(self._stream.decode(packet))
            except av.FFmpegError:
                # One damaged frame (a torn JPEG from a USB camera, a corrupt packet in a
                # file) is a missed frame, not the end of the source.
                if self.spec.kind is not SourceKind.FILE:
                    return None
        return self._decoded.popleft()

    def _due(self) -> float:
        if self._started_at is None:
            self._started_at = self._clock()
        return self._started_at + self._played / (self.nominal_fps or 30.0)

    def _skip_late_frames(self) -> None:
        """Behind by a frame or more: skip to the frame showing now, as a camera would,
        rather than play old frames late."""
        behind = int((self._clock() - self._due()) * (self.nominal_fps or 30.0))
        for _ in range(behind):
            # Decoded and dropped: a frame of inter-coded video needs the ones before it.
            if self._pending is not None:
                self._pending = None
            elif self._decode_next() is None:
                break
            self._played += 1

    def _wait_until_due(self) -> None:
        wait = self._due() - self._clock()
        if wait > 0:
            self._sleep(wait)

    def _rewind(self) -> bool:
        """Start the file over by opening it again: unlike seeking, that works the same
        for every container, indexed or not."""
        self._played = 0
        self._started_at = None
        self._release()
        container = _open_video_file(str(self.spec.target))
        if container is None:
            return False  # deleted or replaced while playing
        self._attach(container)
        return True

    def _release(self) -> None:
        self._packets = None
        self._decoded.clear()
        self._container.close()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._pending = None
            self._release()

    def __enter__(self) -> VideoSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __iter__(self) -> Iterator[av.VideoFrame]:
        while (frame := self.read()) is not None:
            yield frame


def _open_container(
    target: str,
    format: str | None = None,
    options: dict[str, str] | None = None,
    timeout: float | None = None,
) -> InputContainer:
    """av.open for reading; tests replace it to stand in for a camera."""
    # FFmpeg's own messages stay silent (PyAV's default level, None); our error says it
    # better. No av.logging.Capture here: it installs a Python log callback that FFmpeg's
    # decoder threads then call, which needs the GIL and deadlocked the capture thread.
    return av.open(
        target,
        "r",
        format=format,
        options=options or {},
        timeout=None if timeout is None else (timeout, timeout),
    )


def _open_video_file(path: str) -> InputContainer | None:
    """A file's container when it holds a video; None when it does not or cannot open."""
    try:
        # Without the prefix FFmpeg takes `clip:1.avi` for a URL of protocol `clip`.
        container = _open_container(f"file:{path}")
    except _OPEN_ERRORS:
        return None
    if not _has_video(container):
        container.close()
        return None
    return container


def _device_node(index: int) -> Path | None:
    """The V4L2 node of a camera index on Linux; None elsewhere."""
    return Path(f"/dev/video{index}") if sys.platform.startswith("linux") else None


def _dshow_devices() -> list[av.DeviceInfo]:
    try:
        return av.device.enumerate_input_devices("dshow")
    except _OPEN_ERRORS:
        return []


def _dshow_cameras() -> list[av.DeviceInfo]:
    """DirectShow's video devices, in the order that numbers them."""
    return [d for d in _dshow_devices() if "video" in d.media_types]


def _device_input(index: int) -> tuple[str, str] | None:
    """(URL, FFmpeg input format) of the camera at `index`; None if there is none."""
    if sys.platform == "darwin":
        return f"{index}:none", "avfoundation"
    if sys.platform == "win32":
        cameras = _dshow_cameras()
        if index >= len(cameras):
            return None
        # The device's unique name: two cameras of one model share a description.
        return f"video={cameras[index].name}", "dshow"
    node = _device_node(index)
    if node is None or not node.exists():
        return None
    return str(node), "v4l2"


def _device_options(width: int | None, height: int | None) -> list[dict[str, str]]:
    """The options to try opening a camera with, best first."""
    size = {"video_size": f"{width}x{height}"} if width and height else {}
    if sys.platform == "darwin":
        # AVFoundation refuses a rate the camera lacks, and FFmpeg's default is NTSC's
        # 29.97, which most cameras lack.
        rate = {"framerate": "30"}
        tries = [{**rate, **size}, rate, {}]
    else:
        # V4L2 picks the nearest size it has, but some drivers refuse, as DirectShow
        # does any size the camera lacks: then the camera's own size beats no camera.
        tries = [size, {}]
    return [options for i, options in enumerate(tries) if options not in tries[:i]]


def _open_device(index: int, width: int | None, height: int | None) -> InputContainer | None:
    found = _device_input(index)
    if found is None:
        return None
    url, format = found
    for options in _device_options(width, height):
        with contextlib.suppress(*_OPEN_ERRORS):
            return _open_container(url, format, options)
    return None


def _stream_options(url: str) -> dict[str, str]:
    # Over TCP: RTSP over UDP loses packets, and so frames, on
    # Wi-Fi and is blocked by most firewalls.
    return {"rtsp_transport": "tcp"} if urlsplit(url).scheme in ("rtsp", "rtsps") else {}


def open_source(
    spec: str | int,
    width: int | None = None,
    height: int | None = None,
    *,
    realtime: bool = False,
    loop: bool = False,
) -> VideoSource:
    """Open a camera index, video file or stream URL; a QrlinkError if it cannot be used.

    `width` and `height` together ask a camera for a resolution (it may pick the nearest
    it has); files and streams play at their own size. `realtime` and `loop` apply to
    files. Opening a camera or stream can take a second or more: call this off the GUI
    thread.
    """
    parsed = parse_source(spec)
    target = str(parsed.target)
    container: InputContainer | None = None
    if parsed.kind is SourceKind.DEVICE:
        container = _open_device(int(parsed.target), width, height)
    elif parsed.kind is SourceKind.STREAM:
        with contextlib.suppress(*_OPEN_ERRORS):
            container = _open_container(
                target, options=_stream_options(target), timeout=STREAM_TIMEOUT_MS / 1000
            )
    else:
        if not Path(target).is_file():
            raise QrlinkError(
                ErrorCode.INVALID_ARGUMENT, f"Cannot open video file {target}: no such file."
            )
        container = _open_video_file(target)
    if container is not None and not _has_video(container):
        container.close()
        container = None
    if container is None:
        raise QrlinkError(ErrorCode.INVALID_ARGUMENT, _cannot_open(parsed))
    source = VideoSource(container, parsed, realtime=realtime, loop=loop)
    if parsed.kind is SourceKind.FILE and not source.prime():
        source.close()
        raise QrlinkError(ErrorCode.INVALID_ARGUMENT, _cannot_open(parsed))
    return source


def _has_video(container: InputContainer) -> bool:
    streams = container.streams.video
    # FFmpeg's `tty` demuxer plays any text file as ANSI art; that is not a video.
    return bool(streams) and streams[0].codec_context.name != "ansi"


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


def _camera_name(index: int) -> str:
    if sys.platform == "win32":
        cameras = _dshow_cameras()
        if index < len(cameras) and cameras[index].description:
            return cameras[index].description
    with contextlib.suppress(OSError):
        return Path(f"/sys/class/video4linux/video{index}/name").read_text().strip()
    return f"Camera {index}"


def list_cameras(max_index: int = 5) -> list[CameraInfo]:
    """Cameras at indices 0..max_index-1 that open, without reading a frame.

    On Linux an index with no /dev/video node is skipped without opening anything, so
    a machine with no camera answers at once.
    """
    cameras = []
    for index in range(max_index):
        # No /dev/video node: _open_device answers None without opening anything.
        container = _open_device(index, None, None)
        if container is None:
            continue
        try:
            if not _has_video(container):
                continue
            context = container.streams.video[0].codec_context
            cameras.append(CameraInfo(index, _camera_name(index), context.width, context.height))
        finally:
            container.close()
    return cameras
