"""The cashier's window under load: decoding the real answer QR in realistic webcam frames,
and the whole window scanning a played video while the GUI thread is watched.

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/gui_bench.py [--runs 5]

Prints one table:
- decode success rate and median ms per frame for zxing-cpp, pyzbar and the default
  (zxing-cpp, then pyzbar where it misses) on the frames of `synthetic.phone_sequence`
  with a real answer text (from a real engine pair), counting the frames where the phone
  is held in view;
- the time from the answer QR entering the video (first frame with the phone) to the data
  channel being open, through the window: the clip read by OpenCV, as a video file and
  as an IP camera's Motion JPEG stream over HTTP on 127.0.0.1 -> scanner threads ->
  confirmation -> engine -> ICE/DTLS/SCTP with `qrlink peer answer` in another process,
  loopback only;
- the GUI thread's longest stall while scanning, from a 5 ms QTimer heartbeat;
- the viewfinder's frames per second (frames actually painted).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

sys.path.insert(1, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(2, str(Path(__file__).resolve().parents[1] / "tests" / "gui"))

import cv2
import qasync
from decode_bench import CameraClock, measure
from gui_support import Peer
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
from support import synthetic
from support.mjpeg import MjpegCamera

from qrlink_desktop import app as app_module
from qrlink_desktop.core.events import StateChanged
from qrlink_desktop.core.session import State
from qrlink_desktop.gui.camera import CameraBridge
from qrlink_desktop.rtc.answering import AnsweringSession
from qrlink_desktop.rtc.config import SessionConfig
from qrlink_desktop.rtc.offering import OfferingSession
from qrlink_desktop.rtc.peer import IceConfig
from qrlink_desktop.scan import qrimage
from qrlink_desktop.scan.decoders import ZxingThenPyzbar, get_decoder

EMPTY, ENTER, HOLD = 15, 10, 45  # phone_sequence's defaults: room, phone raised, held
FPS = 30.0
DIFFICULTY = 0.4
LOOPBACK = ("127.0.0.1",)


async def real_answer_text() -> str:
    """An answer exactly as the phone would show it, from a real offer on loopback."""
    cfg = SessionConfig(ice=IceConfig(servers=(), addresses=LOOPBACK))
    cashier = OfferingSession(cfg)
    customer = AnsweringSession(cfg)
    try:
        offer = await cashier.new_customer()
        assert offer is not None
        answer = await customer.answer(offer.text)
        assert answer is not None
        return answer.text
    finally:
        await customer.shutdown()
        await cashier.shutdown()


def decode_rates(answer: str, seeds: range) -> list[tuple[str, str, str]]:
    held = []
    for seed in seeds:
        frames = synthetic.phone_sequence(answer, seed=seed, difficulty=DIFFICULTY)
        held += [f.image for f in frames[EMPTY + ENTER :]]  # BGR, as OpenCV captures them
    rows = []
    clock = CameraClock()
    decoders = {
        "zxing": get_decoder("zxing"),
        "pyzbar": get_decoder("pyzbar"),
        "zxing+pyzbar": ZxingThenPyzbar(clock=clock),
    }
    for name, decoder in decoders.items():
        cell = measure(decoder, held, answer, clock)
        rows.append(
            (
                f"decode, {name}",
                f"{cell.rate:.1f} % ({cell.decoded}/{cell.frames})",
                f"median {cell.median_ms:.1f} ms/frame, p95 {cell.p95_ms:.1f} ms",
            )
        )
    return rows


class Heartbeat:
    """A 5 ms timer on the GUI thread: the longest gap between ticks is the longest stall.
    It also notes when the viewfinder has painted a new frame."""

    def __init__(self, painted: Callable[[], int]) -> None:
        self.timer = QTimer()
        self.timer.setInterval(5)
        self.timer.timeout.connect(self._tick)
        self.last = time.perf_counter()
        self.gaps: list[tuple[float, float]] = []  # (when, gap ms)
        self._painted = painted
        self._count = painted()
        self.paints: list[float] = []  # when a tick saw a newly painted frame

    def _tick(self) -> None:
        now = time.perf_counter()
        self.gaps.append((now, (now - self.last) * 1000))
        self.last = now
        count = self._painted()
        self.paints += [now] * (count - self._count)
        self._count = count

    def start(self) -> None:
        self.last = time.perf_counter()
        self.timer.start()

    def worst(self, start: float, end: float) -> float:
        inside = [gap for when, gap in self.gaps if start <= when <= end]
        return max(inside) if inside else float("nan")


def rate(times: list[float]) -> float:
    """Events per second from the first to the last (a stream's end is not waited for)."""
    return (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 else float("nan")


async def one_pairing(run: int, workdir: Path, source: str) -> dict[str, float]:
    """One pairing through the window, the clip played from a file or an IP camera."""
    ip_camera = MjpegCamera([], fps=FPS)  # nothing to show until the phone has answered
    video = workdir / f"answer{run}.avi"
    args = app_module.build_parser().parse_args(
        [
            "--address", "127.0.0.1", "--page-url", "http://127.0.0.1:8765/",
            "--settings", str(workdir / f"s{run}.ini"),
            "--camera", str(video) if source == "file" else ip_camera.url,
        ]
    )  # fmt: skip
    app = app_module.QrlinkApp(args, app_module.open_store(args.settings))
    window = app.window
    marks: dict[str, float] = {}
    entered = threading.Event()

    # Note when the frame where the phone first appears is captured (scanner's clock).
    original = CameraBridge._preview

    captured: list[float] = []  # when each frame of the clip was captured

    def preview(self: CameraBridge, frame: Any) -> None:
        if frame.index == EMPTY and "enter" not in marks:
            marks["enter"] = frame.timestamp
            entered.set()
        if "start" in marks:
            captured.append(frame.timestamp)
        original(self, frame)

    CameraBridge._preview = preview  # type: ignore[method-assign]

    def on_state(event: StateChanged) -> None:
        if event.state == State.CONNECTED:
            marks["open"] = time.monotonic()

    app.controller.stateChanged.connect(on_state)
    perf: dict[str, float] = {}

    def on_code(_text: str) -> None:
        marks.setdefault("code", time.monotonic())
        perf.setdefault("code", time.perf_counter())

    app.camera.code.connect(on_code)
    beat = Heartbeat(lambda: window.answers.viewfinder.frames_painted)
    app.start()
    try:
        while app.controller.state != State.AWAITING_ANSWER:
            await asyncio.sleep(0.01)
        peer = Peer(window.offer.text)
        while peer.first("answer") is None:
            await asyncio.sleep(0.01)
        answer = peer.first("answer")["text"]  # type: ignore[index]
        frames = synthetic.phone_sequence(answer, seed=100 + run, difficulty=DIFFICULTY)
        if source == "file":
            synthetic.write_video(video, frames, FPS)
        else:
            ip_camera.show([f.image for f in frames])
        await asyncio.sleep(0.3)  # let the window settle before measuring
        beat.start()
        t_start = time.perf_counter()
        marks["start"] = time.monotonic()
        window.start_camera()
        deadline = time.monotonic() + 20
        while "open" not in marks and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        t_open = time.perf_counter()
        # Keep playing to the end of the clip for the frame rate.
        while app.camera.scanner is not None and app.camera.scanner.running:
            await asyncio.sleep(0.05)
        t_end = time.perf_counter()
        stats = app.camera.current_stats()
        peer.proc.kill()
        peer.stop()
        code_at = marks.get("code", float("nan"))
        scan_end = perf.get("code", t_open)  # scanning ends when the code is accepted
        return {
            "enter_to_open_ms": (marks["open"] - marks["enter"]) * 1000,
            "enter_to_code_ms": (code_at - marks["enter"]) * 1000,
            "stall_scanning_ms": beat.worst(t_start, scan_end),
            "stall_whole_ms": beat.worst(t_start, t_end),
            "viewfinder_fps": rate(beat.paints),
            "capture_fps": rate(captured),
            "decode_ms": stats.decode_ms if stats else float("nan"),
        }
    finally:
        CameraBridge._preview = original  # type: ignore[method-assign]
        beat.timer.stop()
        window.close()
        await app.shutdown()
        ip_camera.close()


def median(values: list[float]) -> float:
    return statistics.median(values)


SOURCES = ("file", "stream")


async def bench(runs: int) -> tuple[list[tuple[str, str, str]], list[tuple[str, ...]]]:
    """The decoder rows, and the window rows with one column per source."""
    answer = await real_answer_text()
    decoding = [("answer QR", f"{len(answer)} chars, version {qrimage.version(answer)}", "")]
    decoding += decode_rates(answer, range(1, 6))
    col: dict[str, dict[str, list[float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for source in SOURCES:
            results = [await one_pairing(run, Path(tmp), source) for run in range(runs)]
            col[source] = {k: [r[k] for r in results] for k in results[0]}

    def cells(key: str, fmt: str, spread: str) -> tuple[str, ...]:
        out = []
        for source in SOURCES:
            values = col[source][key]
            if spread == "range":
                detail = f"{min(values):{fmt}}–{max(values):{fmt}}"
            else:
                detail = f"worst {max(values):{fmt}}"
            out.append(f"{median(values):{fmt}} ({detail})")
        return tuple(out)

    window = [
        ("answer QR enters video → code confirmed, ms", *cells("enter_to_code_ms", ".0f", "range")),
        ("answer QR enters video → channel open, ms", *cells("enter_to_open_ms", ".0f", "range")),
        (
            "GUI thread longest stall while scanning, ms",
            *cells("stall_scanning_ms", ".1f", "worst"),
        ),
        ("GUI thread longest stall, whole clip, ms", *cells("stall_whole_ms", ".1f", "worst")),
        ("viewfinder frames painted per second", *cells("viewfinder_fps", ".1f", "range")),
        ("frames delivered per second (video 30 fps)", *cells("capture_fps", ".1f", "range")),
        ("decode on the scanner thread, ms/frame", *cells("decode_ms", ".1f", "range")),
    ]
    return decoding, window


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="pairings through the window")
    args = parser.parse_args()
    qt = QApplication.instance() or QApplication([])
    assert isinstance(qt, QApplication)
    qt.setQuitOnLastWindowClosed(False)  # each pairing closes its window
    loop = qasync.QEventLoop(qt)
    asyncio.set_event_loop(loop)
    try:
        decoding, window = loop.run_until_complete(bench(args.runs))
    finally:
        loop.close()  # joins the executor threads that probed the cameras
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, OpenCV {cv2.__version__}, "
        f"Qt platform {os.environ['QT_QPA_PLATFORM']}; difficulty {DIFFICULTY}; "
        f"the window's default decoder (zxing+pyzbar)\n"
    )
    print("| measure | result | detail |\n|---|---|---|")
    for name, result, detail in decoding:
        print(f"| {name} | {result} | {detail} |")
    print(
        f"\n| {args.runs} pairings each, median (range or worst) | video file | "
        "MJPEG stream over HTTP |\n|---|---|---|"
    )
    for row in window:
        print("| " + " | ".join(row) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
