"""The send retry (1 s → 2 s → 4 s, shortened here) with real aiortc peers: a payment the
data channel refuses is retried, delivered once the channel takes it again, or reported
MESSAGE_SEND_FAILED and replayed by the next pairing; never sent twice, never lost
silently. Every state its outbox entry passes through is recorded and compared.

The refusal is made where aiortc itself refuses a send, in the SCTP transport: its limit
on the peer's message size is lowered for a while, so `RTCDataChannel.send` raises from
the SCTP layer exactly as it does for a message the peer cannot take.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import pytest
from engine_support import FAST, Side, auto_respond, pair

from qrlink_desktop.core import conversation as conversation_module
from qrlink_desktop.core.conversation import OutEntry, OutStatus
from qrlink_desktop.core.handshake import Role
from qrlink_desktop.core.retry import RetryPolicy
from qrlink_desktop.rtc.channel import ChannelTimers, Link

pytestmark = pytest.mark.timeout(120)

# Three retries (0.1, 0.2, 0.4 s). The heartbeat's pongs are refused too while sends are,
# so the dead-peer limit is put out of the way: this is about the retry, not liveness.
TIMERS = replace(FAST, retry=RetryPolicy(base_delay=0.1, max_delay=1.0), dead_after=30.0)


class Trail:
    """What one outbox entry went through: its statuses (in order, repeats folded) and
    every attempts count it was given."""

    def __init__(self) -> None:
        self.statuses: list[OutStatus] = []
        self.attempts: list[int] = []
        self.on_attempts: Callable[[OutEntry], None] = lambda entry: None


@pytest.fixture
def trails(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Trail]]:
    """Outbox entries that record their states, by messageId."""
    made: dict[str, Trail] = {}

    class Recorded(OutEntry):
        def __setattr__(self, name: str, value: Any) -> None:
            super().__setattr__(name, value)
            if name not in ("status", "attempts"):
                return
            trail = made.setdefault(self.envelope.message_id, Trail())
            if name == "status" and trail.statuses[-1:] != [value]:
                trail.statuses.append(value)
            elif name == "attempts":
                trail.attempts.append(value)
                trail.on_attempts(self)

    monkeypatch.setattr(conversation_module, "OutEntry", Recorded)
    yield made


def _refuse_sends(link: Link) -> Callable[[], None]:
    """Make the cashier's SCTP transport refuse every message; returns the undo."""
    sctp: Any = link.channel.transport
    limit = sctp._remote_max_message_size
    sctp._remote_max_message_size = 1
    return lambda: setattr(sctp, "_remote_max_message_size", limit)


async def _paired_refusing(
    sides: Callable[..., Side], timers: ChannelTimers
) -> tuple[Side, Side, Callable[[], None]]:
    """Cashier and customer paired (the customer approves everything), and the cashier's
    SCTP transport refusing sends from now on; with the undo."""
    cashier, customer = sides(Role.OFFERER, timers=timers), sides(Role.ANSWERER, timers=timers)
    auto_respond(customer)
    await pair(cashier, customer)
    assert cashier.session.link is not None
    return cashier, customer, _refuse_sends(cashier.session.link)


async def _acknowledged(cashier: Side, rid: str) -> None:
    async def poll() -> None:
        while cashier.session.conversation.payments[rid].acknowledgment is None:
            await asyncio.sleep(0.01)

    await asyncio.wait_for(poll(), 60)


def _received_once(customer: Side, rid: str) -> None:
    assert customer.session.conversation.processed.count(rid) == 1
    assert customer.of("duplicate") == []  # the wire carried it once
    assert len(customer.of("message", type="payment_request", messageId=rid)) == 1


async def test_a_refused_send_is_retried_and_delivered_once_the_channel_takes_it(
    sides: Callable[..., Side], trails: dict[str, Trail]
) -> None:
    cashier, customer, undo = await _paired_refusing(sides, TIMERS)

    def back_after_two_tries(entry: OutEntry) -> None:
        if entry.status == OutStatus.RETRYING and entry.attempts == 2:
            undo()  # the channel takes messages again before the third try

    rid = cashier.session.request_payment("6.00", "EUR", "RETRY-1")
    # The direct send was refused and the message queued; the tries run on the link's
    # pump, after this line.
    trails[rid].on_attempts = back_after_two_tries
    await _acknowledged(cashier, rid)
    recorded = trails[rid]
    assert recorded.statuses == [
        OutStatus.QUEUED,
        OutStatus.RETRYING,
        OutStatus.SENT,
        OutStatus.ANSWERED,
    ]
    assert recorded.attempts == [0, 1, 2, 3]  # refused twice, taken on the third try
    assert cashier.of("error") == []  # nothing to report: it went
    _received_once(customer, rid)
    assert cashier.session.conversation.payments[rid].status == "approved"


async def test_a_send_refused_to_the_end_is_reported_and_replayed_once_by_the_next_pairing(
    sides: Callable[..., Side], trails: dict[str, Trail]
) -> None:
    cashier, customer, _ = await _paired_refusing(sides, TIMERS)  # for good, on this link
    rid = cashier.session.request_payment("7.00", "EUR", "RETRY-2")
    told = await cashier.wait_for("error", code="MESSAGE_SEND_FAILED", timeout=60)
    assert told["messageId"] == rid
    assert "sent again after the next pairing" in told["message"]
    recorded = trails[rid]
    assert recorded.statuses == [OutStatus.QUEUED, OutStatus.RETRYING, OutStatus.FAILED]
    assert recorded.attempts == [0, 1, 2, 3, 4]  # the first try and three retries
    assert [e.message_id for e in cashier.session.conversation.unanswered()] == [rid]
    assert customer.of("message", type="payment_request") == []  # it never left
    # The next pairing (same customer, same conversation) replays it under its messageId.
    await customer.session.close("the cashier starts again")
    await pair(cashier, customer, keep=True)
    await _acknowledged(cashier, rid)
    assert recorded.statuses == [
        OutStatus.QUEUED,
        OutStatus.RETRYING,
        OutStatus.FAILED,
        OutStatus.SENT,
        OutStatus.ANSWERED,
    ]
    assert recorded.attempts[-1] == 1  # sent at once on the new channel
    assert len(cashier.of("error", code="MESSAGE_SEND_FAILED")) == 1  # told once
    _received_once(customer, rid)


async def test_a_connection_lost_while_retrying_leaves_the_message_for_the_next_pairing(
    sides: Callable[..., Side], trails: dict[str, Trail]
) -> None:
    """The link ends while the policy is still running: the old link never sends the
    message again; the next pairing does, once."""
    slow = replace(TIMERS, retry=RetryPolicy(base_delay=30.0, max_delay=30.0))
    cashier, customer, _ = await _paired_refusing(sides, slow)
    rid = cashier.session.request_payment("8.00", "EUR", "RETRY-3")

    async def retrying() -> None:
        while trails[rid].statuses[-1] != OutStatus.RETRYING:
            await asyncio.sleep(0.01)

    await asyncio.wait_for(retrying(), 60)  # and waiting 30 s for its next try
    await customer.session.close("lost")
    await cashier.wait_for("closed", timeout=60)
    assert trails[rid].statuses == [OutStatus.QUEUED, OutStatus.RETRYING]
    assert [e.message_id for e in cashier.session.conversation.unanswered()] == [rid]
    await pair(cashier, customer, keep=True)
    await _acknowledged(cashier, rid)
    assert trails[rid].statuses == [
        OutStatus.QUEUED,
        OutStatus.RETRYING,
        OutStatus.SENT,
        OutStatus.ANSWERED,
    ]
    assert cashier.of("error", code="MESSAGE_SEND_FAILED") == []
    _received_once(customer, rid)
