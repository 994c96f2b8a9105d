"""The one-scan answer's key and MAC: the shared vectors, and the request's strict shape."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qrlink_desktop.core import answer_home, bootstrap
from qrlink_desktop.core.answer_home import AnswerRequest, parse_request
from qrlink_desktop.core.errors import ErrorCode, QrlinkError
from qrlink_desktop.core.resources import load_json

VECTORS: dict[str, Any] = load_json("protocol/bootstrap-vectors.json")


@pytest.mark.parametrize("vector", VECTORS["answerMac"], ids=lambda v: v["offerId"])
def test_answer_mac_vector(vector: dict[str, str]) -> None:
    seed = bytes.fromhex(vector["seed"])
    key = answer_home.answer_key(seed)
    assert key.hex() == vector["key"]
    offer_id = bytes.fromhex(vector["offerId"])
    assert bootstrap.derive_credentials(seed)[0] == offer_id
    assert answer_home.answer_mac(key, offer_id, vector["answer"]).hex() == vector["mac"]
    request = parse_request(vector["request"].encode())
    assert request == AnswerRequest(offer_id, vector["answer"], bytes.fromhex(vector["mac"]))
    assert request.to_json() == vector["request"]
    assert answer_home.mac_matches(key, offer_id, vector["answer"], request.mac)
    # The answer's record echoes the same offer id.
    answer = bootstrap.decode_compact(vector["answer"], now=0)
    assert answer.kind == bootstrap.Kind.ANSWER and answer.offer_id == offer_id


def test_the_key_is_not_anything_the_offer_shows() -> None:
    """Derived under its own label: neither the ICE password nor the offer id reveal it."""
    seed = bytes(range(16))
    key = answer_home.answer_key(seed)
    offer_id, ufrag, pwd = bootstrap.derive_credentials(seed)
    assert key not in (offer_id, ufrag.encode(), pwd.encode())
    assert answer_home.answer_key(bytes(range(1, 17))) != key
    with pytest.raises(QrlinkError):
        answer_home.answer_key(b"short")


@given(st.binary(min_size=16, max_size=16), st.text(alphabet="QL:0123456789", max_size=80))
def test_a_changed_answer_or_id_fails_the_mac(seed: bytes, answer: str) -> None:
    request = answer_home.make_request(seed, "QL:" + answer)
    key = answer_home.answer_key(seed)
    assert answer_home.mac_matches(key, request.offer_id, request.answer, request.mac)
    assert not answer_home.mac_matches(key, request.offer_id, request.answer + "0", request.mac)
    other_id = bytes(b ^ 1 for b in request.offer_id)
    assert not answer_home.mac_matches(key, other_id, request.answer, request.mac)
    other_key = answer_home.answer_key(bytes(b ^ 0x80 for b in seed))
    assert not answer_home.mac_matches(other_key, request.offer_id, request.answer, request.mac)


def _body(**fields: object) -> bytes:
    doc: dict[str, object] = {"offerId": "1e121810", "answer": "QL:0", "mac": "00" * 32}
    doc.update(fields)
    return json.dumps({k: v for k, v in doc.items() if v is not None}).encode()


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"", ErrorCode.MESSAGE_INVALID),
        (b"not json", ErrorCode.MESSAGE_INVALID),
        (b"\xff\xfe{}", ErrorCode.MESSAGE_INVALID),
        (b"[1, 2]", ErrorCode.MESSAGE_INVALID),
        (b"[" * 4000, ErrorCode.MESSAGE_INVALID),
        (_body(extra=1), ErrorCode.MESSAGE_INVALID),
        (_body(mac=None), ErrorCode.MESSAGE_INVALID),
        (_body(offerId="1E121810"), ErrorCode.MESSAGE_INVALID),
        (_body(offerId="1e1218"), ErrorCode.MESSAGE_INVALID),
        (_body(mac="zz" * 32), ErrorCode.MESSAGE_INVALID),
        (_body(mac=12), ErrorCode.MESSAGE_INVALID),
        (_body(answer=""), ErrorCode.MESSAGE_INVALID),
        (_body(answer=["QL:0"]), ErrorCode.MESSAGE_INVALID),
        (_body(answer="QL:é"), ErrorCode.MESSAGE_INVALID),
        (_body(answer="0" * 2049), ErrorCode.MESSAGE_INVALID),
        (_body(answer="0" * 5000), ErrorCode.MESSAGE_TOO_LARGE),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_malformed_requests_are_refused_with_a_code(body: bytes, code: ErrorCode) -> None:
    with pytest.raises(QrlinkError) as info:
        parse_request(body)
    assert info.value.code == code
    assert info.value.message
