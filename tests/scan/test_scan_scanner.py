from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from PIL import Image
from scan_support import EMPTY_FRAMES, scanner_threads
from support import synthetic
from support.mjpeg import MjpegCamera
from support.synthetic import SyntheticFrame

from qrlink_desktop.core.errors import ErrorCode, QrlinkError
from qrlink_desktop.scan.decoders import Detection, get_decoder
from qrlink_desktop.scan.scanner import (
    THREAD_PREFIX,
    PreviewFrame,
    Scanner,
    ScanStats,
    decode_image,
    decode_image_file,
)
from qrlink_desktop.scan.sources import SourceSpec, parse_source

pytestmark = pytest.mark.usefixtures("no_thread_leak")


class Recorder:
    """Collects every callback with the thread it ran on."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.codes: list[str] = []
        self.detections: list[tuple[int, list[Detection]]] = []
        self.previews: list[PreviewFrame] = []
        self.errors: list[QrlinkError] = []
        self.stats: list[ScanStats] = []
        self.finished = 0
        self.threads: set[str] = set()
        self.code_seen = threading.Event()

    def _note(self) -> None:
        self.threads.add(threading.current_thread().name)

    def on_code(self, text: str) -> None:
        self._note()
        self.codes.append(text)
        self.code_seen.set()

    def on_detections(self, found: list[Detection], index: int) -> None:
        self._note()
        self.detections.append((index, found))

    def on_preview(self, frame: PreviewFrame) -> None:
        self._note()
        self.previews.append(frame)

    def on_error(self, error: QrlinkError) -> None:
        self._note()
        self.errors.append(error)

    def on_stats(self, stats: ScanStats) -> None:
        self.stats.append(stats)

    def on_finished(self) -> None:
        self.finished += 1

    def callbacks(self) -> dict[str, Any]:
        return {
            "on_code": self.on_code,
            "on_detections": self.on_detections,
            "on_preview": self.on_preview,
            "on_error": self.on_error,
            "on_stats": self.on_stats,
            "on_finished": self.on_finished,
        }


class FakeSource:
    """A FrameSource of given frames; live ones repeat forever, or go silent when told."""

    def __init__(
        self,
        frames: list[np.ndarray],  # drawn by the test, delivered as a camera's frames
        *,
        live: bool = True,
        fps: float = 200.0,
        repeat: bool = True,
    ) -> None:
        self.spec: SourceSpec = parse_source("0") if live else parse_source("fake.avi")
        self._frames = frames
        self._live = live
        self._interval = 1.0 / fps
        self._repeat = repeat
        self._i = 0
        self.silent = threading.Event()
        self.stuck = threading.Event()  # read() hangs in the "driver" until released
        self.released = threading.Event()
        self.closed = threading.Event()
        self.ended_flag = False

    @property
    def live(self) -> bool:
        return self._live

    @property
    def ended(self) -> bool:
        return self.ended_flag

    @property
    def nominal_fps(self) -> float | None:
        return 1.0 / self._interval

    def read(self) -> np.ndarray | None:
        if self._live:
            time.sleep(self._interval)
            if self.stuck.is_set():
                self.released.wait(30)
            if self.silent.is_set():
                return None
        if self._i >= len(self._frames) and not self._repeat:
            self.ended_flag = True
            return None
        frame = self._frames[self._i % len(self._frames)]
        self._i += 1
        return frame

    def close(self) -> None:
        self.closed.set()


def test_scans_a_video_file_on_worker_threads(
    sequence_video: Path, sequence: list[SyntheticFrame], answer_text: str
) -> None:
    rec = Recorder()
    scanner = Scanner(str(sequence_video), realtime=True, **rec.callbacks())
    started = time.monotonic()
    scanner.start()
    assert scanner.running
    assert scanner.wait_finished(timeout=15)
    elapsed = time.monotonic() - started
    assert scanner.stop()
    assert not scanner.running

    assert rec.errors == []
    assert rec.codes == [answer_text]  # confirmed, and only once
    assert rec.finished == 1
    assert rec.threads and all(name.startswith(THREAD_PREFIX) for name in rec.threads)
    assert threading.main_thread().name not in rec.threads
    # Real-time playback: 50 frames at 30 fps take about 1.6 s.
    assert elapsed >= (len(sequence) - 1) / 30.0 - 0.05
    # Every frame delivered is previewed, at the file's rate; a reader that falls behind
    # skips to the frame showing now, as a camera would (a busy machine, a few frames).
    delivered = len(rec.previews)
    skipped = len(sequence) - delivered
    assert [p.index for p in rec.previews] == list(range(delivered))
    assert 0 <= skipped <= 10
    # Nothing in the empty room (frame i delivered is file frame i to i + skipped); the
    # held phone is read.
    found = {index for index, d in rec.detections if d}
    assert not found & set(range(EMPTY_FRAMES - skipped))
    held = set(range(delivered - 20, delivered))
    decoded_held = {index for index, _ in rec.detections} & held
    assert len(decoded_held) >= 10  # a busy machine may drop a few, not most
    assert len(found & decoded_held) >= 0.75 * len(decoded_held)
    stats = rec.stats[-1]
    assert stats.frames_captured == delivered
    assert stats.frames_decoded + stats.frames_dropped == delivered
    assert stats.capture_fps == pytest.approx(30.0, rel=0.3)
    assert 0 < stats.decode_ms < 100


def test_scans_an_ip_cameras_mjpeg_stream(sequence: list[SyntheticFrame], answer_text: str) -> None:
    # The same clip served as an IP camera does, at 30 fps in real time, read through
    # OpenCV's FFmpeg backend as a stream URL; the default decoder (zxing, then zbar).
    rec = Recorder()
    with MjpegCamera([f.image for f in sequence], fps=30.0) as camera:
        scanner = Scanner(camera.url, **rec.callbacks())
        assert scanner.decoder_name == "zxing+pyzbar" and scanner.notice is None
        scanner.start()
        assert rec.code_seen.wait(15)
        assert scanner.stop()
    assert rec.errors == []
    assert rec.codes == [answer_text]
    assert camera.clients == 1
    shapes = {p.image.shape for p in rec.previews}
    assert shapes == {(720, 1280, 3)}
    # Nothing read in the empty room before the phone is raised.
    assert not {index for index, found in rec.detections if found} & set(range(EMPTY_FRAMES))


def test_file_played_as_fast_as_possible_decodes_every_frame(
    sequence_video: Path, sequence: list[SyntheticFrame], answer_text: str
) -> None:
    rec = Recorder()
    scanner = Scanner(str(sequence_video), realtime=False, **rec.callbacks())
    scanner.start()
    assert scanner.wait_finished(timeout=15)
    assert scanner.stop()
    assert rec.codes == [answer_text]
    assert [index for index, _ in rec.detections] == list(range(len(sequence)))
    stats = scanner.stats()
    assert (stats.frames_decoded, stats.frames_dropped) == (len(sequence), 0)


class SlowDecoder:
    """Takes 40 ms a frame and records which frame numbers it was given."""

    name = "slow"

    def __init__(self) -> None:
        self.seen: list[int] = []

    def decode(self, frame: np.ndarray) -> list[Detection]:
        self.seen.append(int(frame[0, 0, 0]))
        time.sleep(0.04)
        return []


def test_slow_decoding_takes_the_newest_frame_and_drops_the_rest() -> None:
    frames = [np.full((8, 8, 3), i, np.uint8) for i in range(256)]
    source = FakeSource(frames, fps=200.0, repeat=False)
    decoder = SlowDecoder()
    captured: list[int] = []
    lag: list[int] = []

    def on_preview(frame: PreviewFrame) -> None:
        captured.append(frame.index)

    def on_detections(found: list[Detection], index: int) -> None:
        lag.append(captured[-1] - index)  # how far the decoded frame is behind the camera

    scanner = Scanner(source, decoder=decoder, on_preview=on_preview, on_detections=on_detections)
    scanner.start()
    time.sleep(0.6)
    assert scanner.stop()
    stats = scanner.stats()
    assert stats.frames_dropped > 2 * stats.frames_decoded  # 200 fps in, 25 fps out
    assert decoder.seen == sorted(decoder.seen)
    # Each decode starts on the newest frame: it is never more than one decode time old.
    assert max(lag) <= 0.04 * 200 + 4
    assert source.closed.is_set()


def test_mirror_is_passed_on_with_the_frame_and_its_outline_as_captured(
    answer_text: str,
) -> None:
    code = cv2.cvtColor(synthetic.render_qr(answer_text, module_px=4), cv2.COLOR_GRAY2BGR)
    frame = np.full((code.shape[0], code.shape[1] + 300, 3), 255, np.uint8)
    frame[:, : code.shape[1]] = code  # the code on the left: mirroring shows it right
    received: list[np.ndarray] = []
    zxing = get_decoder("zxing")

    class Recording:
        name = "recording"

        def decode(self, image: np.ndarray) -> list[Detection]:
            received.append(image)
            return zxing.decode(image)

    rec = Recorder()
    scanner = Scanner(
        FakeSource([frame], fps=100.0), decoder=Recording(), mirror=True, **rec.callbacks()
    )
    scanner.start()
    assert rec.code_seen.wait(5)
    time.sleep(0.1)
    assert scanner.stop()

    assert rec.codes == [answer_text]
    assert all(image is frame for image in received)  # as captured, not even copied
    outlined = [p for p in rec.previews if p.detections]
    assert outlined
    preview = outlined[-1]
    assert preview.mirrored
    # Picture and outline travel as captured, together; the viewfinder mirrors both with
    # one transform (tests/gui/test_gui_widgets.py), so the outline stays on the code.
    assert preview.image is frame
    assert preview.detections[0] == zxing.decode(frame)[0]
    assert preview.detections[0].center[0] < code.shape[1]  # on the code, at the left


def test_mirror_can_be_toggled_while_running() -> None:
    frame = np.zeros((4, 6, 3), np.uint8)
    frame[:, 0] = 255
    rec = Recorder()
    scanner = Scanner(FakeSource([frame]), decoder="zxing", **rec.callbacks())
    scanner.start()
    time.sleep(0.1)
    scanner.mirror = True
    time.sleep(0.1)
    assert scanner.stop()
    assert not rec.previews[0].mirrored and rec.previews[-1].mirrored
    assert rec.previews[-1].image[0, 0, 0] == 255  # the picture itself is never flipped


def test_stop_while_running_leaves_no_thread_and_no_finish(numbered_video: Path) -> None:
    rec = Recorder()
    scanner = Scanner(str(numbered_video), realtime=True, loop=True, **rec.callbacks())
    scanner.start()
    deadline = time.monotonic() + 10
    while len(rec.previews) <= 10 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(rec.previews) > 10  # it looped past the file's ten frames
    assert scanner.stop(timeout=3)  # a thread left reading would hold it past the bound
    assert scanner_threads() == []
    assert rec.finished == 0


def test_cannot_open_source_reports_through_the_callback(tmp_path: Path) -> None:
    rec = Recorder()
    scanner = Scanner(str(tmp_path / "missing.avi"), **rec.callbacks())
    scanner.start()
    assert scanner.wait_finished(timeout=5)
    assert scanner.stop()
    [error] = rec.errors
    assert error.code is ErrorCode.INVALID_ARGUMENT
    assert error.message.startswith("Cannot open video file")
    assert rec.finished == 1


def test_source_lost_reports_through_the_callback() -> None:
    source = FakeSource([np.zeros((8, 8, 3), np.uint8)])
    rec = Recorder()
    scanner = Scanner(source, lost_after=0.2, **rec.callbacks())
    scanner.start()
    time.sleep(0.1)
    source.silent.set()  # unplugged
    assert scanner.wait_finished(timeout=5)
    assert scanner.stop()
    [error] = rec.errors
    assert error.code is ErrorCode.TIMEOUT
    assert error.message.startswith("The camera 0 stopped sending frames")
    assert source.closed.is_set()


def test_a_camera_stuck_in_its_driver_is_reported_lost() -> None:
    # read() never returns, so the capture thread cannot notice; the decode thread does.
    source = FakeSource([np.zeros((8, 8, 3), np.uint8)])
    rec = Recorder()
    scanner = Scanner(source, lost_after=0.2, **rec.callbacks())
    scanner.start()
    time.sleep(0.1)
    source.stuck.set()
    assert scanner.wait_finished(timeout=5)  # the capture thread alone would wait forever
    [error] = rec.errors
    assert error.code is ErrorCode.TIMEOUT
    assert error.message.startswith("The camera 0 stopped sending frames")
    assert rec.finished == 1
    assert not scanner.stop(timeout=0.2)  # the capture thread is still in read()
    source.released.set()  # the driver call returns at last: the thread ends quietly
    assert scanner.stop()
    assert rec.errors == [error] and source.closed.is_set()


def test_unknown_decoder_fails_at_once() -> None:
    with pytest.raises(QrlinkError):
        Scanner("0", decoder="nonesuch")


def test_starts_once() -> None:
    scanner = Scanner(FakeSource([np.zeros((8, 8, 3), np.uint8)]))
    scanner.start()
    with pytest.raises(RuntimeError):
        scanner.start()
    assert scanner.stop()


def test_failing_callbacks_and_decoder_do_not_stop_scanning(
    answer_text: str, caplog: pytest.LogCaptureFixture
) -> None:
    code = cv2.cvtColor(synthetic.render_qr(answer_text, module_px=4), cv2.COLOR_GRAY2BGR)
    zxing = get_decoder("zxing")
    calls = {"decode": 0}

    class Flaky:
        name = "flaky"

        def decode(self, image: np.ndarray) -> list[Detection]:
            calls["decode"] += 1
            if calls["decode"] % 2:
                raise RuntimeError("decoder hiccup")
            return zxing.decode(image)

    codes: list[str] = []

    def broken_preview(frame: PreviewFrame) -> None:
        raise ValueError("receiver bug")

    scanner = Scanner(
        FakeSource([code], fps=100.0),
        decoder=Flaky(),
        confirmer=None,
        on_preview=broken_preview,
        on_code=codes.append,
    )
    scanner.start()
    deadline = time.monotonic() + 5
    while not codes and time.monotonic() < deadline:
        time.sleep(0.02)
    assert scanner.stop()
    assert codes == [answer_text]
    assert "decoder hiccup" in caplog.text and "receiver bug" in caplog.text


def test_reset_accepts_the_same_code_again(answer_text: str) -> None:
    code = cv2.cvtColor(synthetic.render_qr(answer_text, module_px=4), cv2.COLOR_GRAY2BGR)
    rec = Recorder()
    scanner = Scanner(FakeSource([code], fps=100.0), **rec.callbacks())
    scanner.start()
    assert rec.code_seen.wait(5)
    time.sleep(0.1)
    assert rec.codes == [answer_text]  # seen many times, accepted once
    rec.code_seen.clear()
    scanner.reset()
    assert rec.code_seen.wait(5)
    assert scanner.stop()
    assert rec.codes == [answer_text, answer_text]


# -- image file fallback -------------------------------------------------------------------


def test_decodes_a_screenshot_png(tmp_path: Path, answer_text: str) -> None:
    path = tmp_path / "answer.png"
    cv2.imwrite(str(path), synthetic.render_qr(answer_text, module_px=6))
    assert [d.text for d in decode_image_file(path)] == [answer_text]


def test_decodes_a_webcam_photo_jpeg(
    tmp_path: Path, moderate_frames: list[SyntheticFrame], answer_text: str
) -> None:
    path = tmp_path / "photo of the phone.jpg"
    cv2.imwrite(str(path), moderate_frames[0].image)
    assert [d.text for d in decode_image_file(str(path))] == [answer_text]


def test_decodes_a_gif(tmp_path: Path, answer_text: str) -> None:
    path = tmp_path / "answer.gif"
    Image.fromarray(synthetic.render_qr(answer_text, module_px=6)).save(path)
    assert [d.text for d in decode_image_file(path, decoders=["pyzbar"])] == [answer_text]


def test_decodes_an_image_whose_name_is_not_ascii(tmp_path: Path, answer_text: str) -> None:
    path = tmp_path / "Überweisung – Kunde ✓.png"
    cv2.imencode(".png", synthetic.render_qr(answer_text, module_px=6))[1].tofile(str(path))
    assert [d.text for d in decode_image_file(path)] == [answer_text]


@pytest.mark.parametrize("fmt", ["BMP", "WEBP", "TIFF"])
def test_decodes_other_image_formats(tmp_path: Path, answer_text: str, fmt: str) -> None:
    path = tmp_path / f"answer.{fmt.lower()}"
    Image.fromarray(synthetic.render_qr(answer_text, module_px=6)).convert("RGB").save(
        path, format=fmt, **({"lossless": True} if fmt == "WEBP" else {})
    )
    assert [d.text for d in decode_image_file(path)] == [answer_text]


def test_decodes_a_pasted_picture(answer_text: str) -> None:
    # A screenshot pasted from the clipboard arrives as pixels, not as a file.
    code = cv2.cvtColor(synthetic.render_qr(answer_text, module_px=5), cv2.COLOR_GRAY2BGR)
    picture = np.full((code.shape[0] + 40, code.shape[1] + 200, 3), 240, np.uint8)
    picture[20 : 20 + code.shape[0], 150 : 150 + code.shape[1]] = code
    assert [d.text for d in decode_image(picture)] == [answer_text]
    assert decode_image(np.full((50, 50, 3), 255, np.uint8)) == []


def test_image_without_a_code_gives_nothing(tmp_path: Path) -> None:
    path = tmp_path / "blank.png"
    cv2.imwrite(str(path), np.full((100, 100), 255, np.uint8))
    assert decode_image_file(path) == []


@pytest.mark.parametrize("content", [None, b"", b"%PDF-1.7 not an image"])
def test_unreadable_image_is_a_clear_error(tmp_path: Path, content: bytes | None) -> None:
    path = tmp_path / "answer.png"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(QrlinkError) as caught:
        decode_image_file(path)
    assert caught.value.code is ErrorCode.INVALID_ARGUMENT
    assert str(path) in caught.value.message


def test_image_with_an_unknown_decoder_named_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "answer.png"
    cv2.imwrite(str(path), synthetic.render_qr("QL:A", module_px=6))
    with pytest.raises(QrlinkError):
        decode_image_file(path, decoders=["nonesuch"])
