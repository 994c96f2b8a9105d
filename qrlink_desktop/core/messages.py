"""The message envelope `{type, payload, timestamp, messageId}` and its validation.

Schemas come from resources/protocol/messages.schema.json (shared with the page); the
custom validators below add what a schema cannot say: the currency exists and the amount
has no more decimals than the currency allows and is not zero.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

from .errors import ErrorCode, QrlinkError
from .resources import load_json
from .schema import SchemaError, validate

MAX_MESSAGE_BYTES = 16 * 1024  # enforced on receive; a payment message is a few hundred


class MessageType(StrEnum):
    HANDSHAKE = "handshake"
    PAYMENT_REQUEST = "payment_request"
    PAYMENT_RESPONSE = "payment_response"
    PAYMENT_ACKNOWLEDGMENT = "payment_acknowledgment"
    ERROR = "error"
    PING = "ping"
    PONG = "pong"


PAYMENT_TYPES = frozenset(
    {MessageType.PAYMENT_REQUEST, MessageType.PAYMENT_RESPONSE, MessageType.PAYMENT_ACKNOWLEDGMENT}
)


@dataclass(frozen=True)
class Envelope:
    type: MessageType
    payload: dict[str, Any]
    timestamp: int
    message_id: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": str(self.type),
            "payload": self.payload,
            "timestamp": self.timestamp,
            "messageId": self.message_id,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"), ensure_ascii=False)


def schema() -> dict[str, Any]:
    return load_json("protocol/messages.schema.json")


def currencies() -> dict[str, int]:
    return load_json("protocol/currencies.json")["currencies"]


def new_message_id() -> str:
    return secrets.token_urlsafe(12)  # 16 characters, 96 bits


def _invalid(message: str) -> QrlinkError:
    return QrlinkError(ErrorCode.MESSAGE_INVALID, message)


def check_amount(amount: str, currency: str) -> None:
    """The custom validator for money: a known currency, its decimals, and not zero."""
    minor = currencies().get(currency)
    if minor is None:
        raise _invalid(f"{currency} is not an ISO 4217 currency code")
    _, _, frac = amount.partition(".")
    if len(frac) > minor:
        raise _invalid(f"{currency} allows {minor} decimal places; {amount} has {len(frac)}")
    if Decimal(amount) <= 0:
        raise _invalid("the amount must be greater than zero")


def _check_request(payload: dict[str, Any]) -> None:
    check_amount(payload["amount"], payload["currency"])


CUSTOM_VALIDATORS: dict[MessageType, list[Callable[[dict[str, Any]], None]]] = {
    MessageType.PAYMENT_REQUEST: [_check_request],
}


def validate_payload(mtype: MessageType, payload: dict[str, Any]) -> None:
    root = schema()
    try:
        validate(payload, root["$defs"][str(mtype)], root, "payload")
    except SchemaError as exc:
        raise _invalid(f"{mtype} {exc}") from None
    for check in CUSTOM_VALIDATORS.get(mtype, []):
        check(payload)


def make(
    mtype: MessageType, payload: dict[str, Any], *, now: float, message_id: str | None = None
) -> Envelope:
    """A validated envelope; sending an invalid message is a programming error here."""
    validate_payload(mtype, payload)
    return Envelope(mtype, payload, int(now * 1000), message_id or new_message_id())


def parse(raw: str | bytes) -> Envelope:
    """Size cap, JSON, envelope schema, payload schema and custom validators, in that order."""
    size = len(raw.encode("utf-8") if isinstance(raw, str) else raw)
    if size > MAX_MESSAGE_BYTES:
        raise QrlinkError(
            ErrorCode.MESSAGE_TOO_LARGE,
            f"a message of {size} bytes exceeds the limit of {MAX_MESSAGE_BYTES}",
        )
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        raise _invalid("the message is not valid JSON") from None
    root = schema()
    try:
        validate(data, root["$defs"]["envelope"], root)
    except SchemaError as exc:
        raise _invalid(f"envelope {exc}") from None
    mtype = MessageType(data["type"])
    validate_payload(mtype, data["payload"])
    return Envelope(mtype, data["payload"], data["timestamp"], data["messageId"])
