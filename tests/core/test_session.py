"""Every (state, input) pair of the session machine: a transition, ignored, or refused
naming the state; and every (state, code, input) of the verification code's table."""

from __future__ import annotations

import itertools

import pytest

from qrlink_desktop.core.errors import ErrorCode, InvalidStateError, QrlinkError
from qrlink_desktop.core.handshake import Verified
from qrlink_desktop.core.session import (
    CODE_IGNORED,
    CODE_TRANSITIONS,
    IGNORED,
    TRANSITIONS,
    Code,
    Event,
    SessionMachine,
    SessionStatus,
    State,
)

EXPECTED = {
    (State.IDLE, Event.CREATE_OFFER): State.CREATING_OFFER,
    (State.IDLE, Event.ANSWER_SENT): State.CONNECTING,
    (State.CREATING_OFFER, Event.OFFER_CREATED): State.AWAITING_ANSWER,
    (State.AWAITING_ANSWER, Event.OFFER_CREATED): State.AWAITING_ANSWER,
    (State.AWAITING_ANSWER, Event.ANSWER_RECEIVED): State.CONNECTING,
    (State.CONNECTING, Event.CONNECTED): State.CONNECTED,
    (State.CONNECTED, Event.DISCONNECTED): State.DISCONNECTED,
    (State.DISCONNECTED, Event.CONNECTED): State.CONNECTED,
    (State.CLOSED, Event.RESET): State.IDLE,
    (State.FAILED, Event.RESET): State.IDLE,
}
LIVE = [
    State.IDLE,
    State.CREATING_OFFER,
    State.AWAITING_ANSWER,
    State.CONNECTING,
    State.CONNECTED,
    State.DISCONNECTED,
]
for s in LIVE:
    EXPECTED[(s, Event.FAILED)] = State.FAILED
    EXPECTED[(s, Event.CLOSE)] = State.CLOSED

OPEN = (State.CONNECTED, State.DISCONNECTED)
CODE_EXPECTED = {
    **{(s, Code.NONE, Event.VERIFIED): Code.SHOWN for s in OPEN},
    **{(s, Code.SHOWN, Event.CONFIRM): Code.CONFIRMED for s in OPEN},
}
CODE_INPUTS = (Event.VERIFIED, Event.CONFIRM)
STATE_INPUTS = [e for e in Event if e not in CODE_INPUTS]
VERIFIED = Verified(1, "123456", {"agent": "test"})


def _at(state: State, code: Code = Code.NONE) -> SessionMachine:
    return SessionMachine(SessionStatus(state=state, code=code))


@pytest.mark.parametrize(("state", "event"), list(itertools.product(State, STATE_INPUTS)))
def test_every_pair(state: State, event: Event) -> None:
    m = _at(state)
    seen: list[tuple[State, State, Event]] = []
    m.subscribe(lambda old, new, ev: seen.append((old.state, new.state, ev)))
    if (state, event) in EXPECTED:
        m.handle(event)
        assert m.state == EXPECTED[(state, event)]
        assert seen == [(state, EXPECTED[(state, event)], event)]
    elif (state, event) in IGNORED:
        assert m.handle(event) is False
        assert m.state == state and seen == []
    else:
        with pytest.raises(InvalidStateError) as raised:
            m.handle(event)
        assert f'"{state}"' in raised.value.message  # the refusal names the state
        assert m.state == state and seen == []


@pytest.mark.parametrize(
    ("state", "code", "event"), list(itertools.product(State, Code, CODE_INPUTS))
)
def test_every_code_triple(state: State, code: Code, event: Event) -> None:
    m = _at(state, code)
    seen: list[SessionStatus] = []
    m.subscribe(lambda old, new, ev: seen.append(new))
    if (state, code, event) in CODE_EXPECTED:
        assert m.handle(event, verified=VERIFIED) is True
        assert m.status.code == CODE_EXPECTED[(state, code, event)]
        assert m.state == state and seen == [m.status]
    elif (state, code, event) in CODE_IGNORED:
        assert m.handle(event) is False
        assert m.status.code == code and seen == []
    else:
        with pytest.raises(InvalidStateError) as raised:
            m.handle(event)
        assert str(state) in raised.value.message and str(code) in raised.value.message
        assert m.status.code == code and seen == []


def test_tables_are_exactly_the_specification() -> None:
    assert TRANSITIONS == EXPECTED
    assert not set(TRANSITIONS) & IGNORED
    assert CODE_TRANSITIONS == CODE_EXPECTED
    assert not set(CODE_TRANSITIONS) & CODE_IGNORED


def test_may_request_payment_only_when_open_and_confirmed() -> None:
    for state, code in itertools.product(State, Code):
        status = SessionStatus(state=state, code=code)
        assert status.may_request_payment == (state in OPEN and code == Code.CONFIRMED)


def test_the_code_rides_with_verified_and_reset_forgets_everything() -> None:
    m = _at(State.CONNECTED)
    m.handle(Event.VERIFIED, verified=VERIFIED)
    assert m.status.verified == VERIFIED and not m.status.may_request_payment
    m.handle(Event.CONFIRM)
    assert m.status.may_request_payment
    m.handle(Event.DISCONNECTED)  # a quiet path keeps the confirmation
    assert m.status.code == Code.CONFIRMED and m.status.may_request_payment
    error = QrlinkError(ErrorCode.TIMEOUT, "nothing heard")
    m.handle(Event.FAILED, error=error)
    assert m.status.error is error and not m.status.may_request_payment
    m.handle(Event.RESET)
    assert m.status == SessionStatus()


def test_happy_path_records_each_state_once() -> None:
    m = SessionMachine()
    states: list[str] = []
    m.subscribe(lambda old, new, ev: states.append(new.state))
    for ev in (
        Event.CREATE_OFFER,
        Event.OFFER_CREATED,
        Event.ANSWER_RECEIVED,
        Event.CONNECTED,
        Event.DISCONNECTED,
        Event.CLOSE,
    ):
        m.handle(ev)
    assert states == [
        "CREATING_OFFER",
        "AWAITING_ANSWER",
        "CONNECTING",
        "CONNECTED",
        "DISCONNECTED",
        "CLOSED",
    ]
    assert m.terminal and m.can(Event.RESET) and not m.can(Event.CONNECTED)
