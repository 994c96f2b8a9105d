"""Attacks on the laptop's page server from another client on the phone's network, in both
topologies: a forged answer, the genuine request replayed, a request for an expired offer,
a body over the cap, a burst of 1,000 requests. Each is refused with its status and code
and counted, while the customer's genuine one-scan pairing beside or after it completes.
"""

from __future__ import annotations

import json
import subprocess
import time

import mobile_support as ms
import one_scan_support as oss
import pytest
from mobile_support import PhoneBrowser
from playwright.sync_api import Request

TIMEOUT_MS = 15_000


@pytest.fixture(scope="module", params=["chromium"])
def browser_engine(request: pytest.FixtureRequest) -> str:
    """One engine here, Chromium: these tests attack the server (tests/mobile/answer_client.py
    sends the requests), and the browser only carries the genuine pairing beside or after
    the attack, which test_one_scan.py runs on both engines. (Besides, Playwright over
    Firefox's WebDriver BiDi reports no request body, which the replay test reads.)"""
    engine: str = request.param
    return engine


def test_forged_answer_from_another_client_is_refused(phone: PhoneBrowser) -> None:
    """Another client on the phone's network knows the offer id but not the key: its own
    answer (its own DTLS fingerprint, to sit in the middle) is refused, the offer waits on,
    and the customer's phone pairs after it."""
    topology = phone.topology
    cashier = oss.Cashier(topology, "--request", "1.10", "EUR")
    try:
        url = cashier.wait_event("offer")["text"]
        other = oss.other_client(topology, phone.name)
        result = oss.run_client(topology, other, url, "post", oss.forged_request(url))
        assert result == {"status": 403, "code": "VERIFICATION_FAILED"}
        refused = cashier.wait_event("answer_refused")
        assert (refused["status"], refused["client"]) == (403, other)
        oss.one_scan(phone, cashier, url, "1.10").close()
        taken = [e for e in cashier.events if e.get("event") == "answer"]
        assert [e["via"] for e in taken] == ["network"]
        assert len(cashier.refused()) == 1
    finally:
        cashier.kill()


def test_genuine_request_replayed_after_success_is_refused(phone: PhoneBrowser) -> None:
    """The page's own request, seen on the plain-http LAN and sent again from another
    address once paired: one answer per offer, the session goes on to its payment."""
    topology = phone.topology
    cashier = oss.Cashier(topology, "--request", "2.20", "EUR")
    try:
        url = cashier.wait_event("offer")["text"]
        page = phone.new_page()
        sent: list[str] = []

        def capture(request: Request) -> None:
            if request.method == "POST" and request.url.endswith("/answer"):
                sent.append(request.post_data or "")

        page.on("request", capture)
        page.goto(url)
        assert cashier.wait_event("answer")["via"] == "network"
        sas = cashier.wait_event("sas")
        assert cashier.type_code_from(page) == sas["code"]
        # (Playwright reports the request while the test waits on the page.)
        page.wait_for_selector("body[data-screen=request]", timeout=TIMEOUT_MS)
        assert len(sent) == 1
        other = oss.other_client(topology, phone.name)
        result = oss.run_client(topology, other, url, "post", sent[0])
        assert result == {"status": 409, "code": "INVALID_ARGUMENT"}
        page.click("#approve")
        page.wait_for_selector("#outcome[data-acknowledged=yes]", timeout=TIMEOUT_MS)
        assert cashier.finish() == 0, cashier.diagnostics()
        assert [(e["status"], e["code"]) for e in cashier.refused()] == [(409, "INVALID_ARGUMENT")]
        page.close()
    finally:
        cashier.kill()


def test_request_for_an_expired_offer_is_refused(phone: PhoneBrowser) -> None:
    """Someone with a photo of the code (so the right MAC) answers after it expired: 410,
    TIMEOUT. The next customer's pairing completes as ever."""
    topology = phone.topology
    cashier = oss.Cashier(topology, lifetime=2.0)
    try:
        url = cashier.wait_event("offer")["text"]
        expires = oss.offer_record(url).expires_at or 0
        time.sleep(max(0.0, expires - time.time()) + 0.3)
        other = oss.other_client(topology, phone.name)
        result = oss.run_client(topology, other, url, "post", oss.keyed_request(url))
        assert result == {"status": 410, "code": "TIMEOUT"}
        refused = cashier.wait_event("answer_refused")
        assert (refused["status"], refused["code"]) == (410, "TIMEOUT")
        assert not any(e.get("event") == "answer" for e in cashier.events)
    finally:
        cashier.kill()
    following = oss.Cashier(topology, "--request", "3.30", "EUR")
    try:
        url = following.wait_event("offer")["text"]
        oss.one_scan(phone, following, url, "3.30").close()
    finally:
        following.kill()


def test_body_over_the_cap_is_refused(phone: PhoneBrowser) -> None:
    topology = phone.topology
    cashier = oss.Cashier(topology, "--request", "4.40", "EUR")
    try:
        url = cashier.wait_event("offer")["text"]
        other = oss.other_client(topology, phone.name)
        result = oss.run_client(topology, other, url, "oversize", str(1024 * 1024))
        assert result == {"status": 413, "code": "MESSAGE_TOO_LARGE"}
        assert cashier.wait_event("answer_refused")["code"] == "MESSAGE_TOO_LARGE"
        oss.one_scan(phone, cashier, url, "4.40").close()
    finally:
        cashier.kill()


def test_a_burst_of_1000_requests_beside_the_pairing(phone: PhoneBrowser) -> None:
    """1,000 forged requests from another client while the customer's page loads and sends
    its answer: every one refused (403, then 429 once its budget is spent), each counted;
    the customer's pairing, on its own budget, completes."""
    topology = phone.topology
    cashier = oss.Cashier(topology, "--request", "5.50", "EUR")
    flood: subprocess.Popen[str] | None = None
    try:
        url = cashier.wait_event("offer")["text"]
        other = oss.other_client(topology, phone.name)
        flood = subprocess.Popen(
            [*oss.client_command(topology, other, url), "flood", "1000", oss.forged_request(url)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ms.REPO,
        )
        page = oss.open_page(phone, url)
        out, err = flood.communicate(timeout=120)
        assert flood.returncode == 0, err
        result = json.loads(out.strip().splitlines()[-1])
        statuses = result["statuses"]
        assert sum(statuses.values()) == 1000
        assert set(statuses) <= {"403", "429"} and statuses.get("429", 0) >= 900, statuses
        assert set(result["codes"]) <= {"VERIFICATION_FAILED", "RATE_LIMITED"}
        assert cashier.wait_event("answer")["via"] == "network"
        oss.pay_on_the_page(page, cashier, "5.50")
        refused = cashier.refused()
        assert len(refused) == 1000
        assert {e["client"] for e in refused} == {other}
        page.close()
    finally:
        if flood is not None and flood.poll() is None:
            flood.kill()
        cashier.kill()
