"""How OpenCV is asked to open a source, and which cameras there are.

A camera is opened with its platform's native backend, named explicitly rather than left
to OpenCV's guess: V4L2 on Linux, Media Foundation and then DirectShow on Windows,
AVFoundation on macOS (`camera_openings`), and asked for Motion JPEG, a size, a rate and
a one-frame queue; files and streams go through OpenCV's FFmpeg backend with timeouts.
Some settings OpenCV takes only from environment variables (`_opencv_environment`).
sources.py reads frames from what is opened here.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from .imaging import cv2

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


def open_capture(opening: Opening) -> cv2.VideoCapture:
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


def open_with(opening: Opening, *, configure: bool = True) -> cv2.VideoCapture | None:
    capture = open_capture(opening)
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


def open_file(path: str) -> cv2.VideoCapture | None:
    return open_with(file_opening(path))


def device_node(index: int) -> Path | None:
    """The V4L2 node of a camera index on Linux; None elsewhere."""
    return Path(f"/dev/video{index}") if sys.platform.startswith("linux") else None


def open_device(
    index: int,
    width: int | None,
    height: int | None,
    fps: float | None,
    *,
    configure: bool = True,
) -> tuple[cv2.VideoCapture, Opening] | None:
    node = device_node(index)
    if node is not None and not node.exists():
        return None  # no such V4L2 device: nothing to open, answered at once
    for opening in camera_openings(index, width, height, fps):
        capture = open_with(opening, configure=configure)
        if capture is not None:
            return capture, opening
    return None


@dataclass(frozen=True)
class CameraInfo:
    index: int
    name: str
    width: int
    height: int


_V4L2_NODE = re.compile(r"video(\d+)")


def v4l2_names(sysfs: Path = Path("/sys/class/video4linux")) -> dict[int, str]:
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
    names = v4l2_names() if sys.platform.startswith("linux") else {}
    indices = sorted(i for i in names if i < max_index) if names else range(max_index)
    cameras = []
    for index in indices:
        opened = open_device(index, None, None, None, configure=False)
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
