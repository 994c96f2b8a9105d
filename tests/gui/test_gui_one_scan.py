"""The window with a real browser on the customer's side, in both topologies of the page
tests (a loopback-only namespace; a laptop and a phone namespace joined by a veth pair).

One scan: the window serves the page, the browser opens the offer it read from the
window's pixels, and the page's answer comes back over the network: the code on both
screens, the cashier confirms, the phone approves. No camera frame at all.
Fallback: a page hosted elsewhere has no way home; it shows its answer QR, and the window
reads it through its camera path (the answer rendered into realistic webcam frames).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "mobile"))

import mobile_support as ms
import one_scan_support as oss
from gui_support import decode_widget, run
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from qrlink_desktop import app as app_module
from qrlink_desktop.core.session import State
from qrlink_desktop.gui.status_panel import WAITING_ONE_SCAN
from qrlink_desktop.rendezvous.answers import AnswerInbox
from qrlink_desktop.rendezvous.pages import PageServer, serve_pages
from qrlink_desktop.scan import synthetic

TIMEOUT_MS = 20_000
PHONES: list[oss.BrowserThread] = []


@pytest.fixture(params=["loopback", "namespaces"])
def topology(request: pytest.FixtureRequest) -> Iterator[ms.Topology]:
    ms.check_tools()
    ms.ensure_page_built()
    topo_cm: AbstractContextManager[ms.Topology] = (
        ms.loopback_namespace() if request.param == "loopback" else ms.two_namespaces()
    )
    with topo_cm as topo:
        yield topo


@pytest.fixture
def phone(topology: ms.Topology, tmp_path: Path) -> Iterator[oss.BrowserThread]:
    """The customer's browser, in the phone's namespace, on a thread of its own."""
    browser = oss.BrowserThread(oss.chromium_launcher(topology, tmp_path))
    PHONES.append(browser)
    try:
        yield browser
    finally:
        browser.close()


def _window(
    tmp_path: Path, topology: ms.Topology, page_url: str, inbox: AnswerInbox | None, camera: Path
) -> app_module.QrlinkApp:
    argv = ["--address", topology.laptop_addr, "--page-url", page_url]
    argv += ["--settings", str(tmp_path / "settings.ini"), "--camera", str(camera)]
    args = app_module.build_parser().parse_args(argv)
    return app_module.QrlinkApp(args, app_module.open_store(args.settings), inbox=inbox)


def _wait(qtbot: QtBot, future: Any, timeout: int = TIMEOUT_MS) -> Any:
    """A browser step's result, while Qt and asyncio keep running here."""
    try:
        qtbot.waitUntil(future.done, timeout=timeout)
    except Exception:
        print("page console:", *PHONES[-1].console[-50:], sep="\n")
        print("laptop's ICE when it failed:", *ICE_AT_FAILURE, sep="\n")
        raise
    return future.result()


ICE_AT_FAILURE: list[str] = []


def _watch_ice(app: app_module.QrlinkApp) -> None:
    """Keep what the window's ICE agent reached when the engine reports an error (it
    closes the peer right after), for the report of a pairing that did not complete."""
    ICE_AT_FAILURE.clear()

    def on_event(event: dict[str, Any]) -> None:
        if event.get("event") == "error":
            ICE_AT_FAILURE.append(f"{event.get('code')}: {_ice_state(app)}")

    app.controller.engineEvent.connect(on_event)


def _confirm_and_pay(qtbot: QtBot, app: app_module.QrlinkApp, phone: oss.BrowserThread) -> None:
    window = app.window
    qtbot.waitUntil(lambda: QApplication.focusWidget() is window.status.confirm_button)
    qtbot.keyClick(window.status.confirm_button, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: QApplication.focusWidget() is window.payment.amount)
    qtbot.keyClicks(window.payment.amount, "9.99")
    qtbot.keyClick(window.payment.amount, Qt.Key.Key_Return)

    def approve(_browser: Any) -> str:
        page = pages["customer"]
        page.wait_for_selector("body[data-state=request]", timeout=TIMEOUT_MS)
        amount = str(page.inner_text("#amount"))
        page.click("#approve")
        page.wait_for_selector("#outcome[data-acknowledged=yes]", timeout=TIMEOUT_MS)
        return amount

    assert _wait(qtbot, phone.submit(approve)) == "9.99"
    qtbot.waitUntil(lambda: window.payment.outcome_status == "approved", timeout=10_000)
    qtbot.waitUntil(lambda: app.controller.state == State.CLOSED, timeout=10_000)


def _ice_state(app: app_module.QrlinkApp) -> str:
    """What the window's ICE agent got to (for a pairing that did not complete)."""
    peer = app.controller.engine.peer
    if peer is None:
        return "no peer"
    out = [f"connection {peer.pc.connectionState}, ice {peer.pc.iceConnectionState}"]
    for transport in getattr(peer.pc, "_RTCPeerConnection__iceTransports", ()):
        conn = transport._connection
        out.append(f"remote {[str(c) for c in conn._remote_candidates]}")
        out.append(f"pairs {[(str(p), p.state) for p in conn._check_list]}")
        out.append(f"early {len(conn._early_checks)} resolving {conn._remote_candidates_resolving}")
    return "; ".join(out)


pages: dict[str, Any] = {}  # the browser thread's pages, touched only from its steps


def _serve(qtbot: QtBot, topology: ms.Topology, inbox: AnswerInbox | None) -> PageServer:
    return run(qtbot, serve_pages(topology.laptop_addr, 0, ms.DIST, inbox=inbox))


def test_window_one_scan_no_camera_frames(
    qtbot: QtBot,
    qt_loop: asyncio.AbstractEventLoop,
    tmp_path: Path,
    topology: ms.Topology,
    phone: oss.BrowserThread,
) -> None:
    with oss.thread_in_namespace(topology.laptop):
        inbox = AnswerInbox()
        server = _serve(qtbot, topology, inbox)
        app = _window(tmp_path, topology, server.url, inbox, tmp_path / "no-camera.avi")
        _watch_ice(app)
        window = app.window
        qtbot.addWidget(window)
        try:
            app.start()
            qtbot.waitUntil(lambda: app.controller.state == State.AWAITING_ANSWER, timeout=10_000)
            assert window.status.state_label.text() == WAITING_ONE_SCAN
            qtbot.waitUntil(window.retry_camera.isVisible, timeout=5_000)  # no camera at all
            # The customer's phone reads the offer from the window's pixels.
            texts = decode_widget(window.offer.qr)
            assert texts == [window.offer.text]
            url = texts[0]

            def open_offer(browser: Any) -> str:
                page = phone.new_page(browser)
                pages["customer"] = page
                page.goto(url)
                try:
                    page.wait_for_selector("body[data-state=verify]", timeout=TIMEOUT_MS)
                except Exception as exc:
                    state = page.evaluate("JSON.stringify(document.body.dataset)")
                    raise AssertionError(f"the page did not verify: {state}") from exc
                assert page.query_selector("#qr") is None  # nothing shown to a camera
                return str(page.get_attribute("#code", "data-code"))

            phone_code = _wait(qtbot, phone.submit(open_offer))
            qtbot.waitUntil(window.status.code_box.isVisible, timeout=TIMEOUT_MS)
            assert window.status.code_label.text().replace(" ", "") == phone_code
            _confirm_and_pay(qtbot, app, phone)

            pairing = window.pairings.pairings[-1]
            assert (pairing.source, pairing.outcome) == ("network", "success")
            assert window.camera.frames_shown == 0 and window.viewfinder.frames_painted == 0
            assert inbox.accepted == 1 and not inbox.refused
        finally:
            run(qtbot, app.shutdown())
            run(qtbot, server.close())


def test_window_page_hosted_elsewhere_falls_back_to_the_camera(
    qtbot: QtBot,
    qt_loop: asyncio.AbstractEventLoop,
    tmp_path: Path,
    topology: ms.Topology,
    phone: oss.BrowserThread,
) -> None:
    """A configured page URL: the page has no way home and shows its answer QR; the
    window's camera reads it (realistic webcam frames of a phone showing that code)."""
    video = tmp_path / "answer.avi"
    with oss.thread_in_namespace(topology.laptop):
        elsewhere = _serve(qtbot, topology, None)  # a page host that takes no answers
        app = _window(tmp_path, topology, elsewhere.url, None, video)
        _watch_ice(app)
        window = app.window
        qtbot.addWidget(window)
        try:
            app.start()
            qtbot.waitUntil(lambda: app.controller.state == State.AWAITING_ANSWER, timeout=10_000)
            url = window.offer.text

            def open_offer(browser: Any) -> tuple[str, float, bytes]:
                page = phone.new_page(browser)
                pages["customer"] = page
                page.goto(url)
                page.wait_for_selector("body[data-state=answer]", timeout=TIMEOUT_MS)
                fallback = str(page.get_attribute("body", "data-fallback"))
                ready = float(page.get_attribute("body", "data-t-answer-ready") or "nan")
                shown = float(page.get_attribute("body", "data-t-qr-shown") or "nan")
                return fallback, shown - ready, page.screenshot()

            fallback, delay, png = _wait(qtbot, phone.submit(open_offer))
            assert fallback == "no-way-home" and 0 <= delay < 2000
            found = ms.decode_qr_png(png)  # what the phone's screen shows
            assert len(found) == 1 and found[0].startswith("QL:")
            frames = synthetic.phone_sequence(found[0], seed=3, difficulty=0.3)
            synthetic.write_video(video, frames, fps=30)
            qtbot.mouseClick(window.retry_camera, Qt.MouseButton.LeftButton)

            def code_on_page(_browser: Any) -> str:
                page = pages["customer"]
                page.wait_for_selector("body[data-state=verify]", timeout=TIMEOUT_MS)
                return str(page.get_attribute("#code", "data-code"))

            try:
                qtbot.waitUntil(window.status.code_box.isVisible, timeout=TIMEOUT_MS)
            except Exception:
                print("laptop's ICE when it failed:", *ICE_AT_FAILURE, sep="\n")
                raise
            phone_code = _wait(qtbot, phone.submit(code_on_page))
            assert window.status.code_label.text().replace(" ", "") == phone_code
            _confirm_and_pay(qtbot, app, phone)
            assert window.pairings.pairings[-1].source == "camera"
            assert window.status.state_label.text() != WAITING_ONE_SCAN
        finally:
            run(qtbot, app.shutdown())
            run(qtbot, elsewhere.close())
