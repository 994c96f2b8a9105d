"""Envelope, schemas and custom validators; the same vectors as the page."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qrlink_desktop.core import messages
from qrlink_desktop.core.errors import ErrorCode, QrlinkError
from qrlink_desktop.core.messages import MessageType, make, parse
from qrlink_desktop.core.resources import load_json
from qrlink_desktop.core.schema import SchemaError, validate

VECTORS = load_json("protocol/bootstrap-vectors.json")


@pytest.mark.parametrize("msg", VECTORS["messagesValid"], ids=lambda m: m["type"])
def test_valid_vectors(msg: dict[str, Any]) -> None:
    assert parse(json.dumps(msg)).to_dict() == msg


@pytest.mark.parametrize("case", VECTORS["messagesInvalid"], ids=lambda c: c["name"])
def test_invalid_vectors(case: dict[str, Any]) -> None:
    with pytest.raises(QrlinkError) as info:
        parse(json.dumps(case["message"]))
    assert info.value.code == ErrorCode.MESSAGE_INVALID


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "{",
        "[]",
        "null",
        '"x"',
        "1e999",
        "[" * 5000 + "]" * 5000,
        b"\xff\xfe",
        '{"type":"ping"}',
    ],
)
def test_garbage_is_invalid_not_a_crash(raw: str | bytes) -> None:
    with pytest.raises(QrlinkError) as info:
        parse(raw)
    assert info.value.code == ErrorCode.MESSAGE_INVALID


def test_size_cap_before_parsing() -> None:
    with pytest.raises(QrlinkError) as info:
        parse("x" * (messages.MAX_MESSAGE_BYTES + 1))
    assert info.value.code == ErrorCode.MESSAGE_TOO_LARGE


@pytest.mark.parametrize(
    ("amount", "currency", "ok"),
    [
        ("12.50", "EUR", True),
        ("1", "JPY", True),
        ("1.5", "JPY", False),
        ("0.001", "BHD", True),
        ("0.0001", "BHD", False),
        ("0", "EUR", False),
        ("1.00", "ZZZ", False),
        ("999999999999.99", "USD", True),
    ],
)
def test_custom_amount_rules(amount: str, currency: str, ok: bool) -> None:
    if ok:
        messages.check_amount(amount, currency)
    else:
        with pytest.raises(QrlinkError):
            messages.check_amount(amount, currency)


_amount = st.from_regex(r"\A[1-9][0-9]{0,8}(\.[0-9]{1,2})?\Z")
_payloads = st.one_of(
    st.builds(lambda a: (MessageType.PAYMENT_REQUEST, {"amount": a, "currency": "EUR"}), _amount),
    st.builds(
        lambda s: (MessageType.PAYMENT_RESPONSE, {"requestId": "abcdefgh", "status": s}),
        st.sampled_from(["approved", "declined"]),
    ),
    st.just((MessageType.PING, {})),
    st.builds(
        lambda t: (MessageType.ERROR, {"code": "TIMEOUT", "message": t}), st.text(max_size=100)
    ),
)


@given(_payloads, st.floats(0, 4e9))
def test_envelope_round_trip(pair: tuple[MessageType, dict[str, Any]], now: float) -> None:
    env = make(pair[0], pair[1], now=now)
    assert parse(env.to_json()) == env
    assert 8 <= len(env.message_id) <= 64


def test_schema_subset_refuses_unknown_keywords() -> None:
    with pytest.raises(ValueError):
        validate(1, {"type": "integer", "multipleOf": 2}, {})
    with pytest.raises(SchemaError, match="more than one"):
        validate("a", {"oneOf": [{"type": "string"}, {"maxLength": 3}]}, {})
    with pytest.raises(SchemaError):
        validate(True, {"type": "integer"}, {})
