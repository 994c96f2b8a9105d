"""Network namespaces, a browser (Chromium or Firefox) inside one, and the cashier's
`qrlink peer offer` inside another, for whole-flow tests and the page benchmark.

Nothing here sends traffic outside loopback or the namespaces it creates: the loopback
scenario runs in a namespace that has only `lo` (the host namespace has a default route
that a browser would gather and aiortc would try), and the two-namespace scenario joins a
laptop and a phone namespace with one veth pair and no other link.

Both engines are driven by Playwright: Chromium over its pipe, Firefox over WebDriver BiDi,
a WebSocket on 127.0.0.1. That WebSocket only reaches a browser in the same namespace, so
Playwright's driver (its node process) runs in the phone's namespace and starts the browser
there: `PLAYWRIGHT_NODEJS_PATH` names a wrapper that runs node under `ip netns exec`.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import queue
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from playwright._impl._driver import compute_driver_executable
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

REPO = Path(__file__).resolve().parents[2]
PAGE_DIR = REPO / "resources" / "mobile"
DIST = PAGE_DIR / "dist"
# The engines every page test runs on; ids of the `browser_engine` fixture (conftest.py).
ENGINES = ("chromium", "firefox")
CHROMIUM = Path("/usr/bin/chromium")
FIREFOX = Path("/usr/bin/firefox-esr")
BROWSERS = {"chromium": CHROMIUM, "firefox": FIREFOX}
APT_PACKAGE = {"chromium": "chromium", "firefox": "firefox-esr"}
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Loopback only: gather 127.0.0.1 and show it as it is (an mDNS name on lo cannot resolve).
CHROMIUM_LOOPBACK_ARGS = [
    "--allow-loopback-in-peer-connection",
    "--disable-features=WebRtcHideLocalIpsWithMdns",
]
# Loopback only, as above: Firefox gathers neither 127.0.0.1 nor ::1 without the first and
# hides them behind mDNS names (which cannot resolve on lo) without the second.
FIREFOX_LOOPBACK_PREFS: dict[str, str | int | bool] = {
    "media.peerconnection.ice.loopback": True,
    "media.peerconnection.ice.obfuscate_host_addresses": False,
}
LAPTOP_ADDR, PHONE_ADDR = "10.99.0.1", "10.99.0.2"
PAGE_PORT = 8765

_counter = itertools.count(1)


def _run(*cmd: str) -> None:
    subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=20)


def ensure_page_built() -> None:
    """The Makefile builds the page before tests; build it here if that did not happen."""
    if (DIST / "index.html").is_file():
        return
    for step in (["npm", "ci", "--no-audit", "--no-fund"], ["npm", "run", "build"]):
        done = subprocess.run(step, cwd=PAGE_DIR, capture_output=True, text=True, timeout=300)
        if done.returncode != 0:
            raise RuntimeError(
                f"{' '.join(step)} failed in {PAGE_DIR}:\n{done.stdout}\n{done.stderr}"
            )


def check_tools() -> None:
    if os.geteuid() != 0:
        raise RuntimeError("the browser tests create network namespaces and need root")
    for engine, path in BROWSERS.items():
        if not path.exists():
            raise RuntimeError(f"{path} is missing: apt-get install {APT_PACKAGE[engine]}")
    _run("ip", "netns", "list")


@dataclass
class Namespace:
    name: str

    def exec_prefix(self) -> list[str]:
        return ["ip", "netns", "exec", self.name]

    def run(self, *cmd: str) -> None:
        _run(*self.exec_prefix(), *cmd)


@dataclass
class Topology:
    """Either one loopback-only namespace (laptop and phone are the same) or two joined
    by a veth pair."""

    laptop: Namespace
    phone: Namespace
    laptop_addr: str
    created: list[str] = field(default_factory=list)

    @property
    def loopback(self) -> bool:
        return self.laptop is self.phone


def _unique(prefix: str) -> str:
    return f"{prefix}-{os.getpid()}-{next(_counter)}"


# `ip netns exec NAME` mounts the files in /etc/netns/NAME over /etc.
NETNS_ETC = Path("/etc/netns")


def _add_namespace(ns: Namespace) -> None:
    """A namespace with `lo` up and its own resolver: a nameserver on its own loopback.

    The host's nameserver cannot be reached from here; Firefox looks up its settings
    server at start, and the unanswered query held its shutdown for ~5 s. Refused at once
    on lo, the lookup costs nothing (and still nothing leaves the namespace)."""
    _run("ip", "netns", "add", ns.name)
    etc = NETNS_ETC / ns.name
    etc.mkdir(parents=True, exist_ok=True)
    (etc / "resolv.conf").write_text("nameserver 127.0.0.1\n")
    ns.run("ip", "link", "set", "lo", "up")


def _del_namespace(name: str) -> None:
    subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=20)
    shutil.rmtree(NETNS_ETC / name, ignore_errors=True)


@contextlib.contextmanager
def loopback_namespace() -> Iterator[Topology]:
    ns = Namespace(_unique("qrl-lo"))
    try:
        _add_namespace(ns)
        # Firefox gathers no candidate at all without a default route (Chromium gathers
        # none here either way); the route stays on lo, so nothing can leave.
        ns.run("ip", "route", "add", "default", "dev", "lo", "src", "127.0.0.1")
        yield Topology(ns, ns, "127.0.0.1", [ns.name])
    finally:
        _del_namespace(ns.name)


@contextlib.contextmanager
def two_namespaces() -> Iterator[Topology]:
    n = next(_counter)
    laptop = Namespace(f"qrl-laptop-{os.getpid()}-{n}")
    phone = Namespace(f"qrl-phone-{os.getpid()}-{n}")
    # Interface names have at most 15 characters.
    veth_l, veth_p = f"ql{os.getpid() % 100000}x{n}", f"qp{os.getpid() % 100000}x{n}"
    made: list[str] = []
    try:
        for ns in (laptop, phone):
            made.append(ns.name)
            _add_namespace(ns)
        _run(
            "ip",
            "link",
            "add",
            veth_l,
            "netns",
            laptop.name,
            "type",
            "veth",
            "peer",
            "name",
            veth_p,
            "netns",
            phone.name,
        )
        laptop.run("ip", "addr", "add", f"{LAPTOP_ADDR}/24", "dev", veth_l)
        phone.run("ip", "addr", "add", f"{PHONE_ADDR}/24", "dev", veth_p)
        laptop.run("ip", "link", "set", veth_l, "up")
        phone.run("ip", "link", "set", veth_p, "up")
        # Browsers gather host candidates only with a default route; it leads to the laptop.
        phone.run("ip", "route", "add", "default", "via", LAPTOP_ADDR)
        _wait_operstate_up(laptop, phone)
        yield Topology(laptop, phone, LAPTOP_ADDR, made)
    finally:
        for name in made:
            _del_namespace(name)


def _wait_operstate_up(*namespaces: Namespace, timeout: float = 10.0) -> None:
    """The kernel reports a veth's carrier about a second after both ends are up (its
    link watcher runs at most once a second). A browser that gathers before then finds
    no usable interface and answers with no candidate, so nothing connects (seen as a
    3 s gathering stall and a pairing that never completes); wait for it."""
    deadline = time.monotonic() + timeout
    for ns in namespaces:
        while True:
            out = subprocess.run(
                [*ns.exec_prefix(), "ip", "-o", "link", "show", "type", "veth"],
                capture_output=True,
                text=True,
                timeout=20,
            ).stdout
            if "state UP" in out:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"the veth in {ns.name} did not come up: {out}")
            time.sleep(0.05)


def topology(name: str) -> contextlib.AbstractContextManager[Topology]:
    """The topology named "loopback" or "namespaces"."""
    return loopback_namespace() if name == "loopback" else two_namespaces()


def _driver_wrapper(ns: Namespace, directory: Path) -> Path:
    """An executable that runs Playwright's node inside `ns`; its pipes survive the exec."""
    node, _ = compute_driver_executable()
    path = directory / f"node-{ns.name}"
    path.write_text(f'#!/bin/sh\nexec ip netns exec {ns.name} {node} "$@"\n')
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def chromium_args(topology: Topology) -> list[str]:
    return CHROMIUM_ARGS + (CHROMIUM_LOOPBACK_ARGS if topology.loopback else [])


def _launch(
    pw: Playwright, engine: str, topology: Topology, chromium_extra: Sequence[str] = ()
) -> Browser:
    if engine == "chromium":
        return pw.chromium.launch(
            executable_path=str(CHROMIUM), args=[*chromium_args(topology), *chromium_extra]
        )
    if engine == "firefox":
        return pw.firefox.launch(
            channel="moz-firefox",
            executable_path=str(FIREFOX),
            headless=True,
            firefox_user_prefs=FIREFOX_LOOPBACK_PREFS if topology.loopback else {},
        )
    raise ValueError(f"unknown browser engine {engine!r}; known: {', '.join(ENGINES)}")


@contextlib.contextmanager
def browser_in(
    engine: str, topology: Topology, chromium_extra: Sequence[str] = ()
) -> Iterator[Browser]:
    """A headless `engine` ("chromium" or "firefox") in the topology's phone namespace,
    with its own Playwright driver there; closed, with the driver, on exit.
    `chromium_extra`: more Chromium switches (a fake camera)."""
    with tempfile.TemporaryDirectory() as tmp:
        wrapper = str(_driver_wrapper(topology.phone, Path(tmp)))
        # Playwright reads the variable once, when it starts its driver.
        previous = os.environ.get("PLAYWRIGHT_NODEJS_PATH")
        os.environ["PLAYWRIGHT_NODEJS_PATH"] = wrapper
        try:
            pw = sync_playwright().start()
        finally:
            if previous is None:
                del os.environ["PLAYWRIGHT_NODEJS_PATH"]
            else:
                os.environ["PLAYWRIGHT_NODEJS_PATH"] = previous
        try:
            browser = _launch(pw, engine, topology, chromium_extra)
            try:
                yield browser
            finally:
                browser.close()
        finally:
            pw.stop()


# What Chromium did, now and then, on a loaded machine (seen in the cashier's SCTP trace:
# its DCEP ACK, then nothing until its first heartbeat 3 s later): the first message the
# page sends on a fresh channel is accepted by send() and never leaves. Here on purpose.
DROP_FIRST_SEND = """
(() => {
  const send = RTCDataChannel.prototype.send;
  let dropped = false;
  RTCDataChannel.prototype.send = function (data) {
    if (dropped) return send.call(this, data);
    dropped = true;
    document.documentElement.dataset.dropped = String(data);
  };
})();
"""


class _JsonProcess:
    """A process in the laptop namespace that prints one JSON event per line."""

    def __init__(self, cmd: list[str]) -> None:
        self.proc = subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPO,
        )
        self.events: list[dict[str, Any]] = []
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._stderr: list[str] = []
        threading.Thread(target=self._pump, daemon=True).start()
        threading.Thread(target=self._pump_err, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with contextlib.suppress(ValueError):
                self._queue.put(json.loads(line))
        self._queue.put(None)

    def _pump_err(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self._stderr.append(line)

    def wait_event(self, name: str, timeout: float = 30.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no {name!r} event within {timeout} s; {self.diagnostics()}")
            try:
                event = self._queue.get(timeout=remaining)
            except queue.Empty:
                continue
            if event is None:
                self._queue.put(None)
                raise AssertionError(
                    f"the offer process ended before {name!r}; {self.diagnostics()}"
                )
            self.events.append(event)
            if event.get("event") == name:
                return event

    def send_answer(self, text: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()

    def type_code_from(self, page: Page, timeout_ms: float = 15_000) -> str:
        """The cashier types the code the customer's page shows (after the `sas` event,
        `qrlink peer offer` reads it on standard input and confirms only a match)."""
        shown = page.wait_for_selector("#code[data-code]", timeout=timeout_ms)
        code = shown.get_attribute("data-code") if shown is not None else None
        assert code, "the page shows no verification code"
        self.send_answer(code)
        return code

    def finish(self, timeout: float = 30.0) -> int:
        rc = self.proc.wait(timeout=timeout)
        while True:
            try:
                event = self._queue.get(timeout=2)
            except queue.Empty:
                break
            if event is None:
                break
            self.events.append(event)
        return rc

    def diagnostics(self) -> str:
        return f"events {self.events}; stderr {''.join(self._stderr)[-2000:]}"

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


class OfferProcess(_JsonProcess):
    """`qrlink peer offer --json --serve-page` in the laptop namespace (with `page_url`:
    the QR points at a page hosted there instead, and no page is served)."""

    def __init__(
        self,
        topology: Topology,
        *extra: str,
        lifetime: float = 60.0,
        page_url: str | None = None,
    ) -> None:
        addr = topology.laptop_addr
        page = ["--page-url", page_url] if page_url else ["--serve-page", f"{addr}:{PAGE_PORT}"]
        super().__init__(
            [
                *topology.laptop.exec_prefix(),
                sys.executable,
                "-m",
                "qrlink_desktop.cli",
                "peer",
                "offer",
                "--json",
                "--address",
                addr,
                *page,
                "--timeout",
                "60",
                "--lifetime",
                str(lifetime),
                *extra,
            ]
        )


class RemoteCashier(_JsonProcess):
    """tests/mobile/remote_cashier.py in the laptop namespace."""

    def __init__(
        self,
        topology: Topology,
        handle: str,
        amount: str,
        currency: str,
        answer_delay: float = 0,
        turn: tuple[str, str] = ("", ""),
    ) -> None:
        """`turn`: (a coturn's URL, its TURN REST secret): the cashier relays through it
        and its service hands out credentials for it."""
        script = Path(__file__).with_name("remote_cashier.py")
        super().__init__(
            [
                *topology.laptop.exec_prefix(),
                sys.executable,
                str(script),
                topology.laptop_addr,
                str(PAGE_PORT),
                handle,
                amount,
                currency,
                str(answer_delay),
                *([] if not turn[0] else list(turn)),
            ]
        )


def decode_qr_png(png: bytes) -> list[str]:
    from qrlink_desktop.scan.decoders import get_decoder

    image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
    return [d.text for d in get_decoder("zxing").decode(image)]


@dataclass
class PhoneBrowser:
    """A headless browser on one side of a topology (loopback or the phone namespace)."""

    topology: Topology
    browser: Browser
    name: str  # the topology's: "loopback" or "namespaces"
    engine: str  # "chromium" or "firefox"
    # What the pages printed (the page reports its link's errors there); shown with a
    # failed test's report by conftest.py.
    console: list[str] = field(default_factory=list)

    def new_page(self) -> Page:
        page = self.browser.new_page(viewport={"width": 400, "height": 720})
        page.on("console", lambda m: self.console.append(f"[{m.type}] {m.text}"))
        page.on("pageerror", lambda e: self.console.append(f"[uncaught] {e}"))
        return page
