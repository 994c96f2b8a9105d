"""One scan with a real browser, in both topologies: the page opened from the offer QR, and
nothing scanned or pasted, reaches the verification code on both sides and a payment.
Attacks from another client on the phone's network, each refused with its code while the
genuine pairing beside or after it completes; and the two fallbacks to the camera path
(the answer QR read from a screenshot of the page, as the laptop's webcam would read it).
"""

from __future__ import annotations

import json
import subprocess
import time

import mobile_support as ms
import one_scan_support as oss
from mobile_support import PhoneBrowser
from playwright.sync_api import Page, Request

TIMEOUT_MS = 15_000


def _open(phone: PhoneBrowser, url: str) -> Page:
    page = phone.new_page()
    page.goto(url)
    return page


def _pay_on_the_page(page: Page, cashier: oss.Cashier, amount: str) -> dict[str, object]:
    """Both screens show the same code; the customer approves; the cashier's side ends."""
    sas = cashier.wait_event("sas")
    page.wait_for_selector("body[data-state=request]", timeout=TIMEOUT_MS)
    assert page.get_attribute("#code", "data-code") == sas["code"]
    assert page.inner_text("#amount") == amount
    page.click("#approve")
    page.wait_for_selector("#outcome[data-acknowledged=yes]", timeout=TIMEOUT_MS)
    assert cashier.finish() == 0, cashier.diagnostics()
    return sas


def _one_scan(phone: PhoneBrowser, cashier: oss.Cashier, url: str, amount: str) -> Page:
    """The page sends its answer home; the pairing and a payment complete without a scan."""
    page = _open(phone, url)
    taken = cashier.wait_event("answer")
    assert taken["via"] == "network"
    _pay_on_the_page(page, cashier, amount)
    assert page.get_attribute("body", "data-home") == "accepted"
    assert page.get_attribute("body", "data-fallback") is None  # no QR was ever needed
    assert page.query_selector("#qr") is None
    return page


def _scan_into(page: Page, cashier: oss.Cashier) -> None:
    """The camera path: the answer QR read from the page's pixels, typed into the cashier."""
    found = ms.decode_qr_png(page.screenshot())
    assert len(found) == 1 and found[0].startswith("QL:"), found
    assert page.inner_text("#instruction") == "Show this to the cashier's camera"
    cashier.send_answer(found[0])
    assert cashier.wait_event("answer")["via"] == "input"


def test_one_scan_pairs_and_pays(phone: PhoneBrowser) -> None:
    cashier = oss.Cashier(phone.topology, "--request", "6.40", "EUR")
    try:
        url = cashier.wait_event("offer")["text"]
        page = _one_scan(phone, cashier, url, "6.40")
        # Said while it was on its way: "Connecting to the till…", never a QR code.
        assert float(page.get_attribute("body", "data-t-answer-sent") or "nan") > 0
        assert cashier.refused() == []
        page.close()
    finally:
        cashier.kill()


# -- attacks ----------------------------------------------------------------------------


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
        _one_scan(phone, cashier, url, "1.10").close()
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
        cashier.wait_event("sas")
        # (Playwright reports the request while the test waits on the page.)
        page.wait_for_selector("body[data-state=request]", timeout=TIMEOUT_MS)
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
        _one_scan(phone, following, url, "3.30").close()
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
        _one_scan(phone, cashier, url, "4.40").close()
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
        page = _open(phone, url)
        out, err = flood.communicate(timeout=120)
        assert flood.returncode == 0, err
        result = json.loads(out.strip().splitlines()[-1])
        statuses = result["statuses"]
        assert sum(statuses.values()) == 1000
        assert set(statuses) <= {"403", "429"} and statuses.get("429", 0) >= 900, statuses
        assert set(result["codes"]) <= {"VERIFICATION_FAILED", "RATE_LIMITED"}
        assert cashier.wait_event("answer")["via"] == "network"
        _pay_on_the_page(page, cashier, "5.50")
        refused = cashier.refused()
        assert len(refused) == 1000
        assert {e["client"] for e in refused} == {other}
        page.close()
    finally:
        if flood is not None and flood.poll() is None:
            flood.kill()
        cashier.kill()


# -- fallbacks --------------------------------------------------------------------------


def test_page_from_another_origin_shows_the_answer_qr(phone: PhoneBrowser) -> None:
    """A configured page URL (a page host that takes no answers): there is no way home, so
    the page shows its answer QR at once and the camera path completes the pairing."""
    topology = phone.topology
    with oss.page_host(topology) as page_url:
        cashier = oss.Cashier(topology, "--request", "7.70", "EUR", page_url=page_url)
        try:
            url = cashier.wait_event("offer")["text"]
            assert url.lower().startswith(page_url.lower())
            page = _open(phone, url)
            page.wait_for_selector("body[data-state=answer]", timeout=TIMEOUT_MS)
            assert page.get_attribute("body", "data-fallback") == "no-way-home"
            assert page.get_attribute("body", "data-t-answer-sent") is None
            ready = float(page.get_attribute("body", "data-t-answer-ready") or "nan")
            shown = float(page.get_attribute("body", "data-t-qr-shown") or "nan")
            assert 0 <= shown - ready < 2000
            _scan_into(page, cashier)
            _pay_on_the_page(page, cashier, "7.70")
            page.close()
        finally:
            cashier.kill()


def test_page_server_unreachable_shows_the_answer_qr(phone: PhoneBrowser) -> None:
    """The page came from the laptop, but the phone cannot reach the laptop's page server
    any more when the answer is ready (its requests vanish): after 2 s without a channel
    the page shows its answer QR, and the camera path completes the pairing."""
    topology = phone.topology
    cashier = oss.Cashier(topology, "--request", "8.80", "EUR")
    try:
        url = cashier.wait_event("offer")["text"]
        base, _, fragment = url.partition("#")
        page = _open(phone, base)  # the page, from the laptop, before the offer reaches it
        page.wait_for_selector("body[data-state=remote]", timeout=TIMEOUT_MS)
        with oss.page_server_blocked(topology):
            page.evaluate("fragment => { location.hash = fragment; }", fragment)
            page.wait_for_selector("body[data-t-answer-sent]", state="attached")
            page.wait_for_selector("body[data-state=answer]", timeout=TIMEOUT_MS)
            assert page.get_attribute("body", "data-fallback") == "no-channel"
            assert page.get_attribute("body", "data-home") is None  # no reply ever came
            sent = float(page.get_attribute("body", "data-t-answer-sent") or "nan")
            shown = float(page.get_attribute("body", "data-t-qr-shown") or "nan")
            assert shown - sent >= 2000  # the page waited its 2 s for a channel first
            _scan_into(page, cashier)
            _pay_on_the_page(page, cashier, "8.80")
        assert [e.get("via") for e in cashier.events if e.get("event") == "answer"] == ["input"]
        page.close()
    finally:
        cashier.kill()
