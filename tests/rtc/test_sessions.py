"""Real aiortc peers in one process: payment flow, duplicates, replay, guards, timeouts."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from engine_support import FAST, Side, pair
from support.faults import FaultPlan, FaultyPath

from qrlink_desktop.core.errors import ErrorCode, InvalidStateError, QrlinkError
from qrlink_desktop.core.handshake import Role
from qrlink_desktop.core.messages import MessageType, make
from qrlink_desktop.core.session import State
from qrlink_desktop.rtc.peer import Peer

pytestmark = pytest.mark.timeout(60)


async def test_pair_verify_pay(sides: Callable[..., Side]) -> None:
    cashier, customer = sides(Role.OFFERER), sides(Role.ANSWERER)
    await pair(cashier, customer)
    assert cashier.of("sas")[0]["code"] == customer.of("sas")[0]["code"]
    assert customer.of("sas")[0]["peer"]["merchant"] == "Test Shop"
    states = [e["state"] for e in cashier.of("state")]
    assert states == ["CREATING_OFFER", "AWAITING_ANSWER", "CONNECTING", "CONNECTED"]
    assert cashier.of("state", state="CONNECTED")[0]["local"] == "host"
    rid = cashier.session.request_payment("4.20", "EUR", "R-1")
    await customer.wait_for("message", type="payment_request")
    customer.session.respond(rid, True)
    await customer.wait_for("message", type="payment_acknowledgment")
    assert cashier.session.conversation.payments[rid].status == "approved"
    timings = cashier.of("sas")[0]["timings"]
    assert {"offer_ready_ms", "channel_open_ms", "handshake_ms"} <= set(timings)


async def test_request_before_confirmation_is_refused(sides: Callable[..., Side]) -> None:
    cashier, customer = sides(Role.OFFERER), sides(Role.ANSWERER)
    offer = await cashier.session.new_customer()
    await asyncio.gather(
        cashier.session.submit_answer((await customer.session.answer(offer.text)).text),
        customer.session.connect(),
    )
    with pytest.raises(QrlinkError) as info:
        cashier.session.request_payment("1.00", "EUR")
    assert info.value.code == ErrorCode.NOT_VERIFIED


async def test_codes_rejected_tell_the_other_side_and_nothing_can_be_paid(
    sides: Callable[..., Side],
) -> None:
    cashier, customer = sides(Role.OFFERER), sides(Role.ANSWERER)
    offer = await cashier.session.new_customer()
    await asyncio.gather(
        cashier.session.submit_answer((await customer.session.answer(offer.text)).text),
        customer.session.connect(),
    )
    await cashier.session.reject_code("the customer read out another code")
    assert cashier.session.status.state == State.FAILED
    assert cashier.session.status.error is not None
    assert cashier.session.status.error.code == ErrorCode.VERIFICATION_FAILED
    told = await customer.wait_for("error", code="VERIFICATION_FAILED", timeout=30)
    assert told["message"].endswith("the customer read out another code")
    await customer.wait_for("closed", timeout=30)
    assert customer.session.status.state == State.FAILED
    with pytest.raises(QrlinkError):
        cashier.session.request_payment("1.00", "EUR")
    assert customer.session.conversation.payments == {}


async def test_duplicate_request_on_the_wire_is_processed_once(sides: Callable[..., Side]) -> None:
    cashier, customer = sides(Role.OFFERER), sides(Role.ANSWERER)
    await pair(cashier, customer)
    rid = cashier.session.request_payment("10.00", "USD")
    raw = cashier.session.conversation.outbox[rid].envelope.to_json()
    await customer.wait_for("message", type="payment_request")
    link = cashier.session.link
    assert link is not None
    link.channel.send(raw)  # the same request again, same messageId
    await customer.wait_for("duplicate")
    customer.session.respond(rid, True)
    await cashier.wait_for("message", type="payment_response")
    link.channel.send(raw)  # and once more after the answer: identical reply
    await asyncio.sleep(0.2)
    responses = [e for e in cashier.of("message", type="payment_response", direction="in")]
    dup_events = cashier.of("duplicate")
    assert len(responses) == 1 and len(dup_events) == 1  # the re-sent reply was a duplicate
    processed = customer.session.conversation.processed
    assert processed.count(rid) == 1 and len(processed) == 2  # the request and the ack
    assert len(cashier.session.conversation.processed) == 1


async def test_replay_after_new_pairing_under_original_ids(sides: Callable[..., Side]) -> None:
    cashier, customer = sides(Role.OFFERER), sides(Role.ANSWERER)
    await pair(cashier, customer)
    rid = cashier.session.request_payment("7.00", "EUR")
    await customer.wait_for("message", type="payment_request")
    # The connection is lost before the customer decides.
    await customer.session.close("lost")
    await cashier.wait_for("closed")
    assert [e.message_id for e in cashier.session.conversation.unanswered()] == [rid]
    # A fresh pairing, same conversation: the request is replayed under its messageId.
    await pair(cashier, customer, keep=True)
    await customer.wait_for("duplicate", messageId=rid)
    customer.session.respond(rid, False)
    await cashier.wait_for("message", type="payment_acknowledgment", direction="out")
    assert customer.session.conversation.processed.count(rid) == 1
    assert cashier.session.conversation.payments[rid].status == "declined"


async def test_a_handler_exception_does_not_tear_the_connection_down(
    sides: Callable[..., Side], monkeypatch: pytest.MonkeyPatch
) -> None:
    cashier, customer = sides(Role.OFFERER), sides(Role.ANSWERER)
    await pair(cashier, customer)
    conv = customer.session.conversation
    real = conv.receive
    calls = {"n": 0}

    def flaky(env, *, now):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("boom")
        return real(env, now=now)

    monkeypatch.setattr(conv, "receive", flaky)
    cashier.session.request_payment("1.00", "EUR")
    await customer.wait_for("error", code="MESSAGE_INVALID")
    rid2 = cashier.session.request_payment("2.00", "EUR")
    await customer.wait_for("message", type="payment_request", messageId=rid2)
    assert customer.session.status.state == State.CONNECTED
    assert cashier.session.status.state == State.CONNECTED


async def test_invalid_and_oversize_messages_get_error_replies(sides: Callable[..., Side]) -> None:
    cashier, customer = sides(Role.OFFERER), sides(Role.ANSWERER)
    await pair(cashier, customer)
    link = cashier.session.link
    assert link is not None
    link.channel.send(
        '{"type":"payment_request","payload":{"amount":1.5,"currency":"EUR"},'
        '"timestamp":1,"messageId":"abcdefgh"}'
    )
    link.channel.send("x" * 70_000)
    await customer.wait_for("error", code="MESSAGE_INVALID")
    await customer.wait_for("error", code="MESSAGE_TOO_LARGE")
    await cashier.wait_for("peer_error", code="MESSAGE_TOO_LARGE")
    assert customer.session.conversation.payments == {}
    assert customer.session.status.state == State.CONNECTED


async def test_a_lost_first_hello_is_sent_again_and_the_pairing_completes(
    sides: Callable[..., Side], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Chromium can drop a message sent the instant its channel opens (seen on the wire in
    CI); the answering side repeats its hello until answered, with the same commitment."""
    from qrlink_desktop.core.messages import Envelope
    from qrlink_desktop.rtc.channel import Link

    dropped: list[Envelope] = []
    sent_hellos: list[Envelope] = []
    send_now = Link.send_control

    def lossy(self: Link, env: Envelope) -> None:
        if env.type == MessageType.HANDSHAKE and env.payload["step"] == "hello":
            if not dropped:
                dropped.append(env)
                return
            sent_hellos.append(env)
        send_now(self, env)

    monkeypatch.setattr(Link, "send_control", lossy)
    cashier, customer = sides(Role.OFFERER), sides(Role.ANSWERER)
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    await pair(cashier, customer)
    took = loop.time() - t0
    assert len(dropped) == 1 and len(sent_hellos) == 1
    assert sent_hellos[0].payload == dropped[0].payload  # the same commitment
    assert sent_hellos[0].message_id != dropped[0].message_id
    assert took >= FAST.hello_resend[0]  # it could only complete on the repeat
    assert cashier.of("sas")[0]["code"] == customer.of("sas")[0]["code"]


WAITING_FOR_TEXT = {
    Role.OFFERER: "(waiting for the other side's hello)",
    Role.ANSWERER: "(waiting for an answer to this side's hello)",
}


@pytest.mark.parametrize("first", [Role.OFFERER, Role.ANSWERER])
async def test_payment_before_verification_is_refused(
    sides: Callable[..., Side], monkeypatch: pytest.MonkeyPatch, first: Role
) -> None:
    """A payment message before the handshake is refused; the handshake timeout then ends
    the attempt with TIMEOUT, saying which step never came. `first` is the side whose
    timeout runs out first: the other's is out of reach, so which one fires is decided
    here, not by the machine's load."""
    from dataclasses import replace

    from qrlink_desktop.core.handshake import Handshake

    # The customer's side never sends its hello, so verification never completes.
    monkeypatch.setattr(Handshake, "_send_hello", lambda self, _: None)
    patient = replace(FAST, handshake_timeout=120.0)
    cashier = sides(Role.OFFERER, timers=FAST if first == Role.OFFERER else patient)
    customer = sides(Role.ANSWERER, timers=FAST if first == Role.ANSWERER else patient)
    offer = await cashier.session.new_customer()
    answer = (await customer.session.answer(offer.text)).text
    tasks = [
        asyncio.ensure_future(cashier.session.submit_answer(answer)),
        asyncio.ensure_future(customer.session.connect()),
    ]
    await cashier.wait_for("state", state="CONNECTED", timeout=30)
    await customer.wait_for("state", state="CONNECTED", timeout=30)
    req = make(MessageType.PAYMENT_REQUEST, {"amount": "1.00", "currency": "EUR"}, now=1e9)
    assert cashier.session.link is not None
    cashier.session.link.channel.send(req.to_json())
    await cashier.wait_for("peer_error", code="NOT_VERIFIED", timeout=30)
    assert customer.session.conversation.payments == {}
    # And the handshake timeout ends the attempt with TIMEOUT, on both sides' tasks.
    # A failure of the pairing is said once, as an event: the coroutines return None.
    results = await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 60)
    assert results == [None, None]
    timed_out = cashier if first == Role.OFFERER else customer
    timeout = await timed_out.wait_for("error", code="TIMEOUT", timeout=30)
    assert timeout["message"].endswith(WAITING_FOR_TEXT[first])
    assert timed_out.session.status.state == State.FAILED


async def test_dead_peer_is_detected_by_the_heartbeat(sides: Callable[..., Side]) -> None:
    cashier, customer = sides(Role.OFFERER), sides(Role.ANSWERER)
    path = FaultyPath(FaultPlan(seed=5))
    await pair(cashier, customer, path=path)
    # The phone hangs: nothing of it reaches the cashier any more, and nothing arrives.
    path.blackout(3600)
    # The heartbeat's own limit, not aiortc's consent freshness (~30 s, which the bound
    # stays under), ends it; how fast is measured by benchmarks/reliability_bench.py.
    error = await cashier.wait_for("error", code="TIMEOUT", timeout=20)
    assert error["message"].endswith(f"(nothing heard for {FAST.dead_after:g} seconds)")
    await cashier.wait_for("closed")
    assert cashier.session.status.state == State.FAILED


async def test_inactivity_closes_the_session(sides: Callable[..., Side]) -> None:
    from qrlink_desktop.rtc.channel import ChannelTimers

    timers = ChannelTimers(handshake_timeout=3, ping_interval=0.2, dead_after=2, inactivity=0.8)
    cashier, customer = sides(Role.OFFERER, timers=timers), sides(Role.ANSWERER, timers=timers)
    await pair(cashier, customer)
    await cashier.wait_for("idle", timeout=4)
    await cashier.wait_for("closed")
    await customer.wait_for("closed")
    assert cashier.session.status.state == State.CLOSED


async def test_connect_timeout_when_the_answer_points_nowhere(sides: Callable[..., Side]) -> None:
    from qrlink_desktop.core import bootstrap
    from qrlink_desktop.core.bootstrap import Candidate, CandidateType

    cashier = sides(Role.OFFERER, connect_timeout=1.0)
    customer = sides(Role.ANSWERER)
    offer = await cashier.session.new_customer()
    answer = (await customer.session.answer(offer.text)).text
    record = cashier.session.decode(answer)
    dead_end = bootstrap.BootstrapRecord(
        record.kind,
        record.offer_id,
        record.ufrag,
        record.pwd,
        record.fingerprint,
        (Candidate(CandidateType.HOST, "127.0.0.1", 9),),
        setup=record.setup,
    )
    await customer.session.close()
    assert await cashier.session.submit_answer(bootstrap.answer_text(dead_end)) is None
    assert cashier.session.status.state == State.FAILED
    assert cashier.session.status.error is not None
    failures = cashier.of("error")
    assert len(failures) == 1  # said once
    assert failures[0]["code"] == str(cashier.session.status.error.code)
    assert failures[0]["code"] in (ErrorCode.TIMEOUT, ErrorCode.ICE_FAILED)


async def test_answer_for_another_offer_keeps_the_offer_waiting(sides: Callable[..., Side]) -> None:
    cashier, customer, other = sides(Role.OFFERER), sides(Role.ANSWERER), sides(Role.OFFERER)
    await cashier.session.new_customer()
    stale = await customer.session.answer((await other.session.new_customer()).text)
    with pytest.raises(QrlinkError) as info:
        await cashier.session.submit_answer(stale.text)
    assert info.value.code == ErrorCode.BOOTSTRAP_PARSE_FAILED
    assert "different offer" in info.value.message
    assert cashier.session.status.state == State.AWAITING_ANSWER
    with pytest.raises(QrlinkError):
        await cashier.session.submit_answer("QL:nonsense")
    assert cashier.session.status.state == State.AWAITING_ANSWER


async def test_flood_is_rate_limited_and_the_link_survives(sides: Callable[..., Side]) -> None:
    """1000 pings against a gate of 50 at once and 200 a second: the excess is dropped and
    reported once, and the link carries a payment afterwards. Nothing here is timed: on a
    busy machine the customer takes seconds to read the flood, so the test waits until it
    has, and the bounds are generous."""
    from dataclasses import replace

    tight = replace(FAST, max_rate=200.0, max_burst=50.0)
    cashier, customer = sides(Role.OFFERER), sides(Role.ANSWERER, timers=tight)
    await pair(cashier, customer)
    link, customer_link = cashier.session.link, customer.session.link
    assert link is not None and customer_link is not None
    received = {"n": 0}

    def counting(raw: str | bytes) -> None:  # beside the link's own handler
        received["n"] += 1

    customer_link.channel.on("message", counting)
    ping = make(MessageType.PING, {}, now=1e9).to_json()
    for _ in range(1000):
        link.channel.send(ping)
    await customer.wait_for("error", code="RATE_LIMITED", timeout=60)

    async def flood_read() -> None:
        while received["n"] < 1000:
            await asyncio.sleep(0.01)

    await asyncio.wait_for(flood_read(), 60)
    # A message the gate drops is gone (the flooding side's own loss); the payment is sent
    # once the bucket has refilled: its burst at its rate.
    await asyncio.sleep(tight.max_burst / tight.max_rate + 0.05)
    rid = cashier.session.request_payment("3.00", "EUR")
    await customer.wait_for("message", type="payment_request", messageId=rid, timeout=60)
    assert len(customer.of("error", code="RATE_LIMITED")) == 1
    assert customer.session.status.state == State.CONNECTED


@pytest.fixture
def gathered(monkeypatch: pytest.MonkeyPatch) -> list[Peer]:
    """Every peer that gathers an offer, in order."""
    peers: list[Peer] = []
    make_offer = Peer.make_offer

    async def counting(self: Peer, *args: Any, **kw: Any) -> Any:
        peers.append(self)
        return await make_offer(self, *args, **kw)

    monkeypatch.setattr(Peer, "make_offer", counting)
    return peers


async def test_prepared_offer_is_ready_without_gathering(
    sides: Callable[..., Side], gathered: list[Peer]
) -> None:
    """The offer shown to a customer was gathered before the customer came: taking it
    gathers nothing, and the next one is prepared meanwhile."""
    cashier = sides(Role.OFFERER)
    preparer = cashier.session.preparer
    assert preparer is not None

    async def spare_ready() -> Peer:
        while preparer.spare is None or not preparer.spare.done():
            await asyncio.sleep(0.005)
        return preparer.spare.result()

    cashier.session.prepare()
    for n in (1, 2):
        spare = await asyncio.wait_for(spare_ready(), 30)
        assert len(gathered) == n and gathered[-1] is spare
        await cashier.session.new_customer()
        assert cashier.session.peer is spare  # the prepared one, not a fresh gathering
        assert len(gathered) == n  # nothing was gathered while the customer waited
        assert preparer.spare is not None  # and the next spare is on its way
    first, second = cashier.of("offer")
    assert first["offerId"] != second["offerId"]


async def test_refresh_swaps_the_offer_and_keeps_the_session(sides: Callable[..., Side]) -> None:
    cashier, customer = sides(Role.OFFERER), sides(Role.ANSWERER)
    first = await cashier.session.new_customer()
    second = await cashier.session.refresh_offer()
    assert first != second
    states = [e["state"] for e in cashier.of("state")]
    assert states == ["CREATING_OFFER", "AWAITING_ANSWER", "AWAITING_ANSWER"]
    with pytest.raises(QrlinkError):  # the old offer's answer is for a different offer
        await cashier.session.submit_answer((await customer.session.answer(first.text)).text)
    await customer.session.close()
    answer = await customer.session.answer(second.text)
    await asyncio.gather(cashier.session.submit_answer(answer.text), customer.session.connect())
    with pytest.raises(InvalidStateError) as refused:
        await cashier.session.refresh_offer()  # answered: nothing to refresh
    assert refused.value.state == State.CONNECTED


async def test_the_spare_offer_is_renewed_before_it_ages(
    sides: Callable[..., Side], gathered: list[Peer]
) -> None:
    cashier = sides(Role.OFFERER, offer_lifetime=4.0, min_offer_life=1.5)
    cashier.session.prepare()
    preparer = cashier.session.preparer
    assert preparer is not None and preparer.spare is not None
    first = preparer.spare

    async def renewed() -> asyncio.Task[Peer]:  # due 4.0 - 1.5 - 1.0 = 1.5 s after gathering
        while preparer.spare is first or preparer.spare is None or not preparer.spare.done():
            await asyncio.sleep(0.01)
        return preparer.spare

    spare = await asyncio.wait_for(renewed(), 30)
    assert gathered[0] is first.result() and gathered[-1] is spare.result()
    before = len(gathered)
    await cashier.session.new_customer()
    assert cashier.session.peer is spare.result()  # the renewed spare, taken as it was
    assert len(gathered) == before  # no gathering while the customer waited
    assert cashier.session.offer is not None and cashier.session.offer.expires_at is not None


async def test_payment_outcome_is_awaited_not_polled(sides: Callable[..., Side]) -> None:
    """The cashier awaits the customer's decision; a connection that ends first gives
    None, and an unknown request is refused at once."""
    from qrlink_desktop.core.conversation import PaymentStatus

    cashier, customer = sides(Role.OFFERER), sides(Role.ANSWERER)
    await pair(cashier, customer)
    rid = cashier.session.request_payment("5.00", "EUR")
    waiting = asyncio.ensure_future(cashier.session.payment_outcome(rid))
    await customer.wait_for("message", type="payment_request")
    assert not waiting.done()
    customer.session.respond(rid, False)
    assert await asyncio.wait_for(waiting, 30) == PaymentStatus.DECLINED
    assert await cashier.session.payment_outcome(rid) == PaymentStatus.DECLINED  # settled
    second = cashier.session.request_payment("6.00", "EUR")
    waiting = asyncio.ensure_future(cashier.session.payment_outcome(second))
    await customer.wait_for("message", type="payment_request", messageId=second)
    await customer.session.close("the phone went away")
    assert await asyncio.wait_for(waiting, 30) is None
    with pytest.raises(QrlinkError) as info:
        await cashier.session.payment_outcome("no-such-request")
    assert info.value.code == ErrorCode.INVALID_ARGUMENT


async def test_misuse_is_refused_at_once_naming_the_state(sides: Callable[..., Side]) -> None:
    """A second answer, even while the first is being applied, and an answer or a
    confirmation out of turn raise InvalidStateError naming the state; no event is told
    for them and the session goes on."""
    cashier, customer = sides(Role.OFFERER), sides(Role.ANSWERER)
    with pytest.raises(InvalidStateError) as idle:
        await cashier.session.accept_answer("QL:anything")
    assert idle.value.state == State.IDLE and '"IDLE"' in idle.value.message
    offer = await cashier.session.new_customer()
    answer = (await customer.session.answer(offer.text)).text
    first = asyncio.ensure_future(cashier.session.accept_answer(answer))
    await asyncio.sleep(0)  # the first has begun
    with pytest.raises(InvalidStateError) as racing:
        await cashier.session.accept_answer(answer)
    assert "an answer being applied" in racing.value.message
    assert await first is True
    with pytest.raises(InvalidStateError) as late:
        await cashier.session.accept_answer(answer)
    assert late.value.state == State.CONNECTING
    await asyncio.gather(cashier.session.connect(), customer.session.connect())
    cashier.session.confirm()
    cashier.session.confirm()  # Enter pressed twice: nothing more happens
    assert len(cashier.of("confirmed")) == 1
    assert cashier.of("error") == [] and cashier.session.status.may_request_payment
