"""Reliability benchmark: what was injected, how many messages, lost, duplicated, and how
long detection and recovery took; a soak run; relay timings next to direct ones.
Loopback and a coturn on loopback only; default (production) timers unless stated.
Run: .venv/bin/python benchmarks/reliability_bench.py [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from support.faults import FaultPlan, FaultyPath
from tables import table
from turn_support import PASSWORD, USER, Coturn

from qrlink_desktop.core.events import Direction, ErrorEvent, Event, MessageEvent
from qrlink_desktop.core.handshake import Role
from qrlink_desktop.core.messages import MessageType, make
from qrlink_desktop.rtc.answering import AnsweringSession
from qrlink_desktop.rtc.config import SessionConfig
from qrlink_desktop.rtc.offering import OfferingSession
from qrlink_desktop.rtc.peer import IceConfig, IceServerConfig

LOOPBACK = IceConfig(addresses=("127.0.0.1",), allow_loopback=True)
ROWS: list[list[Any]] = []


class Side:
    def __init__(self, role: Role, ice: IceConfig = LOOPBACK, approve: bool = True) -> None:
        self.events: list[Event] = []
        cfg = SessionConfig(ice=ice)
        session = OfferingSession if role == Role.OFFERER else AnsweringSession
        self.session: Any = session(cfg, listener=self._on)
        self.approve = approve

    def _on(self, event: Event) -> None:
        self.events.append(event)
        match event:
            case MessageEvent(direction=Direction.IN, type=MessageType.PAYMENT_REQUEST):
                self.session.respond(event.message_id, self.approve)

    def errors(self, code: str) -> list[ErrorEvent]:
        return [e for e in self.events if isinstance(e, ErrorEvent) and e.code == code]


async def pair(
    cashier: Side, customer: Side, path: FaultyPath | None = None, keep: bool = False
) -> None:
    offer = await cashier.session.new_customer(keep_conversation=keep)
    if path is not None:
        assert cashier.session.peer is not None
        path.install(cashier.session.peer)
    answer = await customer.session.answer(offer.text)
    await asyncio.gather(cashier.session.submit_answer(answer.text), customer.session.connect())
    cashier.session.confirm()


def acked(cashier: Side) -> int:
    return sum(p.acknowledgment is not None for p in cashier.session.conversation.payments.values())


async def until(predicate: Any, timeout: float) -> float:
    t0 = time.perf_counter()
    while not predicate():
        if time.perf_counter() - t0 > timeout:
            raise TimeoutError
        await asyncio.sleep(0.01)
    return time.perf_counter() - t0


def tally(cashier: Side, customer: Side) -> tuple[int, int, int]:
    """(messages requested, lost, processed twice) over both sides."""
    requested = len(cashier.session.conversation.payments)
    lost = requested - acked(cashier)
    seen = customer.session.conversation.processed + cashier.session.conversation.processed
    return requested, lost, len(seen) - len(set(seen))


async def shutdown(*sides: Side) -> None:
    for s in sides:
        await s.session.shutdown()


async def loss_and_delay(n: int) -> None:
    cashier, customer = Side(Role.OFFERER), Side(Role.ANSWERER)
    path = FaultyPath(FaultPlan(loss=0.05, delay=0.1, seed=11))
    try:
        await pair(cashier, customer, path)
        t0 = time.perf_counter()
        for i in range(n):
            cashier.session.request_payment("1.00", "EUR", f"L{i}")
        await until(lambda: acked(cashier) == n, 300)
        elapsed = time.perf_counter() - t0
        req, lost, dup = tally(cashier, customer)
        ROWS.append(
            [
                "5 % loss + 100 ms delay, both directions",
                req,
                lost,
                dup,
                f"all acknowledged in {elapsed:.1f} s ({path.counters.dropped} datagrams dropped)",
            ]
        )
    finally:
        await shutdown(cashier, customer)


async def blackout(seconds: float, n: int) -> None:
    cashier, customer = Side(Role.OFFERER), Side(Role.ANSWERER)
    path = FaultyPath(FaultPlan(seed=12))
    try:
        await pair(cashier, customer, path)
        path.blackout(seconds)
        for i in range(n):
            cashier.session.request_payment("2.00", "EUR", f"B{i}")
        await asyncio.sleep(seconds)
        after = await until(lambda: acked(cashier) == n, 120)
        req, lost, dup = tally(cashier, customer)
        dead = len(cashier.errors("TIMEOUT")) + len(customer.errors("TIMEOUT"))
        ROWS.append(
            [
                f"{seconds:g} s blackout, messages queued during it",
                req,
                lost,
                dup,
                f"delivered {after:.1f} s after it ended; dead-peer alarms: {dead}; "
                f"state {cashier.session.status.state}",
            ]
        )
    finally:
        await shutdown(cashier, customer)


async def long_blackout(n: int) -> None:
    cashier, customer = Side(Role.OFFERER), Side(Role.ANSWERER)
    path = FaultyPath(FaultPlan(seed=13))
    try:
        await pair(cashier, customer, path)
        path.blackout(45)
        t0 = time.perf_counter()
        for i in range(n):
            cashier.session.request_payment("3.00", "EUR", f"D{i}")
        detect = await until(lambda: cashier.errors("TIMEOUT"), 60)
        await customer.session.close()
        t1 = time.perf_counter()
        await pair(cashier, customer, keep=True)  # a fresh pairing: replay
        recover = await until(lambda: acked(cashier) == n, 30) + (time.perf_counter() - t1)
        req, lost, dup = tally(cashier, customer)
        ROWS.append(
            [
                "45 s blackout: dead peer, then a new pairing",
                req,
                lost,
                dup,
                f"dead peer detected in {detect:.1f} s; replayed and settled {recover:.1f} s "
                f"after the new pairing began (total {time.perf_counter() - t0:.1f} s)",
            ]
        )
    finally:
        await shutdown(cashier, customer)


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def flood() -> None:
    cashier, customer = Side(Role.OFFERER), Side(Role.ANSWERER)
    try:
        await pair(cashier, customer)
        link = customer.session.link
        assert link is not None
        gc.collect()
        before = rss_mb()
        ping = make(MessageType.PING, {}, now=time.time()).to_json()
        big = "x" * (200 * 1024)  # over our 16 KiB cap, under what aiortc will send
        rtts = []
        for burst in range(10):
            for _ in range(5000):
                link.channel.send(ping)
            for _ in range(10):
                link.channel.send(big)
            t0 = time.perf_counter()
            cashier.session.request_payment("4.00", "EUR", f"F{burst}")
            await until(lambda b=burst: acked(cashier) == b + 1, 60)
            rtts.append((time.perf_counter() - t0) * 1000)
        gc.collect()
        await asyncio.sleep(1)
        after = rss_mb()
        limited = len(cashier.errors("RATE_LIMITED"))
        oversize = len(cashier.errors("MESSAGE_TOO_LARGE"))
        req, lost, dup = tally(cashier, customer)
        ROWS.append(
            [
                "flood: 50,000 pings + 100 x 200 KiB messages from the peer",
                req,
                lost,
                dup,
                f"rate limit reported {limited}x, {oversize} oversize refused; RSS "
                f"{before:.0f} -> {after:.0f} MB; payment during flood median "
                f"{statistics.median(rtts):.0f} ms; still {cashier.session.status.state}",
            ]
        )
    finally:
        await shutdown(cashier, customer)


async def soak(cycles: int) -> None:
    cashier, customer = Side(Role.OFFERER), Side(Role.ANSWERER)
    marks: list[str] = []
    cashier.session.prepare()
    try:
        for i in range(1, cycles + 1):
            # A phone serves one customer, and this harness's event log is not the app:
            # both would otherwise grow with the cycles and hide what the app keeps.
            await customer.session.shutdown()
            customer = Side(Role.ANSWERER)
            cashier.events.clear()
            await pair(cashier, customer)
            rid = cashier.session.request_payment("5.00", "EUR", f"S{i}")
            await until(
                lambda r=rid: cashier.session.conversation.payments[r].acknowledgment is not None,
                20,
            )
            await cashier.session.close()
            await until(lambda c=customer: c.session.link is None, 10)
            if i % 100 == 0 or i == cycles:
                await asyncio.sleep(0.5)
                gc.collect()
                marks.append(
                    f"{i}: {rss_mb():.1f} MB, {len(gc.get_objects())} objects, "
                    f"{len(os.listdir('/proc/self/fd'))} fds, {len(asyncio.all_tasks())} tasks"
                )
    finally:
        await shutdown(cashier, customer)
    ROWS.append([f"soak: {cycles} pair / pay / close cycles", cycles, 0, 0, "; ".join(marks)])


async def relay_timings(rounds: int) -> list[list[Any]]:
    turn = Coturn(relay_ports=(49600, 49699)).start()
    server = IceServerConfig((turn.url(),), USER, PASSWORD)
    relay = IceConfig(
        servers=(server,), relay_only=True, addresses=("127.0.0.1",), allow_loopback=True
    )
    both_ice = IceConfig(servers=(server,), addresses=("127.0.0.1",), allow_loopback=True)
    rows = []
    try:
        for label, o_ice, a_ice in (
            ("direct (host <-> host)", LOOPBACK, LOOPBACK),
            ("laptop relay-only", relay, LOOPBACK),
            ("both relay-only", relay, relay),
            ("TURN offered, direct possible", both_ice, both_ice),
        ):
            opens, rtts, paths = [], [], set()
            for _ in range(rounds):
                cashier, customer = Side(Role.OFFERER, o_ice), Side(Role.ANSWERER, a_ice)
                try:
                    await pair(cashier, customer)
                    opens.append(cashier.session.timings["channel_open_ms"])
                    assert cashier.session.peer is not None
                    paths.add(cashier.session.peer.describe().path)
                    for i in range(20):
                        t0 = time.perf_counter()
                        rid = cashier.session.request_payment("1.00", "EUR", f"R{i}")
                        payments = cashier.session.conversation.payments
                        await until(lambda r=rid, p=payments: p[r].response is not None, 10)
                        rtts.append((time.perf_counter() - t0) * 1000)
                finally:
                    await shutdown(cashier, customer)
            rows.append(
                [
                    label,
                    "/".join(sorted(paths)),
                    f"{statistics.median(opens):.1f}",
                    f"{max(opens):.1f}",
                    f"{statistics.median(rtts):.2f}",
                ]
            )
    finally:
        turn.stop()
    return rows


async def main(quick: bool, soak_cycles: int | None = None) -> None:
    await loss_and_delay(200 if quick else 1000)
    await blackout(3 if quick else 10, 50)
    await long_blackout(5)
    await flood()
    await soak(soak_cycles or (40 if quick else 200))
    relay = await relay_timings(3 if quick else 10)
    print(
        f"machine: {os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}"
    )
    table(
        "Reliability (user-space fault injection on the laptop's datagram path)",
        ["injected", "payment requests", "lost", "processed twice", "detection / recovery"],
        ROWS,
    )
    table(
        "Relay vs direct on loopback coturn (channel open after the answer; request -> response)",
        ["path", "selected", "open median ms", "open max ms", "round trip median ms"],
        relay,
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller counts, shorter blackout")
    parser.add_argument("--soak", type=int, metavar="CYCLES", help="soak cycles (default 200)")
    args = parser.parse_args()
    asyncio.run(main(args.quick, args.soak))
