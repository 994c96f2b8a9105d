"""Network namespaces, Chromium inside one, and the cashier's `qrlink peer offer` inside
another, for whole-flow tests and the page benchmark.

Nothing here sends traffic outside loopback or the namespaces it creates: the loopback
scenario runs in a namespace that has only `lo` (the host namespace has a default route
that Chromium would gather and aiortc would try), and the two-namespace scenario joins a
laptop and a phone namespace with one veth pair and no other link.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import queue
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from playwright.sync_api import Page

REPO = Path(__file__).resolve().parents[2]
PAGE_DIR = REPO / "resources" / "mobile"
DIST = PAGE_DIR / "dist"
CHROMIUM = Path("/usr/bin/chromium")
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
    if not CHROMIUM.exists():
        raise RuntimeError(f"{CHROMIUM} is missing: apt-get install chromium")
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


@contextlib.contextmanager
def loopback_namespace() -> Iterator[Topology]:
    ns = Namespace(_unique("qrl-lo"))
    _run("ip", "netns", "add", ns.name)
    try:
        ns.run("ip", "link", "set", "lo", "up")
        yield Topology(ns, ns, "127.0.0.1", [ns.name])
    finally:
        subprocess.run(["ip", "netns", "del", ns.name], capture_output=True, timeout=20)


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
            _run("ip", "netns", "add", ns.name)
            made.append(ns.name)
            ns.run("ip", "link", "set", "lo", "up")
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
        # Chromium gathers host candidates only with a default route; it leads to the laptop.
        phone.run("ip", "route", "add", "default", "via", LAPTOP_ADDR)
        yield Topology(laptop, phone, LAPTOP_ADDR, made)
    finally:
        for name in made:
            subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=20)


def chromium_wrapper(ns: Namespace, directory: Path) -> Path:
    """An executable that starts Chromium inside `ns`; Playwright's pipe survives the exec."""
    path = directory / f"chromium-{ns.name}"
    path.write_text(f'#!/bin/sh\nexec ip netns exec {ns.name} {CHROMIUM} "$@"\n')
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def chromium_args(topology: Topology) -> list[str]:
    return CHROMIUM_ARGS + (CHROMIUM_LOOPBACK_ARGS if topology.loopback else [])


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
    """`qrlink peer offer --json --serve-page` in the laptop namespace."""

    def __init__(self, topology: Topology, *extra: str, lifetime: float = 60.0) -> None:
        addr = topology.laptop_addr
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
                "--serve-page",
                f"{addr}:{PAGE_PORT}",
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
        self, topology: Topology, handle: str, amount: str, currency: str, answer_delay: float = 0
    ) -> None:
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
            ]
        )


def decode_qr_png(png: bytes) -> list[str]:
    from qrlink_desktop.scan.decoders import get_decoder
    from qrlink_desktop.scan.synthetic import to_frame

    image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
    return [d.text for d in get_decoder("zxing").decode(to_frame(image))]


@dataclass
class PhoneBrowser:
    """A headless Chromium on one side of a topology (loopback or the phone namespace)."""

    topology: Topology
    browser: Any
    name: str
    # What the pages printed (the page reports its link's errors there); shown with a
    # failed test's report by conftest.py.
    console: list[str] = field(default_factory=list)

    def new_page(self) -> Page:
        page = self.browser.new_page(viewport={"width": 400, "height": 720})
        page.on("console", lambda m: self.console.append(f"[{m.type}] {m.text}"))
        page.on("pageerror", lambda e: self.console.append(f"[uncaught] {e}"))
        return page
