"""Every (state, event) pair of the session machine: a transition, ignored, or refused."""

from __future__ import annotations

import itertools

import pytest

from qrlink_desktop.core.session import (
    IGNORED,
    TRANSITIONS,
    Event,
    InvalidTransition,
    SessionMachine,
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


def _at(state: State) -> SessionMachine:
    m = SessionMachine()
    m.state = state
    return m


@pytest.mark.parametrize(("state", "event"), list(itertools.product(State, Event)))
def test_every_pair(state: State, event: Event) -> None:
    m = _at(state)
    seen: list[tuple[State, State, Event]] = []
    m.subscribe(lambda old, new, ev: seen.append((old, new, ev)))
    if (state, event) in EXPECTED:
        m.handle(event)
        assert m.state == EXPECTED[(state, event)]
        assert seen == [(state, EXPECTED[(state, event)], event)]
    elif (state, event) in IGNORED:
        assert m.handle(event) is False
        assert m.state == state and seen == []
    else:
        with pytest.raises(InvalidTransition):
            m.handle(event)
        assert m.state == state and seen == []


def test_table_is_exactly_the_specification() -> None:
    assert TRANSITIONS == EXPECTED
    assert not set(TRANSITIONS) & IGNORED


def test_happy_path_records_each_state_once() -> None:
    m = SessionMachine()
    states: list[str] = []
    m.subscribe(lambda old, new, ev: states.append(new))
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
