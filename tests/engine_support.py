"""Sessions for tests: paired in-process over 127.0.0.1, with shortened timers.

A `Side` keeps every typed event its session told, and their JSON forms (what
`qrlink peer --json` prints) for the assertions that read fields by name.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from support.faults import FaultyPath

from qrlink_desktop.core.events import Event, MessageEvent
from qrlink_desktop.core.handshake import Role
from qrlink_desktop.core.messages import MessageType
from qrlink_desktop.core.publication import PublicationChanged
from qrlink_desktop.core.retry import RetryPolicy
from qrlink_desktop.rtc.answering import AnsweringSession
from qrlink_desktop.rtc.channel import ChannelTimers
from qrlink_desktop.rtc.config import SessionConfig
from qrlink_desktop.rtc.offering import OfferingSession
from qrlink_desktop.rtc.peer import IceConfig
from qrlink_desktop.rtc.session import Session

LOOPBACK = IceConfig(addresses=("127.0.0.1",))
FAST = ChannelTimers(
    handshake_timeout=3.0,
    ping_interval=0.3,
    dead_after=1.5,
    inactivity=30.0,
    retry=RetryPolicy(base_delay=0.05, max_delay=0.2),
)


@dataclass
class Side:
    session: Any  # OfferingSession or AnsweringSession (Any: tests call either's methods)
    typed: list[Event] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    publication: list[PublicationChanged] = field(default_factory=list)  # remote.py's

    def __post_init__(self) -> None:
        self.session.add_listener(self.record)

    def record(self, event: Event) -> None:
        self.typed.append(event)
        self.events.append(event.to_json())

    def of(self, name: str, **match: Any) -> list[dict[str, Any]]:
        return [
            e
            for e in self.events
            if e.get("event") == name and all(e.get(k) == v for k, v in match.items())
        ]

    async def wait_for(self, name: str, timeout: float = 5.0, **match: Any) -> dict[str, Any]:
        async def poll() -> dict[str, Any]:
            while not self.of(name, **match):
                await asyncio.sleep(0.005)
            return self.of(name, **match)[0]

        return await asyncio.wait_for(poll(), timeout)


def session_config(timers: ChannelTimers = FAST, **cfg: Any) -> SessionConfig:
    fields: dict[str, Any] = {"ice": LOOPBACK, "timers": timers, "merchant": "Test Shop"}
    return SessionConfig(**{**fields, **cfg})


def make_session(role: Role, timers: ChannelTimers = FAST, **cfg: Any) -> Session:
    config = session_config(timers, **cfg)
    return OfferingSession(config) if role == Role.OFFERER else AnsweringSession(config)


def make_side(role: Role, timers: ChannelTimers = FAST, **cfg: Any) -> Side:
    return Side(make_session(role, timers, **cfg))


Pair = tuple[Side, Side]


async def pair(
    cashier: Side, customer: Side, *, keep: bool = False, path: FaultyPath | None = None
) -> None:
    """Offer, answer, connect, confirm; with `path`, the cashier's datagrams go through
    it (tests/support/faults.py: loss, delay, blackouts)."""
    offer = await cashier.session.new_customer(keep_conversation=keep)
    if path is not None:
        path.install(cashier.session.peer)
    answer = await customer.session.answer(offer.text)
    await asyncio.gather(cashier.session.submit_answer(answer.text), customer.session.connect())
    cashier.session.confirm()


def auto_respond(side: Side, approve: bool = True) -> None:
    """The customer approves (or declines) every payment request as it arrives."""
    session = side.session

    def on_event(event: Event) -> None:
        match event:
            case MessageEvent(direction="in", type=MessageType.PAYMENT_REQUEST):
                session.respond(event.message_id, approve)

    session.add_listener(on_event)
