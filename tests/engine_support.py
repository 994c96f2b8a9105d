"""Engines for tests: paired in-process over 127.0.0.1, with shortened timers."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from qrlink_desktop.core.handshake import Role
from qrlink_desktop.core.retry import RetryPolicy
from qrlink_desktop.rtc.channel import ChannelTimers
from qrlink_desktop.rtc.engine import Engine, EngineConfig
from qrlink_desktop.rtc.peer import IceConfig

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
    engine: Engine
    events: list[dict[str, Any]] = field(default_factory=list)

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


def make_side(role: Role, timers: ChannelTimers = FAST, **cfg: Any) -> Side:
    events: list[dict[str, Any]] = []
    config = EngineConfig(ice=LOOPBACK, timers=timers, merchant="Test Shop", **cfg)
    return Side(Engine(role, config, emit=events.append), events)


Pair = tuple[Side, Side]


async def pair(cashier: Side, customer: Side, *, keep: bool = False) -> None:
    offer = await cashier.engine.new_customer(keep_conversation=keep)
    answer = await customer.engine.answer(offer)
    await asyncio.gather(cashier.engine.submit_answer(answer), customer.engine.connect())
    cashier.engine.confirm()


def auto_respond(side: Side, approve: bool = True) -> None:
    """The customer approves (or declines) every payment request as it arrives."""
    engine = side.engine

    def on_event(event: dict[str, Any]) -> None:
        side.events.append(event)
        if event.get("event") == "message" and event.get("direction") == "in":
            if event["type"] == "payment_request":
                engine.respond(event["messageId"], approve)

    engine._emit_cb = on_event
