"""User-space fault injection on a peer's datagram path (these kernels have no netem).

Wraps the aioice host sockets of one peer: every datagram in either direction is
dropped, delayed, held back (reordered) or swallowed by a blackout as the plan says.
Used by the reliability tests and benchmarks; `decide` is pure given `now` and the seed.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from qrlink_desktop.core.clock import SYSTEM_CLOCK, Clock
from qrlink_desktop.rtc.peer import Peer, _ice_connection


@dataclass
class FaultPlan:
    loss: float = 0.0  # probability that a datagram is dropped, per direction
    delay: float = 0.0  # seconds added to every datagram
    jitter: float = 0.0  # a further uniform 0..jitter seconds
    reorder: float = 0.0  # probability that a datagram is held back by reorder_delay
    reorder_delay: float = 0.03
    seed: int = 0


@dataclass
class FaultCounters:
    seen: int = 0
    dropped: int = 0
    delayed: int = 0
    blacked_out: int = 0


class _SendProxy:
    """Stands in for the asyncio datagram transport; only sendto is intercepted."""

    def __init__(self, transport: asyncio.DatagramTransport, path: FaultyPath) -> None:
        self._transport = transport
        self._path = path

    def sendto(self, data: bytes, addr: Any = None) -> None:
        self._path.pass_on(lambda: self._transport.sendto(data, addr))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


@dataclass
class FaultyPath:
    plan: FaultPlan = field(default_factory=FaultPlan)
    clock: Clock = SYSTEM_CLOCK
    counters: FaultCounters = field(default_factory=FaultCounters)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.plan.seed)
        self._dark_until = float("-inf")

    def blackout(self, seconds: float) -> None:
        """Nothing passes, either way, for `seconds` from now."""
        self._dark_until = self.clock.monotonic() + seconds

    def end_blackout(self) -> None:
        self._dark_until = float("-inf")

    @property
    def dark(self) -> bool:
        return self.clock.monotonic() < self._dark_until

    def decide(self, now: float) -> float | None:
        """None: drop the datagram; otherwise the seconds to hold it."""
        self.counters.seen += 1
        if now < self._dark_until:
            self.counters.blacked_out += 1
            return None
        if self._rng.random() < self.plan.loss:
            self.counters.dropped += 1
            return None
        hold = self.plan.delay + self._rng.uniform(0, self.plan.jitter)
        if self._rng.random() < self.plan.reorder:
            hold += self.plan.reorder_delay
        if hold > 0:
            self.counters.delayed += 1
        return hold

    def pass_on(self, deliver: Callable[[], None]) -> None:
        hold = self.decide(self.clock.monotonic())
        if hold is None:
            return
        if hold <= 0:
            deliver()
        else:
            asyncio.get_running_loop().call_later(hold, _guarded, deliver)

    def install(self, peer: Peer) -> None:
        """Wrap every host socket the peer has gathered (call after the offer/answer)."""
        for protocol in _ice_connection(peer.pc)._protocols:
            transport = getattr(protocol, "transport", None)
            if transport is None or isinstance(transport, _SendProxy):
                continue
            protocol.transport = _SendProxy(transport, self)  # type: ignore[assignment]
            receive = protocol.datagram_received

            def received(data: bytes, addr: Any, _receive: Any = receive) -> None:
                self.pass_on(lambda: _receive(data, addr))

            protocol.datagram_received = received  # type: ignore[method-assign,assignment]


def _guarded(deliver: Callable[[], None]) -> None:
    try:
        deliver()
    except Exception:  # a socket closed while the datagram was held
        pass
