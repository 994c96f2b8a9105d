"""What the window's controller (session.py) needs of a cashier's session, and the small
values it adds to the session's events.

`CashierSession` is the seam: rtc/offering.py's OfferingSession satisfies it, and the
window's tests drive the controller with a stand-in that emits the same typed events
(tests/gui/fake_session.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from ..core.bootstrap import BootstrapRecord
from ..core.clock import Clock
from ..core.conversation import Conversation
from ..core.errors import ErrorCode
from ..core.events import Event, OfferReady
from ..core.handshake import Verified
from ..core.retry import DEFAULT_RETRY, RetryPolicy
from ..core.session import SessionStatus
from ..remote import DEFAULT_TTL_MS


class CashierSession(Protocol):
    """What the window needs of the cashier's session."""

    clock: Clock

    @property
    def status(self) -> SessionStatus: ...

    @property
    def offer(self) -> BootstrapRecord | None: ...

    @property
    def conversation(self) -> Conversation: ...

    def add_listener(self, listener: Callable[[Event], None]) -> None: ...

    def prepare(self) -> None: ...

    async def new_customer(
        self, *, keep_conversation: bool = False, reply_handle: bytes | None = None
    ) -> OfferReady | None: ...

    async def refresh_offer(self) -> OfferReady | None: ...

    async def accept_answer(self, text: str) -> bool: ...

    async def submit_answer(self, text: str) -> Verified | None: ...

    async def connect(self) -> Verified | None: ...

    def confirm(self) -> None: ...

    def request_payment(self, amount: str, currency: str, reference: str | None = None) -> str: ...

    async def close(self, reason: str = ...) -> None: ...

    async def shutdown(self) -> None: ...


SessionFactory = Callable[[], CashierSession]


@dataclass(frozen=True)
class RemoteConfig:
    """Remote mode: where to publish the offer and under which handle."""

    url: str
    handle: str
    ttl_ms: int = DEFAULT_TTL_MS
    retry: RetryPolicy = DEFAULT_RETRY  # tests shorten it
    timeout: float = 10.0


@dataclass(frozen=True)
class AnswerScanned:
    """An answer reached the controller (diagnostics start a pairing record here)."""

    source: str  # network (sent home by the page), camera, paste, image or remote


@dataclass(frozen=True)
class AnswerUnusable:
    """The answer just scanned could not be read: the offer waits on, no pairing began."""

    code: ErrorCode


WindowEvent = Event | AnswerScanned | AnswerUnusable
