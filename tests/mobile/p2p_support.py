"""Phone to phone: two phones and a server, each in its own network namespace, and a
headless browser per phone; a fake camera for a phone that scans.

    phone A (10.77.0.2) --veth--+
                                 br (10.77.0.1, the server's namespace: the rendezvous
    phone B (10.77.0.3) --veth--+     service or a page server)

The two phones share one Ethernet segment through the bridge, as two phones on one Wi-Fi
do: each reaches the other's mDNS host candidate (multicast crosses the bridge) and the
server. Nothing leaves the namespaces; each phone's default route leads to the server.

A phone's camera is Chromium's fake capture device fed from a Y4M file this module
writes from pixels (a screenshot of the other phone), so the page's scanner reads the
other phone's code through the same path a camera's frames take.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import cv2
import mobile_support as ms
import numpy as np
from one_scan_support import BrowserThread
from playwright.sync_api import Browser, Page

from qrlink_desktop.scan import qrimage

T = TypeVar("T")

SERVER_ADDR, A_ADDR, B_ADDR = "10.77.0.1", "10.77.0.2", "10.77.0.3"
PORT = 8787
FRAME_W, FRAME_H = 640, 480
TIMEOUT_MS = 20_000


@dataclass
class Phones:
    server: ms.Namespace
    a: ms.Namespace
    b: ms.Namespace

    def topology(self, phone: ms.Namespace) -> ms.Topology:
        """The topology mobile_support's browser helpers take: this phone and the server."""
        return ms.Topology(self.server, phone, SERVER_ADDR)


@contextlib.contextmanager
def phones() -> Iterator[Phones]:
    n = next(ms._counter)
    pid = os.getpid()
    server = ms.Namespace(f"qrl-srv-{pid}-{n}")
    a = ms.Namespace(f"qrl-pa-{pid}-{n}")
    b = ms.Namespace(f"qrl-pb-{pid}-{n}")
    made: list[str] = []
    try:
        for ns in (server, a, b):
            made.append(ns.name)
            ms._add_namespace(ns)
        server.run("ip", "link", "add", "br0", "type", "bridge")
        server.run("ip", "addr", "add", f"{SERVER_ADDR}/24", "dev", "br0")
        server.run("ip", "link", "set", "br0", "up")
        for tag, ns, addr in (("a", a, A_ADDR), ("b", b, B_ADDR)):
            # Interface names have at most 15 characters.
            outer, inner = f"q{tag}{pid % 100000}s{n}", f"q{tag}{pid % 100000}p{n}"
            veth = ["ip", "link", "add", outer, "netns", server.name, "type", "veth"]
            subprocess.run(
                [*veth, "peer", "name", inner, "netns", ns.name],
                check=True,
                capture_output=True,
                timeout=20,
            )
            server.run("ip", "link", "set", outer, "master", "br0")
            server.run("ip", "link", "set", outer, "up")
            ns.run("ip", "addr", "add", f"{addr}/24", "dev", inner)
            ns.run("ip", "link", "set", inner, "up")
            # Browsers gather host candidates only with a default route.
            ns.run("ip", "route", "add", "default", "via", SERVER_ADDR)
        ms._wait_operstate_up(a, b)
        yield Phones(server, a, b)
    finally:
        for name in made:
            ms._del_namespace(name)


class Server:
    """`qrlink rendezvous` (the page and the API on one origin) or the page server alone
    (`python -m qrlink_desktop.pages`), in the server's namespace."""

    def __init__(self, phones: Phones, kind: str) -> None:
        module = "qrlink_desktop.rendezvous" if kind == "rendezvous" else "qrlink_desktop.pages"
        args = ["--host", SERVER_ADDR, "--port", str(PORT)]
        if kind == "rendezvous":
            args += ["--page-root", str(ms.DIST), "--log-level", "warning"]
        else:
            args += ["--root", str(ms.DIST)]
        self.proc = subprocess.Popen(
            [*phones.server.exec_prefix(), sys.executable, "-m", module, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ms.REPO,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        assert self.proc.stdout is not None
        watchdog = threading.Timer(20, self.proc.kill)
        watchdog.start()
        try:
            line = self.proc.stdout.readline()
        finally:
            watchdog.cancel()
        if "listening on" not in line:
            self.stop()
            raise RuntimeError(f"the {kind} server did not start: {line!r}")
        self.url = f"http://{SERVER_ADDR}:{PORT}/"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


def camera_args(video: Path, origin: str) -> list[str]:
    """Chromium's fake camera playing `video` (read when the page opens the camera, so it
    may be written after the browser starts), permission granted as a person would, and
    the plain-http test origin treated as the secure one a deployment has (https): the
    camera is for secure pages only."""
    return [
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={video}",
        f"--unsafely-treat-insecure-origin-as-secure={origin}",
    ]


def frame_of(png: bytes, size: tuple[int, int] = (FRAME_W, FRAME_H)) -> np.ndarray:
    """A camera frame (BGR) showing a screenshot: scaled to fill most of the frame's height,
    centred on a grey background, as a phone held up to a camera."""
    shot = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
    w, h = size
    frame = np.full((h, w, 3), 96, np.uint8)
    k = min(0.9 * h / shot.shape[0], 0.9 * w / shot.shape[1])
    scaled = cv2.resize(shot, None, fx=k, fy=k, interpolation=cv2.INTER_AREA)
    y, x = (h - scaled.shape[0]) // 2, (w - scaled.shape[1]) // 2
    frame[y : y + scaled.shape[0], x : x + scaled.shape[1]] = scaled
    return frame


def write_y4m(path: Path, frames: Sequence[np.ndarray], fps: int = 10) -> None:
    """Frames (BGR, all one size) as a Y4M video in I420, the format Chromium's fake
    capture device reads (and plays in a loop)."""
    h, w = frames[0].shape[:2]
    tmp = path.with_suffix(".tmp")
    with tmp.open("wb") as out:
        out.write(f"YUV4MPEG2 W{w} H{h} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for frame in frames:
            out.write(b"FRAME\n")
            out.write(cv2.cvtColor(frame, cv2.COLOR_BGR2YUV_I420).tobytes())
    tmp.replace(path)  # whole or not at all: the browser may open it any moment


class Phone:
    """A phone: a browser in its namespace, on a thread of its own (Playwright's sync API
    belongs to the thread that started it, and each phone's driver runs in the phone's
    namespace), with one page; each call runs there and returns its result."""

    def __init__(
        self, engine: str, topology: ms.Topology, chromium_extra: Sequence[str] = ()
    ) -> None:
        self.thread = BrowserThread(engine, topology, chromium_extra)
        self.page: Page | None = None

    @property
    def console(self) -> list[str]:
        return self.thread.console

    def do(self, step: Callable[[Page], T], timeout: float = 60.0) -> T:
        def run(_browser: Browser) -> T:
            assert self.page is not None, "no page is open"
            return step(self.page)

        return self.thread.submit(run).result(timeout=timeout)

    def open(self, url: str, script: str = "") -> None:
        """A new page at `url`; `script` runs in it before the page's own (a host's bridge)."""

        def run(browser: Browser) -> None:
            page = self.thread.new_page(browser)
            page.on("pageerror", lambda e: self.console.append(f"[uncaught] {e}"))
            if script:
                page.add_init_script(script)
            page.goto(url)
            self.page = page

        self.thread.submit(run).result(timeout=60)

    def close_page(self) -> None:
        self.do(lambda page: page.close())

    def close(self) -> None:
        self.thread.close()

    def state(self) -> str | None:
        return self.data("state")

    def data(self, name: str) -> str | None:
        return self.do(lambda page: page.get_attribute("body", f"data-{name}"))

    def wait_state(self, *states: str, timeout_ms: float = TIMEOUT_MS) -> str:
        selector = ", ".join(f"body[data-state={s}]" for s in states)
        self.do(lambda page: page.wait_for_selector(selector, timeout=timeout_ms, state="attached"))
        return self.state() or ""

    def wait_for(self, selector: str, timeout_ms: float = TIMEOUT_MS) -> None:
        self.do(lambda page: page.wait_for_selector(selector, timeout=timeout_ms, state="attached"))

    def click(self, selector: str) -> None:
        self.do(lambda page: page.click(selector))

    def fill(self, selector: str, value: str) -> None:
        self.do(lambda page: page.fill(selector, value))

    def attr(self, selector: str, name: str) -> str | None:
        return self.do(lambda page: page.get_attribute(selector, name))

    def text(self, selector: str) -> str:
        return self.do(lambda page: page.inner_text(selector))

    def exists(self, selector: str) -> bool:
        return self.do(lambda page: page.query_selector(selector) is not None)

    def screenshot(self) -> bytes:
        return self.do(lambda page: page.screenshot())


@contextlib.contextmanager
def phone(
    engine: str, phones: Phones, ns: ms.Namespace, chromium_extra: Sequence[str] = ()
) -> Iterator[Phone]:
    made = Phone(engine, phones.topology(ns), chromium_extra)
    try:
        yield made
    finally:
        made.close()


def url_from_screenshot(phone: Phone) -> str:
    """What a phone's camera app reads off the other phone's screen."""
    texts = ms.decode_qr_png(phone.screenshot())
    assert len(texts) == 1, texts
    return texts[0]


def merchant_offers(a: Phone) -> str:
    """Phone A: "Request a payment"; its QR on screen; the URL read off its screenshot."""
    a.wait_state("choosing")
    a.click("#choose-request")
    a.wait_state("offering")
    a.wait_for("#qr[data-text]")
    url = url_from_screenshot(a)
    assert url == a.attr("#qr", "data-text")
    return url


def both_show_the_code(a: Phone, b: Phone) -> str:
    a.wait_state("verifying")
    b.wait_state("verifying")
    code = a.data("code")
    assert code and code == b.data("code") == b.attr("#code", "data-code")
    return code


def request(a: Phone, amount: str) -> None:
    """A confirms the code and requests `amount` EUR."""
    a.click("#codes-match")
    a.wait_state("verified")
    a.fill("#amount-input", amount)
    a.fill("#currency-input", "EUR")
    a.click("#request")
    a.wait_state("requested")


def verify_and_pay(a: Phone, b: Phone, amount: str, approve: bool = True) -> str:
    """Both phones show the same code; A confirms it and requests; B decides; A sees it."""
    code = both_show_the_code(a, b)
    request(a, amount)
    b.wait_state("requested")
    assert b.text("#amount") == amount
    b.click("#approve" if approve else "#decline")
    outcome = "paid" if approve else "declined"
    a.wait_state(outcome)
    b.wait_state(outcome)
    b.wait_for("#outcome[data-acknowledged=yes]")
    return code


def failure_report(phones: dict[str, Phone]) -> str:
    lines: list[str] = []
    for name, p in phones.items():
        try:
            state = p.state() if p.page is not None else None
        except Exception as exc:  # the page may be gone: say so, and the console still
            state = f"unreadable ({exc})"
        lines.append(f"--- phone {name}: state {state!r}")
        lines += p.console[-60:]
    return "\n".join(lines)


def qr_png(text: str) -> bytes:
    """A QR code's picture (PNG), as a screen would show it."""
    ok, png = cv2.imencode(".png", qrimage.render_grey(text, scale=8))
    assert ok
    return bytes(png)


@dataclass
class Pair:
    server: Server
    a: Phone
    b: Phone


@contextlib.contextmanager
def pair(
    phones: Phones,
    kind: str,
    engine: str = "chromium",
    a_camera: Path | None = None,
    b_camera: Path | None = None,
) -> Iterator[Pair]:
    """A server of `kind` ("rendezvous" or "pages") and two phones on `engine`, a phone's
    camera playing the video at `a_camera`/`b_camera` (written later, before the page opens
    the camera). A failure inside reports both phones' states and consoles."""
    origin = f"http://{SERVER_ADDR}:{PORT}"
    extra = [[] if v is None else camera_args(v, origin) for v in (a_camera, b_camera)]
    server = Server(phones, kind)
    try:
        with (
            phone(engine, phones, phones.a, extra[0]) as a,
            phone(engine, phones, phones.b, extra[1]) as b,
        ):
            try:
                yield Pair(server, a, b)
            except Exception as exc:
                raise AssertionError(failure_report({"A": a, "B": b})) from exc
    finally:
        server.stop()
