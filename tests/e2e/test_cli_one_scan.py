"""`qrlink peer offer --serve-page`: the answer comes back over HTTP (as the page sends it)
or on standard input, whichever is first; the other is ignored. Then the customer's code
is read on standard input as ever: an answer text that still arrives there after the
page's is skipped, so a script that writes the answer and then the code works either way.
Loopback only; the page itself is in tests/mobile (a real browser), here the request is
made as the page makes it."""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from typing import Any

from cli_support import event_line

from qrlink_desktop.core import answer_home, bootstrap

QRLINK = [sys.executable, "-m", "qrlink_desktop.cli"]
LOOPBACK = ["--address", "127.0.0.1"]


class Proc:
    def __init__(self, *args: str, verbose: bool = False) -> None:
        flags = ["-v"] if verbose else []
        self.proc = subprocess.Popen(
            [*QRLINK, *flags, "peer", *args, "--json", *LOOPBACK, "--timeout", "40"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.events: list[dict[str, Any]] = []
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._queue.put(event_line(line))
        self._queue.put(None)

    def wait(self, name: str, timeout: float = 30) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            event = self._queue.get(timeout=max(0.01, deadline - time.monotonic()))
            if event is None:
                stderr = self.proc.stderr.read() if self.proc.stderr else ""
                raise AssertionError(f"ended before {name!r}: {self.events}; {stderr}")
            self.events.append(event)
            if event["event"] == name:
                return event

    def write(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def finish(self) -> tuple[int, str]:
        rc = self.proc.wait(timeout=30)
        while (event := self._queue.get(timeout=10)) is not None:
            self.events.append(event)
        return rc, self.proc.stderr.read() if self.proc.stderr else ""

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def _post(url: str, body: str) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        url, data=body.encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=20) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _start(*extra: str) -> tuple[Proc, Proc, str, str]:
    """The cashier (offer, page served on a free port) and the customer (answer)."""
    offer = Proc(
        "offer", "--serve-page", "127.0.0.1:0", "--request", "4.20", "EUR", *extra, verbose=True
    )
    url = offer.wait("offer")["text"]
    customer = Proc("answer", url)
    answer = customer.wait("answer")["text"]
    return offer, customer, url, answer


def _request(url: str, answer: str) -> tuple[str, str]:
    record = bootstrap.decode_compact(url, now=time.time(), allow_loopback=True)
    assert record.seed is not None
    endpoint = url.split("#")[0].lower() + answer_home.ANSWER_PATH
    return endpoint, answer_home.make_request(record.seed, answer).to_json()


def _payment_requests(proc: Proc) -> list[dict[str, Any]]:
    return [e for e in proc.events if e["event"] == "message" and e["type"] == "payment_request"]


def test_the_answer_comes_back_over_the_network_and_stdin_is_ignored() -> None:
    """A cashier's script written for two lines (the answer, then the customer's code)
    still works when the page's answer came first: its answer line is skipped and the
    next line is read as the code."""
    offer, customer, url, answer = _start()
    try:
        endpoint, body = _request(url, answer)
        assert _post(endpoint, body) == (202, {"status": "accepted"})
        taken = offer.wait("answer")
        assert taken["via"] == "network"
        assert (
            taken["offerId"]
            == bootstrap.decode_compact(answer, now=0, allow_loopback=True).offer_id_hex
        )
        code = offer.wait("sas")["code"]
        assert customer.wait("sas")["code"] == code
        # The same answer pasted afterwards (ignored), then the code the customer reads out.
        offer.write(answer)
        offer.write(code)
        # The request replayed: refused, counted, the session goes on.
        status, doc = _post(endpoint, body)
        assert (status, doc["error"]["code"]) == (409, "INVALID_ARGUMENT")
        rc, stderr = offer.finish()
        assert rc == 0, stderr
        assert customer.proc.wait(timeout=30) == 0
        refused = [e for e in offer.events if e["event"] == "answer_refused"]
        assert [(e["status"], e["code"], e["client"]) for e in refused] == [
            (409, "INVALID_ARGUMENT", "127.0.0.1")
        ]
        assert [e["via"] for e in offer.events if e["event"] == "answer"] == ["network"]
        assert [e["event"] for e in offer.events].count("confirmed") == 1
        assert [e["payload"]["amount"] for e in _payment_requests(offer)] == ["4.20"]
        assert "came after the first one; ignored" in stderr
        assert answer not in stderr  # never logged with its body
    finally:
        offer.kill()
        customer.kill()


def test_a_late_answer_line_is_never_taken_for_the_code() -> None:
    """After the page's answer, an answer line and then the end of input: the answer line
    is no code, so nothing is confirmed (exit 3), nothing is paid, the customer is told."""
    offer, customer, url, answer = _start()
    try:
        endpoint, body = _request(url, answer)
        assert _post(endpoint, body)[0] == 202
        assert offer.wait("answer")["via"] == "network"
        offer.wait("sas")
        offer.write(answer)
        assert offer.proc.stdin is not None
        offer.proc.stdin.close()
        rc, stderr = offer.finish()
        assert rc == 3, stderr
        assert customer.proc.wait(timeout=30) == 3
        errors = [e for e in offer.events if e["event"] == "error"]
        assert errors[-1]["code"] == "VERIFICATION_FAILED"
        assert "standard input ended before the customer's code" in errors[-1]["message"]
        assert not any(e["event"] == "confirmed" for e in offer.events)
        assert _payment_requests(offer) == []
        assert "came after the first one; ignored" in stderr
    finally:
        offer.kill()
        customer.kill()


def test_stdin_first_then_the_network_request_is_refused() -> None:
    offer, customer, url, answer = _start()
    try:
        offer.write(answer)
        assert offer.wait("answer")["via"] == "input"
        endpoint, body = _request(url, answer)
        status, doc = _post(endpoint, body)
        assert (status, doc["error"]["code"]) == (409, "INVALID_ARGUMENT")
        code = offer.wait("sas")["code"]
        assert customer.wait("sas")["code"] == code
        offer.write(code)
        rc, stderr = offer.finish()
        assert rc == 0, stderr
        assert customer.proc.wait(timeout=30) == 0
    finally:
        offer.kill()
        customer.kill()


def test_stdin_closed_the_network_answer_still_pairs() -> None:
    """A script that never writes to standard input (so it says --skip-code-check): the
    page's answer is the only way, and the pairing and payment complete."""
    offer, customer, url, answer = _start("--skip-code-check")
    try:
        assert offer.proc.stdin is not None
        offer.proc.stdin.close()
        time.sleep(0.2)  # let the closed input be seen before the answer arrives
        assert offer.proc.poll() is None
        endpoint, body = _request(url, answer)
        assert _post(endpoint, body)[0] == 202
        assert offer.wait("answer")["via"] == "network"
        rc, stderr = offer.finish()
        assert rc == 0, stderr
        assert "warning: --skip-code-check" in stderr
        assert [e["payload"]["amount"] for e in _payment_requests(offer)] == ["4.20"]
    finally:
        offer.kill()
        customer.kill()
