"""The pairing engine: one customer session in the offering (cashier) or answering
(customer) role, from offer to closed channel. The CLI and the GUI drive this; it reports
through `emit` with one dict per event (`offer`, `answer`, `state`, `sas`, `message`,
`error`, `closed`, ...), the same objects `qrlink peer --json` prints.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from .. import __version__
from ..core import bootstrap, facts
from ..core.bootstrap import BootstrapRecord, CandidateType, Kind
from ..core.clock import SYSTEM_CLOCK, Clock
from ..core.conversation import Conversation
from ..core.errors import ErrorCode, QrlinkError
from ..core.handshake import Handshake, Role, Verified
from ..core.session import Event, SessionMachine, State
from . import tokens
from .channel import ChannelTimers, Emit, Link
from .peer import IceConfig, Peer
from .tokens import TextFormat, decode_any

log = logging.getLogger(__name__)

AGENT = f"qrlink/{__version__}"


@dataclass(frozen=True)
class EngineConfig:
    ice: IceConfig = field(default_factory=IceConfig)
    page_url: str = "http://127.0.0.1:8765/"
    offer_lifetime: float = 300.0
    connect_timeout: float = facts.timers().connect_timeout  # protocol/timers.json
    timers: ChannelTimers = field(default_factory=ChannelTimers)
    merchant: str | None = None
    # A prepared offer with less life left than this is replaced before it is shown.
    min_offer_life: float = 60.0
    # How offers and answers are written (read in either form).
    text_format: TextFormat = TextFormat.COMPACT


async def _rotating_turn(ice: IceConfig, gather: Callable[[IceConfig], Awaitable[Peer]]) -> Peer:
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


async def _closed_on_failure(peer: Peer, gathering: Awaitable[Any]) -> Peer:
    try:
        await gathering
    except BaseException:
        await peer.close()
        raise
    return peer


class OfferPreparer:
    """Keeps the next offer gathered ahead, so showing a QR never waits on gathering
    (a STUN server that never answers blocks gathering for aioice's 5 s timeout)."""

    def __init__(self, cfg: EngineConfig, clock: Clock) -> None:
        self._cfg = cfg
        self._clock = clock
        self._next: asyncio.Task[Peer] | None = None
        self._renewal: asyncio.TimerHandle | None = None
        self._closing: set[asyncio.Future[None]] = set()

    async def _make(self, reply_handle: bytes | None) -> Peer:
        def gather(ice: IceConfig) -> Awaitable[Peer]:
            peer = Peer(Kind.OFFER, ice, self._clock)
            lifetime = self._cfg.offer_lifetime
            return _closed_on_failure(peer, peer.make_offer(lifetime, reply_handle=reply_handle))

        return await _rotating_turn(self._cfg.ice, gather)

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


class Engine:
    def __init__(
        self, role: Role, cfg: EngineConfig, *, clock: Clock = SYSTEM_CLOCK, emit: Emit
    ) -> None:
        self.role = role
        self.cfg = cfg
        self.clock = clock
        self._emit_cb = emit
        self.machine = SessionMachine()
        self.machine.subscribe(self._on_state)
        self.conversation = Conversation(role, merchant=cfg.merchant)
        self.preparer = OfferPreparer(cfg, clock) if role == Role.OFFERER else None
        self.peer: Peer | None = None
        self.link: Link | None = None
        self.verified: Verified | None = None
        self.confirmed = False
        self.timings: dict[str, float] = {}
        self.error: QrlinkError | None = None
        self._closing = False
        self._answering = False  # an answer is being applied
        self._watch: asyncio.Task[None] | None = None
        self._listeners: list[Callable[[dict[str, Any]], None]] = []

    # --- events --------------------------------------------------------------------------

    def emit(self, event: dict[str, Any]) -> None:
        if event.get("event") == "path" and self.machine.state in (
            State.CONNECTED,
            State.DISCONNECTED,
        ):
            # The heartbeat's view of the path drives CONNECTED <-> DISCONNECTED.
            self.machine.handle(Event.DISCONNECTED if event["quiet"] else Event.CONNECTED)
        try:
            self._emit_cb(event)
        except Exception:  # a broken listener must not break the session
            log.exception("event listener failed on %s", event.get("event"))

    def _on_state(self, old: State, new: State, event: Event) -> None:
        log.info("session %s -> %s (%s)", old, new, event)
        out: dict[str, Any] = {"event": "state", "state": str(new)}
        if new == State.CONNECTED and self.peer is not None:
            out.update(self.peer.describe())
        self.emit(out)

    def _fail(self, exc: QrlinkError) -> None:
        self.error = exc
        self.emit({"event": "error", **exc.to_dict()})
        self.machine.handle(Event.FAILED)

    # --- the offering side ---------------------------------------------------------------

    def prepare(self) -> None:
        """Start gathering the first offer now, before any customer arrives."""
        assert self.preparer is not None
        self.preparer.prepare()

    async def new_customer(
        self, *, keep_conversation: bool = False, reply_handle: bytes | None = None
    ) -> str:
        """Drop any session, take the prepared offer, return its QR text."""
        assert self.preparer is not None, "only the offering side makes offers"
        await self._teardown()
        self._back_to_idle()
        if not keep_conversation:
            self.conversation = Conversation(self.role, merchant=self.cfg.merchant)
        self.verified, self.confirmed, self.error = None, False, None
        t0 = time.perf_counter()
        self.machine.handle(Event.CREATE_OFFER)
        try:
            self.peer = await self.preparer.take(reply_handle)
        except QrlinkError as exc:
            self._fail(exc)
            raise
        except Exception as exc:
            err = QrlinkError(
                ErrorCode.BOOTSTRAP_GENERATION_FAILED, f"could not create an offer: {exc}"
            )
            self._fail(err)
            raise err from exc
        return self._announce_offer(t0)

    async def refresh_offer(self) -> str:
        """Swap an unanswered offer close to expiry for a fresh one (prepared ahead), keeping
        the session: AWAITING_ANSWER stays AWAITING_ANSWER."""
        assert self.preparer is not None, "only the offering side makes offers"
        if self.machine.state != State.AWAITING_ANSWER or self.peer is None:
            raise QrlinkError(ErrorCode.INVALID_ARGUMENT, "only an unanswered offer is refreshed")
        t0 = time.perf_counter()
        fresh = await self.preparer.take()
        if self.machine.state != State.AWAITING_ANSWER:  # answered while we waited
            await fresh.close()
            raise QrlinkError(ErrorCode.INVALID_ARGUMENT, "the offer was answered meanwhile")
        old, self.peer = self.peer, fresh
        await old.close()
        return self._announce_offer(t0)

    def _announce_offer(self, t0: float) -> str:
        assert self.peer is not None
        record = self.peer.local
        assert record is not None
        text = tokens.offer_text(
            record, self.cfg.page_url, self.cfg.text_format, now=self.clock.now()
        )
        self.timings = {"offer_ready_ms": (time.perf_counter() - t0) * 1000}
        self.machine.handle(Event.OFFER_CREATED)
        self.emit(
            {
                "event": "offer",
                "text": text,
                "offerId": record.offer_id_hex,
                "expiresAt": record.expires_at,
                "payloadBytes": len(bootstrap.pack(record)),
                "format": str(self.cfg.text_format),
                "readyMs": round(self.timings["offer_ready_ms"], 3),
                "candidates": [c.type_name for c in record.candidates],
            }
        )
        return text

    @property
    def offer(self) -> BootstrapRecord | None:
        return self.peer.local if self.peer and self.role == Role.OFFERER else None

    def decode(self, text: str) -> BootstrapRecord:
        return decode_any(text, now=self.clock.now(), allow_loopback=self.cfg.ice.loopback_ok)

    async def submit_answer(self, text: str) -> Verified:
        """Apply the customer's answer and connect. A code that cannot be used leaves the
        offer on screen (a bad scan is not the end of the session)."""
        await self.accept_answer(text)
        return await self._connect()

    async def accept_answer(self, text: str) -> None:
        """Apply the customer's answer (then `connect`). Answers may race — the page's over
        the network, the camera's, a paste: the first usable one is applied, and any other
        is refused with INVALID_ARGUMENT, even while the first is still being applied."""
        if self.machine.state != State.AWAITING_ANSWER or self.peer is None or self._answering:
            raise QrlinkError(ErrorCode.INVALID_ARGUMENT, "no offer is waiting for an answer")
        t0 = time.perf_counter()
        self._answering = True
        try:
            record = self.decode(text)
            await self.peer.accept_answer(record)
        except QrlinkError as exc:
            self.emit({"event": "error", **exc.to_dict()})
            if exc.code == ErrorCode.CONNECTION_FAILED:
                self.machine.handle(Event.FAILED)
            raise
        finally:
            self._answering = False
        self.timings["answer_apply_ms"] = (time.perf_counter() - t0) * 1000
        self.machine.handle(Event.ANSWER_RECEIVED)

    def confirm(self) -> None:
        """The cashier saw the same code on both screens."""
        if self.verified is None:
            raise QrlinkError(
                ErrorCode.NOT_VERIFIED, "there is no verification code to confirm yet"
            )
        self.confirmed = True
        self.emit({"event": "confirmed"})

    async def reject_code(self, message: str, grace: float = 10.0) -> None:
        """The codes differ (or none was given): someone may be in the middle. Nothing is
        confirmed; the other side is told (`error` VERIFICATION_FAILED) and the session
        ends failed, with `message` as the reason."""
        link = self.link
        if link is None or link.closed.done():  # ended already; nobody left to tell
            self.error = QrlinkError(ErrorCode.VERIFICATION_FAILED, message)
            self.emit({"event": "error", **self.error.to_dict()})
            return
        await link.refuse(ErrorCode.VERIFICATION_FAILED, message, grace)
        if self._watch is not None:
            await self._watch  # the session is FAILED and closed when this returns

    def request_payment(self, amount: str, currency: str, reference: str | None = None) -> str:
        link = self._live_link()
        if not self.confirmed:
            raise QrlinkError(ErrorCode.NOT_VERIFIED, "confirm the verification code first")
        actions = self.conversation.request_payment(
            amount, currency, now=self.clock.now(), reference=reference
        )
        link._run(actions)
        return actions[0].envelope.message_id  # type: ignore[union-attr]

    # --- the answering side --------------------------------------------------------------

    async def answer(self, offer_text: str) -> str:
        """Answer an offer; returns the answer text. Then call `connect`."""
        if self.role != Role.ANSWERER:
            raise QrlinkError(ErrorCode.INVALID_ARGUMENT, "only the answering side answers")
        t0 = time.perf_counter()
        record = self.decode(offer_text)
        if record.kind != Kind.OFFER:
            raise QrlinkError(
                ErrorCode.BOOTSTRAP_PARSE_FAILED, "this code is an answer, not an offer"
            )
        await self._teardown()
        self._back_to_idle()
        self.verified, self.error = None, None

        def gather(ice: IceConfig) -> Awaitable[Peer]:
            peer = Peer(Kind.ANSWER, ice, self.clock)
            return _closed_on_failure(peer, peer.make_answer(record))

        try:
            # The answering side tries its TURN servers in turn too, as the offering one does.
            self.peer = await _rotating_turn(self.cfg.ice, gather)
        except QrlinkError as exc:
            self._fail(exc)
            raise
        answer = self.peer.local
        assert answer is not None
        text = tokens.answer_text(answer, self.cfg.text_format, now=self.clock.now())
        self.timings = {"answer_ready_ms": (time.perf_counter() - t0) * 1000}
        self.machine.handle(Event.ANSWER_SENT)
        self.emit(
            {
                "event": "answer",
                "text": text,
                "offerId": answer.offer_id_hex,
                "payloadBytes": len(bootstrap.pack(answer)),
                "format": str(self.cfg.text_format),
                "replyTo": record.reply_name,
                "candidates": [c.type_name for c in answer.candidates],
            }
        )
        return text

    async def connect(self) -> Verified:
        return await self._connect()

    def respond(self, request_id: str, approve: bool, reason: str | None = None) -> None:
        link = self._live_link()
        link._run(
            self.conversation.respond(
                request_id,
                approve,
                now=self.clock.now(),
                reason=reason,
            )
        )

    # --- both ----------------------------------------------------------------------------

    def _back_to_idle(self) -> None:
        """A new customer: whatever the last session reached, close it and start over."""
        if self.machine.state != State.IDLE:
            if not self.machine.terminal:
                self.machine.handle(Event.CLOSE)
            self.machine.handle(Event.RESET)

    def _live_link(self) -> Link:
        if self.link is None or self.link.closed.done():
            raise QrlinkError(ErrorCode.MESSAGE_SEND_FAILED, "there is no open connection")
        return self.link

    async def _connect(self) -> Verified:
        peer = self.peer
        assert peer is not None and peer.local is not None and peer.remote is not None
        try:
            channel = await peer.wait_open(self.cfg.connect_timeout)
        except QrlinkError as exc:
            self._fail(exc)
            await peer.close()
            raise
        self.timings.update(peer.timings.as_ms())
        self.machine.handle(Event.CONNECTED)
        offer, answer = (
            (peer.local, peer.remote) if self.role == Role.OFFERER else (peer.remote, peer.local)
        )
        info: dict[str, Any] = {"agent": AGENT}
        if self.role == Role.OFFERER and self.cfg.merchant:
            info["merchant"] = self.cfg.merchant
        handshake = Handshake(self.role, offer.fingerprint, answer.fingerprint, info=info)
        link = Link(
            channel,
            handshake,
            self.conversation,
            timers=self.cfg.timers,
            clock=self.clock,
            emit=self.emit,
        )
        self.link = link
        t0 = time.perf_counter()
        link.start(peer.take_early_messages())
        self._watch = asyncio.ensure_future(self._watch_link(link))
        try:
            verified = await link.verified
        except QrlinkError:
            await self._watch
            raise
        self.timings["handshake_ms"] = (time.perf_counter() - t0) * 1000
        self.verified = verified
        self.emit(
            {
                "event": "sas",
                "code": verified.code,
                "version": verified.version,
                "peer": verified.peer_info,
                "timings": {k: round(v, 3) for k, v in self.timings.items()},
            }
        )
        for env in self.conversation.unanswered():
            link.send(env)  # replay under the original messageIds after a new pairing
        return verified

    async def _watch_link(self, link: Link) -> None:
        reason = await link.closed
        failed = link.failure
        if self._closing:
            return
        if failed is not None:
            self.error = failed
            self.machine.handle(Event.FAILED)
        else:
            self.machine.handle(Event.CLOSE)
        self.emit({"event": "closed", "reason": reason})
        await self._close_transport()

    async def _close_transport(self) -> None:
        link, self.link = self.link, None
        if link is not None:
            await link.close()
        if self.peer is not None:
            await self.peer.close()

    async def _teardown(self) -> None:
        self._closing = True
        try:
            if self._watch is not None and not self._watch.done():
                self._watch.cancel()
                with contextlib.suppress(BaseException):
                    await self._watch
            self._watch = None
            await self._close_transport()
            self.peer = None
        finally:
            self._closing = False

    async def close(self, reason: str = "closed by the user") -> None:
        was_live = not self.machine.terminal and self.machine.state != State.IDLE
        await self._teardown()
        if was_live:
            self.machine.handle(Event.CLOSE)
            self.emit({"event": "closed", "reason": reason})

    async def shutdown(self) -> None:
        await self.close()
        if self.preparer is not None:
            await self.preparer.close()
