"""A stand-in for the cashier's session (gui/session.py's `CashierSession` protocol): it
moves through the states a real one does when told to, and says so with the same typed
events, so the window and its controller can be tested without a network.

It keeps its own status through the real session machine (core/session.py), so what it
allows is what a session allows; a test drives what the other side would do (`paired`,
`tell`). The whole-flow tests keep the real session (test_gui_whole_flow.py and others).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from qrlink_desktop.core.bootstrap import BootstrapRecord
from qrlink_desktop.core.clock import SYSTEM_CLOCK, Clock
from qrlink_desktop.core.conversation import Conversation
from qrlink_desktop.core.errors import ErrorCode, QrlinkError
from qrlink_desktop.core.events import (
    Closed,
    CodeReady,
    Confirmed,
    ErrorEvent,
    Event,
    OfferReady,
    PathInfo,
    StateChanged,
)
from qrlink_desktop.core.handshake import Role, Verified
from qrlink_desktop.core.session import Event as Input
from qrlink_desktop.core.session import SessionMachine, SessionStatus, State

OFFER_TEXT = "http://127.0.0.1:8765/#QL:FAKE-OFFER"
ANSWER_TEXT = "QL:FAKE-ANSWER"


class FakeSession:
    """What the window sees of a session; `calls` records what it was asked."""

    def __init__(self, clock: Clock = SYSTEM_CLOCK) -> None:
        self.clock = clock
        self._machine = SessionMachine()
        self._machine.subscribe(self._on_status)
        self._listeners: list[Callable[[Event], None]] = []
        self.conversation = Conversation(Role.OFFERER, merchant="Fake Shop")
        self.calls: list[str] = []
        self.offers = 0

    # --- what the protocol asks for --------------------------------------------------------

    @property
    def status(self) -> SessionStatus:
        return self._machine.status

    @property
    def offer(self) -> BootstrapRecord | None:
        return None

    def add_listener(self, listener: Callable[[Event], None]) -> None:
        self._listeners.append(listener)

    def prepare(self) -> None:
        self.calls.append("prepare")

    async def new_customer(
        self, *, keep_conversation: bool = False, reply_handle: bytes | None = None
    ) -> OfferReady | None:
        self.calls.append("new_customer")
        if self.status.state != State.IDLE:
            if not self.status.terminal:
                self._machine.handle(Input.CLOSE)
            self._machine.handle(Input.RESET)
        self._machine.handle(Input.CREATE_OFFER)
        return self._offer()

    async def refresh_offer(self) -> OfferReady | None:
        self.calls.append("refresh_offer")
        return self._offer()

    async def accept_answer(self, text: str) -> bool:
        self.calls.append(f"accept_answer {text}")
        if text != ANSWER_TEXT:
            raise QrlinkError(ErrorCode.BOOTSTRAP_PARSE_FAILED, "this is not an answer code")
        self._machine.handle(Input.ANSWER_RECEIVED)
        return True

    async def submit_answer(self, text: str) -> Verified | None:
        if not await self.accept_answer(text):
            return None
        return await self.connect()

    async def connect(self) -> Verified | None:
        self.calls.append("connect")
        return None  # the test says when the channel opens (`paired`)

    def confirm(self) -> None:
        self.calls.append("confirm")
        self._machine.handle(Input.CONFIRM)

    def request_payment(self, amount: str, currency: str, reference: str | None = None) -> str:
        if not self.status.may_request_payment:
            raise QrlinkError(ErrorCode.NOT_VERIFIED, "confirm the verification code first")
        self.calls.append(f"request_payment {amount} {currency}")
        return "fake-request"

    async def close(self, reason: str = "closed by the user") -> None:
        self.calls.append(f"close {reason}")
        if self.status.live:
            self._machine.handle(Input.CLOSE)
            self.tell(Closed(reason))

    async def shutdown(self) -> None:
        self.calls.append("shutdown")

    # --- what the test makes happen ---------------------------------------------------------

    def tell(self, event: Event) -> None:
        for listener in list(self._listeners):
            listener(event)

    def paired(self, code: str = "123456") -> None:
        """The channel opened and the handshake gave `code`, as a real session reports."""
        self._machine.handle(Input.CONNECTED)
        verified = Verified(1, code, {"agent": "fake"})
        self._machine.handle(Input.VERIFIED, verified=verified)
        self.tell(CodeReady(code, 1, {"agent": "fake"}, {"handshake_ms": 1.0}))

    def fail(self, code: ErrorCode, message: str) -> None:
        """A failure of the network: one error event, then FAILED, as a real one says it."""
        error = QrlinkError(code, message)
        self.tell(ErrorEvent.of(error))
        self._machine.handle(Input.FAILED, error=error)

    # --- as a real session tells its status ---------------------------------------------------

    def _on_status(self, old: SessionStatus, new: SessionStatus, event: Input) -> None:
        if old.state != new.state or event == Input.OFFER_CREATED:
            pair = PathInfo("host", "host", "direct") if new.state == State.CONNECTED else None
            self.tell(StateChanged(new.state, pair))
        if new.code != old.code and new.may_request_payment:
            self.tell(Confirmed())

    def _offer(self) -> OfferReady:
        self.offers += 1
        self._machine.handle(Input.OFFER_CREATED)
        event = OfferReady(
            f"{OFFER_TEXT}-{self.offers}",
            f"{self.offers:016x}",
            int(time.time()) + 300,
            60,
            "compact",
            0.5,
            ("host",),
        )
        self.tell(event)
        return event
