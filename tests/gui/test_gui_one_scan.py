"""The window with a real browser on the customer's side (Chromium and Firefox), in both
topologies of the page tests (a loopback-only namespace; a laptop and a phone namespace
joined by a veth pair).

One scan: the window serves the page, the browser opens the offer it read from the
window's pixels, and the page's answer comes back over the network: the code on both
screens, the cashier confirms, the phone approves. No camera frame at all.
Fallback: a page hosted elsewhere has no way home; it shows its answer QR, and the window
reads it through its camera path (the answer rendered into realistic webcam frames).

The window runs in this process; its thread joins the laptop's namespace for the test
(`thread_in_namespace`), so its page server and ICE agent live there, as on a till.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Iterator
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
from support import synthetic

from qrlink_desktop import app as app_module
from qrlink_desktop.core.events import ErrorEvent
from qrlink_desktop.core.session import State
from qrlink_desktop.gui.status_panel import WAITING_ONE_SCAN
from qrlink_desktop.pages.answers import AnswerInbox
from qrlink_desktop.pages.server import PageServer, serve_pages

STEP_MS = 15_000  # a browser step's own waits
WAIT_MS = 25_000  # waiting here for a step, or for the window


@pytest.fixture(scope="module", params=ms.ENGINES)
def browser_engine(request: pytest.FixtureRequest) -> str:
    """The customer's browser engine: "chromium" or "firefox"."""
    engine: str = request.param
    return engine


@pytest.fixture(scope="module", params=["loopback", "namespaces"])
def topology(request: pytest.FixtureRequest) -> Iterator[ms.Topology]:
    ms.check_tools()
    ms.ensure_page_built()
    with ms.topology(request.param) as topo:
        yield topo


@pytest.fixture(scope="module")
def browser(topology: ms.Topology, browser_engine: str) -> Iterator[oss.BrowserThread]:
    """The customer's browser, in the phone's namespace, on a thread of its own; one per
    module, engine and topology (each test opens its own page)."""
    browser = oss.BrowserThread(browser_engine, topology)
    try:
        yield browser
    finally:
        browser.close()


@pytest.fixture
def phone(browser: oss.BrowserThread) -> Iterator[oss.BrowserThread]:
    """The browser for one test: its pages are closed after it."""
    browser.console.clear()
    yield browser

    def close_pages(_browser: Any) -> None:
        for page in browser.pages.values():
            page.close()
        browser.pages.clear()

    browser.submit(close_pages).result(timeout=30)


class Till:
    """The window under test and the customer's browser; when something does not come,
    the report says what the page printed and where the window's ICE agent stood."""

    def __init__(self, qtbot: QtBot, app: app_module.QrlinkApp, phone: oss.BrowserThread) -> None:
        self.qtbot, self.app, self.window, self.phone = qtbot, app, app.window, phone
        self.ice_at_failure: list[str] = []
        # The session closes its peer right after reporting an error: look before.
        app.controller.sessionEvent.connect(self._on_event)
        qtbot.addWidget(app.window)

    def _on_event(self, event: object) -> None:
        if isinstance(event, ErrorEvent):
            self.ice_at_failure.append(f"{event.code}: {self._ice_state()}")

    def _ice_state(self) -> str:
        peer = getattr(self.app.controller.session, "peer", None)  # the real session's
        if peer is None:
            return "no peer"
        out = [f"connection {peer.pc.connectionState}, ice {peer.pc.iceConnectionState}"]
        for transport in getattr(peer.pc, "_RTCPeerConnection__iceTransports", ()):
            conn = transport._connection
            out.append(f"remote candidates {[str(c) for c in conn._remote_candidates]}")
            out.append(f"pairs {[(str(p), p.state) for p in conn._check_list]}")
        return "; ".join(out)

    def until(self, check: Callable[[], bool], timeout: int = WAIT_MS) -> None:
        try:
            self.qtbot.waitUntil(check, timeout=timeout)
        except Exception:
            print("page console:", *self.phone.console[-50:], sep="\n")
            print("the window's ICE when it failed:", *self.ice_at_failure, sep="\n")
            raise

    def step(self, step: Callable[[Any], Any]) -> Any:
        """A browser step's result, while Qt and asyncio keep running here."""
        future = self.phone.submit(step)
        self.until(future.done)
        return future.result()

    def confirm_and_pay(self) -> None:
        window = self.window
        self.until(lambda: QApplication.focusWidget() is window.status.confirm_button)
        self.qtbot.keyClick(window.status.confirm_button, Qt.Key.Key_Return)
        self.until(lambda: QApplication.focusWidget() is window.payment.amount)
        self.qtbot.keyClicks(window.payment.amount, "9.99")
        self.qtbot.keyClick(window.payment.amount, Qt.Key.Key_Return)

        def approve(_browser: Any) -> str:
            page = self.phone.pages["customer"]
            page.wait_for_selector("body[data-screen=request]", timeout=STEP_MS)
            amount = str(page.inner_text("#amount"))
            page.click("#approve")
            page.wait_for_selector("#outcome[data-acknowledged=yes]", timeout=STEP_MS)
            return amount

        assert self.step(approve) == "9.99"
        self.until(lambda: window.payment.outcome_status == "approved")
        self.until(lambda: self.app.controller.state == State.CLOSED)


def _window(
    tmp_path: Path, topology: ms.Topology, page_url: str, inbox: AnswerInbox | None, camera: Path
) -> app_module.QrlinkApp:
    argv = ["--address", topology.laptop_addr, "--page-url", page_url]
    argv += ["--settings", str(tmp_path / "settings.ini"), "--camera", str(camera)]
    args = app_module.build_parser().parse_args(argv)
    return app_module.QrlinkApp(args, app_module.open_store(args.settings), inbox=inbox)


def _serve(qtbot: QtBot, topology: ms.Topology, inbox: AnswerInbox | None) -> PageServer:
    return run(qtbot, serve_pages(topology.laptop_addr, 0, ms.DIST, inbox=inbox))


def _code_on_the_page(phone: oss.BrowserThread) -> Callable[[Any], str]:
    def step(_browser: Any) -> str:
        page = phone.pages["customer"]
        try:
            page.wait_for_selector("body[data-screen=verify]", timeout=STEP_MS)
        except Exception as exc:
            state = page.evaluate("JSON.stringify(document.body.dataset)")
            raise AssertionError(f"the page did not verify: {state}") from exc
        return str(page.get_attribute("#code", "data-code"))

    return step


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
        till, window = Till(qtbot, app, phone), app.window
        try:
            app.start()
            till.until(lambda: app.controller.state == State.AWAITING_ANSWER)
            assert window.status.state_label.text() == WAITING_ONE_SCAN
            till.until(window.answers.retry_camera.isVisible)  # no camera at all
            # The customer's phone reads the offer from the window's pixels.
            texts = decode_widget(window.offer.qr)
            assert texts == [window.offer.text]

            def open_offer(browser: Any) -> None:
                page = phone.new_page(browser)
                phone.pages["customer"] = page
                page.goto(texts[0])

            def how_it_went(_browser: Any) -> tuple[str | None, str | None]:
                page = phone.pages["customer"]
                page.wait_for_selector("body[data-home]", state="attached", timeout=STEP_MS)
                return page.get_attribute("body", "data-home"), page.get_attribute(
                    "body", "data-fallback"
                )

            till.step(open_offer)
            phone_code = till.step(_code_on_the_page(phone))
            # Sent home and taken; the answer QR was never needed, so never shown.
            assert till.step(how_it_went) == ("accepted", None)
            till.until(window.status.code_box.isVisible)
            assert window.status.code_label.text().replace(" ", "") == phone_code
            till.confirm_and_pay()

            pairing = window.pairings.pairings[-1]
            assert (pairing.source, pairing.outcome) == ("network", "success")
            assert window.camera.frames_shown == 0 and window.answers.viewfinder.frames_painted == 0
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
        till, window = Till(qtbot, app, phone), app.window
        try:
            app.start()
            till.until(lambda: app.controller.state == State.AWAITING_ANSWER)
            url = window.offer.text

            def open_offer(browser: Any) -> tuple[str, float, bytes]:
                page = phone.new_page(browser)
                phone.pages["customer"] = page
                page.goto(url)
                page.wait_for_selector("body[data-screen=answer]", timeout=STEP_MS)
                fallback = str(page.get_attribute("body", "data-fallback"))
                ready = float(page.get_attribute("body", "data-t-answer-ready") or "nan")
                shown = float(page.get_attribute("body", "data-t-qr-shown") or "nan")
                return fallback, shown - ready, page.screenshot()

            fallback, delay, png = till.step(open_offer)
            assert fallback == "no-way-home" and 0 <= delay < 2000
            found = ms.decode_qr_png(png)  # what the phone's screen shows
            assert len(found) == 1 and found[0].startswith("QL:")
            frames = synthetic.phone_sequence(found[0], seed=3, difficulty=0.3)
            synthetic.write_video(video, frames, fps=30)
            qtbot.mouseClick(window.answers.retry_camera, Qt.MouseButton.LeftButton)

            till.until(window.status.code_box.isVisible)
            phone_code = till.step(_code_on_the_page(phone))
            assert window.status.code_label.text().replace(" ", "") == phone_code
            till.confirm_and_pay()
            assert window.pairings.pairings[-1].source == "camera"
            assert window.status.state_label.text() != WAITING_ONE_SCAN
        finally:
            run(qtbot, app.shutdown())
            run(qtbot, elsewhere.close())
