"""What both pairing sessions share: a thin coordinator wiring small parts together.

    SessionMachine (core/session.py)   the §6.1 state and the code's confirmation
    Peer (peer.py)                     one aiortc peer connection per pairing
    Link (channel.py)                  handshake, heartbeat, send queue on the open channel
    Conversation (core/conversation.py) the payments, outliving a pairing

The parts never touch each other: the link reports what happened as typed values
(`LinkReport`), the session turns them into inputs of the machine and operations of the
conversation, and tells the world with typed events (core/events.py) through its
listeners. OfferingSession (offering.py) and AnsweringSession (answering.py) add what
each role does.

Failures are said once. A caller's mistake (an answer while none is awaited, a payment
before the code is confirmed) raises at once and changes nothing; bad input (a code that
cannot be read) raises too and leaves the session as it was; a failure of the network or
of the other device is one FAILED transition plus one `error` event, and the coroutine
that met it returns None instead of raising.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any, ClassVar

from .. import __version__
from ..core.bootstrap import BootstrapRecord
from ..core.clock import SYSTEM_CLOCK, Clock
from ..core.conversation import (
    Action,
    Conversation,
    EventAction,
    OutStatus,
    PaymentStatus,
    SendAction,
)
from ..core.errors import ErrorCode, InvalidStateError, QrlinkError
from ..core.events import (
    Closed,
    CodeReady,
    Confirmed,
    ErrorEvent,
    Event,
    IdleClosing,
    MessageEvent,
    PathChanged,
    RttMeasured,
    StateChanged,
)
from ..core.handshake import Handshake, Role, Verified
from ..core.listeners import Listeners
from ..core.messages import PAYMENT_TYPES, MessageType
from ..core.session import Code, SessionMachine, SessionStatus, State
from ..core.session import Event as Input
from .channel import Delivery, HandshakeDone, Link, LinkReport, Received
from .config import SessionConfig
from .peer import Peer
from .zstd import TOKENS

log = logging.getLogger(__name__)

AGENT = f"qrlink/{__version__}"

Listener = Callable[[Event], None]


class Session:
    """One customer's pairing and conversation, in the role of the subclass."""

    role: ClassVar[Role]

    def __init__(
        self,
        cfg: SessionConfig,
        *,
        clock: Clock = SYSTEM_CLOCK,
        listener: Listener | None = None,
    ) -> None:
        self.cfg = cfg
        self.clock = clock
        self._machine = SessionMachine()
        self._machine.subscribe(self._on_status)
        self.conversation = Conversation(self.role, merchant=cfg.merchant)
        self.peer: Peer | None = None
        self.link: Link | None = None
        self.timings: dict[str, float] = {}
        self._watch: asyncio.Task[None] | None = None
        self._handshake_started = 0.0
        self._listeners: Listeners[Event] = Listeners(listener)
        self._outcomes: dict[str, asyncio.Future[PaymentStatus | None]] = {}

    # --- what it tells ---------------------------------------------------------------------

    @property
    def status(self) -> SessionStatus:
        return self._machine.status

    def add_listener(self, listener: Listener) -> None:
        self._listeners.add(listener)

    def remove_listener(self, listener: Listener) -> None:
        self._listeners.remove(listener)

    def _emit(self, event: Event) -> None:
        self._listeners.tell(event)

    def _on_status(self, old: SessionStatus, new: SessionStatus, event: Input) -> None:
        if old.state != new.state or event == Input.OFFER_CREATED:
            log.info("session %s -> %s (%s)", old.state, new.state, event)
            pair = self.peer.describe() if new.state == State.CONNECTED and self.peer else None
            self._emit(StateChanged(new.state, pair))
        if new.code == Code.CONFIRMED and old.code != Code.CONFIRMED:
            self._emit(Confirmed())

    def _fail(self, error: QrlinkError) -> None:
        """A failure of the network or the other device: said once, then FAILED."""
        self._emit(ErrorEvent.of(error))
        self._machine.handle(Input.FAILED, error=error)

    # --- reading codes -----------------------------------------------------------------------

    def decode(self, text: str) -> BootstrapRecord:
        return TOKENS.decode(text, now=self.clock.now(), allow_loopback=self.cfg.ice.loopback_ok)

    # --- the open channel --------------------------------------------------------------------

    async def connect(self) -> Verified | None:
        """Wait for the channel to open and the handshake to give the code. None when the
        pairing failed: the session is FAILED and its `error` event said why."""
        peer = self.peer
        if self.status.state != State.CONNECTING or peer is None:
            raise InvalidStateError("connect", self.status.state)
        assert peer.local is not None and peer.remote is not None
        try:
            channel = await peer.wait_open(self.cfg.connect_timeout)
        except QrlinkError as exc:
            self._fail(exc)
            await peer.close()
            return None
        self.timings.update(peer.timings.as_ms())
        self._machine.handle(Input.CONNECTED)
        offer, answer = (
            (peer.local, peer.remote) if self.role == Role.OFFERER else (peer.remote, peer.local)
        )
        info: dict[str, Any] = {"agent": AGENT}
        if self.role == Role.OFFERER and self.cfg.merchant:
            info["merchant"] = self.cfg.merchant
        handshake = Handshake(self.role, offer.fingerprint, answer.fingerprint, info=info)
        link = Link(
            channel, handshake, timers=self.cfg.timers, clock=self.clock, report=self._on_link
        )
        self.link = link
        self._handshake_started = time.perf_counter()
        link.start(peer.take_early_messages())
        self._watch = asyncio.ensure_future(self._watch_link(link))
        try:
            return await link.verified
        except QrlinkError:  # the link's end is the session's: reported by the watch
            await self._watch
            return None

    def _on_link(self, report: LinkReport) -> None:
        """What the link reports, as inputs of the machine and the conversation."""
        match report:
            case HandshakeDone(verified):
                self._verified(verified)
            case Received(envelope):
                self._run(self.conversation.receive(envelope, now=self.clock.now()))
            case Delivery(message_id, OutStatus.SENT, attempts):
                self.conversation.mark_sent(message_id, attempts)
            case Delivery(message_id, OutStatus.RETRYING, attempts):
                self.conversation.mark_retrying(message_id, attempts)
            case Delivery(message_id, _, attempts):
                self.conversation.mark_failed(message_id, attempts)
            case PathChanged(quiet):
                # The heartbeat's view of the path drives CONNECTED <-> DISCONNECTED.
                if self.status.state in (State.CONNECTED, State.DISCONNECTED):
                    self._machine.handle(Input.DISCONNECTED if quiet else Input.CONNECTED)
                self._emit(report)
            case RttMeasured() | IdleClosing() | ErrorEvent():
                self._emit(report)

    def _verified(self, verified: Verified) -> None:
        """The handshake is done: payments may flow, the code is shown, and what an earlier
        pairing left unanswered is sent again under its original messageIds."""
        self.conversation.set_verified()
        self.timings["handshake_ms"] = (time.perf_counter() - self._handshake_started) * 1000
        self._machine.handle(Input.VERIFIED, verified=verified)
        self._emit(
            CodeReady(
                verified.code,
                verified.version,
                verified.peer_info,
                {k: round(v, 3) for k, v in self.timings.items()},
            )
        )
        link = self.link
        assert link is not None
        for env in self.conversation.unanswered():
            link.send(env)

    def _run(self, actions: list[Action]) -> None:
        """The conversation's outputs: messages onto the link, events to the world."""
        link = self.link
        for action in actions:
            match action:
                case SendAction(envelope) if link is not None:
                    # Payment messages keep their order behind the queue; errors go at once.
                    if envelope.type in PAYMENT_TYPES:
                        link.send(envelope)
                    else:
                        link.send_control(envelope)
                case SendAction(envelope):
                    log.info("%s not sent: no open connection", envelope.type)
                case EventAction(event):
                    self._emit(event)
                    if isinstance(event, MessageEvent):
                        self._settled(event)

    def _settled(self, event: MessageEvent) -> None:
        if event.type != MessageType.PAYMENT_ACKNOWLEDGMENT:
            return
        waiting = self._outcomes.pop(str(event.payload["requestId"]), None)
        if waiting is not None and not waiting.done():
            waiting.set_result(PaymentStatus(event.payload["status"]))

    def _live_link(self) -> Link:
        if self.link is None or self.link.closed.done():
            raise QrlinkError(ErrorCode.MESSAGE_SEND_FAILED, "there is no open connection")
        return self.link

    async def payment_outcome(self, request_id: str) -> PaymentStatus | None:
        """The customer's decision on a payment request once it is acknowledged (sent by
        the cashier, received by the customer); None when the connection ends first."""
        payment = self.conversation.payments.get(request_id)
        if payment is None:
            raise QrlinkError(ErrorCode.INVALID_ARGUMENT, f"no payment request {request_id}")
        if payment.acknowledgment is not None:
            return payment.status
        if self.link is None or self.link.closed.done():
            return None
        waiting = self._outcomes.get(request_id)
        if waiting is None:
            waiting = self._outcomes[request_id] = asyncio.get_running_loop().create_future()
        return await asyncio.shield(waiting)

    async def _watch_link(self, link: Link) -> None:
        reason = await link.closed
        if link.failure is not None:
            self._machine.handle(Input.FAILED, error=link.failure)
        else:
            self._machine.handle(Input.CLOSE)
        self._emit(Closed(reason))
        self._end_outcomes()
        await self._close_transport()

    def _end_outcomes(self) -> None:
        outcomes, self._outcomes = self._outcomes, {}
        for waiting in outcomes.values():
            if not waiting.done():
                waiting.set_result(None)

    # --- ending ------------------------------------------------------------------------------

    def _back_to_idle(self) -> None:
        """A new customer: whatever the last session reached, close it and start over."""
        if self.status.state != State.IDLE:
            if not self.status.terminal:
                self._machine.handle(Input.CLOSE)
            self._machine.handle(Input.RESET)

    async def _close_transport(self) -> None:
        link, self.link = self.link, None
        if link is not None:
            await link.close()
        if self.peer is not None:
            await self.peer.close()

    async def _teardown(self) -> None:
        """Stop watching first, so closing the link here is not reported as its end."""
        watch, self._watch = self._watch, None
        if watch is not None and not watch.done():
            watch.cancel()
            with contextlib.suppress(BaseException):
                await watch
        self._end_outcomes()
        await self._close_transport()
        self.peer = None

    async def close(self, reason: str = "closed by the user") -> None:
        was_live = self.status.live
        await self._teardown()
        if was_live:
            self._machine.handle(Input.CLOSE)
            self._emit(Closed(reason))

    async def shutdown(self) -> None:
        await self.close()
