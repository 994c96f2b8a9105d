"""The customer's session (the phone's stand-in): answer an offer, connect, show the code,
and decide on the payment requests that come.

    answer(offer_text) -> AnswerReady     (CONNECTING: the answer is out)
    connect()                             (CONNECTED, then the code)
    respond(request_id, approve)          (for each `message` in of a payment_request)
"""

from __future__ import annotations

import time
from collections.abc import Awaitable
from typing import ClassVar

from ..core import bootstrap
from ..core.bootstrap import Kind
from ..core.errors import ErrorCode, QrlinkError
from ..core.events import AnswerReady
from ..core.handshake import Role
from ..core.session import Event as Input
from .offers import closed_on_failure, rotating_turn
from .peer import IceConfig, Peer
from .session import Session
from .zstd import TOKENS


class AnsweringSession(Session):
    role: ClassVar[Role] = Role.ANSWERER

    async def answer(self, offer_text: str) -> AnswerReady | None:
        """Answer an offer (then `connect`). An offer that cannot be read raises
        BOOTSTRAP_PARSE_FAILED; None when no answer could be made (FAILED, and the `error`
        event said why)."""
        t0 = time.perf_counter()
        record = self.decode(offer_text)
        if record.kind != Kind.OFFER:
            raise QrlinkError(
                ErrorCode.BOOTSTRAP_PARSE_FAILED, "this code is an answer, not an offer"
            )
        await self._teardown()
        self._back_to_idle()

        def gather(ice: IceConfig) -> Awaitable[Peer]:
            peer = Peer(Role.ANSWERER, ice, self.clock)
            return closed_on_failure(peer, peer.make_answer(record))

        try:
            # The answering side tries its TURN servers in turn too, as the offering one does.
            self.peer = await rotating_turn(self.cfg.ice, gather)
        except QrlinkError as exc:
            self._fail(exc)
            return None
        answer = self.peer.local
        assert answer is not None
        text = TOKENS.answer_text(answer, self.cfg.text_format, now=self.clock.now())
        self.timings = {"answer_ready_ms": (time.perf_counter() - t0) * 1000}
        self._machine.handle(Input.ANSWER_SENT)
        event = AnswerReady(
            text,
            answer.offer_id_hex,
            len(bootstrap.pack(answer)),
            str(self.cfg.text_format),
            record.reply_name,
            tuple(c.type_name for c in answer.candidates),
        )
        self._emit(event)
        return event

    def respond(self, request_id: str, approve: bool, reason: str | None = None) -> None:
        """The customer's decision on a payment request."""
        self._live_link()  # MESSAGE_SEND_FAILED with no open connection
        now = self.clock.now()
        self._run(self.conversation.respond(request_id, approve, now=now, reason=reason))
