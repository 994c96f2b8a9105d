"""What the one-scan tests and the page benchmark add to mobile_support: the cashier's
command with or without its own page server, a plain page host elsewhere, another client
on the phone's network, and a firewall that cuts the phone off the laptop's page server.
Everything runs in the namespaces mobile_support creates; nothing leaves them."""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

import mobile_support as ms
from playwright.sync_api import Page

from qrlink_desktop.core import answer_home, bootstrap
from qrlink_desktop.core.bootstrap import BootstrapRecord, Kind

OTHER_PORT = 8766  # a page host that is not the laptop's page server
OTHER_CLIENT = {"loopback": "127.0.0.2", "namespaces": "10.99.0.3"}
NFT = "/usr/sbin/nft"
TIMEOUT_MS = 15_000  # a page's own waits


class Cashier(ms.OfferProcess):
    """`qrlink peer offer --json` in the laptop namespace: serving the page itself (the
    default, one scan), or pointing the QR at a page hosted elsewhere (no way home)."""

    def refused(self) -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("event") == "answer_refused"]

    def _pump(self) -> None:
        """Each event stamped with the wall time it was read (the benchmark's clock)."""
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with contextlib.suppress(ValueError):
                event = json.loads(line)
                event["_readAt"] = time.time()
                self._queue.put(event)
        self._queue.put(None)


# -- the customer's side of a pairing, on a page of the module's browser


def open_page(phone: ms.PhoneBrowser, url: str) -> Page:
    page = phone.new_page()
    page.goto(url)
    return page


def pay_on_the_page(page: Page, cashier: Cashier, amount: str) -> dict[str, object]:
    """Both screens show the same code, which the cashier types in; the customer
    approves; the cashier's side ends."""
    sas = cashier.wait_event("sas")
    assert cashier.type_code_from(page) == sas["code"]
    page.wait_for_selector("body[data-screen=request]", timeout=TIMEOUT_MS)
    assert page.inner_text("#amount") == amount
    page.click("#approve")
    page.wait_for_selector("#outcome[data-acknowledged=yes]", timeout=TIMEOUT_MS)
    assert cashier.finish() == 0, cashier.diagnostics()
    return sas


def one_scan(phone: ms.PhoneBrowser, cashier: Cashier, url: str, amount: str) -> Page:
    """The page sends its answer home; the pairing and a payment complete without a scan."""
    page = open_page(phone, url)
    taken = cashier.wait_event("answer")
    assert taken["via"] == "network"
    pay_on_the_page(page, cashier, amount)
    assert page.get_attribute("body", "data-home") == "accepted"
    assert page.get_attribute("body", "data-fallback") is None  # no QR was ever needed
    assert page.query_selector("#qr") is None
    return page


@contextlib.contextmanager
def page_host(topology: ms.Topology) -> Iterator[str]:
    """The built page served by a plain static server (no answers taken) on another port
    of the laptop's address: a page hosted somewhere else, as with a configured page URL."""
    addr = topology.laptop_addr
    proc = subprocess.Popen(
        [
            *topology.laptop.exec_prefix(),
            sys.executable,
            "-m",
            "qrlink_desktop.pages",
            "--host",
            addr,
            "--port",
            str(OTHER_PORT),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=ms.REPO,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line.startswith("listening on "):
            raise RuntimeError(f"the page host did not start: {line!r}")
        yield line.split()[-1]
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def other_client(topology: ms.Topology, name: str) -> str:
    """An address in the phone's namespace that is not the phone's own (another customer's
    phone, an attacker on the guest Wi-Fi): it has a rate budget of its own."""
    addr = OTHER_CLIENT[name]
    if topology.loopback:
        return addr  # all of 127/8 is on lo
    out = subprocess.run(
        [*topology.phone.exec_prefix(), "ip", "-o", "-4", "addr", "show"],
        capture_output=True,
        text=True,
        check=True,
        timeout=20,
    ).stdout
    if addr not in out:
        dev = next(line.split()[1] for line in out.splitlines() if ms.PHONE_ADDR in line)
        topology.phone.run("ip", "addr", "add", f"{addr}/24", "dev", dev)
    return addr


def run_client(topology: ms.Topology, source: str, url: str, *args: str) -> dict[str, Any]:
    """tests/mobile/answer_client.py in the phone's namespace; its one JSON line."""
    done = subprocess.run(
        [*client_command(topology, source, url), *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ms.REPO,
    )
    if done.returncode != 0:
        raise AssertionError(f"answer_client failed: {done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def client_command(topology: ms.Topology, source: str, url: str) -> list[str]:
    script = Path(__file__).with_name("answer_client.py")
    endpoint = answer_endpoint(url)
    return [*topology.phone.exec_prefix(), sys.executable, str(script), endpoint, source]


def answer_endpoint(offer_url: str) -> str:
    return offer_url.split("#", 1)[0].lower() + answer_home.ANSWER_PATH


def offer_record(offer_url: str) -> BootstrapRecord:
    return bootstrap.decode_compact(offer_url, now=0, allow_loopback=True, check_expiry=False)


def made_up_answer(offer: BootstrapRecord) -> str:
    """An answer the attacker made with its own DTLS fingerprint: what sitting in the
    middle would take, if it were accepted."""
    fingerprint = bytes(range(32))
    record = BootstrapRecord(
        Kind.ANSWER, offer.offer_id, "Evil", "e" * 22, fingerprint, (), setup="active"
    )
    return bootstrap.answer_text(record)


def forged_request(offer_url: str) -> str:
    """Right offer id, a made-up answer, a MAC under a key guessed without the QR."""
    offer = offer_record(offer_url)
    mac = answer_home.answer_mac(b"guess" * 6 + b"ss", offer.offer_id, made_up_answer(offer))
    return answer_home.AnswerRequest(offer.offer_id, made_up_answer(offer), mac).to_json()


def keyed_request(offer_url: str) -> str:
    """A request with the right MAC: from someone who did read the QR (its seed)."""
    offer = offer_record(offer_url)
    assert offer.seed is not None
    return answer_home.make_request(offer.seed, made_up_answer(offer)).to_json()


@contextlib.contextmanager
def page_server_blocked(topology: ms.Topology) -> Iterator[None]:
    """The phone's TCP to the laptop's page server silently dropped (a guest network's
    filter); everything else, WebRTC's UDP included, still passes."""
    if not Path(NFT).exists():
        raise RuntimeError(f"{NFT} is missing: apt-get install nftables (make sysdeps)")
    table = "qrlink_block"
    rules = (
        f"table inet {table} {{\n"
        "  chain out {\n"
        "    type filter hook output priority 0; policy accept;\n"
        f"    tcp dport {ms.PAGE_PORT} drop\n"
        "  }\n"
        "}\n"
    )
    subprocess.run(
        [*topology.phone.exec_prefix(), NFT, "-f", "-"],
        input=rules,
        text=True,
        check=True,
        capture_output=True,
        timeout=20,
    )
    try:
        yield
    finally:
        subprocess.run(
            [*topology.phone.exec_prefix(), NFT, "delete", "table", "inet", table],
            capture_output=True,
            timeout=20,
        )


def wait_until(check: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout} s")
        time.sleep(0.05)


# -- the window's side: this test process in the laptop's namespace, the browser on a thread


CLONE_NEWNET = 0x40000000


@contextlib.contextmanager
def thread_in_namespace(ns: ms.Namespace) -> Iterator[None]:
    """Sockets this thread opens from now on live in `ns` (setns(2) is per thread): the
    window, its page server and its aiortc peer, all on the GUI thread, join the laptop's
    namespace while the test runs; the thread goes back to its own namespace after."""
    libc = ctypes.CDLL(None, use_errno=True)
    original = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    target = os.open(f"/run/netns/{ns.name}", os.O_RDONLY)
    try:
        if libc.setns(target, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), f"setns into {ns.name} failed")
        try:
            yield
        finally:
            if libc.setns(original, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns back failed")
    finally:
        os.close(original)
        os.close(target)


T = TypeVar("T")


class BrowserThread:
    """A browser (`engine`, in the topology's phone namespace) driven by Playwright's sync
    API on a thread of its own, so the test's thread keeps Qt's (and asyncio's) loop
    turning while the page works: each step is a function of the browser run there, its
    result a future to wait on."""

    def __init__(
        self, engine: str, topology: ms.Topology, chromium_extra: Sequence[str] = ()
    ) -> None:
        self._steps: queue.Queue[tuple[Callable[[Any], Any], Future[Any]] | None] = queue.Queue()
        self.engine, self._topology = engine, topology
        self._extra = tuple(chromium_extra)
        self._ready: Future[None] = Future()
        self.console: list[str] = []
        self.pages: dict[str, Any] = {}  # touched only by steps, on the browser's thread
        self._thread = threading.Thread(target=self._run, name="browser", daemon=True)
        self._thread.start()
        self._ready.result(timeout=60)

    def _run(self) -> None:
        try:
            # Playwright's sync API belongs to the thread that started it: this one.
            with ms.browser_in(self.engine, self._topology, self._extra) as browser:
                self._ready.set_result(None)
                while (item := self._steps.get()) is not None:
                    step, result = item
                    try:
                        result.set_result(step(browser))
                    except BaseException as exc:
                        result.set_exception(exc)
        except BaseException as exc:
            if not self._ready.done():
                self._ready.set_exception(exc)

    def submit(self, step: Callable[[Any], T]) -> Future[T]:
        result: Future[T] = Future()
        self._steps.put((step, result))
        return result

    def new_page(self, browser: Any) -> Any:
        """(In a step.) A phone-sized page whose console is kept for a failed test."""
        page = browser.new_page(viewport={"width": 400, "height": 720})
        page.on("console", lambda m: self.console.append(f"[{m.type}] {m.text}"))
        return page

    def close(self) -> None:
        self._steps.put(None)
        self._thread.join(timeout=30)
