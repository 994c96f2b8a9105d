from __future__ import annotations

import socketserver
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import cv2
import numpy as np
import pytest
from scan_support import VIDEO_FPS, frame_number

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
    assert all(f.shape == (720, 1280, 3) and f.dtype == np.uint8 for f in frames)
    # Motion JPEG is lossy, but each frame is still the frame that was written.
    for got, wrote in zip(frames[::10], sequence[::10], strict=False):
        assert np.abs(got.astype(int) - wrote.image.astype(int)).mean() < 4.0


def test_missing_video_file_is_a_clear_error(tmp_path: Path) -> None:
    missing = tmp_path / "nothing.avi"
    with pytest.raises(QrlinkError) as caught:
        open_source(str(missing))
    assert caught.value.code is ErrorCode.INVALID_ARGUMENT
    assert caught.value.message == f"Cannot open video file {missing}: no such file."


def test_file_that_is_not_a_video_is_a_clear_error(tmp_path: Path) -> None:
    junk = tmp_path / "notes.avi"
    junk.write_text("not a video\n" * 100)
    with pytest.raises(QrlinkError) as caught:
        open_source(str(junk))
    assert caught.value.code is ErrorCode.INVALID_ARGUMENT
    assert caught.value.message.startswith(f"Cannot open video file {junk}")


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


class _MjpegCamera(BaseHTTPRequestHandler):
    """An IP camera's Motion-JPEG over HTTP: one multipart response, a JPEG per part."""

    frames: ClassVar[list[bytes]] = []

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
    server = _QuietServer(("127.0.0.1", 0), _MjpegCamera)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/video.mjpg"
    server.shutdown()
    server.server_close()
    thread.join(5)


def test_mjpeg_over_http_stream_plays(mjpeg_url: str) -> None:
    with open_source(mjpeg_url) as source:
        assert source.spec.kind is SourceKind.STREAM
        assert source.live
        frames = [source.read() for _ in range(5)]
        assert source.frame_count is None
    assert [frame_number(f) for f in frames if f is not None] == [0, 1, 2, 3, 4]
    assert frames[0] is not None and frames[0].shape == (240, 320, 3)


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
    capture = cv2.VideoCapture(str(path))
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
    assert first is not None and second is not None and third is not None
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
    assert [frame_number(f) for f in frames if f is not None] == [i % 10 for i in range(25)]


def test_closed_source_reads_nothing(numbered_video: Path) -> None:
    source = open_source(str(numbered_video))
    source.close()
    source.close()  # twice is harmless
    assert source.read() is None


class _FakeCapture:
    """Stands in for cv2.VideoCapture of a camera: records what it is asked to set."""

    def __init__(self, opened: bool) -> None:
        self.opened = opened
        self.settings: dict[int, float] = {}
        self.released = False

    def isOpened(self) -> bool:
        return self.opened

    def set(self, prop: int, value: float) -> bool:
        self.settings[prop] = value
        return True

    def get(self, prop: int) -> float:
        return {cv2.CAP_PROP_FRAME_WIDTH: 640.0, cv2.CAP_PROP_FRAME_HEIGHT: 480.0}.get(prop, 0.0)

    def release(self) -> None:
        self.released = True


def test_camera_is_asked_for_the_resolution_and_a_short_queue(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = _FakeCapture(opened=True)
    monkeypatch.setattr(sources, "_open_capture", lambda target, params: fake)
    source = open_source("0", width=1280, height=720)
    assert fake.settings == {
        cv2.CAP_PROP_FRAME_WIDTH: 1280,
        cv2.CAP_PROP_FRAME_HEIGHT: 720,
        cv2.CAP_PROP_BUFFERSIZE: 1,
    }
    assert source.live and source.nominal_fps is None
    source.close()
    assert fake.released


def test_list_cameras_on_a_machine_without_any_answers_at_once() -> None:
    started = time.monotonic()
    cameras = list_cameras()
    assert time.monotonic() - started < 2.0
    assert all(c.width >= 0 and c.height >= 0 for c in cameras)


def test_list_cameras_reports_the_ones_that_open(monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[int | str] = []
    fakes: list[_FakeCapture] = []

    def open_capture(target: int | str, params: list[int]) -> _FakeCapture:
        opened.append(target)
        fakes.append(_FakeCapture(opened=target in (0, 2)))
        return fakes[-1]

    monkeypatch.setattr(sources, "_might_exist", lambda index: index != 3)
    monkeypatch.setattr(sources, "_open_capture", open_capture)
    cameras = list_cameras(max_index=4)
    assert [(c.index, c.width, c.height) for c in cameras] == [(0, 640, 480), (2, 640, 480)]
    assert opened == [0, 1, 2]  # index 3 has no device node: not even tried
    assert all(f.released for f in fakes)
