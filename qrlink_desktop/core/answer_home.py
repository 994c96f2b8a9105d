"""One scan: the page sends its answer back to the laptop that served it, authenticated.

The offer's 16-byte seed (bootstrap.py) is already the secret the QR carries: the ICE
credentials come from it. A second key is derived from it under its own label, so the
offer gains no byte; the page proves it read the QR by a MAC over the offer id and the
answer text under that key. The key itself never travels, and the fragment that holds
the seed never reaches a server. Layout: resources/protocol/bootstrap-format.md.

This module is the arithmetic and the request's shape; pages/answers.py decides
what a request may do, pages/server.py carries it over HTTP.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from dataclasses import dataclass

from .bootstrap import MAX_TEXT_CHARS, OFFER_ID_BYTES, SEED_BYTES, derive_credentials
from .errors import ErrorCode, QrlinkError

KEY_LABEL = b"qrlink-answer-key-v1"
MAC_LABEL = b"qrlink-answer-v1"
KEY_BYTES = MAC_BYTES = 32
# The largest body the page sends: an answer of at most 2048 characters, its MAC and id,
# in JSON. Anything longer is refused before it is read.
MAX_REQUEST_BYTES = 4096
ANSWER_PATH = "answer"  # relative to the page: POST <page origin>/answer
_HEX = re.compile(r"^[0-9a-f]*$")


def answer_key(seed: bytes) -> bytes:
    """The MAC key of an offer: SHA-256(label ‖ seed), independent of its ICE password."""
    if len(seed) != SEED_BYTES:
        raise QrlinkError(ErrorCode.BOOTSTRAP_GENERATION_FAILED, "a seed must be 16 bytes")
    return hashlib.sha256(KEY_LABEL + seed).digest()


def answer_mac(key: bytes, offer_id: bytes, answer_text: str) -> bytes:
    """HMAC-SHA256(key, label ‖ offer id ‖ the answer text as sent, ASCII)."""
    return hmac.new(key, MAC_LABEL + offer_id + answer_text.encode(), hashlib.sha256).digest()


def mac_matches(key: bytes, offer_id: bytes, answer_text: str, mac: bytes) -> bool:
    """Constant-time: how much of a forged MAC was right must not show in the timing."""
    return hmac.compare_digest(answer_mac(key, offer_id, answer_text), mac)


@dataclass(frozen=True)
class AnswerRequest:
    """What the page POSTs: `{"offerId": 8 hex, "answer": "QL:…", "mac": 64 hex}`."""

    offer_id: bytes
    answer: str
    mac: bytes

    def to_json(self) -> str:
        return json.dumps(
            {"offerId": self.offer_id.hex(), "answer": self.answer, "mac": self.mac.hex()},
            separators=(",", ":"),
        )


def _invalid(message: str) -> QrlinkError:
    return QrlinkError(ErrorCode.MESSAGE_INVALID, message)


def _hex_field(doc: dict[str, object], name: str, size: int) -> bytes:
    value = doc.get(name)
    if not isinstance(value, str) or len(value) != 2 * size or not _HEX.match(value):
        raise _invalid(f"{name} must be {2 * size} lower-case hex characters")
    return bytes.fromhex(value)


def parse_request(body: bytes) -> AnswerRequest:
    """The request body, strictly: size, UTF-8 JSON object, exactly the three fields."""
    if len(body) > MAX_REQUEST_BYTES:
        raise QrlinkError(
            ErrorCode.MESSAGE_TOO_LARGE, f"an answer request has at most {MAX_REQUEST_BYTES} bytes"
        )
    try:
        doc = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise _invalid("the request body is not JSON") from None
    if not isinstance(doc, dict) or set(doc) != {"offerId", "answer", "mac"}:
        raise _invalid("the request body must be an object with offerId, answer and mac")
    answer = doc["answer"]
    if not isinstance(answer, str) or not 0 < len(answer) <= MAX_TEXT_CHARS:
        raise _invalid(f"answer must be a text of 1 to {MAX_TEXT_CHARS} characters")
    if not answer.isascii():
        raise _invalid("answer must be ASCII, as every qrlink code is")
    return AnswerRequest(
        _hex_field(doc, "offerId", OFFER_ID_BYTES), answer, _hex_field(doc, "mac", MAC_BYTES)
    )


def make_request(seed: bytes, answer_text: str) -> AnswerRequest:
    """The request the page sends for the offer made from `seed` (tests, tools)."""
    offer_id = derive_credentials(seed)[0]
    return AnswerRequest(offer_id, answer_text, answer_mac(answer_key(seed), offer_id, answer_text))
