"""The bridge from the cashier's session to Qt: session events become signals, the
window's requests become session calls run on the asyncio loop (qasync runs it on the GUI
thread).

Nothing here decides: the session's status is its state machine's (core/session.py), the
payment status is its conversation's. The controller only sequences what the cashier
asked for and reports what the session said.

It depends on `CashierSession` (cashier.py), the small protocol rtc/offering.py's
OfferingSession satisfies, so the window's tests can drive it with a stand-in that emits
typed events.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from typing import Any

from PySide6.QtCore import QObject, Signal

from ..core.conversation import OutStatus, Payment
from ..core.errors import ErrorCode, QrlinkError
from ..core.events import (
    AnswerFound,
    Closed,
    CodeReady,
    Confirmed,
    Direction,
    ErrorEvent,
    Event,
    MessageEvent,
    OfferReady,
    PeerError,
    Published,
    RttMeasured,
    StateChanged,
)
from ..core.messages import MessageType
from ..core.publication import PublicationChanged, PublicationState
from ..core.session import SessionStatus, State
from ..remote import Publication, PublicationEvent
from ..rendezvous.client import RendezvousClient
from .cashier import (
    AnswerScanned,
    AnswerUnusable,
    CashierSession,
    RemoteConfig,
    SessionFactory,
)
from .notices import Problem, Where

log = logging.getLogger(__name__)

# The acknowledgment is queued when its event fires; closing at once could drop it.
ACK_FLUSH = 0.2


async def _shut_down(session: CashierSession) -> None:
    with contextlib.suppress(Exception):
        await session.shutdown()


class SessionController(QObject):
    # Session events, one signal per kind, carrying the typed event.
    offerReady = Signal(object)  # OfferReady
    stateChanged = Signal(object)  # StateChanged
    sasReady = Signal(object)  # CodeReady
    confirmed = Signal()
    message = Signal(object)  # MessageEvent
    rttChanged = Signal(float)
    closed = Signal(str)
    # Failures for the cashier, with where they happened (offer, answer, connection,
    # payment, peer, remote…) so the window can offer the right way forward.
    failed = Signal(object)  # Problem
    # Every event, after the specific signal (diagnostics listens here).
    sessionEvent = Signal(object)  # WindowEvent
    # Remote mode: the publication's progress, and where it is on the service.
    remoteChanged = Signal(object)  # PublicationChanged
    published = Signal(object)  # Published

    def __init__(
        self,
        make_session: SessionFactory,
        parent: QObject | None = None,
        *,
        remote: RemoteConfig | None = None,
    ) -> None:
        super().__init__(parent)
        self.remote = remote
        self._publication: Publication | None = None
        self._publishing: asyncio.Task[Any] | None = None
        self.session = self._attach(make_session())
        self._pending_factory: SessionFactory | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._submitting = False

    # -- session events --------------------------------------------------------------------

    def _attach(self, session: CashierSession) -> CashierSession:
        """Listen to one session: a replaced session's last words (its shutdown) must not
        reach the window as if they were about the current customer."""

        def listen(event: Event) -> None:
            if session is self.session:
                self._on_event(event)

        session.add_listener(listen)
        return session

    def _on_event(self, event: Event) -> None:
        match event:
            case OfferReady():
                self.offerReady.emit(event)
            case StateChanged():
                self.stateChanged.emit(event)
            case CodeReady():
                self.sasReady.emit(event)
            case Confirmed():
                self.confirmed.emit()
            case MessageEvent(direction=direction, type=kind):
                self.message.emit(event)
                if direction == Direction.OUT and kind == MessageType.PAYMENT_ACKNOWLEDGMENT:
                    self._finish_after_ack()
            case RttMeasured(ms=ms):
                self.rttChanged.emit(float(ms))
            case Closed(reason=reason):
                self.closed.emit(reason)
            case ErrorEvent(code=code, message=message):
                self.failed.emit(Problem(Where.CONNECTION, code, message))
            case PeerError(code=code, message=message):
                self.failed.emit(Problem(Where.PEER, code, message))
        self.sessionEvent.emit(event)

    def _on_publication(self, publication: Publication, event: PublicationEvent) -> None:
        if publication is not self._publication:
            return  # an earlier publication's last words
        match event:
            case PublicationChanged():
                self.remoteChanged.emit(event)
            case Published():
                self.published.emit(event)
            case ErrorEvent(code=code, message=message):
                self.failed.emit(Problem(Where.REMOTE, code, message))
            case AnswerFound():
                # For the diagnostics, an answer from the service is one more source.
                self.sessionEvent.emit(AnswerScanned("remote"))

    # -- what the session knows --------------------------------------------------------------

    @property
    def status(self) -> SessionStatus:
        return self.session.status

    @property
    def state(self) -> State:
        return self.session.status.state

    def payment(self, request_id: str) -> Payment | None:
        return self.session.conversation.payments.get(request_id)

    def out_status(self, message_id: str) -> OutStatus | None:
        return self.session.conversation.status_of(message_id)

    def envelope_json(self, message_id: str) -> dict[str, Any] | None:
        """The whole envelope of a message this session sent or received, if kept."""
        env = self.session.conversation.envelope(message_id)
        return None if env is None else env.to_dict()

    # -- cashier's requests ------------------------------------------------------------------

    def _spawn(self, coro: Coroutine[Any, Any, Any], where: Where) -> asyncio.Task[Any]:
        """Run a request on the loop. The session reports its own failures as events; what
        it raises is a refusal of the request itself, and reaches the cashier here."""

        async def guarded() -> Any:
            try:
                return await coro
            except QrlinkError as exc:
                self.failed.emit(Problem(where, exc.code, exc.message))
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a bug must still reach the cashier, not freeze
                log.exception("%s failed", where)
                self.failed.emit(Problem(where, "INTERNAL", f"something went wrong: {exc}"))
            return None

        task = asyncio.ensure_future(guarded())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # -- remote mode (the rendezvous service) ----------------------------------------------

    @property
    def remote_active(self) -> bool:
        """A publication is under way (publishing, waiting, or handing over the answer);
        false from the moment it is reported failed or ended."""
        if self._publishing is None or self._publishing.done() or self._publication is None:
            return False
        return self._publication.status.active

    def set_remote(self, remote: RemoteConfig | None) -> None:
        """New remote settings; a publication under way keeps the old ones until it ends."""
        self.remote = remote

    def publish_remote(self) -> asyncio.Task[Any] | None:
        """Publish a fresh offer under the handle and wait for the answer through the
        service; the pairing then goes on as for a scanned answer. None when remote mode
        is off, a publication is under way, or a customer is connected."""
        remote = self.remote
        if remote is None or self.remote_active or self._submitting:
            return None
        if self.state in (State.CONNECTING, State.CONNECTED, State.DISCONNECTED):
            return None
        replaced = self._take_pending()
        client = RendezvousClient(remote.url, retry=remote.retry, timeout=remote.timeout)
        publication = Publication(self.session, client, remote.handle, ttl_ms=remote.ttl_ms)
        publication.add_listener(lambda event: self._on_publication(publication, event))
        self._publication = publication
        self.remoteChanged.emit(publication.status)

        async def run() -> None:
            if replaced is not None:
                await _shut_down(replaced)
            try:
                await publication.run()
            finally:
                # Closing never raises; shielded so a second cancel cannot leak the session.
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.shield(client.close())

        self._publishing = self._spawn(run(), Where.REMOTE)
        return self._publishing

    async def cancel_remote(self) -> None:
        """Withdraw the publication: its task deletes the handle as it ends."""
        task = self._publishing
        if task is None or task.done():
            return
        task.cancel()
        with contextlib.suppress(BaseException):
            await task

    # -- the offer and the answer ----------------------------------------------------------

    def start(self) -> None:
        """Gather the first offer ahead, then show it."""
        self.session.prepare()
        self.new_customer()

    def new_customer(self, *, keep_conversation: bool = False) -> asyncio.Task[Any]:
        async def run() -> None:
            await self.cancel_remote()
            replaced = self._take_pending()
            if replaced is not None:
                await _shut_down(replaced)
            await self.session.new_customer(keep_conversation=keep_conversation)

        return self._spawn(run(), Where.OFFER)

    def refresh_offer(self) -> asyncio.Task[Any] | None:
        """Replace an offer close to expiry, only while nobody has answered it."""

        def due() -> bool:
            # The published offer is the one the service's answer will fit.
            waiting = self.state == State.AWAITING_ANSWER and not self._submitting
            return waiting and not self.remote_active

        if not due():
            return None

        async def run() -> None:
            if due():  # still: no answer was taken while this waited its turn
                await self.session.refresh_offer()

        return self._spawn(run(), Where.REFRESH)

    def submit_answer(self, text: str, source: str) -> asyncio.Task[Any] | None:
        """An answer read from the camera, pasted, or read from an image file."""
        return self._submit(text, source, None)

    async def take_network_answer(self, text: str) -> None:
        """The page's answer, sent home over the shop's network (one scan). Returns once
        it is applied (then the pairing goes on as for a scanned one); raises what the
        session raised, or its error when applying the answer failed it, or
        InvalidStateError when another answer came first: the page is told."""
        applied: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self._submit(text, "network", applied) is None:
            raise QrlinkError(ErrorCode.INVALID_ARGUMENT, "this code is answered already")
        await applied

    def _submit(
        self, text: str, source: str, applied: asyncio.Future[None] | None
    ) -> asyncio.Task[Any] | None:
        if self._submitting or self.state != State.AWAITING_ANSWER:
            if self._submitting or self.state in (State.CONNECTING, State.CONNECTED):
                # The race of one scan: the page's answer and the camera's (or a paste).
                log.info("an answer from the %s came after the first one; ignored", source)
            return None
        publication, publishing = self._publication, self._publishing
        if self.remote_active and publication is not None and publishing is not None:
            if publication.state == PublicationState.ANSWERED:
                return None  # the service's answer is being applied
            # Scanned after all: the publication is withdrawn (its handle deleted).
            publishing.cancel()
        self._submitting = True
        self.sessionEvent.emit(AnswerScanned(source))

        async def run() -> None:
            try:
                try:
                    ok = await self.session.accept_answer(text.strip())
                except asyncio.CancelledError:
                    if applied is not None:
                        applied.cancel()
                    raise
                except QrlinkError as exc:
                    self.sessionEvent.emit(AnswerUnusable(exc.code))
                    if applied is not None and not applied.done():
                        applied.set_exception(exc)
                    raise
                if applied is not None and not applied.done():
                    if ok:
                        applied.set_result(None)
                    else:  # the session failed and said so; the page is refused with it
                        applied.set_exception(self._failure())
                if ok:
                    await self.session.connect()
            finally:
                self._submitting = False

        return self._spawn(run(), Where.ANSWER)

    def _failure(self) -> QrlinkError:
        return self.status.error or QrlinkError(ErrorCode.CONNECTION_FAILED, "the pairing failed")

    # -- the code and the payment -------------------------------------------------------------

    def _finish_after_ack(self) -> None:
        """The conversation is complete (request, response, acknowledgment; then the
        channel closes and the app is ready for the next customer)."""
        session = self.session

        async def run() -> None:
            await asyncio.sleep(ACK_FLUSH)
            if session is self.session and self.state == State.CONNECTED:
                await session.close("payment complete")

        self._spawn(run(), Where.CLOSE)

    def confirm(self) -> None:
        try:
            self.session.confirm()
        except QrlinkError as exc:
            self.failed.emit(Problem(Where.CONFIRM, exc.code, exc.message))

    def reject_code(self) -> asyncio.Task[Any]:
        """The codes differ: someone may be in the middle. End this pairing."""
        self.failed.emit(
            Problem(
                Where.VERIFICATION,
                ErrorCode.VERIFICATION_FAILED,
                "the codes on the two screens differ",
            )
        )
        return self._spawn(self.session.close("the codes differ"), Where.CLOSE)

    def request_payment(self, amount: str, currency: str, reference: str | None) -> str | None:
        """Send a payment request; None (and a `failed` signal) when it cannot be sent."""
        try:
            return self.session.request_payment(amount, currency, reference or None)
        except QrlinkError as exc:
            self.failed.emit(Problem(Where.PAYMENT, exc.code, exc.message))
            return None

    # -- new settings -----------------------------------------------------------------------

    def replace_session(self, make_session: SessionFactory) -> None:
        """New settings: a new session now if no customer is connected, else for the next."""
        self._pending_factory = make_session
        if self.state in (State.CONNECTING, State.CONNECTED, State.DISCONNECTED):
            return
        self.new_customer()

    def _take_pending(self) -> CashierSession | None:
        """Switch to the session new settings made, if any; the old one is returned, to
        be shut down by the caller."""
        factory, self._pending_factory = self._pending_factory, None
        if factory is None:
            return None
        old = self.session
        self.session = self._attach(factory())
        self.session.prepare()
        return old

    async def shutdown(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task
        await self.session.shutdown()
