"""Offers gathered ahead of the customer, and TURN servers tried in turn.

A STUN server that never answers blocks gathering for aioice's 5 s timeout, so the offering
session never gathers while the cashier waits: the next offer is always prepared.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from ..core.bootstrap import CandidateType
from ..core.clock import Clock
from ..core.errors import QrlinkError
from ..core.handshake import Role
from .config import SessionConfig
from .peer import IceConfig, Peer

log = logging.getLogger(__name__)


async def rotating_turn(ice: IceConfig, gather: Callable[[IceConfig], Awaitable[Peer]]) -> Peer:
    """A gathered peer, trying the configured TURN servers in turn (aiortc uses only the
    first it is given): the first that yields a relay address wins, a failure moves on,
    and the last is taken as it comes. `gather` closes its peer when it raises."""
    rotations = ice.turn_rotations()
    for i, option in enumerate(rotations):
        last = i == len(rotations) - 1
        try:
            peer = await gather(option)
        except QrlinkError:
            if last:
                raise
            continue
        record = peer.local
        assert record is not None
        if (
            last
            or not option.has_turn
            or any(c.type == CandidateType.RELAY for c in record.candidates)
        ):
            return peer
        log.warning("TURN server %s gave no relay address; trying the next", option.servers[0].urls)
        await peer.close()
    raise AssertionError("unreachable")


async def closed_on_failure(peer: Peer, gathering: Awaitable[Any]) -> Peer:
    try:
        await gathering
    except BaseException:
        await peer.close()
        raise
    return peer


class OfferPreparer:
    """Keeps the next offer gathered ahead, so showing a QR never waits on gathering
    (a STUN server that never answers blocks gathering for aioice's 5 s timeout)."""

    def __init__(self, cfg: SessionConfig, clock: Clock) -> None:
        self._cfg = cfg
        self._clock = clock
        self._next: asyncio.Task[Peer] | None = None
        self._renewal: asyncio.TimerHandle | None = None
        self._closing: set[asyncio.Future[None]] = set()

    async def _make(self, reply_handle: bytes | None) -> Peer:
        def gather(ice: IceConfig) -> Awaitable[Peer]:
            peer = Peer(Role.OFFERER, ice, self._clock)
            lifetime = self._cfg.offer_lifetime
            return closed_on_failure(peer, peer.make_offer(lifetime, reply_handle=reply_handle))

        return await rotating_turn(self._cfg.ice, gather)

    @property
    def spare(self) -> asyncio.Task[Peer] | None:
        """The offer being gathered, or gathered and waiting: what `take` hands out next."""
        return self._next

    def prepare(self) -> None:
        if self._next is None:
            self._next = asyncio.ensure_future(self._make(None))
            self._next.add_done_callback(self._schedule_renewal)

    def _schedule_renewal(self, task: asyncio.Task[Peer]) -> None:
        """Keep the spare fresh: an offer gathered ahead ages while the one on screen is
        shown, and a spare past `min_offer_life` would be re-gathered while the cashier
        waits. Renew it just before that."""
        if task.cancelled() or task.exception() is not None:
            return
        record = task.result().local
        assert record is not None and record.expires_at is not None
        due = record.expires_at - self._clock.now() - self._cfg.min_offer_life - 1.0
        self._renewal = asyncio.get_running_loop().call_later(max(0.0, due), self._renew, task)

    def _renew(self, task: asyncio.Task[Peer]) -> None:
        if self._next is not task:
            return  # taken meanwhile
        self._next = None
        self.prepare()
        closing = asyncio.ensure_future(task.result().close())
        self._closing.add(closing)  # held until done, so it is not collected half-way
        closing.add_done_callback(self._closing.discard)

    async def take(self, reply_handle: bytes | None = None) -> Peer:
        if reply_handle is not None:
            return await self._make(reply_handle)  # the handle is part of the record
        self.prepare()
        assert self._next is not None
        task, self._next = self._next, None
        if self._renewal is not None:
            self._renewal.cancel()
        peer = await task
        assert peer.local is not None and peer.local.expires_at is not None
        if peer.local.expires_at - self._clock.now() < self._cfg.min_offer_life:
            await peer.close()
            peer = await self._make(None)
        self.prepare()
        return peer

    async def close(self) -> None:
        if self._renewal is not None:
            self._renewal.cancel()
        task, self._next = self._next, None
        if task is None:
            return
        task.cancel()
        with contextlib.suppress(BaseException):
            peer = await task
            await peer.close()
