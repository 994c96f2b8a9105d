"""Phone to phone: two headless browsers, each in its own network namespace, both loading
the page from a qrlink server in a third. Phone A requests a payment (its page offers);
phone B opens A's URL, read from A's screenshot as a camera app would. The answer comes
back through the rendezvous service's reply handle (no camera at all), or through A's own
camera: Chromium's fake capture plays a video made of B's screenshot, and A's in-page
scanner reads B's answer from those pixels. Both show the same code; A confirms it and
requests 3.20 EUR; B approves; A shows it approved.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import mobile_support as ms
import p2p_support as p2p
import pytest

AMOUNT = "3.20"


@pytest.fixture
def phones() -> Iterator[p2p.Phones]:
    with p2p.phones() as made:
        yield made


# A WebView host's bridge, as each platform injects it: iOS's message handler takes the
# object, Android's injected interface takes strings (JSON). Both keep what they hear.
IOS_HOST = """window.webkit = { messageHandlers: { qrlink: {
  postMessage(m) { (window.__heard = window.__heard || []).push(JSON.parse(JSON.stringify(m))); }
} } };"""
ANDROID_HOST = """window.QrlinkHost = {
  onState(json) { (window.__heard = window.__heard || []).push(JSON.parse(json)); },
  setBrightness(level) { (window.__heard = window.__heard || []).push({ brightness: level }); }
};"""


def _heard(phone: p2p.Phone) -> list[dict[str, object]]:
    heard: list[dict[str, object]] = phone.do(lambda page: page.evaluate("window.__heard || []"))
    return heard


def _states(heard: list[dict[str, object]]) -> list[object]:
    """The states in the order heard, each run of one state once."""
    out: list[object] = []
    for m in heard:
        if m.get("type") == "state" and (not out or out[-1] != m["state"]):
            out.append(m["state"])
    return out


@pytest.mark.parametrize("engine", ms.ENGINES)
def test_reply_handle_pairs_two_phones_with_no_camera(phones: p2p.Phones, engine: str) -> None:
    """Also: A is embedded as in an iOS app, B as in an Android app; each host hears the
    states, the role and the code."""
    with p2p.pair(phones, "rendezvous", engine) as p:
        a, b = p.a, p.b
        a.open(p.server.url, IOS_HOST)
        url = p2p.merchant_offers(a)
        assert url.startswith(f"HTTP://{p2p.SERVER_ADDR}:{p2p.PORT}/#")
        b.open(url, ANDROID_HOST)
        code = p2p.verify_and_pay(a, b, AMOUNT)
        heard_a, heard_b = _heard(a), _heard(b)
        states_a, states_b = _states(heard_a), _states(heard_b)
        wanted = ["choosing", "offering", "verifying", "verified", "requested", "paid"]
        assert [s for s in states_a if s in wanted] == wanted, states_a
        wanted = ["answering", "verifying", "requested", "paid"]
        assert [s for s in states_b if s in wanted] == wanted, states_b
        for heard, role in ((heard_a, "merchant"), (heard_b, "customer")):
            paid = [m for m in heard if m.get("state") == "paid"]
            assert paid and all(m["code"] == code and m["role"] == role for m in paid), paid
            assert paid[-1]["amount"] == AMOUNT and paid[-1]["currency"] == "EUR"
        assert {"brightness": "max"} in heard_a  # the offer QR asked the host for light
        assert a.data("answer-via") == "service"
        assert b.data("home") == "published" and b.data("fallback") is None
        assert not b.exists("#qr")  # no QR was ever needed
        assert a.data("role") == "merchant" and b.data("role") == "customer"
        assert a.text("#title") == f"Approved: {AMOUNT} EUR"


def test_the_other_phone_declines(phones: p2p.Phones) -> None:
    """B declines A's request: both phones say it was declined, neither says paid."""
    with p2p.pair(phones, "rendezvous", "firefox") as p:
        a, b = p.a, p.b
        a.open(p.server.url)
        b.open(p2p.merchant_offers(a))
        p2p.verify_and_pay(a, b, AMOUNT, approve=False)
        assert a.text("#title") == f"Declined: {AMOUNT} EUR"
        assert b.attr("#outcome", "data-status") == "declined"
        assert a.state() == b.state() == "declined"


def test_camera_reads_the_answer_on_the_merchants_phone(phones: p2p.Phones, tmp_path: Path) -> None:
    video = tmp_path / "a-camera.y4m"
    # No service: the camera is the only way back.
    with p2p.pair(phones, "pages", a_camera=video) as p:
        a, b = p.a, p.b
        a.open(p.server.url)
        url = p2p.merchant_offers(a)
        b.open(url)
        b.wait_state("answering")
        b.wait_for("#qr[data-text]")
        answer = b.attr("#qr", "data-text")
        assert answer is not None and answer.startswith("QL:")
        # No service and no laptop behind this page server: the QR at once.
        assert b.data("fallback") == "no-way-home"
        p2p.write_y4m(video, [p2p.frame_of(b.screenshot())] * 10)
        a.click("#scan-answer")
        a.wait_state("scanning")
        p2p.verify_and_pay(a, b, AMOUNT)
        assert a.data("answer-via") == "camera"
        assert a.data("scan-decoder") in ("jsQR", "BarcodeDetector")
        assert a.data("scan-size") == "640x480"


def test_customer_scans_the_payment_code_with_the_page(phones: p2p.Phones, tmp_path: Path) -> None:
    """ "Scan a payment code": B's page reads A's offer QR with B's own camera (a video of
    A's screenshot), answers it, and the answer goes back through the reply handle."""
    video = tmp_path / "b-camera.y4m"
    with p2p.pair(phones, "rendezvous", b_camera=video) as p:
        a, b = p.a, p.b
        a.open(p.server.url)
        url = p2p.merchant_offers(a)
        p2p.write_y4m(video, [p2p.frame_of(a.screenshot())] * 10)
        b.open(p.server.url)
        b.wait_state("choosing")
        b.click("#choose-scan")
        b.wait_state("scanning")
        p2p.verify_and_pay(a, b, AMOUNT)
        # B went where A's QR leads, as if its camera app had opened the link.
        assert b.do(lambda page: page.url) == url.replace("HTTP://", "http://", 1)
        assert b.data("role") == "customer" and b.data("home") == "published"
        assert a.data("answer-via") == "service"


# -- bad input ------------------------------------------------------------------------------

# Every sentence phone A's page writes in its note, kept as it appears (a later screen
# replaces the note; the test still sees what was said).
RECORD_NOTES = """() => {
  window.__notes = [];
  new MutationObserver(() => {
    const note = document.getElementById("note");
    const text = note === null ? "" : note.textContent || "";
    if (text && window.__notes[window.__notes.length - 1] !== text) window.__notes.push(text);
  }).observe(document.body, { subtree: true, childList: true, characterData: true });
}"""


def _never_paid(*phones: p2p.Phone) -> None:
    for p in phones:
        if p.page is not None and not p.do(lambda page: page.is_closed()):
            assert p.state() not in ("paid", "requested"), p.state()


def test_garbage_in_the_camera_is_refused_and_the_real_answer_then_read(
    phones: p2p.Phones, tmp_path: Path
) -> None:
    """A's camera first sees a QR code that is no answer (a code that only looks like one),
    then B's answer: A says plainly the first is not the answer and keeps scanning; B still
    shows its answer; then the real answer pairs them and one payment is made."""
    video = tmp_path / "a-camera.y4m"
    with p2p.pair(phones, "pages", a_camera=video) as p:
        a, b = p.a, p.b
        a.open(p.server.url)
        url = p2p.merchant_offers(a)
        b.open(url)
        b.wait_for("#qr[data-text]")
        garbage = p2p.frame_of(p2p.qr_png("QL:NOT-AN-ANSWER-0123456789"))
        answer = p2p.frame_of(b.screenshot())
        p2p.write_y4m(video, [garbage] * 20 + [answer] * 20)
        a.do(lambda page: page.evaluate(RECORD_NOTES))
        a.click("#scan-answer")
        a.wait_for("body[data-scan-refused]")
        assert a.data("scan-refused-code") == "BOOTSTRAP_PARSE_FAILED"
        assert b.state() == "answering" and b.exists("#qr")  # B is still waiting
        p2p.verify_and_pay(a, b, AMOUNT)
        notes = a.do(lambda page: page.evaluate("window.__notes"))
        assert any(n.startswith("That is not the answer to this payment code") for n in notes)
        assert a.data("answer-via") == "camera"
        assert b.do(lambda page: page.locator("#outcome[data-acknowledged=yes]").count()) == 1


def test_expired_offer_is_refused_on_both_phones(phones: p2p.Phones) -> None:
    """A's offer lives 2 s (`?lifetime=2`); B opens it later: B says the code has expired,
    A says its payment code has expired; nothing connects, nothing is paid."""
    with p2p.pair(phones, "rendezvous") as p:
        a, b = p.a, p.b
        a.open(p.server.url + "?lifetime=2")
        url = p2p.merchant_offers(a)
        a.wait_state("failed", timeout_ms=15_000)
        b.open(url)
        b.wait_state("failed")
        assert a.text("#title") == "This payment code has expired"
        assert a.data("error") == "TIMEOUT"
        assert b.text("#title") == "This code has expired"
        assert b.data("error") == "BOOTSTRAP_PARSE_FAILED"
        assert not b.exists("#qr") and a.data("answer-via") is None
        _never_paid(a, b)


def test_the_other_phone_closing_midway_is_said_and_nothing_is_paid(phones: p2p.Phones) -> None:
    """B closes its page while A's request is on its screen: A says the other phone is gone
    and that nothing was paid; the request stays unanswered."""
    with p2p.pair(phones, "rendezvous") as p:
        a, b = p.a, p.b
        a.open(p.server.url)
        b.open(p2p.merchant_offers(a))
        p2p.both_show_the_code(a, b)
        p2p.request(a, AMOUNT)
        b.wait_state("requested")
        b.close_page()
        # A hears the channel close, or its dead-peer timer (14 s) ends it.
        a.wait_state("failed", timeout_ms=30_000)
        assert a.text("#title") in ("Disconnected", "The other phone stopped answering")
        assert "nothing was paid" in a.text("#detail")
        assert a.data("error") in ("CONNECTION_FAILED", "TIMEOUT")
        _never_paid(a)
