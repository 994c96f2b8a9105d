"""Pairing benchmark: payload sizes and QR versions, offer readiness, channel open, and the
payment round trip. Prints tables; loopback only. Run: .venv/bin/python benchmarks/pairing_bench.py
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import statistics
import subprocess
import sys
import time

from tables import table

from qrlink_desktop.core import answer_home, bootstrap, sdp
from qrlink_desktop.core.bootstrap import BootstrapRecord, Candidate, CandidateType, Kind
from qrlink_desktop.core.events import Direction, Event, MessageEvent
from qrlink_desktop.core.messages import MessageType
from qrlink_desktop.core.qrsize import smallest_version
from qrlink_desktop.rtc.answering import AnsweringSession
from qrlink_desktop.rtc.config import SessionConfig
from qrlink_desktop.rtc.offering import OfferingSession
from qrlink_desktop.rtc.peer import IceConfig
from qrlink_desktop.rtc.zstd import TOKENS
from qrlink_desktop.scan import qrimage

PAGE_URL = "https://pay.example-shop.com/q/"  # 31 characters, lower-case path: byte mode
LAN_URL = "http://192.168.100.200:48765/"  # the app's own page server, a long address
OWN_PAGE_URL = "http://192.168.1.20:8765/"  # the app's own page server on its default port
LOOPBACK = IceConfig(addresses=("127.0.0.1",))


def sizes() -> None:
    fp = bytes(range(32))
    pool = [
        Candidate(CandidateType.HOST, "192.168.1.20", 50000),
        Candidate(CandidateType.SRFLX, "203.0.113.9", 61000),
        Candidate(CandidateType.HOST, "10.0.0.7", 50001),
        Candidate(CandidateType.RELAY, "198.51.100.4", 49152),
    ]
    rows = []
    for n in (1, 2, 4):
        cands = tuple(pool[:n])
        offer = bootstrap.new_offer(fp, cands, int(time.time()) + 300)
        answer = BootstrapRecord(
            Kind.ANSWER, offer.offer_id, "abcd", "a" * 24, fp, cands, setup="active"
        )
        for rec, text in (
            (offer, bootstrap.offer_text(offer, PAGE_URL)),
            (offer, bootstrap.offer_text(offer, LAN_URL)),
            (answer, bootstrap.answer_text(answer)),
        ):
            full = sdp.rebuild(rec)
            compat = TOKENS.encode_compat(rec, now=time.time())
            label = rec.kind.name.lower() + (
                ""
                if rec.kind == Kind.ANSWER
                else " (31-char https URL)"
                if PAGE_URL in text.lower()
                else " (LAN URL, alnum)"
            )
            rows.append(
                [
                    label,
                    n,
                    len(bootstrap.pack(rec)),
                    len(text),
                    smallest_version(text)[0],
                    len(full),
                    smallest_version(full)[0],
                    len(compat),
                    smallest_version(compat)[0],
                ]
            )
    table(
        "Bootstrap size at error correction M "
        "(compact record vs full SDP vs the specification's base64 + zstd JSON)",
        [
            "code",
            "candidates",
            "record bytes",
            "QR text chars",
            "QR version",
            "full SDP bytes",
            "SDP QR version",
            "spec form chars",
            "spec form QR version",
        ],
        rows,
    )


def one_scan_sizes() -> None:
    """One scan adds nothing to the offer: the MAC key the page needs to send its answer
    home is derived from the seed the offer carries anyway (core/answer_home.py)."""
    fp = bytes(range(32))
    rows = []
    for n in (1, 2):
        cands = (
            Candidate(CandidateType.HOST, "192.168.1.20", 50000),
            Candidate(CandidateType.HOST, "10.0.0.7", 50001),
        )[:n]
        offer = bootstrap.new_offer(fp, cands, int(time.time()) + 300)
        assert offer.seed is not None
        key = answer_home.answer_key(offer.seed)  # what the page derives: 32 bytes, not sent
        answer = BootstrapRecord(
            Kind.ANSWER, offer.offer_id, "abcd", "a" * 24, fp, cands, setup="active"
        )
        request = answer_home.make_request(offer.seed, bootstrap.answer_text(answer))
        for label, url in (
            ("31-char https URL", PAGE_URL),
            (f"LAN URL {OWN_PAGE_URL}", OWN_PAGE_URL),
            (f"LAN URL {LAN_URL}", LAN_URL),
        ):
            text = bootstrap.offer_text(offer, url)
            rows.append(
                [
                    label,
                    n,
                    len(bootstrap.pack(offer)),
                    len(text),
                    smallest_version(text)[0],
                    f"{len(key)} B derived, 0 B carried",
                    len(request.to_json()),
                ]
            )
    table(
        "One scan: the offer QR the page answers home from (error correction M)",
        [
            "page URL",
            "candidates",
            "record bytes",
            "QR text chars",
            "QR version",
            "MAC key",
            "POST /answer body bytes",
        ],
        rows,
    )


async def session_timings(rounds: int) -> None:
    cashier = OfferingSession(SessionConfig(ice=LOOPBACK))
    customer = AnsweringSession(SessionConfig(ice=LOOPBACK))
    ready, ready_qr, opened, verified = [], [], [], []
    cashier.prepare()
    try:
        for _ in range(rounds):
            await asyncio.sleep(0.05)  # the next offer is prepared while the last customer leaves
            t0 = time.perf_counter()
            offer = await cashier.new_customer()
            assert offer is not None
            ready.append((time.perf_counter() - t0) * 1000)
            qrimage.modules(offer.text)
            ready_qr.append((time.perf_counter() - t0) * 1000)
            answer = await customer.answer(offer.text)
            assert answer is not None
            t1 = time.perf_counter()
            await asyncio.gather(cashier.submit_answer(answer.text), customer.connect())
            verified.append((time.perf_counter() - t1) * 1000)
            opened.append(cashier.timings["channel_open_ms"])
            await customer.close()
    finally:
        await cashier.shutdown()
        await customer.shutdown()

    def stats(xs: list[float]) -> list[str]:
        xs = sorted(xs)
        return [
            f"{statistics.median(xs):.1f}",
            f"{xs[int(len(xs) * 0.9) - 1]:.1f}",
            f"{xs[-1]:.1f}",
        ]

    table(
        f"Pairing on loopback, one process, {rounds} customers (ms)",
        ["step", "median", "p90", "max"],
        [
            ["new customer -> offer text ready (prepared offer)", *stats(ready)],
            ["new customer -> QR matrix ready", *stats(ready_qr)],
            ["answer applied -> data channel open", *stats(opened)],
            ["answer submitted -> handshake verified", *stats(verified)],
        ],
    )


async def round_trip(messages: int) -> None:
    """The cashier in this process, the customer a separate `qrlink peer answer` process."""
    answered: dict[str, asyncio.Future[None]] = {}

    def on_event(event: Event) -> None:
        match event:
            case MessageEvent(direction=Direction.IN, type=MessageType.PAYMENT_RESPONSE):
                waiter = answered.get(str(event.payload["requestId"]))
                if waiter is not None and not waiter.done():
                    waiter.set_result(None)

    cashier = OfferingSession(SessionConfig(ice=LOOPBACK), listener=on_event)
    offer = await cashier.new_customer()
    assert offer is not None
    text = offer.text
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "qrlink_desktop.cli",
        "peer",
        "answer",
        text,
        "--json",
        "--address",
        "127.0.0.1",
        "--timeout",
        "600",
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert proc.stdout is not None
    answer = None
    while answer is None:
        event = json.loads(await proc.stdout.readline())
        if event["event"] == "answer":
            answer = event["text"]

    async def drain() -> None:  # keep the peer's stdout flowing
        assert proc.stdout is not None
        while await proc.stdout.readline():
            pass

    drainer = asyncio.ensure_future(drain())
    await cashier.submit_answer(answer)
    cashier.confirm()
    rtts = []
    loop = asyncio.get_running_loop()
    for i in range(messages):
        t0 = time.perf_counter()
        rid = cashier.request_payment("1.00", "EUR", f"BENCH-{i}")
        answered[rid] = loop.create_future()
        if (
            rid not in cashier.conversation.payments
            or cashier.conversation.payments[rid].response is None
        ):
            await asyncio.wait_for(answered[rid], 10)
        rtts.append((time.perf_counter() - t0) * 1000)
    await cashier.shutdown()
    await asyncio.wait_for(proc.wait(), 10)
    drainer.cancel()
    rtts.sort()
    table(
        f"Payment round trip, separate processes, {messages} requests (request -> response, ms)",
        ["p50", "p90", "p99", "max"],
        [
            [
                f"{statistics.median(rtts):.2f}",
                f"{rtts[int(len(rtts) * 0.9) - 1]:.2f}",
                f"{rtts[int(len(rtts) * 0.99) - 1]:.2f}",
                f"{rtts[-1]:.2f}",
            ]
        ],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--messages", type=int, default=1000)
    args = parser.parse_args()
    print(
        f"machine: {platform.processor() or platform.machine()}, Python {platform.python_version()}"
    )
    sizes()
    one_scan_sizes()
    asyncio.run(session_timings(args.rounds))
    asyncio.run(round_trip(args.messages))


if __name__ == "__main__":
    main()
