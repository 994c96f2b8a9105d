"""The connection lifecycle of the specification (§6.1), as one explicit table, and beside
it the verification code's own small table: whether the cashier has confirmed it.

    IDLE -> CREATING_OFFER -> AWAITING_ANSWER -> CONNECTING -> CONNECTED -> CLOSED
    CONNECTING -> FAILED;  CONNECTED -> DISCONNECTED -> CLOSED;  any state -> FAILED

    code:  NONE --verified--> SHOWN --confirm--> CONFIRMED     (while CONNECTED or
                                                              DISCONNECTED; reset -> NONE)

The answering side enters at CONNECTING once its answer is out. CLOSED and FAILED are
left only by `reset` (the next customer). Inputs not in a table are either listed as
ignored (harmless repeats and late reports) or refused with InvalidStateError, naming
the state: a caller's mistake is said at once.

Both live in one machine whose position is one frozen `SessionStatus`, so "may a payment
be requested?" has one answer: `SessionStatus.may_request_payment`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from .errors import InvalidStateError, QrlinkError
from .handshake import Verified


class State(StrEnum):
    IDLE = "IDLE"  # nothing under way; ready for a customer
    CREATING_OFFER = "CREATING_OFFER"  # gathering candidates and building the offer
    AWAITING_ANSWER = "AWAITING_ANSWER"  # the offer is shown; waiting for the answer code
    CONNECTING = "CONNECTING"  # answer applied: ICE, DTLS and SCTP under way
    CONNECTED = "CONNECTED"  # the data channel is open
    DISCONNECTED = "DISCONNECTED"  # the path went quiet; it may come back
    CLOSED = "CLOSED"  # ended on purpose (done, cancelled, or the peer left)
    FAILED = "FAILED"  # ended by an error; the error code says which


class Code(StrEnum):
    """The verification code of the current pairing."""

    NONE = "none"  # no handshake has completed on this pairing
    SHOWN = "shown"  # the handshake gave the code; both screens show it, unconfirmed
    CONFIRMED = "confirmed"  # the cashier saw the same code on both screens


class Event(StrEnum):
    CREATE_OFFER = "create_offer"
    OFFER_CREATED = "offer_created"  # also a refreshed offer while awaiting the answer
    ANSWER_RECEIVED = "answer_received"
    ANSWER_SENT = "answer_sent"  # the answering side's way in
    CONNECTED = "connected"  # ICE succeeded and the data channel opened
    DISCONNECTED = "disconnected"
    FAILED = "failed"  # ICE failure, DTLS failure, timeout or any error
    CLOSE = "close"
    RESET = "reset"
    VERIFIED = "verified"  # the handshake completed: the code is on both screens
    CONFIRM = "confirm"  # the cashier confirmed that the codes match


S, E, C = State, Event, Code
_LIVE = (S.IDLE, S.CREATING_OFFER, S.AWAITING_ANSWER, S.CONNECTING, S.CONNECTED, S.DISCONNECTED)
_OPEN = (S.CONNECTED, S.DISCONNECTED)  # a data channel exists

TRANSITIONS: dict[tuple[State, Event], State] = {
    (S.IDLE, E.CREATE_OFFER): S.CREATING_OFFER,
    (S.IDLE, E.ANSWER_SENT): S.CONNECTING,
    (S.CREATING_OFFER, E.OFFER_CREATED): S.AWAITING_ANSWER,
    (S.AWAITING_ANSWER, E.OFFER_CREATED): S.AWAITING_ANSWER,
    (S.AWAITING_ANSWER, E.ANSWER_RECEIVED): S.CONNECTING,
    (S.CONNECTING, E.CONNECTED): S.CONNECTED,
    (S.CONNECTED, E.DISCONNECTED): S.DISCONNECTED,
    (S.DISCONNECTED, E.CONNECTED): S.CONNECTED,
    **{(s, E.FAILED): S.FAILED for s in _LIVE},
    **{(s, E.CLOSE): S.CLOSED for s in _LIVE},
    (S.CLOSED, E.RESET): S.IDLE,
    (S.FAILED, E.RESET): S.IDLE,
}

IGNORED: frozenset[tuple[State, Event]] = frozenset(
    {
        (S.CONNECTED, E.CONNECTED),  # a second "open" report
        (S.DISCONNECTED, E.DISCONNECTED),
        (S.IDLE, E.RESET),  # "new customer" pressed twice
        # Late reports after the end: the outcome is already decided.
        *((s, e) for s in (S.CLOSED, S.FAILED) for e in (E.CONNECTED, E.DISCONNECTED, E.FAILED)),
        (S.CLOSED, E.CLOSE),
        (S.FAILED, E.CLOSE),
    }
)

# (state, code, input) -> code: the code moves only while a channel is open. RESET (the
# next customer) sets it back to NONE; nothing else in TRANSITIONS touches it.
CODE_TRANSITIONS: dict[tuple[State, Code, Event], Code] = {
    **{(s, C.NONE, E.VERIFIED): C.SHOWN for s in _OPEN},
    **{(s, C.SHOWN, E.CONFIRM): C.CONFIRMED for s in _OPEN},
}

CODE_IGNORED: frozenset[tuple[State, Code, Event]] = frozenset(
    (s, C.CONFIRMED, E.CONFIRM)
    for s in _OPEN  # confirmed twice (Enter pressed again)
)

_CODE_INPUTS = (E.VERIFIED, E.CONFIRM)


@dataclass(frozen=True)
class SessionStatus:
    """Where a session stands, as one value: a new one replaces it on every change."""

    state: State = State.IDLE
    code: Code = Code.NONE
    verified: Verified | None = None  # the handshake's result, once the code is shown
    error: QrlinkError | None = None  # why the session FAILED (the first failure)

    @property
    def may_request_payment(self) -> bool:
        """A channel is open (a request made while the path is quiet waits for it) and
        the cashier has confirmed the code."""
        return self.state in _OPEN and self.code == Code.CONFIRMED

    @property
    def terminal(self) -> bool:
        return self.state in (State.CLOSED, State.FAILED)

    @property
    def live(self) -> bool:
        """Something is under way: neither waiting for a customer nor ended."""
        return self.state != State.IDLE and not self.terminal


Listener = Callable[[SessionStatus, SessionStatus, Event], None]


class SessionMachine:
    def __init__(self, status: SessionStatus | None = None) -> None:
        self.status = status or SessionStatus()
        self._listeners: list[Listener] = []

    @property
    def state(self) -> State:
        return self.status.state

    @property
    def terminal(self) -> bool:
        return self.status.terminal

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def can(self, event: Event) -> bool:
        s = self.status
        if event in _CODE_INPUTS:
            return (s.state, s.code, event) in CODE_TRANSITIONS
        return (s.state, event) in TRANSITIONS

    def handle(
        self,
        event: Event,
        *,
        verified: Verified | None = None,
        error: QrlinkError | None = None,
    ) -> bool:
        """Apply an input; True when the status changed. `verified` rides with VERIFIED,
        `error` with FAILED."""
        old = self.status
        if event in _CODE_INPUTS:
            key = (old.state, old.code, event)
            if key in CODE_IGNORED:
                return False
            if key not in CODE_TRANSITIONS:
                raise InvalidStateError(event, f"{old.state}, code {old.code}")
            new = dataclasses.replace(old, code=CODE_TRANSITIONS[key])
            if event == E.VERIFIED:
                new = dataclasses.replace(new, verified=verified)
        else:
            if (old.state, event) in IGNORED:
                return False
            if (old.state, event) not in TRANSITIONS:
                raise InvalidStateError(event, old.state)
            new = dataclasses.replace(old, state=TRANSITIONS[(old.state, event)])
            if event == E.RESET:
                new = SessionStatus()
            elif event == E.FAILED:
                new = dataclasses.replace(new, error=error)
        self.status = new
        for listener in list(self._listeners):
            listener(old, new, event)
        return old != new
