"""The payment conversation: pure, outputs compared exactly, duplicates handled once."""

from __future__ import annotations

import pytest

from qrlink_desktop.core.conversation import (
    Conversation,
    EventAction,
    OutStatus,
    SendAction,
)
from qrlink_desktop.core.errors import ErrorCode, QrlinkError
from qrlink_desktop.core.events import Duplicate, MessageEvent, PeerError
from qrlink_desktop.core.handshake import Role
from qrlink_desktop.core.messages import Envelope, MessageType, make, parse

NOW = 1_800_000_000.0


def _verified(role: Role) -> Conversation:
    c = Conversation(role, merchant="Shop")
    c.set_verified()
    return c


def _sends(actions: list) -> list[Envelope]:
    return [a.envelope for a in actions if isinstance(a, SendAction)]


def _wire(env: Envelope) -> Envelope:
    """Through JSON, as the channel carries it."""
    return parse(env.to_json())


def test_request_response_acknowledgment() -> None:
    cashier, customer = _verified(Role.OFFERER), _verified(Role.ANSWERER)
    [req] = _sends(cashier.request_payment("9.90", "EUR", now=NOW, reference="R1"))
    assert req.payload == {
        "amount": "9.90",
        "currency": "EUR",
        "merchant": "Shop",
        "reference": "R1",
    }
    events = customer.receive(_wire(req), now=NOW)
    assert [type(a) for a in events] == [EventAction]
    [res] = _sends(customer.respond(req.message_id, True, now=NOW))
    assert res.payload == {"requestId": req.message_id, "status": "approved"}
    out = cashier.receive(_wire(res), now=NOW)
    [ack] = _sends(out)
    assert ack.type == MessageType.PAYMENT_ACKNOWLEDGMENT
    assert ack.payload == {"requestId": req.message_id, "status": "approved"}
    assert cashier.outbox[req.message_id].status == OutStatus.ANSWERED
    [arrived] = customer.receive(_wire(ack), now=NOW)
    assert isinstance(arrived, EventAction) and isinstance(arrived.event, MessageEvent)
    assert arrived.event.type == MessageType.PAYMENT_ACKNOWLEDGMENT
    assert customer.unanswered() == [] and cashier.unanswered() == []
    assert cashier.payments[req.message_id].to_dict()["acknowledged"] is True


def test_duplicate_request_gets_the_identical_reply_and_is_processed_once() -> None:
    cashier, customer = _verified(Role.OFFERER), _verified(Role.ANSWERER)
    [req] = _sends(cashier.request_payment("1.00", "USD", now=NOW))
    customer.receive(_wire(req), now=NOW)
    [res] = _sends(customer.respond(req.message_id, False, now=NOW))
    again = customer.receive(_wire(req), now=NOW + 1)
    assert _sends(again) == [res]  # same messageId, same payload
    assert any(isinstance(a, EventAction) and isinstance(a.event, Duplicate) for a in again)
    assert customer.processed == [req.message_id]
    # A duplicate response from the phone produces the identical acknowledgment.
    [ack] = _sends(cashier.receive(_wire(res), now=NOW))
    assert _sends(cashier.receive(_wire(res), now=NOW)) == [ack]
    assert cashier.processed == [res.message_id]


def test_replay_after_a_new_pairing_keeps_message_ids() -> None:
    cashier, customer = _verified(Role.OFFERER), _verified(Role.ANSWERER)
    [req] = _sends(cashier.request_payment("5", "JPY", now=NOW))
    assert cashier.unanswered() == [req]  # the connection dropped before an answer
    customer.receive(_wire(req), now=NOW)
    [res] = _sends(customer.respond(req.message_id, True, now=NOW))
    # New pairing: both replay what is unanswered; each side answers duplicates identically.
    replayed = cashier.unanswered()
    assert [e.message_id for e in replayed] == [req.message_id]
    assert _sends(customer.receive(_wire(replayed[0]), now=NOW + 5)) == [res]
    assert customer.processed == [req.message_id]


def test_payment_messages_are_refused_before_verification() -> None:
    customer = Conversation(Role.ANSWERER)
    req = make(MessageType.PAYMENT_REQUEST, {"amount": "1.00", "currency": "EUR"}, now=NOW)
    [err] = _sends(customer.receive(req, now=NOW))
    assert err.type == MessageType.ERROR and err.payload["code"] == "NOT_VERIFIED"
    assert customer.payments == {} and customer.processed == []
    # Whether the cashier may ask is the session's question (core/session.py, tested there
    # and in tests/rtc/test_sessions.py), not the conversation's.


def test_wrong_role_and_unknown_request_are_errors_not_crashes() -> None:
    cashier = _verified(Role.OFFERER)
    req = make(MessageType.PAYMENT_REQUEST, {"amount": "1.00", "currency": "EUR"}, now=NOW)
    [err] = _sends(cashier.receive(req, now=NOW))
    assert err.payload["code"] == "MESSAGE_INVALID"
    stray = make(
        MessageType.PAYMENT_RESPONSE, {"requestId": "nonexistent1", "status": "approved"}, now=NOW
    )
    assert _sends(cashier.receive(stray, now=NOW))[0].payload["code"] == "MESSAGE_INVALID"
    with pytest.raises(QrlinkError):
        _verified(Role.ANSWERER).respond("nope-nope", True, now=NOW)
    with pytest.raises(QrlinkError):
        _verified(Role.ANSWERER).request_payment("1", "EUR", now=NOW)


def test_second_decision_changes_nothing() -> None:
    customer = _verified(Role.ANSWERER)
    req = make(MessageType.PAYMENT_REQUEST, {"amount": "1.00", "currency": "EUR"}, now=NOW)
    customer.receive(req, now=NOW)
    assert _sends(customer.respond(req.message_id, True, now=NOW))
    assert customer.respond(req.message_id, False, now=NOW) == []
    assert customer.payments[req.message_id].status == "approved"


def test_peer_error_is_reported() -> None:
    err = make(MessageType.ERROR, {"code": "TIMEOUT", "message": "gone"}, now=NOW)
    [event] = _verified(Role.OFFERER).receive(err, now=NOW)
    assert isinstance(event, EventAction) and event.event == PeerError("TIMEOUT", "gone", None)


ELEVEN_MINUTES = 11 * 60


def test_a_request_replayed_after_eleven_minutes_gets_the_identical_reply() -> None:
    """A decided payment stays decided for the whole conversation: a copy arriving late
    (a new pairing, a delayed replay) meets the recorded reply, never a second decision."""
    cashier, customer = _verified(Role.OFFERER), _verified(Role.ANSWERER)
    [req] = _sends(cashier.request_payment("12.50", "EUR", now=NOW))
    customer.receive(_wire(req), now=NOW)
    [res] = _sends(customer.respond(req.message_id, True, now=NOW + 1))
    [ack] = _sends(cashier.receive(_wire(res), now=NOW + 2))
    customer.receive(_wire(ack), now=NOW + 3)
    # Many other payments in between do not push the old decision out.
    for i in range(1100):
        other = make(
            MessageType.PAYMENT_ACKNOWLEDGMENT,
            {"requestId": f"unknown-{i:05d}", "status": "approved"},
            now=NOW,
        )
        customer.receive(other, now=NOW + 4)
    late = customer.receive(_wire(req), now=NOW + ELEVEN_MINUTES)
    assert _sends(late) == [res]
    assert [a.event for a in late if isinstance(a, EventAction)] == [
        Duplicate(req.message_id, MessageType.PAYMENT_REQUEST)
    ]
    assert customer.processed.count(req.message_id) == 1
    assert customer.payments[req.message_id].status == "approved"
    assert customer.payments[req.message_id].response == res
    # The cashier's side too: a response replayed late gets the identical acknowledgment.
    assert _sends(cashier.receive(_wire(res), now=NOW + ELEVEN_MINUTES)) == [ack]
    assert cashier.processed == [res.message_id]


def test_past_the_cap_new_requests_are_refused_and_replays_still_answered() -> None:
    customer = Conversation(Role.ANSWERER, max_requests=3)
    customer.set_verified()
    requests = [
        make(MessageType.PAYMENT_REQUEST, {"amount": f"{i}.00", "currency": "EUR"}, now=NOW)
        for i in range(1, 5)
    ]
    replies = []
    for req in requests[:3]:
        customer.receive(_wire(req), now=NOW)
        replies.append(_sends(customer.respond(req.message_id, True, now=NOW))[0])
    [refusal] = _sends(customer.receive(_wire(requests[3]), now=NOW + 1))
    assert refusal.type == MessageType.ERROR
    assert refusal.payload["code"] == "RATE_LIMITED"
    assert refusal.payload["refMessageId"] == requests[3].message_id
    assert requests[3].message_id not in customer.payments
    # Refused again when it comes back: nothing about it was kept.
    [again] = _sends(customer.receive(_wire(requests[3]), now=NOW + ELEVEN_MINUTES))
    assert again.payload["code"] == "RATE_LIMITED"
    for req, reply in zip(requests[:3], replies, strict=True):
        assert _sends(customer.receive(_wire(req), now=NOW + ELEVEN_MINUTES)) == [reply]
    assert customer.processed == [r.message_id for r in requests[:3]]
    # The cashier's side stops at the same cap, before anything is sent.
    cashier = Conversation(Role.OFFERER, max_requests=3)
    cashier.set_verified()
    for _ in range(3):
        cashier.request_payment("1.00", "EUR", now=NOW)
    with pytest.raises(QrlinkError) as info:
        cashier.request_payment("1.00", "EUR", now=NOW)
    assert info.value.code == ErrorCode.RATE_LIMITED
    assert len(cashier.outbox) == 3


def test_the_default_cap_is_a_thousand_requests() -> None:
    customer = _verified(Role.ANSWERER)
    for i in range(1000):
        req = make(
            MessageType.PAYMENT_REQUEST,
            {"amount": "1.00", "currency": "EUR"},
            now=NOW,
            message_id=f"req-{i:08d}",
        )
        assert not _sends(customer.receive(req, now=NOW))
    extra = make(MessageType.PAYMENT_REQUEST, {"amount": "1.00", "currency": "EUR"}, now=NOW)
    assert _sends(customer.receive(extra, now=NOW))[0].payload["code"] == "RATE_LIMITED"


def test_a_second_response_or_acknowledgment_changes_no_decision() -> None:
    """A different message claiming to decide an already decided payment (a confused or
    hostile peer) changes nothing: the cashier repeats its acknowledgment of the first
    decision; the customer keeps the first acknowledgment."""
    cashier, customer = _verified(Role.OFFERER), _verified(Role.ANSWERER)
    [req] = _sends(cashier.request_payment("8.00", "EUR", now=NOW))
    customer.receive(_wire(req), now=NOW)
    [res] = _sends(customer.respond(req.message_id, False, now=NOW))
    [ack] = _sends(cashier.receive(_wire(res), now=NOW))
    flip = make(
        MessageType.PAYMENT_RESPONSE, {"requestId": req.message_id, "status": "approved"}, now=NOW
    )
    assert _sends(cashier.receive(flip, now=NOW + ELEVEN_MINUTES)) == [ack]
    assert cashier.payments[req.message_id].status == "declined"
    assert cashier.payments[req.message_id].response == res
    assert cashier.processed == [res.message_id]
    customer.receive(_wire(ack), now=NOW)
    other_ack = make(
        MessageType.PAYMENT_ACKNOWLEDGMENT,
        {"requestId": req.message_id, "status": "approved"},
        now=NOW,
    )
    assert _sends(customer.receive(other_ack, now=NOW)) == []
    assert customer.payments[req.message_id].acknowledgment == ack
    assert customer.processed == [req.message_id, ack.message_id]
