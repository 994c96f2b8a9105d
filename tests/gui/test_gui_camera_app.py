"""The camera bridge (decoding on the scanner's threads, never the GUI thread), the
composition root's `main`, and the layering rule."""

from __future__ import annotations

import ast
import subprocess
import sys
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest
from gui_support import assert_outline_on_code
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot
from support import synthetic

import qrlink_desktop
from qrlink_desktop import app as app_module
from qrlink_desktop.gui.camera import CameraBridge, CameraRequest
from qrlink_desktop.gui.viewfinder import Viewfinder
from qrlink_desktop.scan import decoders, qrimage

ANSWER = synthetic.answer_like_text(np.random.default_rng(5))


@pytest.fixture(scope="module")
def answer_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    frames = synthetic.phone_sequence(
        ANSWER, seed=2, difficulty=0.3, empty_frames=3, enter_frames=4, hold_frames=20
    )
    return synthetic.write_video(tmp_path_factory.mktemp("video") / "answer.avi", frames, 30)


def test_frames_codes_and_outlines_arrive_as_signals_decoded_off_the_gui_thread(
    qtbot: QtBot, answer_video: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    decoded_on: set[str] = set()
    original = decoders.ZxingDecoder.decode

    def spy(self: decoders.ZxingDecoder, frame: np.ndarray) -> list[decoders.Detection]:
        decoded_on.add(threading.current_thread().name)
        return original(self, frame)

    monkeypatch.setattr(decoders.ZxingDecoder, "decode", spy)
    bridge = CameraBridge()
    outlines: list[int] = []
    bridge.frame.connect(lambda image, polys: outlines.append(len(polys)))
    try:
        with qtbot.waitSignal(bridge.code, timeout=10_000) as blocker:
            bridge.start(CameraRequest(str(answer_video), "zxing", mirror=True))
        assert blocker.args == [ANSWER]
        qtbot.waitUntil(lambda: any(outlines), timeout=5_000)  # the code is outlined
    finally:
        bridge.stop()
    assert decoded_on and threading.main_thread().name not in decoded_on
    assert all(name.startswith("qrlink-scan") for name in decoded_on)
    assert bridge.frames_shown > 0


@pytest.mark.parametrize("mirrored", [False, True])
def test_the_outline_lands_on_the_code_through_the_camera_path(
    qtbot: QtBot, tmp_path: Path, mirrored: bool
) -> None:
    # A code held still in the left third of the picture, played through OpenCV's capture
    # as a camera would deliver it; the window's bridge and viewfinder draw it.
    code = cv2.cvtColor(qrimage.render_grey(ANSWER, scale=4), cv2.COLOR_GRAY2BGR)
    frame = np.full((720, 1280, 3), 170, np.uint8)
    frame[200 : 200 + code.shape[0], 100 : 100 + code.shape[1]] = code
    video = synthetic.write_video(tmp_path / "still.avi", [frame] * 60, fps=30)
    bridge = CameraBridge()
    view = Viewfinder()
    qtbot.addWidget(view)
    view.resize(800, 600)
    bridge.frame.connect(view.show_frame)
    try:
        bridge.start(CameraRequest(str(video), "zxing", mirror=mirrored))
        qtbot.waitUntil(lambda: bool(view.outlines), timeout=10_000)
    finally:
        bridge.stop()
    assert view.mirrored is mirrored
    centre = assert_outline_on_code(view, ANSWER)
    assert (centre[0] > 400) is mirrored


def test_a_stopped_scanner_says_nothing_more(qtbot: QtBot, answer_video: Path) -> None:
    bridge = CameraBridge()
    codes: list[str] = []
    bridge.code.connect(codes.append)
    bridge.start(CameraRequest(str(answer_video)))
    bridge.stop()
    qtbot.wait(300)
    assert codes == [] and bridge.scanner is None


def test_missing_decoder_is_an_error_signal_not_an_exception(
    qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    bridge = CameraBridge()
    with qtbot.waitSignal(bridge.error) as blocker:
        bridge.start(CameraRequest("0", decoder="nonesuch"))
    assert blocker.args[0] == "INVALID_ARGUMENT"


# -- app.main -------------------------------------------------------------------------------


def test_main_opens_the_window_and_returns_0_when_it_closes(tmp_path: Path) -> None:
    closed: list[bool] = []

    def close_when_offered() -> None:
        for widget in QApplication.topLevelWidgets():
            offer = getattr(widget, "offer", None)
            if offer is not None and offer.text:
                closed.append(True)
                widget.close()
                return
        QTimer.singleShot(50, close_when_offered)

    QApplication.instance() or QApplication([])
    QTimer.singleShot(50, close_when_offered)
    code = app_module.main(
        [
            "--address",
            "127.0.0.1",
            "--page-url",
            "http://127.0.0.1:8765/",
            "--camera",
            str(tmp_path / "none.avi"),
            "--settings",
            str(tmp_path / "s.ini"),
        ]
    )
    assert code == 0 and closed


def test_main_refuses_bad_options_with_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = app_module.main(["--ice-server", "http://nope", "--settings", str(tmp_path / "s.ini")])
    assert code == 2
    assert "stun:host:port" in capsys.readouterr().err


def test_python_dash_m_help() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "qrlink_desktop.app", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0
    for option in (
        "--camera",
        "--ice-server",
        "--ice-username",
        "--ice-credential",
        "--relay-only",
        "--address",
        "--page-url",
    ):
        assert option in out.stdout


# -- layering (docs/architecture.md) -------------------------------------------------------


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            prefix = "." * node.level
            names.add(prefix + node.module)
    return names


def test_only_gui_and_the_composition_root_touch_qt_or_gui() -> None:
    root = Path(qrlink_desktop.__file__).parent
    for package in ("core", "rtc", "scan", "rendezvous"):
        for path in (root / package).rglob("*.py"):
            for name in _imports(path):
                assert "gui" not in name.split("."), f"{path} imports {name}"
                assert not name.startswith(("PySide6", "qasync")), f"{path} imports {name}"
    app_imports = _imports(root / "app.py")
    assert any(name.startswith(".gui") for name in app_imports)


def test_main_serves_the_customer_page_when_no_page_url_is_set(tmp_path: Path) -> None:
    """No page URL configured: the window serves the built page itself (loopback here),
    and the offer QR points at it, so a shop without internet works."""
    import threading
    import urllib.request

    seen: dict[str, str] = {}

    def fetch(url: str) -> None:  # off the GUI thread: the server runs on its loop
        with urllib.request.urlopen(url, timeout=5) as resp:
            seen["page"] = resp.read().decode()

    def fetch_when_offered() -> None:
        for widget in QApplication.topLevelWidgets():
            offer = getattr(widget, "offer", None)
            if offer is None or not offer.text or not widget.isVisible():
                continue  # an earlier test's closed window may still exist
            if "url" not in seen:
                seen["url"] = "http://" + offer.text.split("://", 1)[1].split("#", 1)[0].lower()
                threading.Thread(target=fetch, args=(seen["url"],), daemon=True).start()
            if "page" in seen:
                widget.close()
                return
        QTimer.singleShot(50, fetch_when_offered)

    QApplication.instance() or QApplication([])
    QTimer.singleShot(50, fetch_when_offered)
    code = app_module.main(
        [
            "--address",
            "127.0.0.1",
            "--camera",
            str(tmp_path / "none.avi"),
            "--settings",
            str(tmp_path / "s.ini"),
        ]
    )
    assert code == 0
    assert seen["url"].startswith("http://127.0.0.1:")
    assert "<html" in seen["page"].lower() and "script" in seen["page"].lower()
