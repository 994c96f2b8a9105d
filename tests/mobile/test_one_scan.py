"""One scan with a real browser, on both engines and in both topologies: the page opened
from the offer QR, and nothing scanned or pasted, reaches the verification code on both
sides and a payment; and the two fallbacks to the camera path (the answer QR read from a
screenshot of the page, as the laptop's webcam would read it). The attacks on the page
server are in test_one_scan_attacks.py.
"""

from __future__ import annotations

import mobile_support as ms
import one_scan_support as oss
from mobile_support import PhoneBrowser
from playwright.sync_api import Page

TIMEOUT_MS = 15_000


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
        page = oss.one_scan(phone, cashier, url, "6.40")
        # Said while it was on its way: "Connecting to the till…", never a QR code.
        assert float(page.get_attribute("body", "data-t-answer-sent") or "nan") > 0
        assert cashier.refused() == []
        page.close()
    finally:
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
            page = oss.open_page(phone, url)
            page.wait_for_selector("body[data-screen=answer]", timeout=TIMEOUT_MS)
            assert page.get_attribute("body", "data-fallback") == "no-way-home"
            assert page.get_attribute("body", "data-t-answer-sent") is None
            ready = float(page.get_attribute("body", "data-t-answer-ready") or "nan")
            shown = float(page.get_attribute("body", "data-t-qr-shown") or "nan")
            assert 0 <= shown - ready < 2000
            _scan_into(page, cashier)
            oss.pay_on_the_page(page, cashier, "7.70")
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
        page = oss.open_page(phone, base)  # the page, from the laptop, before the offer reaches it
        page.wait_for_selector("body[data-state=choosing]", timeout=TIMEOUT_MS)
        with oss.page_server_blocked(topology):
            page.evaluate("fragment => { location.hash = fragment; }", fragment)
            page.wait_for_selector("body[data-t-answer-sent]", state="attached")
            page.wait_for_selector("body[data-screen=answer]", timeout=TIMEOUT_MS)
            assert page.get_attribute("body", "data-fallback") == "no-channel"
            assert page.get_attribute("body", "data-home") is None  # no reply ever came
            sent = float(page.get_attribute("body", "data-t-answer-sent") or "nan")
            shown = float(page.get_attribute("body", "data-t-qr-shown") or "nan")
            assert shown - sent >= 2000  # the page waited its 2 s for a channel first
            _scan_into(page, cashier)
            oss.pay_on_the_page(page, cashier, "8.80")
        assert [e.get("via") for e in cashier.events if e.get("event") == "answer"] == ["input"]
        page.close()
    finally:
        cashier.kill()
