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


@pytest.mark.parametrize("engine", ms.ENGINES)
def test_reply_handle_pairs_two_phones_with_no_camera(phones: p2p.Phones, engine: str) -> None:
    server = p2p.Server(phones, "rendezvous")
    try:
        with (
            p2p.phone(engine, phones, phones.a) as a,
            p2p.phone(engine, phones, phones.b) as b,
        ):
            try:
                a.open(server.url)
                url = p2p.merchant_offers(a)
                assert url.startswith(f"HTTP://{p2p.SERVER_ADDR}:{p2p.PORT}/#")
                b.open(url)
                p2p.verify_and_pay(a, b, AMOUNT)
            except Exception as exc:
                raise AssertionError(p2p.failure_report({"A": a, "B": b})) from exc
            assert a.data("answer-via") == "service"
            assert b.data("home") == "published" and b.data("fallback") is None
            assert not b.exists("#qr")  # no QR was ever needed
            assert a.data("role") == "merchant" and b.data("role") == "customer"
            assert a.text("#title") == f"Approved: {AMOUNT} EUR"
    finally:
        server.stop()


def test_camera_reads_the_answer_on_the_merchants_phone(phones: p2p.Phones, tmp_path: Path) -> None:
    server = p2p.Server(phones, "pages")  # no service: the camera is the only way back
    video = tmp_path / "a-camera.y4m"
    camera = p2p.camera_args(video, server.url.rstrip("/"))
    try:
        with (
            p2p.phone("chromium", phones, phones.a, camera) as a,
            p2p.phone("chromium", phones, phones.b) as b,
        ):
            try:
                a.open(server.url)
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
            except Exception as exc:
                raise AssertionError(p2p.failure_report({"A": a, "B": b})) from exc
            assert a.data("answer-via") == "camera"
            assert a.data("scan-decoder") in ("jsQR", "BarcodeDetector")
            assert a.data("scan-size") == "640x480"
    finally:
        server.stop()
