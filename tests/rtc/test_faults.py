"""Loss, delay, reordering and blackouts injected on the datagram path: no payment
message lost, none processed twice."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace

import pytest
from engine_support import FAST, Side, auto_respond, pair
from support.faults import FaultPlan, FaultyPath

from qrlink_desktop.core.clock import ManualClock
from qrlink_desktop.core.handshake import Role
from qrlink_desktop.core.session import State
from qrlink_desktop.rtc.channel import ChannelTimers

pytestmark = pytest.mark.timeout(120)


async def _pair_with_faults(
    cashier: Side, customer: Side, path: FaultyPath, keep: bool = False
) -> None:
    await pair(cashier, customer, keep=keep, path=path)


async def _settled(cashier: Side, count: int, timeout: float) -> None:
    async def poll() -> None:
        while (
            sum(
                p.acknowledgment is not None for p in cashier.session.conversation.payments.values()
            )
            < count
        ):
            await asyncio.sleep(0.02)

    await asyncio.wait_for(poll(), timeout)


def _exactly_once(cashier: Side, customer: Side, count: int) -> None:
    requests = [
        m
        for m in customer.session.conversation.processed
        if m in cashier.session.conversation.payments
    ]
    assert len(requests) == count and len(set(requests)) == count  # none lost, none twice
    responses = cashier.session.conversation.processed
    assert len(responses) == count and len(set(responses)) == count
    assert all(p.status == "approved" for p in cashier.session.conversation.payments.values())


def test_the_decision_is_seeded_and_honours_blackouts() -> None:
    clock = ManualClock()
    path = FaultyPath(FaultPlan(loss=0.5, delay=0.1, seed=7), clock)
    first = [path.decide(clock.monotonic()) for _ in range(200)]
    again = FaultyPath(FaultPlan(loss=0.5, delay=0.1, seed=7), clock)
    assert first == [again.decide(clock.monotonic()) for _ in range(200)]
    assert 60 < first.count(None) < 140 and all(d in (None, 0.1) for d in first)
    path.blackout(5)
    assert path.decide(clock.monotonic()) is None and path.dark
    clock.advance(5)
    assert not path.dark


async def test_loss_and_delay_lose_nothing_and_double_nothing(sides: Callable[..., Side]) -> None:
    cashier, customer = (
        sides(Role.OFFERER, timers=replace(FAST, dead_after=10.0)),
        sides(Role.ANSWERER),
    )
    auto_respond(customer)
    path = FaultyPath(FaultPlan(loss=0.05, delay=0.1, jitter=0.01, reorder=0.05, seed=1))
    await _pair_with_faults(cashier, customer, path)
    for i in range(200):
        cashier.session.request_payment("1.00", "EUR", f"LOSS-{i}")
    await _settled(cashier, 200, timeout=60)
    _exactly_once(cashier, customer, 200)
    assert path.counters.dropped > 0 and path.counters.delayed > 0


async def test_queued_messages_are_delivered_after_a_blackout(sides: Callable[..., Side]) -> None:
    timers = ChannelTimers(ping_interval=1.0, dead_after=6.0)
    cashier, customer = sides(Role.OFFERER, timers=timers), sides(Role.ANSWERER, timers=timers)
    auto_respond(customer)
    path = FaultyPath(FaultPlan(seed=2))
    await _pair_with_faults(cashier, customer, path)
    path.blackout(3.0)
    for i in range(20):
        cashier.session.request_payment("2.00", "EUR", f"DARK-{i}")
    await asyncio.sleep(3.0)
    assert sum(p.response is not None for p in cashier.session.conversation.payments.values()) == 0
    await _settled(cashier, 20, timeout=30)
    _exactly_once(cashier, customer, 20)
    assert cashier.session.status.state == State.CONNECTED
    assert cashier.of("state", state="DISCONNECTED")  # the quiet path was reported
    assert not cashier.of("error")


async def test_dead_peer_then_new_pairing_replays_exactly_once(sides: Callable[..., Side]) -> None:
    cashier, customer = sides(Role.OFFERER), sides(Role.ANSWERER)
    path = FaultyPath(FaultPlan(seed=3))
    await _pair_with_faults(cashier, customer, path)
    auto_respond(customer)
    path.blackout(3600)  # the path never comes back
    ids = [cashier.session.request_payment("3.00", "EUR", f"LOST-{i}") for i in range(5)]
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    await cashier.wait_for("error", code="TIMEOUT", timeout=FAST.dead_after + 2)
    assert loop.time() - t0 <= FAST.dead_after + 1
    await cashier.wait_for("closed")
    assert [e.message_id for e in cashier.session.conversation.unanswered()] == ids
    await customer.session.close()
    # A fresh pairing (new sockets, no faults) replays the five under their messageIds.
    await _pair_with_faults(cashier, customer, FaultyPath(FaultPlan(seed=4)), keep=True)
    await _settled(cashier, 5, timeout=20)
    _exactly_once(cashier, customer, 5)
