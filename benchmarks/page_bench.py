"""The mobile page with a real browser: one scan against two, load to answer QR, answer
size, connect, round trip.

One scan (`--one-scan-runs`, default 20 per column): `qrlink peer offer --serve-page` in
the laptop's namespace, the page in headless Chromium or Firefox in the phone's; nothing
is scanned: the page sends its answer home. Measured from the page starting to load (its
navigation start) to the verification code shown on both screens (the later of the page's
and the cashier's). Two scans (`--runs`, default 5): the page hosted elsewhere (a plain
page server on another port: no way home), so it shows its answer QR; the QR is read from
a screenshot and typed into the cashier. Either way the cashier then types the code the
page shows, and one payment is approved. Two topologies per engine: a loopback-only
namespace, and a laptop and a phone namespace joined by a veth pair (the browser's real
mDNS candidate). Needs root (network namespaces), /usr/bin/chromium, /usr/bin/firefox-esr
and the built page (`make page`). Nothing leaves loopback or the namespaces.

Phone to phone (`--p2p-runs`, default 5 per path and engine; `--only-p2p` for these
alone): two browsers, each in its own namespace, the page from a server in a third (the
tests' topology, tests/mobile/p2p_support.py). A's offer shown; through the reply handle,
B's page load → code on both screens; through A's camera (Chromium's fake capture playing
a video of B's screenshot), the first frame read → code on both; the in-page decoder's
time per 640x480 frame.

    .venv/bin/python benchmarks/page_bench.py [--runs 5] [--one-scan-runs 20]
        [--p2p-runs 5] [--only-p2p] [--engine chromium|firefox ...]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "mobile"))

import cv2
import mobile_support as ms
import numpy as np
import one_scan_support as oss
import p2p_support as p2p
from playwright.sync_api import Browser, Page

from qrlink_desktop.core import alnum, bootstrap
from qrlink_desktop.core.qrsize import smallest_version


def _code_on_page_at(page: Page) -> float:
    """Wall time (ms since the epoch) the page showed the code, on the page's own clock."""
    origin = float(page.evaluate("performance.timeOrigin"))
    return origin + float(page.get_attribute("body", "data-t-verified") or "nan")


def one_scan_run(browser: Browser, topology: ms.Topology, delay: float) -> dict[str, Any]:
    cashier = oss.Cashier(topology, "--request", "12.50", "EUR", "--reference", "BENCH-1")
    try:
        url = cashier.wait_event("offer")["text"]
        time.sleep(delay)
        page = browser.new_page(viewport={"width": 400, "height": 720})
        page.goto(url)
        page.wait_for_selector("body[data-t-verified]", state="attached", timeout=15_000)
        sas = cashier.wait_event("sas")
        origin = float(page.evaluate("performance.timeOrigin"))
        on_page, on_laptop = _code_on_page_at(page), sas["_readAt"] * 1000
        sent = float(page.get_attribute("body", "data-t-answer-sent") or "nan")
        via = next(e["via"] for e in cashier.events if e.get("event") == "answer")
        if via != "network" or page.get_attribute("body", "data-fallback") is not None:
            raise RuntimeError(f"not one scan: via {via}; {cashier.diagnostics()}")
        cashier.type_code_from(page)  # after the code is on both screens: not in the figure
        page.wait_for_selector("body[data-screen=request]", timeout=15_000)
        page.click("#approve")
        page.wait_for_selector("#outcome[data-acknowledged=yes]", timeout=15_000)
        rc = cashier.finish()
        page.close()
        if rc != 0:
            raise RuntimeError(f"the offer process ended with {rc}: {cashier.diagnostics()}")
        return {
            "load_to_code_ms": max(on_page, on_laptop) - origin,
            "load_to_answer_sent_ms": sent,
            "answer_sent_to_code_ms": max(on_page, on_laptop) - origin - sent,
        }
    finally:
        cashier.kill()


def two_scan_run(
    browser: Browser, topology: ms.Topology, page_url: str, delay: float, script: str = ""
) -> dict[str, Any]:
    offer = oss.Cashier(
        topology, "--request", "12.50", "EUR", "--reference", "BENCH-1", page_url=page_url
    )
    try:
        url = offer.wait_event("offer")["text"]
        time.sleep(delay)
        page = browser.new_page(viewport={"width": 400, "height": 720})
        if script:
            page.add_init_script(script)
        t0 = time.perf_counter()
        page.goto(url)
        page.wait_for_selector("body[data-screen=answer]", timeout=15_000)
        goto_ms = (time.perf_counter() - t0) * 1000
        origin = float(page.evaluate("performance.timeOrigin"))
        shown_ms = float(page.get_attribute("body", "data-t-qr-shown") or "nan")
        texts = ms.decode_qr_png(page.screenshot())
        text = texts[0]
        payload = alnum.decode(bootstrap.compact_payload(text))
        record = bootstrap.decode_compact(text, now=0, allow_loopback=True)
        page_version = int(page.get_attribute("#qr", "data-version") or 0)
        offer.send_answer(text)
        sas = offer.wait_event("sas")
        offer.type_code_from(page)
        page.wait_for_selector("body[data-screen=request]", timeout=15_000)
        code_at = max(_code_on_page_at(page), sas["_readAt"] * 1000)
        page.click("#approve")
        page.wait_for_selector("#outcome[data-acknowledged=yes]", timeout=15_000)
        opened = float(page.get_attribute("body", "data-t-channel-open") or "nan")
        verified = float(page.get_attribute("body", "data-t-verified") or "nan")
        responded = float(page.get_attribute("body", "data-t-responded") or "nan")
        acked = float(page.get_attribute("body", "data-t-acknowledged") or "nan")
        rc = offer.finish()
        page.close()
        if rc != 0:
            raise RuntimeError(f"the offer process ended with {rc}: {offer.diagnostics()}")
        timings = sas["timings"]
        return {
            "qr_shown_ms": shown_ms,
            "qr_to_code_ms": code_at - origin - shown_ms,
            "goto_to_qr_ms": goto_ms,
            "answer_bytes": len(payload),
            "answer_chars": len(text),
            "qr_version": page_version,
            "qr_version_optimal": smallest_version(text)[0],
            "candidates": ", ".join(
                "mDNS" if c.is_mdns else f"{c.type_name} {c.address}" for c in record.candidates
            )
            or "none",
            "channel_open_ms": timings["channel_open_ms"],
            "handshake_ms": timings["handshake_ms"],
            "page_handshake_ms": verified - opened,
            "round_trip_ms": acked - responded,
        }
    finally:
        offer.kill()


# -- phone to phone ------------------------------------------------------------------------


def _wall(phone: p2p.Phone, mark: str) -> float:
    """A page milestone (data-t-*) as wall time in ms since the epoch (both browsers run
    on this machine's clock)."""
    origin = float(phone.do(lambda page: page.evaluate("performance.timeOrigin")))
    return origin + float(phone.data(mark) or "nan")


def p2p_reply_run(a: p2p.Phone, b: p2p.Phone, server: p2p.Server) -> dict[str, Any]:
    """A offers (the service at hand: the reply handle); B opens A's URL, read from A's
    screenshot; the code on both; one payment."""
    a.open(server.url)
    url = p2p.merchant_offers(a)
    b.open(url)
    p2p.verify_and_pay(a, b, "3.20")
    b_load = float(b.do(lambda page: page.evaluate("performance.timeOrigin")))
    row = {
        "offer_shown_ms": float(a.data("t-offer-shown") or "nan")
        - float(a.data("t-offer-asked") or "nan"),
        "load_to_code_ms": max(_wall(a, "t-verified"), _wall(b, "t-verified")) - b_load,
        "offer_version": int(a.data("offer-version") or 0),
    }
    a.close_page()
    b.close_page()
    return row


def p2p_camera_run(a: p2p.Phone, b: p2p.Phone, server: p2p.Server, video: Path) -> dict[str, Any]:
    """A offers (no service: the camera is the way back); B answers and shows its QR; A's
    camera (Chromium's fake capture, a video of B's screenshot) reads it."""
    a.open(server.url)
    url = p2p.merchant_offers(a)
    b.open(url)
    b.wait_for("#qr[data-text]")
    p2p.write_y4m(video, [p2p.frame_of(b.screenshot())] * 10)
    a.click("#scan-answer")
    p2p.verify_and_pay(a, b, "3.20")
    shown = _wall(a, "t-scan-first-frame")
    row = {"camera_to_code_ms": max(_wall(a, "t-verified"), _wall(b, "t-verified")) - shown}
    a.close_page()
    b.close_page()
    return row


DECODED_FRAMES = 45  # the page reports the median of its last 31


def p2p_decoder_run(a: p2p.Phone, server: p2p.Server, video: Path, frame: Any) -> dict[str, Any]:
    """The in-page decoder's time per frame: A's camera plays `frame` (no answer to this
    offer, so the scanner keeps reading) until it has decoded DECODED_FRAMES of them."""
    a.open(server.url)
    p2p.merchant_offers(a)
    p2p.write_y4m(video, [frame] * 10)
    a.click("#scan-answer")
    a.do(
        lambda page: page.wait_for_function(
            f"() => Number(document.body.dataset.scanFrames || 0) >= {DECODED_FRAMES}",
            timeout=60_000,
        ),
        timeout=90,
    )
    row = {
        "decoder": a.data("scan-decoder"),
        "decode_ms": float(a.data("scan-ms") or "nan"),
        "frame": a.data("scan-size"),
        "barcode_detector": a.do(lambda page: page.evaluate("'BarcodeDetector' in window")),
    }
    a.close_page()
    return row


# A genuine answer (version 6) from another pairing: decoded in full, then refused.
ANY_ANSWER = (
    "QL:QN70*:X10**XT/OGC7Z81TR6C-5/SE:D83U-LX0992191L9C0F-SWZ8761NRGYEK:J17KWK3NICWDKWXLI"
    "*V4QQ1050IJM9-G64R16.SY4YU4HMNV5U4"
)


def _grey_png() -> bytes:
    ok, png = cv2.imencode(".png", np.full((480, 640, 3), 200, np.uint8))
    assert ok
    return bytes(png)


def measure_p2p(engine: str, runs: int, tmp: Path) -> dict[str, list[dict[str, Any]]]:
    """Two phones in their own namespaces and a server in a third (tests/mobile/p2p_support):
    the reply-handle path on `engine`; the camera path on Chromium (its fake capture)."""
    out: dict[str, list[dict[str, Any]]] = {"reply": [], "camera": [], "qr": [], "empty": []}
    with p2p.phones() as phones:
        server = p2p.Server(phones, "rendezvous")
        try:
            with p2p.phone(engine, phones, phones.a) as a, p2p.phone(engine, phones, phones.b) as b:
                p2p_reply_run(a, b, server)  # warm-up
                out["reply"] = [p2p_reply_run(a, b, server) for _ in range(runs)]
        finally:
            server.stop()
        if engine != "chromium":
            return out
        server = p2p.Server(phones, "pages")
        try:
            for i in range(runs + 1):  # a browser per run: the fake camera reads its file once
                video = tmp / f"camera-{i}.y4m"
                camera = p2p.camera_args(video, server.url.rstrip("/"))
                with (
                    p2p.phone(engine, phones, phones.a, camera) as a,
                    p2p.phone(engine, phones, phones.b) as b,
                ):
                    row = p2p_camera_run(a, b, server, video)
                if i > 0:  # the first is the warm-up
                    out["camera"].append(row)
            # Frames with a QR code (another pairing's answer: refused, so read on) and
            # frames with none, each in a browser of its own.
            other = p2p.frame_of(p2p.qr_png(ANY_ANSWER))
            empty = p2p.frame_of(_grey_png())
            for kind, frame in (("qr", other), ("empty", empty)):
                video = tmp / f"decoder-{kind}.y4m"
                camera = p2p.camera_args(video, server.url.rstrip("/"))
                with p2p.phone(engine, phones, phones.a, camera) as a:
                    out[kind].append(p2p_decoder_run(a, server, video, frame))
        finally:
            server.stop()
    return out


def print_p2p(results: dict[str, dict[str, list[dict[str, Any]]]]) -> None:
    engines = list(results)
    print(
        "Phone to phone (ms, median (min–max); two browsers, each in its own namespace, "
        "the page from a server in a third):\n"
    )
    print(f"| measure | {' | '.join(e.capitalize() for e in engines)} |")
    print(f"|---|{'---|' * len(engines)}")

    def row(label: str, path: str, key: str) -> None:
        cells = [median(results[e][path], key) if results[e][path] else "–" for e in engines]
        print(f"| {label} | {' | '.join(cells)} |")

    row("A's offer shown: 'Request a payment' → offer QR on screen", "reply", "offer_shown_ms")
    row(
        "reply handle: B's page starts loading → code on both screens",
        "reply",
        "load_to_code_ms",
    )
    row(
        "camera: B's answer in A's camera (first frame) → code on both screens",
        "camera",
        "camera_to_code_ms",
    )
    for e in engines:
        qr, empty = results[e]["qr"], results[e]["empty"]
        if not qr:
            continue
        decoders = ", ".join(sorted({str(r["decoder"]) for r in qr + empty}))
        frames = ", ".join(sorted({str(r["frame"]) for r in qr + empty}))
        detector = "present" if any(r["barcode_detector"] for r in qr) else "absent"
        print(
            f"\nIn-page decoder on {e.capitalize()} ({decoders}, frames {frames}; "
            f"BarcodeDetector {detector}), median of the last 31 of {DECODED_FRAMES} frames: "
            f"{qr[0]['decode_ms']:.1f} ms per frame with a QR code in it, "
            f"{empty[0]['decode_ms']:.1f} ms per frame with none."
        )
    versions = sorted({r["offer_version"] for e in engines for r in results[e]["reply"]})
    print(f"\nA's offer QR version (M): {', '.join(map(str, versions))}\n")


def median(rows: list[dict[str, Any]], key: str) -> str:
    values = [float(r[key]) for r in rows]
    return f"{statistics.median(values):.1f} ({min(values):.1f}–{max(values):.1f})"


def median_p90(rows: list[dict[str, Any]], key: str) -> str:
    values = sorted(float(r[key]) for r in rows)
    p90 = values[max(0, round(0.9 * len(values)) - 1)]
    return f"{statistics.median(values):.0f} / {p90:.0f}"


def browser_version(engine: str) -> str:
    out = subprocess.run(
        [str(ms.BROWSERS[engine]), "--version"], capture_output=True, text=True, timeout=30
    ).stdout
    return out.strip().splitlines()[-1] if out.strip() else f"{engine} (version unknown)"


TOPOLOGIES = ("loopback", "namespaces")
TOPOLOGY_TITLES = {"loopback": "loopback", "namespaces": "namespaces (mDNS)"}
Column = tuple[str, str]  # (engine, topology)


def measure(
    engine: str, name: str, args: argparse.Namespace
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """One column: one-scan runs, two-scan runs, two-scan runs with the first send lost."""
    with (
        ms.topology(name) as topology,
        ms.browser_in(engine, topology) as browser,
        oss.page_host(topology) as elsewhere,
    ):
        delay = args.scan_delay
        one_scan_run(browser, topology, delay)  # warm-up: caches, first compile
        two_scan_run(browser, topology, elsewhere, delay)
        # Interleaved, so a busy moment on the shared machine hits both alike.
        one, two = [], []
        for i in range(max(args.one_scan_runs, args.runs)):
            if i < args.one_scan_runs:
                one.append(one_scan_run(browser, topology, delay))
            if i < args.runs:
                two.append(two_scan_run(browser, topology, elsewhere, delay))
        # The page's first send dropped, as Chromium sometimes does: the hello's repeat
        # carries the pairing (protocol.md, Handshake).
        lost = [
            two_scan_run(browser, topology, elsewhere, delay, ms.DROP_FIRST_SEND)
            for _ in range(args.runs)
        ]
    return one, two, lost


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="two-scan pairings per column")
    parser.add_argument(
        "--one-scan-runs", type=int, default=20, help="one-scan pairings per column"
    )
    parser.add_argument(
        "--scan-delay",
        type=float,
        default=1.0,
        metavar="SECONDS",
        help="from the offer on screen to the page opened (default 1: a camera app takes "
        "longer to read a QR; meanwhile the laptop prepares its next offer)",
    )
    parser.add_argument(
        "--engine",
        action="append",
        choices=ms.ENGINES,
        help="browser engine to measure (repeatable; default: all)",
    )
    parser.add_argument(
        "--p2p-runs", type=int, default=5, help="phone-to-phone pairings per path and engine"
    )
    parser.add_argument("--only-p2p", action="store_true", help="measure phone to phone only")
    args = parser.parse_args()
    engines: list[str] = args.engine or list(ms.ENGINES)
    ms.check_tools()
    ms.ensure_page_built()
    with tempfile.TemporaryDirectory(prefix="qrlink-p2p-bench-") as tmp:
        p2p_results = {e: measure_p2p(e, args.p2p_runs, Path(tmp)) for e in engines}
    if args.only_p2p:
        print(_machine(engines))
        print_p2p(p2p_results)
        return 0
    one: dict[Column, list[dict[str, Any]]] = {}
    two: dict[Column, list[dict[str, Any]]] = {}
    lost: dict[Column, list[dict[str, Any]]] = {}
    for engine in engines:
        for name in TOPOLOGIES:
            column = (engine, name)
            one[column], two[column], lost[column] = measure(engine, name, args)
    columns = list(one)
    print(
        f"page benchmark: {args.one_scan_runs} one-scan and {args.runs} two-scan pairings "
        f"per column after one warm-up each; the page opened {args.scan_delay:g} s after "
        "the offer appeared"
    )
    print(_machine(engines))
    titles = " | ".join(f"{e.capitalize()}, {TOPOLOGY_TITLES[n]}" for e, n in columns)
    rule = f"|---|{'---|' * len(columns)}"

    def cells(table: dict[Column, list[dict[str, Any]]], key: str, how: Any) -> str:
        return " | ".join(how(table[c], key) for c in columns)

    print(
        "One scan against two (ms, median / p90; one scan's target: a median ≤ 400 on "
        "loopback, ≤ 500 across namespaces):\n"
    )
    print(f"| path | {titles} |")
    print(rule)
    for label, table, key in (
        (
            "**one scan**: page starts loading → code on both screens",
            one,
            "load_to_code_ms",
        ),
        ("… of which page load → answer sent home", one, "load_to_answer_sent_ms"),
        ("… of which answer sent → code on both screens", one, "answer_sent_to_code_ms"),
        ("two scans: page starts loading → answer QR shown", two, "qr_shown_ms"),
        (
            "two scans: answer QR shown → code on both screens (QR read from a screenshot)",
            two,
            "qr_to_code_ms",
        ),
    ):
        print(f"| {label} | {cells(table, key, median_p90)} |")
    print(
        "\n(Two scans also need the customer to turn the phone to the till's webcam and the "
        "webcam to see the code: gui_bench measures ~0.3 s from the code entering the picture "
        "to the code confirmed, with the phone raised into view in 0.33 s.)\n"
    )
    print(f"Two scans, median (min–max):\n\n| measure | {titles} |")
    print(rule)
    rows = [
        ("page load → answer QR shown (ms, from navigation start)", "qr_shown_ms"),
        ("goto() → answer QR on screen (ms, test driver's view)", "goto_to_qr_ms"),
        ("answer applied → channel open (ms, desktop side)", "channel_open_ms"),
        ("channel open → verified (ms, desktop side)", "handshake_ms"),
        ("channel open → verified (ms, page side)", "page_handshake_ms"),
        ("round trip: payment_response → acknowledgment (ms, page side)", "round_trip_ms"),
    ]
    for label, key in rows:
        print(f"| {label} | {cells(two, key, median)} |")
    print(
        "| … with the page's first send lost on the wire (ms, page side) | "
        f"{cells(lost, 'page_handshake_ms', median)} |"
    )
    for label, key in (
        ("browser's answer candidates", "candidates"),
        ("answer payload bytes", "answer_bytes"),
        ("answer text characters (`QL:` + base-41)", "answer_chars"),
        ("answer QR version (M; page's `qrcode` / optimal)", "qr_version"),
    ):

        def cell(rs: list[dict[str, Any]], k: str) -> str:
            seen = sorted({str(r[k]) for r in rs})
            if k == "qr_version":
                seen = sorted({f"{r['qr_version']} / {r['qr_version_optimal']}" for r in rs})
            return ", ".join(seen)

        print(f"| {label} | {cells(two, key, cell)} |")
    print()
    print_p2p(p2p_results)
    return 0


def _machine(engines: list[str]) -> str:
    cpu = platform.processor() or platform.machine()
    return (
        f"machine: {subprocess.run(['nproc'], capture_output=True, text=True).stdout.strip()}"
        f" cores, {cpu}; {'; '.join(browser_version(e) for e in engines)};"
        f" Python {platform.python_version()}\n"
    )


if __name__ == "__main__":
    sys.exit(main())
