"""The bridge from the pairing engine to Qt: engine events become signals, the window's
requests become engine calls run on the asyncio loop (qasync runs it on the GUI thread).

Nothing here decides: the session state is the engine's state machine, the payment
status is the engine's conversation. The controller only sequences what the cashier
asked for and reports what the engine said.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, Signal

from ..core.conversation import OutStatus, Payment
from ..core.errors import ErrorCode, QrlinkError
from ..core.retry import DEFAULT_RETRY, RetryPolicy
from ..core.session import State
from ..remote import DEFAULT_TTL_MS, publish_and_wait
from ..rendezvous.client import RendezvousClient
from ..rtc.engine import Engine

log = logging.getLogger(__name__)

# The acknowledgment is queued when its event fires; closing at once could drop it.
ACK_FLUSH = 0.2

EngineFactory = Callable[[Callable[[dict[str, Any]], None]], Engine]


@dataclass(frozen=True)
class RemoteConfig:
    """Remote mode: where to publish the offer and under which handle."""

    url: str
    handle: str
    ttl_ms: int = DEFAULT_TTL_MS
    retry: RetryPolicy = DEFAULT_RETRY  # tests shorten it
    timeout: float = 10.0


class RemoteStatus:
    """What `remoteChanged` reports, in the order a publication goes through them."""

    PUBLISHING = "publishing"  # a fresh offer is being made and published
    PUBLISHED = "published"  # findable under the handle; waiting for the answer
    ANSWERED = "answered"  # the answer came through the service; the pairing goes on
    FAILED = "failed"  # the service failed (or nobody answered in time)
    ENDED = "ended"  # withdrawn: new customer, a scanned answer, closing


class SessionController(QObject):
    # Engine events, one signal per kind, carrying the engine's own dict.
    offerReady = Signal(dict)
    stateChanged = Signal(dict)
    sasReady = Signal(dict)
    confirmed = Signal()
    message = Signal(dict)
    rttChanged = Signal(float)
    closed = Signal(str)
    # Failures for the cashier: the engine's error dict plus "where" (offer, answer,
    # connection, payment, peer) so the window can offer the right way forward.
    failed = Signal(dict)
    # Every engine event, after the specific signal (diagnostics listens here).
    engineEvent = Signal(dict)
    # Remote mode: {"status": RemoteStatus.*, "handle": ..., "expiresAt": s since epoch}.
    remoteChanged = Signal(dict)

    def __init__(
        self,
        make_engine: EngineFactory,
        parent: QObject | None = None,
        *,
        remote: RemoteConfig | None = None,
    ) -> None:
        super().__init__(parent)
        self.remote = remote
        self._remote_task: asyncio.Task[Any] | None = None
        self._remote_status = RemoteStatus.ENDED
        self._generation = 0
        self.engine = make_engine(self._emitter())
        self._pending_factory: EngineFactory | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._submitting = False

    # -- engine events -------------------------------------------------------------------

    def _emitter(self) -> Callable[[dict[str, Any]], None]:
        """An emit callback for one engine: a replaced engine's last words (its shutdown)
        must not reach the window as if they were about the current customer."""
        generation = self._generation

        def emit(event: dict[str, Any]) -> None:
            if generation == self._generation:
                self._on_event(event)

        return emit

    def _on_event(self, event: dict[str, Any]) -> None:
        kind = event.get("event")
        if kind == "offer":
            self.offerReady.emit(event)
        elif kind == "state":
            self.stateChanged.emit(event)
        elif kind == "sas":
            self.sasReady.emit(event)
        elif kind == "confirmed":
            self.confirmed.emit()
        elif kind == "message":
            self.message.emit(event)
            if event.get("direction") == "out" and event.get("type") == "payment_acknowledgment":
                self._finish_after_ack()
        elif kind == "rtt":
            self.rttChanged.emit(float(event["ms"]))
        elif kind == "closed":
            self.closed.emit(str(event.get("reason", "")))
        elif kind == "error":
            self.failed.emit({"where": "connection", **event})
        elif kind == "peer_error":
            self.failed.emit({"where": "peer", **event})
        elif kind == "idle":
            pass  # followed by "closed", which says it
        elif kind == "published" and self.remote_active and self.remote is not None:
            self._set_remote(
                RemoteStatus.PUBLISHED, expiresAt=float(event.get("expiresAt", 0)) / 1000
            )
        elif kind == "answer_found" and self.remote_active:
            self._set_remote(RemoteStatus.ANSWERED)
            # For the diagnostics, an answer from the service is one more source.
            self.engineEvent.emit({"event": "answer_scanned", "source": "remote"})
        self.engineEvent.emit(event)

    # -- what the engine knows ---------------------------------------------------------------

    @property
    def state(self) -> State:
        return self.engine.machine.state

    @property
    def verified(self) -> bool:
        return self.engine.verified is not None

    @property
    def is_confirmed(self) -> bool:
        return self.engine.confirmed

    def payment(self, request_id: str) -> Payment | None:
        return self.engine.conversation.payments.get(request_id)

    def out_status(self, message_id: str) -> OutStatus | None:
        entry = self.engine.conversation.outbox.get(message_id)
        return entry.status if entry is not None else None

    def envelope_json(self, message_id: str) -> dict[str, Any] | None:
        """The whole envelope of a message this session sent or received, if kept."""
        conv = self.engine.conversation
        entry = conv.outbox.get(message_id)
        if entry is not None:
            return entry.envelope.to_dict()
        for payment in conv.payments.values():
            for env in (payment.request, payment.response, payment.acknowledgment):
                if env is not None and env.message_id == message_id:
                    return env.to_dict()
        return None

    # -- cashier's requests ------------------------------------------------------------------

    def _spawn(self, coro: Coroutine[Any, Any, Any], where: str) -> asyncio.Task[Any]:
        async def guarded() -> Any:
            try:
                return await coro
            except QrlinkError as exc:
                # submit_answer and new_customer report through "error" events already;
                # anything else reaches the cashier here.
                raced = where == "refresh" and exc.code == ErrorCode.INVALID_ARGUMENT
                if where not in ("answer", "offer") and not raced:
                    self.failed.emit({"where": where, **exc.to_dict()})
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a bug must still reach the cashier, not freeze
                log.exception("%s failed", where)
                self.failed.emit(
                    {"where": where, "code": "INTERNAL", "message": f"something went wrong: {exc}"}
                )
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
        if self._remote_task is None or self._remote_task.done():
            return False
        return self._remote_status not in (RemoteStatus.FAILED, RemoteStatus.ENDED)

    def _set_remote(self, status: str, **extra: Any) -> None:
        self._remote_status = status
        handle = self.remote.handle if self.remote is not None else ""
        self.remoteChanged.emit({"status": status, "handle": handle, **extra})

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
        self._set_remote(RemoteStatus.PUBLISHING)

        async def run() -> None:
            if self._pending_factory is not None:
                await self._swap_engine()
            client = RendezvousClient(remote.url, retry=remote.retry, timeout=remote.timeout)
            try:
                await publish_and_wait(self.engine, client, remote.handle, ttl_ms=remote.ttl_ms)
            except QrlinkError as exc:
                # The engine reports its own failures (making the offer, connecting);
                # the service's failures and the wait running out are reported here.
                if self._remote_status == RemoteStatus.ANSWERED or self.engine.error is exc:
                    self._set_remote(RemoteStatus.ENDED)
                    return
                self._set_remote(RemoteStatus.FAILED, **exc.to_dict())
                self.failed.emit({"where": "remote", **exc.to_dict()})
                return
            except asyncio.CancelledError:
                self._set_remote(RemoteStatus.ENDED)
                raise
            finally:
                # Closing never raises; shielded so a second cancel cannot leak the session.
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.shield(client.close())
            self._set_remote(RemoteStatus.ENDED)

        task = self._spawn(run(), "remote")
        self._remote_task = task
        return task

    async def cancel_remote(self) -> None:
        """Withdraw the publication: its task deletes the handle as it ends."""
        task = self._remote_task
        if task is None or task.done():
            return
        task.cancel()
        with contextlib.suppress(BaseException):
            await task

    def start(self) -> None:
        """Gather the first offer ahead, then show it."""
        self.engine.prepare()
        self.new_customer()

    def new_customer(self, *, keep_conversation: bool = False) -> asyncio.Task[Any]:
        async def run() -> None:
            await self.cancel_remote()
            if self._pending_factory is not None:
                await self._swap_engine()
            await self.engine.new_customer(keep_conversation=keep_conversation)

        return self._spawn(run(), "offer")

    def refresh_offer(self) -> asyncio.Task[Any] | None:
        """Replace an offer close to expiry, only while nobody has answered it."""
        if self.state != State.AWAITING_ANSWER or self._submitting:
            return None
        if self.remote_active:
            return None  # the published offer is the one the service's answer will fit
        return self._spawn(self.engine.refresh_offer(), "refresh")

    def submit_answer(self, text: str, source: str) -> asyncio.Task[Any] | None:
        """An answer read from the camera, pasted, or read from an image file."""
        return self._submit(text, source, None)

    async def take_network_answer(self, text: str) -> None:
        """The page's answer, sent home over the shop's network (one scan). Returns once
        it is applied (then the pairing goes on as for a scanned one); raises the engine's
        error, or INVALID_ARGUMENT when another answer came first."""
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
        if self._remote_status == RemoteStatus.ANSWERED and self.remote_active:
            return None  # the service's answer is being applied
        if self.remote_active:
            # Scanned after all: the publication is withdrawn (its handle deleted).
            assert self._remote_task is not None
            self._remote_task.cancel()
        self._submitting = True
        self.engineEvent.emit({"event": "answer_scanned", "source": source})

        async def run() -> None:
            try:
                try:
                    await self.engine.accept_answer(text.strip())
                except asyncio.CancelledError:
                    if applied is not None:
                        applied.cancel()
                    raise
                except Exception as exc:
                    if applied is not None and not applied.done():
                        applied.set_exception(exc)
                    raise
                if applied is not None and not applied.done():
                    applied.set_result(None)
                await self.engine.connect()
            finally:
                self._submitting = False

        return self._spawn(run(), "answer")

    def _finish_after_ack(self) -> None:
        """The conversation is complete (DESIGN §1: request, response, acknowledgment;
        then the channel closes and the app is ready for the next customer)."""
        engine = self.engine

        async def run() -> None:
            await asyncio.sleep(ACK_FLUSH)
            if engine is self.engine and self.state == State.CONNECTED:
                await engine.close("payment complete")

        self._spawn(run(), "close")

    def confirm(self) -> None:
        try:
            self.engine.confirm()
        except QrlinkError as exc:
            self.failed.emit({"where": "confirm", **exc.to_dict()})

    def reject_code(self) -> asyncio.Task[Any]:
        """The codes differ: someone may be in the middle. End this pairing."""
        self.failed.emit(
            {
                "where": "verification",
                "code": str(ErrorCode.VERIFICATION_FAILED),
                "message": "the codes on the two screens differ",
            }
        )
        return self._spawn(self.engine.close("the codes differ"), "close")

    def request_payment(self, amount: str, currency: str, reference: str | None) -> str | None:
        """Send a payment request; None (and a `failed` signal) when it cannot be sent."""
        try:
            return self.engine.request_payment(amount, currency, reference or None)
        except QrlinkError as exc:
            self.failed.emit({"where": "payment", **exc.to_dict()})
            return None

    def replace_engine(self, make_engine: EngineFactory) -> None:
        """New settings: a new engine now if no customer is connected, else for the next."""
        self._pending_factory = make_engine
        if self.state in (State.CONNECTING, State.CONNECTED, State.DISCONNECTED):
            return
        self.new_customer()

    async def _swap_engine(self) -> None:
        factory, self._pending_factory = self._pending_factory, None
        assert factory is not None
        old = self.engine
        self._generation += 1
        self.engine = factory(self._emitter())
        self.engine.prepare()
        with contextlib.suppress(Exception):
            await old.shutdown()

    async def shutdown(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task
        await self.engine.shutdown()
