"""The answer inbox without HTTP: every refusal with its status and code, the offer left
as it was, one answer taken per offer, the race with the camera, the transition table."""

from __future__ import annotations

import asyncio
import logging

import pytest

from qrlink_desktop.core import answer_home, bootstrap
from qrlink_desktop.core.answer_home import MAX_REQUEST_BYTES
from qrlink_desktop.core.bootstrap import BootstrapRecord, Candidate, CandidateType, Kind
from qrlink_desktop.core.errors import ErrorCode, QrlinkError
from qrlink_desktop.core.ratelimit import RateLimit
from qrlink_desktop.pages import answers
from qrlink_desktop.pages.answers import (
    TRANSITIONS,
    AnswerInbox,
    NetworkAnswer,
    OfferState,
    Refusal,
)

NOW = 1_800_000_000.0
PHONE, OTHER = "10.99.0.2", "10.99.0.3"


def _offer(seed: bytes, lifetime: float = 300) -> BootstrapRecord:
    fp = bytes(range(32))
    cand = (Candidate(CandidateType.HOST, "10.99.0.1", 50000),)
    return bootstrap.new_offer(fp, cand, int(NOW + lifetime), seed=seed)


def _answer(offer: BootstrapRecord) -> str:
    record = BootstrapRecord(
        Kind.ANSWER, offer.offer_id, "abcd", "a" * 22, bytes(32), (), setup="active"
    )
    return bootstrap.answer_text(record)


def _body(offer: BootstrapRecord, answer: str | None = None) -> bytes:
    assert offer.seed is not None
    return answer_home.make_request(offer.seed, answer or _answer(offer)).to_json().encode()


class Till:
    """What the composition root plugs in: records answers, takes the first."""

    def __init__(self) -> None:
        self.taken: list[NetworkAnswer] = []
        self.other_source = False  # the camera answered first
        self.refuse_with: ErrorCode | None = None
        self.gate: asyncio.Event | None = None

    async def __call__(self, answer: NetworkAnswer) -> None:
        if self.gate is not None:
            await self.gate.wait()
        if self.refuse_with is not None:
            raise QrlinkError(self.refuse_with, "the engine says no")
        if self.other_source or self.taken:
            raise QrlinkError(ErrorCode.INVALID_ARGUMENT, "no offer is waiting for an answer")
        self.taken.append(answer)


@pytest.fixture
def engine() -> Till:
    return Till()


@pytest.fixture
def inbox(engine: Till) -> AnswerInbox:
    return AnswerInbox(engine)


async def test_a_genuine_answer_is_taken_once(inbox: AnswerInbox, engine: Till) -> None:
    offer = _offer(bytes(16))
    assert inbox.expect(offer, NOW)
    body = _body(offer)
    out = await inbox.handle(body, PHONE, NOW + 1)
    assert (out.status, out.code, out.accepted) == (202, None, True)
    assert engine.taken == [NetworkAnswer(offer.offer_id, _answer(offer), PHONE)]
    assert inbox.state(offer.offer_id) == OfferState.ANSWERED
    # The same request again (replayed by whoever saw it on the wire): refused.
    again = await inbox.handle(body, OTHER, NOW + 2)
    assert (again.status, again.code) == (409, ErrorCode.INVALID_ARGUMENT)
    assert len(engine.taken) == 1
    assert inbox.accepted == 1 and inbox.refused == {ErrorCode.INVALID_ARGUMENT: 1}


async def test_a_forged_mac_is_refused_and_the_offer_still_waits(
    inbox: AnswerInbox, engine: Till
) -> None:
    offer = _offer(bytes(16))
    inbox.expect(offer, NOW)
    refusals: list[Refusal] = []
    inbox.listeners.append(refusals.append)
    # Right offer id, a MAC under a key made up without the QR.
    forged = answer_home.AnswerRequest(offer.offer_id, _answer(offer), bytes(32)).to_json()
    out = await inbox.handle(forged.encode(), OTHER, NOW + 1)
    assert (out.status, out.code) == (403, ErrorCode.VERIFICATION_FAILED)
    wrong_key = answer_home.answer_key(bytes(range(1, 17)))  # another offer's key
    mac = answer_home.answer_mac(wrong_key, offer.offer_id, _answer(offer))
    other = answer_home.AnswerRequest(offer.offer_id, _answer(offer), mac).to_json()
    out = await inbox.handle(other.encode(), OTHER, NOW + 1)
    assert out.code == ErrorCode.VERIFICATION_FAILED
    assert engine.taken == [] and inbox.state(offer.offer_id) == OfferState.WAITING
    assert (
        refusals == [Refusal(OTHER, 403, ErrorCode.VERIFICATION_FAILED, offer.offer_id.hex())] * 2
    )
    assert (await inbox.handle(_body(offer), PHONE, NOW + 2)).accepted


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b"x" * (MAX_REQUEST_BYTES + 1), 413, ErrorCode.MESSAGE_TOO_LARGE),
        (b"{not json", 400, ErrorCode.MESSAGE_INVALID),
        (b'{"offerId":"00000000"}', 400, ErrorCode.MESSAGE_INVALID),
    ],
)
async def test_malformed_and_oversize_bodies(
    inbox: AnswerInbox, engine: Till, body: bytes, status: int, code: ErrorCode
) -> None:
    offer = _offer(bytes(16))
    inbox.expect(offer, NOW)
    out = await inbox.handle(body, PHONE, NOW)
    assert (out.status, out.code) == (status, code)
    assert inbox.state(offer.offer_id) == OfferState.WAITING and engine.taken == []


async def test_unknown_expired_and_replaced_offers(inbox: AnswerInbox, engine: Till) -> None:
    old, new = _offer(bytes(16), lifetime=60), _offer(bytes(range(1, 17)))
    unknown = _offer(bytes(range(2, 18)))
    inbox.expect(old, NOW)
    out = await inbox.handle(_body(unknown), PHONE, NOW)
    assert (out.status, out.code) == (404, ErrorCode.INVALID_ARGUMENT)
    out = await inbox.handle(_body(old), PHONE, NOW + 60)  # the second it expires
    assert (out.status, out.code, out.message) == (410, ErrorCode.TIMEOUT, "This code has expired.")
    inbox.expect(new, NOW + 1)
    out = await inbox.handle(_body(old), PHONE, NOW + 2)
    assert (out.status, out.code) == (410, ErrorCode.TIMEOUT)
    assert "replaced" in out.message
    # Long after: forgotten altogether.
    inbox.expect(new, NOW + 60 + answers.GRACE + 1)
    assert inbox.state(old.offer_id) is None
    assert engine.taken == []


async def test_an_offer_without_a_seed_cannot_be_answered_home(inbox: AnswerInbox) -> None:
    offer = _offer(bytes(16))
    compat = BootstrapRecord(
        Kind.OFFER, offer.offer_id, offer.ufrag, offer.pwd, offer.fingerprint,
        offer.candidates, expires_at=offer.expires_at,
    )  # fmt: skip
    assert not inbox.expect(compat, NOW)
    out = await inbox.handle(_body(offer), PHONE, NOW)
    assert out.status == 404


async def test_a_flood_is_rate_limited_per_address(inbox: AnswerInbox, engine: Till) -> None:
    offer = _offer(bytes(16))
    inbox.expect(offer, NOW)
    forged = answer_home.AnswerRequest(offer.offer_id, "QL:0", bytes(32)).to_json().encode()
    outcomes = [await inbox.handle(forged, OTHER, NOW) for _ in range(1000)]
    burst = answers.DEFAULT_LIMIT.burst
    assert [o.status for o in outcomes[:burst]] == [403] * burst
    assert {o.status for o in outcomes[burst:]} == {429}
    assert all(o.code == ErrorCode.RATE_LIMITED and o.retry_after > 0 for o in outcomes[burst:])
    assert inbox.refused == {
        ErrorCode.VERIFICATION_FAILED: burst,
        ErrorCode.RATE_LIMITED: 1000 - burst,
    }
    # Another address has its own budget: the phone's genuine answer is taken.
    assert (await inbox.handle(_body(offer), PHONE, NOW)).accepted
    # The flooder's budget comes back with time; without the key it learns nothing more
    # about the offer than before (the MAC is checked before the offer's state).
    out = await inbox.handle(forged, OTHER, NOW + 1)
    assert (out.status, out.code) == (403, ErrorCode.VERIFICATION_FAILED)


async def test_the_budget_refills(engine: Till) -> None:
    inbox = AnswerInbox(engine, RateLimit(rate=1.0, burst=2))
    inbox.expect(_offer(bytes(16)), NOW)
    statuses = [(await inbox.handle(b"{}", OTHER, NOW)).status for _ in range(3)]
    assert statuses == [400, 400, 429]
    assert (await inbox.handle(b"{}", OTHER, NOW + 1)).status == 400


async def test_refusals_are_logged_without_the_body(
    inbox: AnswerInbox, caplog: pytest.LogCaptureFixture
) -> None:
    offer = _offer(bytes(16))
    inbox.expect(offer, NOW)
    forged = answer_home.AnswerRequest(offer.offer_id, "QL:SECRETBODY", bytes(32)).to_json()
    with caplog.at_level(logging.DEBUG, logger="qrlink_desktop.pages.answers"):
        for _ in range(50):
            await inbox.handle(forged.encode(), OTHER, NOW)
        await inbox.handle(_body(offer), PHONE, NOW)
    text = caplog.text
    assert "SECRETBODY" not in text and _answer(offer) not in text
    assert "answer refused from 10.99.0.3: 403 VERIFICATION_FAILED" in text
    assert text.count("rate limited") == 1  # a flood is said once, not 40 times


async def test_the_camera_answered_first(inbox: AnswerInbox, engine: Till) -> None:
    """The race: the engine has another answer; the network's is refused, said, counted."""
    offer = _offer(bytes(16))
    inbox.expect(offer, NOW)
    engine.other_source = True
    out = await inbox.handle(_body(offer), PHONE, NOW)
    assert (out.status, out.code) == (409, ErrorCode.INVALID_ARGUMENT)
    assert inbox.state(offer.offer_id) == OfferState.ANSWERED


async def test_an_answer_the_engine_cannot_use_leaves_the_offer_waiting(
    inbox: AnswerInbox, engine: Till
) -> None:
    offer = _offer(bytes(16))
    inbox.expect(offer, NOW)
    engine.refuse_with = ErrorCode.BOOTSTRAP_PARSE_FAILED
    out = await inbox.handle(_body(offer, answer="QL:0"), PHONE, NOW)
    assert (out.status, out.code) == (400, ErrorCode.BOOTSTRAP_PARSE_FAILED)
    assert inbox.state(offer.offer_id) == OfferState.WAITING
    engine.refuse_with = None
    assert (await inbox.handle(_body(offer), PHONE, NOW)).accepted


async def _held_by_the_engine(
    inbox: AnswerInbox, engine: Till, offer: BootstrapRecord
) -> asyncio.Future[answers.Outcome]:
    """A genuine answer the engine is still applying (until `engine.gate` is set)."""
    inbox.expect(offer, NOW)
    engine.gate = asyncio.Event()
    first = asyncio.ensure_future(inbox.handle(_body(offer), PHONE, NOW))
    await asyncio.sleep(0)
    assert inbox.state(offer.offer_id) == OfferState.DELIVERING
    return first


async def test_two_genuine_requests_at_once_one_is_taken(inbox: AnswerInbox, engine: Till) -> None:
    offer = _offer(bytes(16))
    first = await _held_by_the_engine(inbox, engine, offer)
    assert engine.gate is not None
    second = await inbox.handle(_body(offer), PHONE, NOW)
    assert (second.status, second.code) == (409, ErrorCode.INVALID_ARGUMENT)
    engine.gate.set()
    assert (await first).accepted and len(engine.taken) == 1


async def test_withdrawn_while_delivering_stays_withdrawn(inbox: AnswerInbox, engine: Till) -> None:
    offer = _offer(bytes(16))
    first = await _held_by_the_engine(inbox, engine, offer)
    assert engine.gate is not None
    inbox.withdraw()
    engine.gate.set()
    await first
    assert inbox.state(offer.offer_id) == OfferState.WITHDRAWN


def test_transition_table_is_complete_for_what_can_happen() -> None:
    # Every state can be withdrawn; only a delivery has results; nothing leaves WITHDRAWN.
    inputs = {i for (_, i) in TRANSITIONS}
    withdraw = next(i for i in inputs if i.value == "withdraw")
    assert {s for (s, i) in TRANSITIONS if i == withdraw} == set(OfferState)
    results = {i for i in inputs if i.value in ("taken", "unusable", "elsewhere")}
    assert {s for (s, i) in TRANSITIONS if i in results} == {OfferState.DELIVERING}
    assert {TRANSITIONS[(s, i)] for (s, i) in TRANSITIONS if s == OfferState.WITHDRAWN} == {
        OfferState.WITHDRAWN
    }
