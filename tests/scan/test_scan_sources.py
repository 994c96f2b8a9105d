"""scan/sources.py and scan/opening.py: cameras, video files and streams through
cv2.VideoCapture.

No camera is attached to the test machines (and no v4l2loopback device can be made), so
the code that opens a camera by index is tested by what it hands OpenCV (backend, index,
requests), with a video file played in the device's place, and by a real V4L2 open
wherever a device exists. Files and streams are opened for real: synthetic webcam video
written as Motion JPEG, and an IP camera serving Motion JPEG over HTTP on 127.0.0.1.
"""

from __future__ import annotations

import shutil
import socket
import socketserver
import subprocess
import sys
import threading
import time
import wave
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from scan_support import VIDEO_FPS, frame_number
from support.mjpeg import MjpegCamera
from support.synthetic import SyntheticFrame

from qrlink_desktop.core.errors import ErrorCode, QrlinkError
from qrlink_desktop.scan import opening as opening_module
from qrlink_desktop.scan import sources
from qrlink_desktop.scan.opening import CameraInfo, Opening, camera_openings, list_cameras
from qrlink_desktop.scan.sources import SourceKind, VideoSource, open_source, parse_source

MJPG = float(cv2.VideoWriter.fourcc(*"MJPG"))


@pytest.mark.parametrize(
    ("spec", "kind", "target"),
    [
        ("0", SourceKind.DEVICE, 0),
        (" 2 ", SourceKind.DEVICE, 2),
        (1, SourceKind.DEVICE, 1),
        ("clip.avi", SourceKind.FILE, "clip.avi"),
        ("./0", SourceKind.FILE, "./0"),
        ("http://10.0.0.9:8080/video.mjpg", SourceKind.STREAM, "http://10.0.0.9:8080/video.mjpg"),
        ("rtsp://cam/stream", SourceKind.STREAM, "rtsp://cam/stream"),
    ],
)
def test_parse_source(spec: str | int, kind: SourceKind, target: int | str) -> None:
    parsed = parse_source(spec)
    assert (parsed.kind, parsed.target) == (kind, target)


@pytest.mark.parametrize("spec", ["", "   ", -1])
def test_parse_source_refuses_nothing_and_negatives(spec: str | int) -> None:
    with pytest.raises(QrlinkError) as caught:
        parse_source(spec)
    assert caught.value.code is ErrorCode.INVALID_ARGUMENT


def test_labels_hide_stream_passwords() -> None:
    assert parse_source("0").label == "camera 0"
    assert parse_source("a.avi").label == "video file a.avi"
    label = parse_source("rtsp://admin:hunter2@cam.local:554/live").label
    assert "hunter2" not in label and "admin" not in label
    assert label == "stream rtsp://***@cam.local:554/live"


# -- video files ------------------------------------------------------------------------------


def test_synthetic_video_plays_back_frame_for_frame(
    sequence_video: Path, sequence: list[SyntheticFrame]
) -> None:
    with open_source(str(sequence_video)) as source:
        assert source.spec.kind is SourceKind.FILE
        assert source.backend == "FFMPEG"
        assert source.nominal_fps == pytest.approx(VIDEO_FPS)
        assert source.frame_count == len(sequence)
        assert source.frame_size == (1280, 720)
        assert not source.live
        frames = list(source)
        assert source.ended
        assert source.read() is None
    assert len(frames) == len(sequence)
    assert all(f.shape == (720, 1280, 3) and f.dtype == np.uint8 for f in frames)
    # Motion JPEG is lossy, but each frame is still the frame that was written.
    for got, wrote in zip(frames[::10], sequence[::10], strict=False):
        assert np.abs(got.astype(int) - wrote.image.astype(int)).mean() < 4.0


@pytest.mark.parametrize("name", ["vidéo ü.avi", "clip:1.avi", "100%.avi"])
def test_file_names_ffmpeg_could_misread_play(
    numbered_video: Path, tmp_path: Path, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if ":" in name and sys.platform == "win32":
        pytest.skip("Windows file names cannot hold a colon")
    path = tmp_path / name
    shutil.copy(numbered_video, path)
    monkeypatch.chdir(tmp_path)  # a relative name, as typed: `clip:1.avi` is no URL
    with open_source(name) as source:
        assert [frame_number(f) for f in source] == list(range(10))


def test_missing_video_file_is_a_clear_error(tmp_path: Path) -> None:
    missing = tmp_path / "nothing.avi"
    with pytest.raises(QrlinkError) as caught:
        open_source(str(missing))
    assert caught.value.code is ErrorCode.INVALID_ARGUMENT
    assert caught.value.message == f"Cannot open video file {missing}: no such file."


def _write_sound(path: Path) -> None:
    with wave.open(str(path), "wb") as sound:
        sound.setnchannels(1)
        sound.setsampwidth(2)
        sound.setframerate(8000)
        sound.writeframes(b"\0\0" * 8000)


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda p: p.with_suffix(".avi").write_text("not a video\n" * 100), id="junk"),
        # FFmpeg would play any text file as ANSI art.
        pytest.param(lambda p: p.with_suffix(".txt").write_text("not a video\n" * 100), id="text"),
        pytest.param(lambda p: _write_sound(p.with_suffix(".wav")), id="sound-only"),
    ],
)
def test_file_that_is_not_a_video_is_a_clear_error(
    tmp_path: Path, make: Callable[[Path], object]
) -> None:
    make(tmp_path / "notes")
    (path,) = tmp_path.iterdir()
    with pytest.raises(QrlinkError) as caught:
        open_source(str(path))
    assert caught.value.code is ErrorCode.INVALID_ARGUMENT
    assert caught.value.message == (
        f"Cannot open video file {path}: it holds no video we can decode."
    )


class _ManualTime:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def _paced(path: Path, time_: _ManualTime, **kwargs: bool) -> VideoSource:
    capture = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    return VideoSource(
        capture, parse_source(str(path)), clock=time_.clock, sleep=time_.sleep, **kwargs
    )


def test_realtime_file_plays_at_its_frame_rate(numbered_video: Path) -> None:
    time_ = _ManualTime()
    with _paced(numbered_video, time_, realtime=True) as source:
        assert source.live  # paced playback behaves as a camera
        numbers = [frame_number(f) for f in source]
    assert numbers == list(range(10))
    assert time_.now - 100.0 == pytest.approx(9 / 50.0)  # 50 fps, 10 frames


def test_realtime_file_skips_frames_when_the_reader_falls_behind(numbered_video: Path) -> None:
    time_ = _ManualTime()
    with _paced(numbered_video, time_, realtime=True) as source:
        first = source.read()
        time_.now += 3.5 / 50.0  # the reader was busy for three and a half frame times
        second = source.read()  # the frame a camera would be showing now
        third = source.read()
    assert [frame_number(f) for f in (first, second, third)] == [0, 3, 4]
    assert time_.slept == [pytest.approx(0.5 / 50.0)]  # frame 4 waits for its time


def test_unpaced_file_never_sleeps(numbered_video: Path) -> None:
    time_ = _ManualTime()
    with _paced(numbered_video, time_) as source:
        assert len(list(source)) == 10
    assert time_.slept == []


def test_realtime_pacing_with_the_real_clock(numbered_video: Path) -> None:
    started = time.monotonic()
    with open_source(str(numbered_video), realtime=True) as source:
        assert len(list(source)) == 10
        assert source.measured_fps() == pytest.approx(50.0, rel=0.25)
    assert time.monotonic() - started >= 9 / 50.0 - 0.01


def test_looping_file_starts_over(numbered_video: Path) -> None:
    with open_source(str(numbered_video), loop=True) as source:
        frames = [source.read() for _ in range(25)]
        assert not source.ended
    assert [frame_number(f) for f in frames] == [i % 10 for i in range(25)]


def test_looping_file_that_disappears_ends(numbered_video: Path, tmp_path: Path) -> None:
    path = tmp_path / "gone.avi"
    shutil.copy(numbered_video, path)
    with open_source(str(path), loop=True) as source:
        path.unlink()
        assert len([source.read() for _ in range(10)]) == 10
        assert source.read() is None
        assert source.ended


def test_closed_source_reads_nothing(numbered_video: Path) -> None:
    source = open_source(str(numbered_video))
    source.close()
    source.close()  # twice is harmless
    assert source.read() is None
    assert not source.prime()
    # What it said about itself is still there (read before its capture was released).
    assert (source.nominal_fps, source.frame_size, source.frame_count) == (50.0, (160, 120), 10)


class _TornCamera:
    """A capture over a real video whose driver first has no frame ready and then hands
    over a torn one: OpenCV's read() answers False for each, as for a USB hiccup."""

    def __init__(self, capture: cv2.VideoCapture, misses: int = 2) -> None:
        self.capture = capture
        self.misses = misses

    def read(self) -> tuple[bool, Any]:
        if self.misses:
            self.misses -= 1
            return False, None
        return self.capture.read()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.capture, name)


def test_camera_that_misses_frames_is_not_lost(numbered_video: Path) -> None:
    camera: Any = _TornCamera(cv2.VideoCapture(str(numbered_video), cv2.CAP_FFMPEG))
    with VideoSource(camera, parse_source("0")) as source:
        frames = [source.read() for _ in range(4)]
        assert not source.ended  # a live source: the scanner decides when it is lost
    assert [frame_number(f) for f in frames] == [None, None, 0, 1]


# -- streams ----------------------------------------------------------------------------------


def test_unreachable_stream_is_a_clear_error() -> None:
    started = time.monotonic()
    with pytest.raises(QrlinkError) as caught:
        open_source("http://user:secret@127.0.0.1:9/video.mjpg")
    assert caught.value.code is ErrorCode.INVALID_ARGUMENT
    assert caught.value.message == "Cannot open camera stream http://***@127.0.0.1:9/video.mjpg."
    assert time.monotonic() - started < 15.0  # refused at once, not FFmpeg's minutes of retries


def test_stream_that_never_answers_fails_in_its_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(opening_module, "STREAM_TIMEOUT_MS", 300)
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()  # connects, and then nothing
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/video.mjpg"
        started = time.monotonic()
        with pytest.raises(QrlinkError) as caught:
            open_source(url)
    assert caught.value.message == f"Cannot open camera stream {url}."
    assert time.monotonic() - started < 4.3  # 0.3 s and a margin, not the default 5 s


def _numbered(count: int = 10) -> list[np.ndarray]:
    return [np.full((240, 320, 3), 20 * i, np.uint8) for i in range(count)]


@pytest.fixture
def ip_camera() -> Iterator[MjpegCamera]:
    with MjpegCamera(_numbered()) as camera:
        yield camera


def test_mjpeg_over_http_stream_plays(ip_camera: MjpegCamera) -> None:
    with open_source(ip_camera.url) as source:
        assert source.spec.kind is SourceKind.STREAM
        assert source.live and source.backend == "FFMPEG"
        frames = [source.read() for _ in range(5)]
        assert source.frame_count is None
        assert source.frame_size == (320, 240)
    assert [frame_number(f) for f in frames] == [0, 1, 2, 3, 4]
    assert frames[0] is not None and frames[0].shape == (240, 320, 3)


def test_stream_that_hangs_up_reads_none_without_ending(ip_camera: MjpegCamera) -> None:
    with open_source(ip_camera.url) as source:
        frames = [source.read() for _ in range(10)]
        assert source.read() is None  # the camera hung up
        started = time.monotonic()
        assert [source.read() for _ in range(100)] == [None] * 100
        # a reconnect or a wait for the timeout per read would take minutes
        assert time.monotonic() - started < 5.0
        assert not source.ended  # a live source: the scanner decides it is lost
    assert [frame_number(f) for f in frames] == list(range(10))


def test_stream_that_stops_sending_reads_none_after_its_timeout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(opening_module, "STREAM_TIMEOUT_MS", 300)
    with MjpegCamera(_numbered(), stall=True) as camera, open_source(camera.url) as source:
        frames = [source.read() for _ in range(10)]
        started = time.monotonic()
        assert source.read() is None
        assert time.monotonic() - started < 4.3  # 0.3 s and a margin, not the default 5 s
    assert [frame_number(f) for f in frames] == list(range(10))


def test_ffmpeg_says_nothing_on_the_terminal(ip_camera: MjpegCamera) -> None:
    # A camera that hangs up mid-stream makes FFmpeg complain on stderr unless told not
    # to; the app's own error is the one sentence the cashier sees. (A fresh process:
    # OpenCV reads the setting once, at its first FFmpeg open.)
    code = (
        "import os; os.environ.pop('OPENCV_FFMPEG_LOGLEVEL', None)\n"
        "from qrlink_desktop.scan.sources import open_source\n"
        f"with open_source({ip_camera.url!r}) as source:\n"
        "    frames = [source.read() for _ in range(12)]\n"
        "print(sum(f is not None for f in frames))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "10"
    assert done.stderr == ""


class _RtspServer(socketserver.ThreadingTCPServer):
    """Just enough RTSP to see how FFmpeg asks for the stream: it answers OPTIONS and
    DESCRIBE, notes the transport a SETUP asks for, and refuses it."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _RtspHandler)
        self.transports: list[str] = []


class _RtspHandler(socketserver.StreamRequestHandler):
    server: _RtspServer

    def handle(self) -> None:
        sdp = (
            "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=cam\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
            "m=video 0 RTP/AVP 26\r\na=control:track1\r\n"
        )
        while True:
            lines = []
            while (line := self.rfile.readline().decode("latin-1")) not in ("\r\n", "\n", ""):
                lines.append(line.strip())
            if not lines:
                return
            headers = dict(x.split(":", 1) for x in lines[1:] if ":" in x)
            cseq = headers.get("CSeq", "0").strip()
            method = lines[0].split()[0]
            if method == "DESCRIBE":
                body = sdp.encode()
                self.wfile.write(
                    f"RTSP/1.0 200 OK\r\nCSeq: {cseq}\r\nContent-Type: application/sdp\r\n"
                    f"Content-Length: {len(body)}\r\n\r\n".encode()
                    + body
                )
            elif method == "SETUP":
                self.server.transports.append(headers.get("Transport", "").strip())
                self.wfile.write(
                    f"RTSP/1.0 461 Unsupported Transport\r\nCSeq: {cseq}\r\n\r\n".encode()
                )
            else:
                self.wfile.write(
                    f"RTSP/1.0 200 OK\r\nCSeq: {cseq}\r\nPublic: DESCRIBE, SETUP\r\n\r\n".encode()
                )


def test_rtsp_streams_are_asked_for_over_tcp(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENCV_FFMPEG_CAPTURE_OPTIONS", raising=False)
    server = _RtspServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"rtsp://127.0.0.1:{server.server_address[1]}/live"
    try:
        with pytest.raises(QrlinkError) as caught:
            open_source(url)  # refused at SETUP: this camera exists only to be asked
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
    assert caught.value.message == f"Cannot open camera stream {url}."
    assert server.transports and all("TCP" in t for t in server.transports), server.transports
    # The option reached OpenCV for that open only; nothing is left set for later ones.
    assert "OPENCV_FFMPEG_CAPTURE_OPTIONS" not in opening_module.os.environ


# -- cameras by index ------------------------------------------------------------------------

WIDTH, HEIGHT, FPS = 1280, 720, 30.0


@pytest.mark.parametrize(
    ("platform", "backends", "fourcc"),
    [
        ("linux", [cv2.CAP_V4L2], True),
        ("win32", [cv2.CAP_MSMF, cv2.CAP_DSHOW], None),  # MJPG for DirectShow only
        ("darwin", [cv2.CAP_AVFOUNDATION], False),
        ("freebsd14", [cv2.CAP_ANY], False),
    ],
)
def test_each_platform_opens_cameras_with_its_native_backend(
    platform: str, backends: list[int], fourcc: bool | None
) -> None:
    openings = camera_openings(2, WIDTH, HEIGHT, FPS, platform=platform)
    assert [o.api for o in openings] == backends
    for opening in openings:
        assert opening.target == 2 and opening.params == ()
        asked = dict(opening.requests)
        assert asked[cv2.CAP_PROP_FRAME_WIDTH] == WIDTH
        assert asked[cv2.CAP_PROP_FRAME_HEIGHT] == HEIGHT
        assert asked[cv2.CAP_PROP_FPS] == FPS
        assert asked[cv2.CAP_PROP_BUFFERSIZE] == 1
        wants_mjpg = opening.api in (cv2.CAP_V4L2, cv2.CAP_DSHOW)
        assert (asked.get(cv2.CAP_PROP_FOURCC) == MJPG) is wants_mjpg
        if fourcc is not None:
            assert wants_mjpg is fourcc
        # The format first: a camera lists its sizes and rates per format.
        if wants_mjpg:
            assert opening.requests[0][0] == cv2.CAP_PROP_FOURCC
        # V4L2 takes its read timeout from the environment; the others as a property.
        has_timeout = cv2.CAP_PROP_READ_TIMEOUT_MSEC in asked
        assert has_timeout is (opening.api != cv2.CAP_V4L2)


def test_a_camera_asked_for_nothing_gets_only_the_queue_depth() -> None:
    [opening] = camera_openings(0, None, None, None, platform="darwin")
    assert [prop for prop, _ in opening.requests] == [
        cv2.CAP_PROP_BUFFERSIZE,
        cv2.CAP_PROP_READ_TIMEOUT_MSEC,
    ]


class _Recorded:
    """A real capture (of a video standing in for the camera) that notes what is set."""

    def __init__(self, capture: cv2.VideoCapture) -> None:
        self.capture = capture
        self.set_calls: list[tuple[int, float]] = []

    def set(self, prop: int, value: float) -> bool:
        self.set_calls.append((prop, value))
        return bool(self.capture.set(prop, value))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.capture, name)


def _camera_stand_in(
    monkeypatch: pytest.MonkeyPatch,
    video: Path,
    node: Path,
    platform: str,
    refuse: Callable[[Opening], bool] = lambda opening: False,
) -> tuple[list[Opening], list[_Recorded]]:
    """Opening a camera plays `video` instead, and records what OpenCV was given."""
    openings: list[Opening] = []
    captures: list[_Recorded] = []

    def open_capture(opening: Opening) -> Any:
        openings.append(opening)
        if refuse(opening):
            return cv2.VideoCapture()  # not opened, as for a camera the backend cannot open
        captures.append(_Recorded(cv2.VideoCapture(str(video), cv2.CAP_FFMPEG)))
        return captures[-1]

    node.touch()
    monkeypatch.setattr(opening_module, "open_capture", open_capture)
    for module in (opening_module, sources):
        monkeypatch.setattr(module, "device_node", lambda i: node if platform == "linux" else None)
    monkeypatch.setattr(opening_module.sys, "platform", platform)
    return openings, captures


@pytest.mark.parametrize("platform", ["linux", "win32", "darwin"])
def test_camera_is_opened_and_asked_for_size_and_rate(
    monkeypatch: pytest.MonkeyPatch, numbered_video: Path, tmp_path: Path, platform: str
) -> None:
    openings, captures = _camera_stand_in(
        monkeypatch, numbered_video, tmp_path / "video0", platform
    )
    source = open_source("0", WIDTH, HEIGHT, fps=FPS)
    monkeypatch.undo()
    expected = camera_openings(0, WIDTH, HEIGHT, FPS, platform=platform)[0]
    assert openings == [expected]
    assert captures[0].set_calls == list(expected.requests)  # every request, in order
    assert source.backend == expected.backend
    assert source.live and not source.ended and source.frame_count is None
    assert frame_number(source.read()) == 0
    source.close()
    assert source.read() is None


def test_windows_falls_back_to_directshow(
    monkeypatch: pytest.MonkeyPatch, numbered_video: Path, tmp_path: Path
) -> None:
    openings, _ = _camera_stand_in(
        monkeypatch,
        numbered_video,
        tmp_path / "video0",
        "win32",
        refuse=lambda opening: opening.api == cv2.CAP_MSMF,
    )
    with open_source("1", WIDTH, HEIGHT) as source:
        monkeypatch.undo()
        assert source.backend == "DSHOW"
    assert [(o.target, o.api) for o in openings] == [(1, cv2.CAP_MSMF), (1, cv2.CAP_DSHOW)]


def test_absent_camera_is_a_clear_error() -> None:
    # Index 63 exists on no test machine, camera or not.
    with pytest.raises(QrlinkError) as caught:
        open_source("63")
    assert caught.value.code is ErrorCode.INVALID_ARGUMENT
    assert caught.value.message == "No camera found at index 63."


def test_camera_without_permission_says_so(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    node = tmp_path / "video63"
    node.touch()
    for module in (opening_module, sources):  # where it is opened, and where the refusal is said
        monkeypatch.setattr(module, "device_node", lambda index: node)
    monkeypatch.setattr(opening_module.os, "access", lambda path, mode: False)
    with pytest.raises(QrlinkError) as caught:
        open_source("63")
    assert "Permission denied for the camera at index 63" in caught.value.message
    assert "'video' group" in caught.value.message


def _capture_nodes() -> list[int]:
    return sorted(
        index
        for index, name in opening_module.v4l2_names().items()
        if Path(f"/dev/video{index}").exists()
    )


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="V4L2 is Linux's")
def test_a_real_v4l2_open(monkeypatch: pytest.MonkeyPatch) -> None:
    """Through OpenCV's V4L2 backend for real: a device where one exists (it delivers a
    frame); where none does, as here, OpenCV's own V4L2 open refuses and we say so."""
    monkeypatch.delenv("OPENCV_VIDEOIO_V4L_SELECT_TIMEOUT", raising=False)
    nodes = _capture_nodes()
    for index in nodes:
        try:
            source = open_source(str(index), 640, 480)
        except QrlinkError:
            continue  # a metadata node, or a device busy elsewhere
        with source:
            assert source.backend == "V4L2"
            deadline = time.monotonic() + 10
            frame = None
            while frame is None and time.monotonic() < deadline:
                frame = source.read()
            assert frame is not None and frame.ndim == 3 and frame.shape[2] == 3
            # The read timeout OpenCV's V4L2 backend has no property for is set.
            assert opening_module.os.environ["OPENCV_VIDEOIO_V4L_SELECT_TIMEOUT"] == "2"
        return
    assert nodes == [], f"V4L2 devices {nodes} exist but none opened as a camera"
    [opening] = camera_openings(7, 640, 480, FPS)
    capture = opening_module.open_capture(opening)  # cv2.VideoCapture(7, CAP_V4L2, [])
    assert not capture.isOpened()
    assert opening_module.os.environ["OPENCV_VIDEOIO_V4L_SELECT_TIMEOUT"] == "2"
    with pytest.raises(QrlinkError) as caught:
        open_source("7")
    assert caught.value.message == "No camera found at index 7."


def test_list_cameras_names_the_ones_that_open(
    monkeypatch: pytest.MonkeyPatch, numbered_video: Path, tmp_path: Path
) -> None:
    # A laptop: the built-in camera's capture node and its metadata node (which does not
    # open as a camera), and a USB camera.
    names = {0: "Integrated Camera: Integrated C", 1: "Integrated Camera: Integrated C"}
    names[2] = "HD Pro Webcam C920"
    opened: list[Opening] = []
    captures: list[_Recorded] = []

    def open_capture(opening: Opening) -> Any:
        opened.append(opening)
        if opening.target == 1:
            return cv2.VideoCapture()
        captures.append(_Recorded(cv2.VideoCapture(str(numbered_video), cv2.CAP_FFMPEG)))
        return captures[-1]

    for index in range(3):
        (tmp_path / f"video{index}").touch()
    monkeypatch.setattr(opening_module.sys, "platform", "linux")
    monkeypatch.setattr(opening_module, "v4l2_names", lambda: names)
    monkeypatch.setattr(opening_module, "device_node", lambda index: tmp_path / f"video{index}")
    monkeypatch.setattr(opening_module, "open_capture", open_capture)
    cameras = list_cameras()
    monkeypatch.undo()
    assert cameras == [
        CameraInfo(0, "Integrated Camera: Integrated C", 160, 120),
        CameraInfo(2, "HD Pro Webcam C920", 160, 120),
    ]
    assert [(o.target, o.api) for o in opened] == [(i, cv2.CAP_V4L2) for i in range(3)]
    # Listing opens and looks, without asking the cameras for anything or keeping them.
    assert all(c.set_calls == [] for c in captures)
    assert all(not c.isOpened() for c in captures)


def test_v4l2_names_come_from_sysfs(tmp_path: Path) -> None:
    for node, name in (("video0", "USB Camera\n"), ("video10", "Virtual Cam\n")):
        (tmp_path / node).mkdir()
        (tmp_path / node / "name").write_text(name)
    (tmp_path / "v4l-subdev0").mkdir()  # not a video node
    (tmp_path / "video3").mkdir()  # no name file: left out
    assert opening_module.v4l2_names(tmp_path) == {0: "USB Camera", 10: "Virtual Cam"}
    assert opening_module.v4l2_names(tmp_path / "missing") == {}
