"""Remote bootstrap (specification §5.2): pairing with no camera through the rendezvous
service. Wires the sessions (`rtc`) to the rendezvous client, which may not import each
other, so this sits beside `app.py` and `cli/` at the top.

    cashier                         service                      customer
    offer with reply handle R --> POST /publish HANDLE
                                    GET /lookup HANDLE <---------- looks the handle up
                                    POST /publish r-R  <---------- answers, publishes answer
    GET /lookup r-R &wait=25 <----  (long poll)
    connects; both compare the 6-digit code

The service sees both tokens and could swap them; the commit-reveal verification code
is what exposes that (the codes on the two screens differ), so the cashier's confirm
step stays mandatory in remote mode.

The cashier's publication is a small machine of its own (core/publication.py): it tells
its listener what it does (`Published`, `AnswerFound`, its `PublicationChanged`, and its
own failure as one `ErrorEvent`), apart from the session's events.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from .core.bootstrap import BootstrapRecord
from .core.clock import Clock
from .core.errors import ErrorCode, QrlinkError
from .core.events import AnswerFound, ErrorEvent, OfferReady, Published
from .core.handshake import Verified
from .core.listeners import Listeners
from .core.publication import (
    PublicationChanged,
    PublicationInput,
    PublicationState,
    next_state,
)
from .rendezvous.client import LookupResult, RendezvousClient
from .rtc.answering import AnsweringSession

log = logging.getLogger(__name__)

DEFAULT_TTL_MS = 300_000
REPLY_TTL_MS = 60_000  # the service's minimum: the answer is fetched within seconds
POLL_SECONDS = 25.0

PublicationEvent = Published | AnswerFound | PublicationChanged | ErrorEvent
PublicationListener = Callable[[PublicationEvent], None]


class PublishingSession(Protocol):
    """What a publication needs of the cashier's session (rtc/offering.py's)."""

    clock: Clock

    @property
    def offer(self) -> BootstrapRecord | None: ...

    async def new_customer(
        self, *, keep_conversation: bool = False, reply_handle: bytes | None = None
    ) -> OfferReady | None: ...

    async def submit_answer(self, text: str) -> Verified | None: ...


@dataclass(frozen=True)
class _Slot:
    handle: str
    owner_key: str
    reply_name: str


async def _keep_alive(client: RendezvousClient, slot: _Slot, ttl_ms: int) -> None:
    """PATCH the TTL at a third of its length so the offer stays findable while waiting."""
    while True:
        await asyncio.sleep(ttl_ms / 3000)
        try:
            await client.refresh(slot.handle, slot.owner_key, ttl_ms)
        except QrlinkError as exc:  # the next refresh may succeed; the wait loop decides
            log.warning("could not refresh %s: %s", slot.handle, exc.message)


class Publication:
    """One fresh offer published under `handle` until its answer comes through the
    service (then the session connects), the service fails, or it is withdrawn (its task
    cancelled). The handle is deleted as it ends."""

    def __init__(
        self,
        session: PublishingSession,
        client: RendezvousClient,
        handle: str,
        *,
        ttl_ms: int = DEFAULT_TTL_MS,
        poll_seconds: float = POLL_SECONDS,
        listener: PublicationListener | None = None,
    ) -> None:
        self.session = session
        self.client = client
        self.handle = handle
        self.ttl_ms = ttl_ms
        self.poll_seconds = poll_seconds
        self._listeners: Listeners[PublicationEvent] = Listeners(listener)
        self.status = PublicationChanged(PublicationState.PUBLISHING, handle)

    @property
    def state(self) -> PublicationState:
        return self.status.state

    def add_listener(self, listener: PublicationListener) -> None:
        self._listeners.add(listener)

    def _tell(self, event: PublicationEvent) -> None:
        self._listeners.tell(event)

    def _handle(
        self,
        event: PublicationInput,
        *,
        expires_at: float | None = None,
        error: QrlinkError | None = None,
    ) -> None:
        state = next_state(self.state, event)
        if state == self.state:
            return
        log.info("publication of %s %s -> %s", self.handle, self.state, state)
        self.status = PublicationChanged(
            state, self.handle, expires_at or self.status.expires_at, error
        )
        self._tell(self.status)

    def _fail(self, error: QrlinkError) -> None:
        self._tell(ErrorEvent.of(error))
        self._handle(PublicationInput.FAILED, error=error)

    async def run(self) -> Verified | None:
        """The code's Verified once paired; None when the publication failed (its error
        was told), the session failed (the session told), or nobody answered in time."""
        try:
            found = await self._publish_and_wait()
        except asyncio.CancelledError:
            self._handle(PublicationInput.END)
            raise
        if found is None:
            self._handle(PublicationInput.END)
            return None
        try:
            verified = await self.session.submit_answer(found.token)
        except QrlinkError as exc:  # what came through the service is not a usable answer
            self._fail(exc)
            return None
        finally:
            self._handle(PublicationInput.END)
        return verified

    async def _publish_and_wait(self) -> LookupResult | None:
        reply = secrets.token_bytes(8)
        offer = await self.session.new_customer(reply_handle=reply)
        record = self.session.offer
        if offer is None or record is None:
            return None  # the session failed making the offer, and said why
        assert record.reply_name is not None and record.expires_at is not None
        try:
            result = await self.client.publish(self.handle, offer.text, self.ttl_ms)
        except QrlinkError as exc:
            self._fail(exc)
            return None
        slot = _Slot(self.handle, result.owner_key, record.reply_name)
        self._tell(Published(self.handle, result.expires_at, slot.reply_name))
        self._handle(PublicationInput.PUBLISHED, expires_at=result.expires_at / 1000)
        keeper = asyncio.ensure_future(_keep_alive(self.client, slot, self.ttl_ms))
        try:
            while True:
                remaining = record.expires_at - self.session.clock.now()
                if remaining <= 0:
                    self._fail(
                        QrlinkError(
                            ErrorCode.TIMEOUT,
                            f"nobody answered the offer published as {self.handle!r} in time",
                        )
                    )
                    return None
                try:
                    found = await self.client.lookup(
                        slot.reply_name, wait=min(self.poll_seconds, remaining)
                    )
                except QrlinkError as exc:
                    self._fail(exc)
                    return None
                if found is not None:
                    break
        finally:
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeper
            with contextlib.suppress(QrlinkError):
                await self.client.delete(self.handle, slot.owner_key)
        self._tell(AnswerFound(slot.reply_name))
        self._handle(PublicationInput.ANSWER_FOUND)
        return found


async def lookup_and_answer(
    session: AnsweringSession,
    client: RendezvousClient,
    handle: str,
    tell: Callable[[Published], None] | None = None,
) -> Verified | None:
    """Find the offer published under `handle`, answer it through its reply handle,
    connect. The service failing, or nothing under the handle, raises (nothing has
    started); the pairing's own failures are the session's to say (None)."""
    found = await client.lookup(handle)
    if found is None:
        raise QrlinkError(
            ErrorCode.REMOTE_SERVICE_ERROR,
            f"nothing is published under {handle!r} (check the name, or the offer has expired)",
        )
    record = session.decode(found.token)
    if record.reply_name is None:
        raise QrlinkError(
            ErrorCode.BOOTSTRAP_PARSE_FAILED,
            "this offer expects its answer by QR code, not through the service",
        )
    answer = await session.answer(found.token)
    if answer is None:
        return None
    published = await client.publish(record.reply_name, answer.text, REPLY_TTL_MS)
    if tell is not None:
        tell(Published(record.reply_name, published.expires_at))
    try:
        return await session.connect()
    finally:
        with contextlib.suppress(QrlinkError):
            await client.delete(record.reply_name, published.owner_key)
