"""The cashier's session: offers (prepared ahead), the customer's answer, the code the
cashier confirms, and payment requests.

    new_customer -> OfferReady            (AWAITING_ANSWER; refresh_offer swaps it)
    accept_answer(text) -> connect()      (CONNECTING, CONNECTED, then the code)
    confirm()                             (code CONFIRMED: may_request_payment)
    request_payment(...) -> id; await payment_outcome(id)
"""

from __future__ import annotations

import logging
import time
from typing import ClassVar

from ..core import bootstrap
from ..core.bootstrap import BootstrapRecord
from ..core.clock import SYSTEM_CLOCK, Clock
from ..core.conversation import Conversation
from ..core.errors import ErrorCode, InvalidStateError, QrlinkError
from ..core.events import ErrorEvent, OfferReady
from ..core.handshake import Role, Verified
from ..core.session import Code, State
from ..core.session import Event as Input
from .config import SessionConfig
from .offers import OfferPreparer
from .session import Listener, Session
from .zstd import TOKENS

log = logging.getLogger(__name__)


class OfferingSession(Session):
    role: ClassVar[Role] = Role.OFFERER

    def __init__(
        self,
        cfg: SessionConfig,
        *,
        clock: Clock = SYSTEM_CLOCK,
        listener: Listener | None = None,
    ) -> None:
        super().__init__(cfg, clock=clock, listener=listener)
        self.preparer = OfferPreparer(cfg, clock)
        self._answering = False  # an answer is being applied

    # --- the offer ---------------------------------------------------------------------------

    @property
    def offer(self) -> BootstrapRecord | None:
        """The offer of the current pairing (on screen, or answered)."""
        return self.peer.local if self.peer is not None else None

    def prepare(self) -> None:
        """Start gathering the first offer now, before any customer arrives."""
        self.preparer.prepare()

    async def new_customer(
        self, *, keep_conversation: bool = False, reply_handle: bytes | None = None
    ) -> OfferReady | None:
        """Drop any session and show the prepared offer. With `keep_conversation` the
        payments stay (a reconnection replays what is unanswered). None when no offer
        could be made: FAILED, and the `error` event said why."""
        await self._teardown()
        self._back_to_idle()
        if not keep_conversation:
            self.conversation = Conversation(self.role, merchant=self.cfg.merchant)
        t0 = time.perf_counter()
        self._machine.handle(Input.CREATE_OFFER)
        try:
            self.peer = await self.preparer.take(reply_handle)
        except QrlinkError as exc:
            self._fail(exc)
            return None
        except Exception as exc:
            self._fail(
                QrlinkError(
                    ErrorCode.BOOTSTRAP_GENERATION_FAILED, f"could not create an offer: {exc}"
                )
            )
            return None
        return self._announce_offer(t0)

    async def refresh_offer(self) -> OfferReady | None:
        """Swap an unanswered offer close to expiry for a fresh one (prepared ahead),
        keeping the session: AWAITING_ANSWER stays AWAITING_ANSWER. None when the offer
        was answered meanwhile, or no fresh one could be made (an `error` event; the one
        on screen stays valid until it expires)."""
        if self.status.state != State.AWAITING_ANSWER or self.peer is None or self._answering:
            raise InvalidStateError("refresh the offer", self._where())
        t0 = time.perf_counter()
        try:
            fresh = await self.preparer.take()
        except QrlinkError as exc:
            self._emit(ErrorEvent.of(exc))
            return None
        if self.status.state != State.AWAITING_ANSWER or self._answering:
            log.info("the offer was answered while a fresh one was taken; it stays")
            await fresh.close()
            return None
        old, self.peer = self.peer, fresh
        if old is not None:
            await old.close()
        return self._announce_offer(t0)

    def _announce_offer(self, t0: float) -> OfferReady:
        record = self.offer
        assert record is not None
        text = TOKENS.offer_text(
            record, self.cfg.page_url, self.cfg.text_format, now=self.clock.now()
        )
        self.timings = {"offer_ready_ms": (time.perf_counter() - t0) * 1000}
        self._machine.handle(Input.OFFER_CREATED)
        event = OfferReady(
            text,
            record.offer_id_hex,
            record.expires_at,
            len(bootstrap.pack(record)),
            str(self.cfg.text_format),
            round(self.timings["offer_ready_ms"], 3),
            tuple(c.type_name for c in record.candidates),
        )
        self._emit(event)
        return event

    def _where(self) -> str:
        state = self.status.state
        return f"{state}, an answer being applied" if self._answering else str(state)

    # --- the answer --------------------------------------------------------------------------

    async def accept_answer(self, text: str) -> bool:
        """Apply the customer's answer (then `connect`). Answers may race (the page's over
        the network, the camera's, a paste): the first usable one is applied, and any
        other raises InvalidStateError, even while the first is still being applied. An
        answer that cannot be read, or is for another offer, raises BOOTSTRAP_PARSE_FAILED
        and leaves the offer waiting. False when applying it failed the session."""
        if self.status.state != State.AWAITING_ANSWER or self.peer is None or self._answering:
            raise InvalidStateError("take an answer", self._where())
        t0 = time.perf_counter()
        self._answering = True
        try:
            record = self.decode(text)
            await self.peer.accept_answer(record)
        except QrlinkError as exc:
            if exc.code != ErrorCode.CONNECTION_FAILED:
                raise
            self._fail(exc)
            return False
        finally:
            self._answering = False
        self.timings["answer_apply_ms"] = (time.perf_counter() - t0) * 1000
        self._machine.handle(Input.ANSWER_RECEIVED)
        return True

    async def submit_answer(self, text: str) -> Verified | None:
        """`accept_answer`, then `connect`."""
        if not await self.accept_answer(text):
            return None
        return await self.connect()

    # --- the code ----------------------------------------------------------------------------

    def confirm(self) -> None:
        """The cashier saw the same code on both screens."""
        if self.status.code == Code.NONE:
            raise QrlinkError(
                ErrorCode.NOT_VERIFIED, "there is no verification code to confirm yet"
            )
        self._machine.handle(Input.CONFIRM)

    async def reject_code(self, message: str, grace: float = 10.0) -> None:
        """The codes differ (or none was given): someone may be in the middle. Nothing is
        confirmed; the other side is told (`error` VERIFICATION_FAILED) and the session
        ends failed, with `message` as the reason."""
        link = self.link
        if link is None or link.closed.done():  # ended already; nobody left to tell
            self._emit(ErrorEvent(ErrorCode.VERIFICATION_FAILED, message))
            return
        await link.refuse(ErrorCode.VERIFICATION_FAILED, message, grace)
        if self._watch is not None:
            await self._watch  # the session is FAILED and closed when this returns

    # --- payments ----------------------------------------------------------------------------

    def request_payment(self, amount: str, currency: str, reference: str | None = None) -> str:
        """Ask for a payment; its request id. Only when `status.may_request_payment`."""
        if not self.status.may_request_payment:
            self._live_link()  # no channel: MESSAGE_SEND_FAILED
            raise QrlinkError(ErrorCode.NOT_VERIFIED, "confirm the verification code first")
        actions = self.conversation.request_payment(
            amount, currency, now=self.clock.now(), reference=reference
        )
        self._run(actions)
        return actions[0].envelope.message_id  # type: ignore[union-attr]

    async def shutdown(self) -> None:
        await self.close()
        await self.preparer.close()
