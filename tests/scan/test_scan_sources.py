from __future__ import annotations

import errno
import shutil
import socket
import socketserver
import subprocess
import sys
import threading
import time
import wave
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import av
import cv2
import numpy as np
import pytest
from scan_support import VIDEO_FPS

from qrlink_desktop.core.errors import ErrorCode, QrlinkError
from qrlink_desktop.scan import sources
from qrlink_desktop.scan.sources import (
    SourceKind,
    VideoSource,
    list_cameras,
    open_source,
    parse_source,
)
from qrlink_desktop.scan.synthetic import SyntheticFrame


def _pixels(frame: av.VideoFrame) -> np.ndarray:
    return frame.to_ndarray(format="bgr24")


def _number(frame: av.VideoFrame | None) -> int | None:
    """The index of a frame of the numbered video (grey level 20 × index)."""
    return None if frame is None else round(float(_pixels(frame).mean()) / 20.0)


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


def test_synthetic_video_plays_back_frame_for_frame(
    sequence_video: Path, sequence: list[SyntheticFrame]
) -> None:
    with open_source(str(sequence_video)) as source:
        assert source.spec.kind is SourceKind.FILE
        assert source.nominal_fps == pytest.approx(VIDEO_FPS)
        assert source.frame_count == len(sequence)
        assert source.frame_size == (1280, 720)
        assert not source.live
        frames = list(source)
        assert source.ended
        assert source.read() is None
    assert len(frames) == len(sequence)
    assert all(isinstance(f, av.VideoFrame) for f in frames)
    assert all((f.width, f.height) == (1280, 720) for f in frames)
    # Motion JPEG is lossy, but each frame is still the frame that was written.
    for got, wrote in zip(frames[::10], sequence[::10], strict=False):
        assert np.abs(_pixels(got).astype(int) - wrote.image.astype(int)).mean() < 4.0
    # The decoder's own format; consumers convert what they use.
    assert frames[0].reformat(format="gray").format.name == "gray"


@pytest.mark.parametrize("name", ["vidéo ü.avi", "clip:1.avi"])
def test_file_names_ffmpeg_could_misread_play(
    numbered_video: Path, tmp_path: Path, name: str
) -> None:
    if ":" in name and sys.platform == "win32":
        pytest.skip("Windows file names cannot hold a colon")
    path = tmp_path / name
    shutil.copy(numbered_video, path)
    with open_source(str(path)) as source:
        assert [_number(f) for f in source] == list(range(10))


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
    assert "OpenCV" not in caught.value.message


def test_absent_camera_is_a_clear_error() -> None:
    # Index 63 exists on no test machine, camera or not.
    with pytest.raises(QrlinkError) as caught:
        open_source("63")
    assert caught.value.code is ErrorCode.INVALID_ARGUMENT
    assert caught.value.message == "No camera found at index 63."


def test_camera_without_permission_says_so(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    node = tmp_path / "video63"
    node.touch()
    monkeypatch.setattr(sources, "_device_node", lambda index: node)
    monkeypatch.setattr(sources.os, "access", lambda path, mode: False)
    with pytest.raises(QrlinkError) as caught:
        open_source("63")
    assert "Permission denied for the camera at index 63" in caught.value.message
    assert "'video' group" in caught.value.message


def test_unreachable_stream_is_a_clear_error() -> None:
    started = time.monotonic()
    with pytest.raises(QrlinkError) as caught:
        open_source("http://user:secret@127.0.0.1:9/video.mjpg")
    assert caught.value.code is ErrorCode.INVALID_ARGUMENT
    assert caught.value.message == "Cannot open camera stream http://***@127.0.0.1:9/video.mjpg."
    assert time.monotonic() - started < 6.0


def test_stream_that_never_answers_fails_in_its_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sources, "STREAM_TIMEOUT_MS", 300)
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()  # connects, and then nothing
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/video.mjpg"
        started = time.monotonic()
        with pytest.raises(QrlinkError) as caught:
            open_source(url)
    assert caught.value.message == f"Cannot open camera stream {url}."
    assert time.monotonic() - started < 2.0


class _MjpegCamera(BaseHTTPRequestHandler):
    """An IP camera's Motion-JPEG over HTTP: one multipart response, a JPEG per part."""

    frames: ClassVar[list[bytes]] = []
    # Set: after its frames the camera hangs until released, instead of hanging up.
    stalled: ClassVar[threading.Event | None] = None

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
        self.end_headers()
        try:
            for jpeg in self.frames:
                head = f"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n"
                self.wfile.write(head.encode() + jpeg + b"\r\n")
                time.sleep(0.01)
            if self.stalled is not None:
                self.wfile.flush()
                self.stalled.wait(10)
        except (BrokenPipeError, ConnectionResetError):
            pass


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def server_bind(self) -> None:
        # HTTPServer.server_bind does a reverse DNS lookup that stalls with no resolver.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = "127.0.0.1", self.server_address[1]


@pytest.fixture
def mjpeg_url() -> Iterator[str]:
    _MjpegCamera.frames = [
        cv2.imencode(".jpg", np.full((240, 320, 3), 20 * i, np.uint8))[1].tobytes()
        for i in range(10)
    ]
    _MjpegCamera.stalled = None
    server = _QuietServer(("127.0.0.1", 0), _MjpegCamera)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/video.mjpg"
    if _MjpegCamera.stalled is not None:
        _MjpegCamera.stalled.set()
    server.shutdown()
    server.server_close()
    thread.join(5)


def test_mjpeg_over_http_stream_plays(mjpeg_url: str) -> None:
    with open_source(mjpeg_url) as source:
        assert source.spec.kind is SourceKind.STREAM
        assert source.live
        frames = [source.read() for _ in range(5)]
        assert source.frame_count is None
        assert source.frame_size == (320, 240)
    assert [_number(f) for f in frames] == [0, 1, 2, 3, 4]
    assert frames[0] is not None and (frames[0].width, frames[0].height) == (320, 240)


def test_stream_that_hangs_up_reads_none_without_ending(mjpeg_url: str) -> None:
    with open_source(mjpeg_url) as source:
        frames = [source.read() for _ in range(10)]
        assert source.read() is None  # the camera hung up
        started = time.monotonic()
        assert [source.read() for _ in range(100)] == [None] * 100
        assert time.monotonic() - started < 0.5  # no reconnecting, no waiting
        assert not source.ended  # a live source: the scanner decides it is lost
    assert [_number(f) for f in frames] == list(range(10))


def test_stream_that_stops_sending_reads_none_after_its_timeout(
    mjpeg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _MjpegCamera.stalled = threading.Event()
    monkeypatch.setattr(sources, "STREAM_TIMEOUT_MS", 300)
    with open_source(mjpeg_url) as source:
        frames = [source.read() for _ in range(10)]
        started = time.monotonic()
        assert source.read() is None
        assert time.monotonic() - started < 2.0
    assert [_number(f) for f in frames] == list(range(10))


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
    return VideoSource(
        av.open(str(path)), parse_source(str(path)), clock=time_.clock, sleep=time_.sleep, **kwargs
    )


def test_realtime_file_plays_at_its_frame_rate(numbered_video: Path) -> None:
    time_ = _ManualTime()
    with _paced(numbered_video, time_, realtime=True) as source:
        assert source.live  # paced playback behaves as a camera
        numbers = [_number(f) for f in source]
    assert numbers == list(range(10))
    assert time_.now - 100.0 == pytest.approx(9 / 50.0)  # 50 fps, 10 frames


def test_realtime_file_skips_frames_when_the_reader_falls_behind(numbered_video: Path) -> None:
    time_ = _ManualTime()
    with _paced(numbered_video, time_, realtime=True) as source:
        first = source.read()
        time_.now += 3.5 / 50.0  # the reader was busy for three and a half frame times
        second = source.read()  # the frame a camera would be showing now
        third = source.read()
    assert [_number(f) for f in (first, second, third)] == [0, 3, 4]
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
    assert [_number(f) for f in frames] == [i % 10 for i in range(25)]


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
    # What it said about itself is still there (read before its container was freed).
    assert (source.nominal_fps, source.frame_size, source.frame_count) == (50.0, (160, 120), 10)


class _FlakyCamera:
    """A camera over a real container whose driver first answers "try again" (as
    AVFoundation does before the first frame) and then delivers a damaged frame."""

    def __init__(self, container: av.container.InputContainer) -> None:
        self.container = container
        self.streams = container.streams
        self.demuxed = 0

    def demux(self, stream: av.VideoStream) -> Iterator[av.Packet]:
        self.demuxed += 1
        if self.demuxed == 1:
            raise av.error.BlockingIOError(errno.EAGAIN, "Resource temporarily unavailable")
        yield av.Packet(b"\xff\xd8 not a JPEG")
        yield from self.container.demux(stream)

    def close(self) -> None:
        self.container.close()


def test_camera_that_is_not_ready_or_tears_a_frame_misses_one(numbered_video: Path) -> None:
    camera: Any = _FlakyCamera(av.open(str(numbered_video)))
    with VideoSource(camera, parse_source("0")) as source:
        frames = [source.read() for _ in range(4)]
        assert not source.ended
    assert [_number(f) for f in frames] == [None, None, 0, 1]
    assert camera.demuxed == 2


def test_damaged_frame_in_a_file_is_skipped(numbered_video: Path) -> None:
    flaky: Any = _FlakyCamera(av.open(str(numbered_video)))
    flaky.demuxed = 1  # no "try again" from a file
    with VideoSource(flaky, parse_source(str(numbered_video))) as source:
        assert [_number(f) for f in source] == list(range(10))


_Opened = tuple[str, str | None, dict[str, str] | None, float | None]


def _camera_opener(
    video: Path, opened: list[_Opened], refuse: Callable[[_Opened], bool] = lambda call: False
) -> Callable[..., av.container.InputContainer]:
    """Stands in for av.open of a camera: records the call, plays `video` instead."""

    def open_container(
        target: str,
        format: str | None = None,
        options: dict[str, str] | None = None,
        timeout: float | None = None,
    ) -> av.container.InputContainer:
        call = (target, format, options, timeout)
        opened.append(call)
        if refuse(call):
            raise av.error.ArgumentError(errno.EINVAL, "Invalid argument")
        return av.open(str(video))

    return open_container


@pytest.mark.parametrize(
    ("platform", "target", "format", "options"),
    [
        ("linux", "{node}", "v4l2", {"video_size": "1280x720"}),
        ("darwin", "0:none", "avfoundation", {"framerate": "30", "video_size": "1280x720"}),
        ("win32", "video=@device_pnp_cam", "dshow", {"video_size": "1280x720"}),
    ],
)
def test_camera_is_asked_for_the_resolution(
    monkeypatch: pytest.MonkeyPatch,
    numbered_video: Path,
    tmp_path: Path,
    platform: str,
    target: str,
    format: str,
    options: dict[str, str],
) -> None:
    node = tmp_path / "video0"
    node.touch()
    opened: list[_Opened] = []
    monkeypatch.setattr(sources, "_open_container", _camera_opener(numbered_video, opened))
    monkeypatch.setattr(sources, "_device_node", lambda index: node)
    monkeypatch.setattr(
        sources,
        "_dshow_devices",
        lambda: [
            av.DeviceInfo("@device_pnp_mic", "Microphone", False, ["audio"]),
            av.DeviceInfo("@device_pnp_cam", "USB Camera", True, ["video"]),
        ],
    )
    monkeypatch.setattr(sys, "platform", platform)
    source = open_source("0", width=1280, height=720)
    monkeypatch.undo()
    assert opened == [(target.format(node=node), format, options, None)]
    assert source.live and not source.ended
    assert source.frame_count is None
    assert _number(source.read()) == 0
    source.close()
    assert source.read() is None


def test_camera_that_refuses_the_resolution_opens_at_its_own(
    monkeypatch: pytest.MonkeyPatch, numbered_video: Path, tmp_path: Path
) -> None:
    node = tmp_path / "video0"
    node.touch()
    opened: list[_Opened] = []
    opener = _camera_opener(numbered_video, opened, refuse=lambda call: bool(call[2]))
    monkeypatch.setattr(sources, "_open_container", opener)
    monkeypatch.setattr(sources, "_device_node", lambda index: node)
    monkeypatch.setattr(sys, "platform", "linux")
    with open_source("0", width=4000, height=3000) as source:
        monkeypatch.undo()
        assert source.frame_size == (160, 120)
    assert [call[2] for call in opened] == [{"video_size": "4000x3000"}, {}]


def test_list_cameras_skips_indices_without_a_node_and_reports_those_that_open(
    monkeypatch: pytest.MonkeyPatch, numbered_video: Path, tmp_path: Path
) -> None:
    """Nodes video1 and video3 exist (video3 refuses to open); the other indices have no
    node and are never opened, so a machine without cameras answers without waiting."""
    nodes = {1: tmp_path / "video1", 3: tmp_path / "video3"}
    for node in nodes.values():
        node.touch()
    opened: list[_Opened] = []
    opener = _camera_opener(numbered_video, opened, refuse=lambda call: "video3" in call[0])
    monkeypatch.setattr(sources, "_open_container", opener)
    monkeypatch.setattr(sources, "_device_node", lambda index: nodes.get(index, tmp_path / "x"))
    monkeypatch.setattr(sys, "platform", "linux")
    cameras = list_cameras(max_index=5)
    monkeypatch.undo()
    assert [(c.index, c.width, c.height) for c in cameras] == [(1, 160, 120)]
    assert {call[0] for call in opened} == {str(nodes[1]), str(nodes[3])}


class _Closing:
    """A container that remembers being closed."""

    def __init__(self, container: av.container.InputContainer) -> None:
        self.container = container
        self.streams = container.streams
        self.closed = False

    def close(self) -> None:
        self.closed = True
        self.container.close()


def test_list_cameras_reports_the_ones_that_open(
    monkeypatch: pytest.MonkeyPatch, numbered_video: Path, tmp_path: Path
) -> None:
    opened: list[str] = []
    containers: list[_Closing] = []

    def open_container(target: str, *args: object) -> _Closing:
        opened.append(target)
        if not target.endswith(("0", "2")):
            raise av.error.FileNotFoundError(errno.ENOENT, "No such file or directory")
        containers.append(_Closing(av.open(str(numbered_video))))
        return containers[-1]

    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setattr(sources, "_device_node", lambda index: tmp_path / f"video{index}")
    for index in range(3):
        (tmp_path / f"video{index}").touch()
    monkeypatch.setattr(sources, "_open_container", open_container)
    cameras = list_cameras(max_index=4)
    monkeypatch.undo()
    assert [(c.index, c.width, c.height) for c in cameras] == [(0, 160, 120), (2, 160, 120)]
    # Index 3 has no device node: not even tried.
    assert opened == [str(tmp_path / f"video{index}") for index in range(3)]
    assert containers and all(c.closed for c in containers)


def test_sources_needs_neither_opencv_nor_numpy(numbered_video: Path) -> None:
    # None in sys.modules makes an import fail, as in the bundle that leaves both out.
    # The stub package keeps scan/__init__ (decoders, scanner) out of this test.
    scan_dir = Path(sources.__file__).parent
    code = (
        "import sys, types\n"
        "sys.modules['cv2'] = sys.modules['numpy'] = None\n"
        "scan = types.ModuleType('qrlink_desktop.scan')\n"
        f"scan.__path__ = [{str(scan_dir)!r}]\n"
        "sys.modules['qrlink_desktop.scan'] = scan\n"
        "from qrlink_desktop.scan.sources import open_source\n"
        f"with open_source({str(numbered_video)!r}) as source:\n"
        "    for frame in source:\n"
        "        grey = frame.reformat(format='gray')\n"
        "        row = bytes(grey.planes[0])[: grey.width]\n"
        "        print(round(sum(row) / len(row) / 20))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert [int(n) for n in done.stdout.split()] == list(range(10))
