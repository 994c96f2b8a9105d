"""The laptop's inbox for answers the page sends home (one scan).

The page server (server.py) hands every `POST /answer` here with the client's address and
the time; the inbox decides, and only a genuine answer for the offer on screen reaches the
offering session, through the `AnswerSink` the composition root (app.py, cli/peers.py)
plugs in: this package never imports rtc. Exactly one answer per offer is taken.
Everything else is refused with an HTTP status and an error code, leaves the offer as it
was, is counted, and is logged without its body:

| refusal | status | code |
|---|---|---|
| more requests from one address than its budget | 429 | RATE_LIMITED |
| body over the cap | 413 | MESSAGE_TOO_LARGE |
| not the request's JSON shape | 400 | MESSAGE_INVALID |
| no such offer here | 404 | INVALID_ARGUMENT |
| MAC does not verify (no key: not from the QR) | 403 | VERIFICATION_FAILED |
| offer expired, or replaced by a newer one | 410 | TIMEOUT |
| offer answered already (here, by the camera or pasted) | 409 | INVALID_ARGUMENT |
| the session cannot use the answer | 400 / 422 | its code |

A request is checked in that order: the budget before the body is parsed, the MAC before
anything about the offer's state is said to a client without the key.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import Enum, StrEnum

from ..core import answer_home
from ..core.bootstrap import BootstrapRecord
from ..core.errors import ErrorCode, QrlinkError
from ..core.ratelimit import Bucket, RateLimit, take

log = logging.getLogger(__name__)

# A page sends one request per scan; a customer may reload a few times.
DEFAULT_LIMIT = RateLimit(rate=2.0, burst=10)
MAX_CLIENTS = 4096  # buckets kept; idle ones are dropped first
MAX_OFFERS = 32
GRACE = 120.0  # seconds an expired or withdrawn offer is still recognised (410, not 404)


@dataclass(frozen=True)
class NetworkAnswer:
    """A genuine answer: its MAC verified under the offer's key."""

    offer_id: bytes
    text: str
    client: str


# The session's side: takes the answer (returns once it is applied) or raises QrlinkError.
AnswerSink = Callable[[NetworkAnswer], Awaitable[None]]


@dataclass(frozen=True)
class Outcome:
    """What the page server answers: 202 for the answer taken, a refusal otherwise."""

    status: int
    code: ErrorCode | None = None
    message: str = "accepted"
    retry_after: float = 0.0

    @property
    def accepted(self) -> bool:
        return self.code is None


@dataclass(frozen=True)
class Refusal:
    """One refused request, as the diagnostics count it (never the body)."""

    client: str
    status: int
    code: ErrorCode
    offer_id: str | None  # hex, when the request named one


class OfferState(StrEnum):
    WAITING = "waiting"  # on screen; no answer taken yet
    DELIVERING = "delivering"  # a genuine answer is with the session; any other is refused
    ANSWERED = "answered"  # the session took an answer (this one, the camera's or a paste)
    WITHDRAWN = "withdrawn"  # a newer offer replaced it, or the session ended


class _Input(Enum):
    DELIVER = "deliver"  # a genuine answer goes to the session
    TAKEN = "taken"  # the session applied it
    UNUSABLE = "unusable"  # the session could not use it; the offer waits on
    ELSEWHERE = "elsewhere"  # the session has another answer already
    WITHDRAW = "withdraw"


_S, _I = OfferState, _Input
TRANSITIONS: dict[tuple[OfferState, _Input], OfferState] = {
    (_S.WAITING, _I.DELIVER): _S.DELIVERING,
    (_S.WAITING, _I.WITHDRAW): _S.WITHDRAWN,
    (_S.DELIVERING, _I.TAKEN): _S.ANSWERED,
    (_S.DELIVERING, _I.UNUSABLE): _S.WAITING,
    (_S.DELIVERING, _I.ELSEWHERE): _S.ANSWERED,
    (_S.DELIVERING, _I.WITHDRAW): _S.WITHDRAWN,
    (_S.ANSWERED, _I.WITHDRAW): _S.WITHDRAWN,
    (_S.WITHDRAWN, _I.WITHDRAW): _S.WITHDRAWN,
}
# Every other pair cannot happen: requests are checked against the state before DELIVER,
# and only a delivery's own result follows it. A missing pair raises (a bug, said at once).


@dataclass
class _Offer:
    key: bytes
    expires_at: float
    state: OfferState = OfferState.WAITING

    def handle(self, event: _Input) -> None:
        try:
            new = TRANSITIONS[(self.state, event)]
        except KeyError:
            raise AssertionError(f"offer inbox: {event.value} in state {self.state}") from None
        log.debug("answer inbox %s -> %s (%s)", self.state, new, event.value)
        self.state = new


def _refused(status: int, code: ErrorCode, message: str, retry_after: float = 0.0) -> Outcome:
    return Outcome(status, code, message, retry_after)


# What the session's refusal means for the page: a code it cannot read, or none waiting.
_ENGINE_STATUS = {
    ErrorCode.BOOTSTRAP_PARSE_FAILED: 400,
    ErrorCode.INVALID_ARGUMENT: 409,
}


class AnswerInbox:
    """The offers shown on this laptop's screen and the answers the page sends for them."""

    def __init__(self, sink: AnswerSink | None = None, limit: RateLimit = DEFAULT_LIMIT) -> None:
        self.sink = sink
        self.limit = limit
        self._offers: dict[bytes, _Offer] = {}
        self._buckets: dict[str, Bucket] = {}
        self._flooding: set[str] = set()  # clients told RATE_LIMITED, logged once
        self.refused: Counter[ErrorCode] = Counter()
        self.accepted = 0
        self.listeners: list[Callable[[Refusal], None]] = []

    # -- the offers on screen -------------------------------------------------------------

    def expect(self, record: BootstrapRecord, now: float) -> bool:
        """The offer now on screen; every earlier one is withdrawn. False for an offer
        that carries no seed (the specification's form): nothing could prove an answer."""
        for offer in self._offers.values():
            offer.handle(_Input.WITHDRAW)
        self._prune(now)
        if record.seed is None or record.expires_at is None:
            return False
        self._offers[record.offer_id] = _Offer(
            answer_home.answer_key(record.seed), float(record.expires_at)
        )
        while len(self._offers) > MAX_OFFERS:
            del self._offers[next(iter(self._offers))]
        return True

    def withdraw(self) -> None:
        """No offer on screen any more (the window or the command is closing)."""
        for offer in self._offers.values():
            offer.handle(_Input.WITHDRAW)

    def state(self, offer_id: bytes) -> OfferState | None:
        offer = self._offers.get(offer_id)
        return None if offer is None else offer.state

    def _prune(self, now: float) -> None:
        for offer_id in [k for k, o in self._offers.items() if now > o.expires_at + GRACE]:
            del self._offers[offer_id]
        if len(self._buckets) > MAX_CLIENTS:
            idle = self.limit.idle_seconds
            for client in [c for c, b in self._buckets.items() if now - b.updated >= idle]:
                del self._buckets[client]
            while len(self._buckets) > MAX_CLIENTS:
                del self._buckets[next(iter(self._buckets))]

    # -- a request ------------------------------------------------------------------------

    def _admit(self, client: str, now: float) -> Outcome | None:
        bucket, decision = take(self._buckets.get(client), now, self.limit)
        self._buckets[client] = bucket
        if decision.allowed:
            self._flooding.discard(client)
            return None
        return _refused(
            429,
            ErrorCode.RATE_LIMITED,
            "Too many requests from this address; wait a moment.",
            decision.retry_after,
        )

    async def handle(self, body: bytes, client: str, now: float) -> Outcome:
        """One `POST /answer`: `body` holds at most MAX_REQUEST_BYTES + 1 bytes of it."""
        self._prune(now)
        outcome = self._admit(client, now)
        offer_id: bytes | None = None
        if outcome is None:
            try:
                request = answer_home.parse_request(body)
            except QrlinkError as exc:
                status = 413 if exc.code == ErrorCode.MESSAGE_TOO_LARGE else 400
                outcome = _refused(status, exc.code, exc.message)
            else:
                offer_id = request.offer_id
                outcome = await self._deliver(request, client, now)
        if outcome.code is None:
            self.accepted += 1
        else:
            self._count(client, outcome, offer_id)
        return outcome

    async def _deliver(
        self, request: answer_home.AnswerRequest, client: str, now: float
    ) -> Outcome:
        offer = self._offers.get(request.offer_id)
        if offer is None:
            return _refused(404, ErrorCode.INVALID_ARGUMENT, "No such code is waiting here.")
        if not answer_home.mac_matches(offer.key, request.offer_id, request.answer, request.mac):
            return _refused(
                403, ErrorCode.VERIFICATION_FAILED, "This answer does not prove it read the code."
            )
        if offer.state == OfferState.WITHDRAWN:
            return _refused(410, ErrorCode.TIMEOUT, "This code was replaced by a newer one.")
        if now >= offer.expires_at:
            return _refused(410, ErrorCode.TIMEOUT, "This code has expired.")
        if offer.state != OfferState.WAITING or self.sink is None:
            return _refused(409, ErrorCode.INVALID_ARGUMENT, "This code is answered already.")
        offer.handle(_Input.DELIVER)
        try:
            await self.sink(NetworkAnswer(request.offer_id, request.answer, client))
        except QrlinkError as exc:
            status = _ENGINE_STATUS.get(exc.code, 422)
            if offer.state == OfferState.DELIVERING:  # not withdrawn meanwhile
                offer.handle(_Input.ELSEWHERE if status == 409 else _Input.UNUSABLE)
            return _refused(status, exc.code, exc.message)
        except BaseException:
            if offer.state == OfferState.DELIVERING:
                offer.handle(_Input.UNUSABLE)
            raise
        if offer.state == OfferState.DELIVERING:
            offer.handle(_Input.TAKEN)
        log.info(
            "answer for offer %s taken from %s over the network", request.offer_id.hex(), client
        )
        return Outcome(202)

    def _count(self, client: str, outcome: Outcome, offer_id: bytes | None) -> None:
        assert outcome.code is not None
        self.refused[outcome.code] += 1
        refusal = Refusal(
            client, outcome.status, outcome.code, offer_id.hex() if offer_id else None
        )
        if outcome.code != ErrorCode.RATE_LIMITED:
            log.warning(
                "answer refused from %s: %d %s (offer %s)",
                client,
                outcome.status,
                outcome.code,
                refusal.offer_id or "-",
            )
        elif client not in self._flooding:
            self._flooding.add(client)
            log.warning("answer requests from %s are rate limited", client)
        for listener in self.listeners:
            try:
                listener(refusal)
            except Exception:  # a broken listener must not turn a refusal into a 500
                log.exception("answer refusal listener failed")
