"""The payment conversation, one customer's worth, across however many pairings it takes.

    cashier (offerer)                       customer (answerer)
      payment_request  -------------------->  (the customer decides)
      (acknowledged automatically) <--------  payment_response
      payment_acknowledgment -------------->

Pure: `receive` takes a parsed envelope and returns actions (messages to send, events to
report); no I/O. It outlives a single data channel so that after a lost connection a new
pairing replays what is unanswered under the original messageIds, and the other side's
reply log turns a replay into the identical earlier reply instead of a second payment.

A decision is never forgotten while the conversation lives (core/dedup.py); what bounds
memory is the number of payment requests one conversation admits, MAX_PAYMENT_REQUESTS.
Past it a new request is refused with RATE_LIMITED, and replays of the admitted ones are
still answered.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from .dedup import ReplyLog
from .errors import ErrorCode, QrlinkError
from .events import Direction, Duplicate, Event, MessageEvent, PeerError
from .handshake import Role
from .messages import PAYMENT_TYPES, Envelope, MessageType, make, parse


class OutStatus(StrEnum):
    QUEUED = "queued"  # waiting for an open, verified channel
    SENT = "sent"  # handed to the data channel; its reply has not come
    RETRYING = "retrying"  # a send failed; the retry policy is running
    ANSWERED = "answered"  # the reply came (or no reply is expected)
    FAILED = "failed"  # retries used up; kept for replay on the next pairing


# Payment requests one conversation admits (a customer's worth; a benchmark's thousand
# round trips fit). Every one is remembered with its decision until the conversation ends.
MAX_PAYMENT_REQUESTS = 1000

# Which reply settles a message of each type.
_REPLY_TO = {
    MessageType.PAYMENT_REQUEST: MessageType.PAYMENT_RESPONSE,
    MessageType.PAYMENT_RESPONSE: MessageType.PAYMENT_ACKNOWLEDGMENT,
}


@dataclass
class OutEntry:
    """One message this side sent, as far as the conversation knows (it alone writes it)."""

    envelope: Envelope
    status: OutStatus = OutStatus.QUEUED
    attempts: int = 0


class PaymentStatus(StrEnum):
    REQUESTED = "requested"  # asked; the customer has not decided
    APPROVED = "approved"
    DECLINED = "declined"


@dataclass
class Payment:
    request: Envelope
    status: PaymentStatus = PaymentStatus.REQUESTED  # then acknowledged, or not
    response: Envelope | None = None
    acknowledgment: Envelope | None = None
    history: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "requestId": self.request.message_id,
            "amount": self.request.payload["amount"],
            "currency": self.request.payload["currency"],
            "reference": self.request.payload.get("reference"),
            "status": str(self.status),
            "acknowledged": self.acknowledgment is not None,
        }


@dataclass(frozen=True)
class SendAction:
    envelope: Envelope


@dataclass(frozen=True)
class EventAction:
    event: Event


Action = SendAction | EventAction


def _message_event(direction: Direction, env: Envelope) -> EventAction:
    return EventAction(MessageEvent(direction, env.type, env.message_id, env.payload))


class Conversation:
    def __init__(
        self,
        role: Role,
        *,
        merchant: str | None = None,
        max_requests: int = MAX_PAYMENT_REQUESTS,
    ) -> None:
        self.role = role
        self.merchant = merchant
        self.max_requests = max_requests
        self._verified = False
        self.outbox: OrderedDict[str, OutEntry] = OrderedDict()
        self.replies = ReplyLog()
        self.payments: OrderedDict[str, Payment] = OrderedDict()
        self.processed: list[str] = []  # messageIds acted upon, in order (tests count these)

    # --- what the channel reports -----------------------------------------------------------

    @property
    def verified(self) -> bool:
        """The handshake of the current pairing completed: payment messages are accepted."""
        return self._verified

    def set_verified(self) -> None:
        self._verified = True

    def mark_sent(self, message_id: str, attempts: int) -> None:
        """Handed to the data channel; its reply has not come (a settled entry stays so)."""
        self._mark(message_id, OutStatus.SENT, attempts)

    def mark_retrying(self, message_id: str, attempts: int) -> None:
        self._mark(message_id, OutStatus.RETRYING, attempts)

    def mark_failed(self, message_id: str, attempts: int) -> None:
        """Retries used up: kept for replay on the next pairing."""
        self._mark(message_id, OutStatus.FAILED, attempts)

    def _mark(self, message_id: str, status: OutStatus, attempts: int) -> None:
        entry = self.outbox.get(message_id)
        if entry is not None and entry.status != OutStatus.ANSWERED:
            entry.status = status
            entry.attempts = attempts

    def status_of(self, message_id: str) -> OutStatus | None:
        entry = self.outbox.get(message_id)
        return None if entry is None else entry.status

    def envelope(self, message_id: str) -> Envelope | None:
        """A message of this conversation, sent or received, if it is kept."""
        entry = self.outbox.get(message_id)
        if entry is not None:
            return entry.envelope
        for payment in self.payments.values():
            for env in (payment.request, payment.response, payment.acknowledgment):
                if env is not None and env.message_id == message_id:
                    return env
        return None

    # --- sending -------------------------------------------------------------------------

    def _queue(self, env: Envelope) -> SendAction:
        self.outbox[env.message_id] = OutEntry(env)
        return SendAction(env)

    def request_payment(
        self,
        amount: str,
        currency: str,
        *,
        now: float,
        reference: str | None = None,
        description: str | None = None,
    ) -> list[Action]:
        """A new request. Whether one may be asked now is the session's question
        (core/session.py: `SessionStatus.may_request_payment`), not this one's."""
        if self.role != Role.OFFERER:
            raise QrlinkError(ErrorCode.INVALID_ARGUMENT, "only the cashier requests payments")
        if len(self.payments) >= self.max_requests:
            raise QrlinkError(
                ErrorCode.RATE_LIMITED,
                f"this conversation has reached its {self.max_requests} payment requests; "
                "start with a new customer",
            )
        payload: dict[str, Any] = {"amount": amount, "currency": currency}
        for key, value in (
            ("merchant", self.merchant),
            ("reference", reference),
            ("description", description),
        ):
            if value:
                payload[key] = value
        env = make(MessageType.PAYMENT_REQUEST, payload, now=now)
        self.payments[env.message_id] = Payment(env)
        return [self._queue(env), _message_event(Direction.OUT, env)]

    def respond(
        self, request_id: str, approve: bool, *, now: float, reason: str | None = None
    ) -> list[Action]:
        """The customer's decision on a payment request."""
        payment = self.payments.get(request_id)
        if payment is None:
            raise QrlinkError(ErrorCode.INVALID_ARGUMENT, f"no payment request {request_id}")
        if payment.response is not None:
            return []  # decided already; a second tap changes nothing
        payload: dict[str, Any] = {
            "requestId": request_id,
            "status": "approved" if approve else "declined",
        }
        if reason:
            payload["reason"] = reason
        env = make(MessageType.PAYMENT_RESPONSE, payload, now=now)
        payment.response = env
        payment.status = PaymentStatus(payload["status"])
        self.replies.set_reply(request_id, env.to_json())
        return [self._queue(env), _message_event(Direction.OUT, env)]

    def unanswered(self) -> list[Envelope]:
        """What a new pairing must replay, oldest first, under the original messageIds."""
        return [e.envelope for e in self.outbox.values() if e.status != OutStatus.ANSWERED]

    def _settle(self, message_id: str) -> None:
        entry = self.outbox.get(message_id)
        if entry is not None:
            entry.status = OutStatus.ANSWERED

    # --- receiving -----------------------------------------------------------------------

    def receive(self, env: Envelope, *, now: float) -> list[Action]:
        if env.type in PAYMENT_TYPES and not self._verified:
            return [
                self._error(
                    ErrorCode.NOT_VERIFIED,
                    "payment messages are refused before verification",
                    env,
                    now,
                )
            ]
        if env.type in PAYMENT_TYPES and env.message_id in self.replies:
            reply = self.replies.reply(env.message_id)
            return self._duplicate(env, None if reply is None else parse(reply))
        handler = {
            MessageType.PAYMENT_REQUEST: self._on_request,
            MessageType.PAYMENT_RESPONSE: self._on_response,
            MessageType.PAYMENT_ACKNOWLEDGMENT: self._on_ack,
            MessageType.ERROR: self._on_error,
        }.get(env.type)
        if handler is None:
            return []  # handshake, ping and pong belong to the channel
        return handler(env, now)

    @staticmethod
    def _duplicate(env: Envelope, reply: Envelope | None) -> list[Action]:
        out: list[Action] = [EventAction(Duplicate(env.message_id, env.type))]
        if reply is not None:
            out.append(SendAction(reply))
        return out

    def _error(self, code: ErrorCode, message: str, ref: Envelope | None, now: float) -> SendAction:
        payload: dict[str, Any] = {"code": str(code), "message": message}
        if ref is not None:
            payload["refMessageId"] = ref.message_id
        return SendAction(make(MessageType.ERROR, payload, now=now))

    def _wrong_role(self, env: Envelope, now: float) -> list[Action]:
        return [
            self._error(
                ErrorCode.MESSAGE_INVALID,
                f"{env.type} is not expected by the {self.role}",
                env,
                now,
            )
        ]

    def _on_request(self, env: Envelope, now: float) -> list[Action]:
        if self.role != Role.ANSWERER:
            return self._wrong_role(env, now)
        if len(self.payments) >= self.max_requests:
            # Nothing about it is kept: memory stays bounded, and a copy is refused again.
            return [
                self._error(
                    ErrorCode.RATE_LIMITED,
                    f"this conversation has reached its {self.max_requests} payment "
                    "requests; start a new one",
                    env,
                    now,
                )
            ]
        self.replies.record(env.message_id)
        self.processed.append(env.message_id)
        self.payments[env.message_id] = Payment(env)
        return [_message_event(Direction.IN, env)]

    def _on_response(self, env: Envelope, now: float) -> list[Action]:
        request_id = env.payload["requestId"]
        payment = self.payments.get(request_id)
        if self.role != Role.OFFERER or payment is None:
            return self._wrong_role(env, now)
        if payment.acknowledgment is not None:
            # Decided already, by another response: the first decision stands and the
            # peer hears it again.
            return self._duplicate(env, payment.acknowledgment)
        self.replies.record(env.message_id)
        self.processed.append(env.message_id)
        self._settle(request_id)
        payment.response = env
        payment.status = PaymentStatus(env.payload["status"])
        ack = make(
            MessageType.PAYMENT_ACKNOWLEDGMENT,
            {"requestId": request_id, "status": env.payload["status"]},
            now=now,
        )
        payment.acknowledgment = ack
        self.replies.set_reply(env.message_id, ack.to_json())
        self.outbox[ack.message_id] = OutEntry(ack, OutStatus.ANSWERED)  # no reply expected
        return [
            _message_event(Direction.IN, env),
            SendAction(ack),
            _message_event(Direction.OUT, ack),
        ]

    def _on_ack(self, env: Envelope, now: float) -> list[Action]:
        request_id = env.payload["requestId"]
        payment = self.payments.get(request_id)
        if self.role != Role.ANSWERER or payment is None or payment.response is None:
            return self._wrong_role(env, now)
        if payment.acknowledgment is not None:
            return self._duplicate(env, None)  # the first acknowledgment stands
        self.replies.record(env.message_id)
        self.processed.append(env.message_id)
        self._settle(payment.response.message_id)
        payment.acknowledgment = env
        return [_message_event(Direction.IN, env)]

    def _on_error(self, env: Envelope, now: float) -> list[Action]:
        payload = env.payload
        return [
            EventAction(PeerError(payload["code"], payload["message"], payload.get("refMessageId")))
        ]
