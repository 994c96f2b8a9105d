"""Helpers the window tests share (a uniquely named module: tests/ has no packages)."""

from __future__ import annotations

import asyncio
import json
import queue
import subprocess
import sys
import threading
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from PySide6.QtGui import QImage
from pytestqt.qtbot import QtBot

from qrlink_desktop import app as app_module
from qrlink_desktop.core.events import check_json
from qrlink_desktop.scan.decoders import get_decoder

T = TypeVar("T")

LOOPBACK = ("--address", "127.0.0.1")
PAGE = ("--page-url", "http://127.0.0.1:8765/")
QRLINK = [sys.executable, "-m", "qrlink_desktop.cli"]


def run(qtbot: QtBot, coro: Coroutine[Any, Any, T], timeout: float = 10.0) -> T:
    """Run a coroutine on the qasync loop while Qt processes events, and return its result."""
    task = asyncio.ensure_future(coro)
    qtbot.waitUntil(task.done, timeout=int(timeout * 1000))
    return task.result()


def make_app(tmp_path: Path, *extra: str) -> app_module.QrlinkApp:
    """The composition root as `qrlink gui` builds it, on loopback only, with its settings
    in a file of its own and no camera unless one is given."""
    argv = [*LOOPBACK, *PAGE, "--settings", str(tmp_path / "settings.ini")]
    if "--camera" not in extra:
        argv += ["--camera", str(tmp_path / "no-camera.avi")]
    args = app_module.build_parser().parse_args([*argv, *extra])
    return app_module.QrlinkApp(args, app_module.open_store(args.settings))


def qimage_to_bgr(image: QImage) -> np.ndarray:
    """A BGR uint8 array of a QImage (tests read widgets' pixels)."""
    rgb = image.convertToFormat(QImage.Format.Format_RGB888)
    height, width, stride = rgb.height(), rgb.width(), rgb.bytesPerLine()
    data = np.frombuffer(rgb.constBits(), dtype=np.uint8, count=stride * height)
    return data.reshape(height, stride)[:, : width * 3].reshape(height, width, 3)[:, :, ::-1].copy()


def decode_widget(widget: Any) -> list[str]:
    """The QR texts readable in a widget's pixels, as a camera would see its screen."""
    image = qimage_to_bgr(widget.grab().toImage())
    return [d.text for d in get_decoder("zxing").decode(image)]


def assert_outline_on_code(view: Any, text: str) -> tuple[float, float]:
    """The viewfinder's green outline frames the code where the picture shows it.

    The code's place is read off the widget's pixels with the outline hidden, as a
    person sees it; the outline's is where its green pixels are. Returns the code's centre
    in the widget.
    """
    outlines = view.outlines
    view.outlines = []
    [seen] = get_decoder("zxing").decode(qimage_to_bgr(view.grab().toImage()))
    view.outlines = outlines
    assert seen.text == text
    pixels = qimage_to_bgr(view.grab().toImage()).astype(int)
    b, g, r = pixels[..., 0], pixels[..., 1], pixels[..., 2]
    green = np.argwhere((g > 180) & (r < 120) & (b < 160))
    assert len(green) > 100, "no outline drawn"
    ys, xs = green[:, 0], green[:, 1]
    corners = np.array(seen.corners)
    # Its extent is the code's, to a pen's width.
    assert abs(xs.min() - corners[:, 0].min()) < 6 and abs(xs.max() - corners[:, 0].max()) < 6
    assert abs(ys.min() - corners[:, 1].min()) < 6 and abs(ys.max() - corners[:, 1].max()) < 6
    return seen.center


def symbol_pixels(widget: Any) -> np.ndarray:
    image = qimage_to_bgr(widget.grab().toImage())
    r = widget.symbol_rect()
    return image[r.top() : r.top() + r.height(), r.left() : r.left() + r.width()]


class Peer:
    """`qrlink peer answer` in a subprocess (the phone), its JSON events read by a thread."""

    def __init__(self, offer_text: str, *args: str) -> None:
        self.proc = subprocess.Popen(
            # The phone waits for the cashier's camera as long as a person would: the test
            # writes and plays a video first, which takes a while on a busy machine.
            [
                *QRLINK,
                "peer",
                "answer",
                offer_text,
                "--json",
                *LOOPBACK,
                "--connect-timeout",
                "120",
                *args,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.events: list[dict[str, Any]] = []
        self._queue: queue.Queue[dict[str, Any]] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.strip():
                event = json.loads(line)
                check_json(event)  # the schema's, as every `--json` line
                self.events.append(event)
                self._queue.put(event)

    def first(self, name: str) -> dict[str, Any] | None:
        return next((e for e in self.events if e.get("event") == name), None)

    def stop(self) -> int:
        try:
            return self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return -9
        finally:
            for stream in (self.proc.stdout, self.proc.stderr):
                if stream is not None:
                    stream.close()

    def stderr(self) -> str:
        return self.proc.stderr.read() if self.proc.stderr else ""
