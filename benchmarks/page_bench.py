"""The mobile page with a real browser: load to answer QR, answer size, connect, round trip.

Each run: `qrlink peer offer --serve-page` in the laptop's namespace, the page in headless
Chromium or Firefox in the phone's; the answer QR is read from a screenshot; one payment is
approved. Two topologies per engine: a loopback-only namespace, and a laptop and a phone
namespace joined by a veth pair (the browser's real mDNS candidate). Needs root (network
namespaces), /usr/bin/chromium, /usr/bin/firefox-esr and the built page (`make page`).
Nothing leaves loopback or the namespaces.

    .venv/bin/python benchmarks/page_bench.py [--runs 5] [--engine chromium|firefox ...]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "mobile"))

import mobile_support as ms
from playwright.sync_api import Browser

from qrlink_desktop.core import alnum, bootstrap
from qrlink_desktop.core.qrsize import smallest_version


def one_run(browser: Browser, topology: ms.Topology, script: str = "") -> dict[str, Any]:
    offer = ms.OfferProcess(topology, "--request", "12.50", "EUR", "--reference", "BENCH-1")
    try:
        url = offer.wait_event("offer")["text"]
        page = browser.new_page(viewport={"width": 400, "height": 720})
        if script:
            page.add_init_script(script)
        t0 = time.perf_counter()
        page.goto(url)
        page.wait_for_selector("body[data-state=answer]", timeout=15_000)
        goto_ms = (time.perf_counter() - t0) * 1000
        shown_ms = float(page.get_attribute("body", "data-t-qr-shown") or "nan")
        texts = ms.decode_qr_png(page.screenshot())
        text = texts[0]
        payload = alnum.decode(bootstrap.compact_payload(text))
        record = bootstrap.decode_compact(text, now=0, allow_loopback=True)
        page_version = int(page.get_attribute("#qr", "data-version") or 0)
        offer.send_answer(text)
        sas = offer.wait_event("sas")
        offer.type_code_from(page)
        page.wait_for_selector("body[data-state=request]", timeout=15_000)
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


def median(rows: list[dict[str, Any]], key: str) -> str:
    values = [float(r[key]) for r in rows]
    return f"{statistics.median(values):.1f} ({min(values):.1f}–{max(values):.1f})"


def browser_version(engine: str) -> str:
    out = subprocess.run(
        [str(ms.BROWSERS[engine]), "--version"], capture_output=True, text=True, timeout=30
    ).stdout
    return out.strip().splitlines()[-1] if out.strip() else f"{engine} (version unknown)"


TOPOLOGIES = ("loopback", "namespaces")
TOPOLOGY_TITLES = {"loopback": "loopback", "namespaces": "namespaces (mDNS)"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="pairings per column (default 5)")
    parser.add_argument(
        "--engine",
        action="append",
        choices=ms.ENGINES,
        help="browser engine to measure (repeatable; default: all)",
    )
    args = parser.parse_args()
    engines: list[str] = args.engine or list(ms.ENGINES)
    ms.check_tools()
    ms.ensure_page_built()
    results: dict[tuple[str, str], list[dict[str, Any]]] = {}
    lost: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for engine in engines:
        for name in TOPOLOGIES:
            with ms.topology(name) as topology, ms.browser_in(engine, topology) as browser:
                one_run(browser, topology)  # warm-up: caches, first compile
                results[engine, name] = [one_run(browser, topology) for _ in range(args.runs)]
                # The page's first send dropped, as Chromium sometimes does: the hello's
                # repeat carries the pairing (protocol.md, Handshake).
                lost[engine, name] = [
                    one_run(browser, topology, ms.DROP_FIRST_SEND) for _ in range(args.runs)
                ]
    columns = list(results)
    cpu = platform.processor() or platform.machine()
    print(f"page benchmark: {args.runs} runs per column after one warm-up; median (min–max)")
    print(
        f"machine: {subprocess.run(['nproc'], capture_output=True, text=True).stdout.strip()}"
        f" cores, {cpu}; {'; '.join(browser_version(e) for e in engines)};"
        f" Python {platform.python_version()}\n"
    )
    titles = [f"{e.capitalize()}, {TOPOLOGY_TITLES[n]}" for e, n in columns]
    print(f"| measure | {' | '.join(titles)} |")
    print(f"|---|{'---|' * len(columns)}")
    rows = [
        ("page load → answer QR shown (ms, from navigation start)", "qr_shown_ms"),
        ("goto() → answer QR on screen (ms, test driver's view)", "goto_to_qr_ms"),
        ("answer applied → channel open (ms, desktop side)", "channel_open_ms"),
        ("channel open → verified (ms, desktop side)", "handshake_ms"),
        ("channel open → verified (ms, page side)", "page_handshake_ms"),
        ("round trip: payment_response → acknowledgment (ms, page side)", "round_trip_ms"),
    ]
    for label, key in rows:
        print(f"| {label} | {' | '.join(median(results[c], key) for c in columns)} |")
    print(
        "| … with the page's first send lost on the wire (ms, page side) | "
        f"{' | '.join(median(lost[c], 'page_handshake_ms') for c in columns)} |"
    )
    for label, key in (
        ("browser's answer candidates", "candidates"),
        ("answer payload bytes", "answer_bytes"),
        ("answer text characters (`QL:` + base-41)", "answer_chars"),
        ("answer QR version (M; page's `qrcode` / optimal)", "qr_version"),
    ):

        def cell(rs: list[dict[str, Any]], k: str = key) -> str:
            seen = sorted({str(r[k]) for r in rs})
            if k == "qr_version":
                seen = sorted({f"{r['qr_version']} / {r['qr_version_optimal']}" for r in rs})
            return ", ".join(seen)

        print(f"| {label} | {' | '.join(cell(results[c]) for c in columns)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
