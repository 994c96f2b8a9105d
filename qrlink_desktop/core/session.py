"""The connection lifecycle of the specification (§6.1), as one explicit table.

    IDLE -> CREATING_OFFER -> AWAITING_ANSWER -> CONNECTING -> CONNECTED -> CLOSED
    CONNECTING -> FAILED;  CONNECTED -> DISCONNECTED -> CLOSED;  any state -> FAILED

The answering side enters at CONNECTING once its answer is out. CLOSED and FAILED are
left only by `reset` (the next customer). Inputs not in the table are either listed in
IGNORED (harmless repeats and late reports) or a programming error.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum


class State(StrEnum):
    IDLE = "IDLE"  # nothing under way; ready for a customer
    CREATING_OFFER = "CREATING_OFFER"  # gathering candidates and building the offer
    AWAITING_ANSWER = "AWAITING_ANSWER"  # the offer is shown; waiting for the answer code
    CONNECTING = "CONNECTING"  # answer applied: ICE, DTLS and SCTP under way
    CONNECTED = "CONNECTED"  # the data channel is open
    DISCONNECTED = "DISCONNECTED"  # the path went quiet; it may come back
    CLOSED = "CLOSED"  # ended on purpose (done, cancelled, or the peer left)
    FAILED = "FAILED"  # ended by an error; the error code says which


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


S, E = State, Event
_LIVE = (S.IDLE, S.CREATING_OFFER, S.AWAITING_ANSWER, S.CONNECTING, S.CONNECTED, S.DISCONNECTED)

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


class InvalidTransition(RuntimeError):
    pass


Listener = Callable[[State, State, Event], None]


class SessionMachine:
    def __init__(self) -> None:
        self.state = State.IDLE
        self._listeners: list[Listener] = []

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def can(self, event: Event) -> bool:
        return (self.state, event) in TRANSITIONS

    def handle(self, event: Event) -> bool:
        """Apply an event; True when the state changed."""
        key = (self.state, event)
        if key in TRANSITIONS:
            old, self.state = self.state, TRANSITIONS[key]
            for listener in list(self._listeners):
                listener(old, self.state, event)
            return old != self.state
        if key in IGNORED:
            return False
        raise InvalidTransition(f"{event} is not valid in state {self.state}")

    @property
    def terminal(self) -> bool:
        return self.state in (State.CLOSED, State.FAILED)
