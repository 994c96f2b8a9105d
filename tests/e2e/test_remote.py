"""Remote bootstrap through a real rendezvous service: in-process engines, CLI processes,
a dishonest service that swaps tokens, an unreachable service and one killed mid-pairing."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from cli_support import LOOPBACK, CliPeer, event_line
from engine_support import Side, make_side
from rendezvous.helpers import ServiceProcess

from qrlink_desktop.core.errors import ErrorCode, QrlinkError
from qrlink_desktop.core.events import Event
from qrlink_desktop.core.handshake import Role, Verified
from qrlink_desktop.core.publication import PublicationChanged, PublicationState
from qrlink_desktop.core.retry import RetryPolicy
from qrlink_desktop.remote import Publication, lookup_and_answer
from qrlink_desktop.rendezvous.client import RendezvousClient
from qrlink_desktop.rendezvous.server import ServiceConfig, create_app, serve

pytestmark = pytest.mark.timeout(90)
QUICK = RetryPolicy(base_delay=0.05, max_delay=0.1, retries=2)


async def _start(app: web.Application) -> tuple[str, asyncio.Event, asyncio.Task[None]]:
    stop = asyncio.Event()
    ready: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    task = asyncio.ensure_future(serve(app, "127.0.0.1", 0, stop=stop, ready=ready.set_result))
    return await ready, stop, task


@pytest.fixture
async def service() -> AsyncIterator[Callable[..., Awaitable[str]]]:
    running: list[tuple[asyncio.Event, asyncio.Task[None]]] = []

    async def start(app: web.Application | None = None) -> str:
        url, stop, task = await _start(app or create_app(config=ServiceConfig(rate_limit=None)))
        running.append((stop, task))
        return url

    yield start
    for stop, task in running:
        stop.set()
        await task


def publish_and_wait(
    cashier: Side, client: RendezvousClient, handle: str
) -> Awaitable[Verified | None]:
    """The cashier's publication, its events kept with the session's (a publication's
    state changes apart: they are not session events)."""

    def told(event: Event | PublicationChanged) -> None:
        if isinstance(event, PublicationChanged):
            cashier.publication.append(event)
        else:
            cashier.record(event)

    return Publication(cashier.session, client, handle, listener=told).run()


async def _pay(cashier: Side, customer: Side, approve: bool = True) -> str:
    cashier.session.confirm()
    rid = cashier.session.request_payment("19.99", "EUR", "REMOTE-1")
    await customer.wait_for("message", type="payment_request")
    customer.session.respond(rid, approve)
    await cashier.wait_for("message", type="payment_acknowledgment")
    return str(cashier.session.conversation.payments[rid].status)


async def test_publish_lookup_pair_and_pay(service: Callable[..., Awaitable[str]]) -> None:
    url = await service()
    cashier, customer = make_side(Role.OFFERER), make_side(Role.ANSWERER)
    try:
        async with RendezvousClient(url) as c1, RendezvousClient(url) as c2:
            task = asyncio.ensure_future(publish_and_wait(cashier, c1, "corner-shop"))
            await cashier.wait_for("published")
            v_customer = await lookup_and_answer(customer.session, c2, "corner-shop")
            v_cashier = await task
            assert v_cashier is not None and v_customer is not None
            assert v_cashier.code == v_customer.code
            states = [c.state for c in cashier.publication]
            assert states == [
                PublicationState.PUBLISHED,
                PublicationState.ANSWERED,
                PublicationState.ENDED,
            ]
            assert await _pay(cashier, customer) == "approved"
            # The handle is gone once the answer is in; the reply handle was deleted too.
            assert await c2.lookup("corner-shop") is None
            assert await c2.lookup(cashier.of("published")[0]["replyTo"]) is None
    finally:
        await cashier.session.shutdown()
        await customer.session.shutdown()


class Mallory:
    """A rendezvous service that swaps the tokens: it answers the cashier's offer itself
    and hands the customer an offer of its own, so it sits in the middle of both legs."""

    def __init__(self) -> None:
        self.answerer, self.offerer = make_side(Role.ANSWERER), make_side(Role.OFFERER)
        self.url = ""
        self.legs: list[asyncio.Task[Any]] = []

    def app(self) -> web.Application:
        @web.middleware
        async def swap(request: web.Request, handler: Any) -> web.StreamResponse:
            if request.path == "/lookup" and request.query.get("username") == "corner-shop":
                real = json.loads((await handler(request)).text)
                self.legs.append(
                    asyncio.ensure_future(_answer_real(self.answerer, self.url, real["token"]))
                )
                fake = await self.offerer.session.new_customer(reply_handle=b"\x01" * 8)
                assert fake is not None
                self.legs.append(asyncio.ensure_future(_await_answer(self.offerer, self.url)))
                return web.json_response(
                    {
                        "token": fake.text,
                        "username": "corner-shop",
                        "publishedAt": real["publishedAt"],
                    }
                )
            return await handler(request)

        app = create_app(config=ServiceConfig(rate_limit=None))
        app.middlewares.append(swap)
        return app

    async def shutdown(self) -> None:
        for task in self.legs:
            task.cancel()
        await asyncio.gather(*self.legs, return_exceptions=True)
        for side in (self.answerer, self.offerer):
            await side.session.shutdown()


async def test_dishonest_service_swapping_tokens_is_exposed_by_the_codes(
    service: Callable[..., Awaitable[str]],
) -> None:
    """Both legs connect, but the two screens show different codes, so the cashier does
    not confirm and no payment message is sent or accepted."""
    mallory = Mallory()
    mallory.url = await service(mallory.app())
    cashier, customer = make_side(Role.OFFERER), make_side(Role.ANSWERER)
    try:
        async with RendezvousClient(mallory.url) as c1, RendezvousClient(mallory.url) as c2:
            task = asyncio.ensure_future(publish_and_wait(cashier, c1, "corner-shop"))
            await cashier.wait_for("published")
            v_customer = await lookup_and_answer(customer.session, c2, "corner-shop")
            v_cashier = await task
            await asyncio.gather(*mallory.legs)
        assert v_cashier is not None and v_customer is not None
        assert v_cashier.code != v_customer.code  # what the cashier and customer compare
        with pytest.raises(QrlinkError) as info:
            cashier.session.request_payment("19.99", "EUR")  # not confirmed: refused
        assert info.value.code == ErrorCode.NOT_VERIFIED
        await asyncio.sleep(0.2)
        assert customer.of("message", type="payment_request") == []
        assert customer.session.conversation.payments == {}
    finally:
        for side in (cashier, customer):
            await side.session.shutdown()
        await mallory.shutdown()


async def _answer_real(mallory: Side, url: str, token: str) -> None:
    record = mallory.session.decode(token)
    answer = await mallory.session.answer(token)
    assert record.reply_name is not None and answer is not None
    async with RendezvousClient(url) as client:
        await client.publish(record.reply_name, answer.text, 60_000)
    await mallory.session.connect()


async def _await_answer(mallory: Side, url: str) -> None:
    record = mallory.session.offer
    assert record is not None and record.reply_name is not None
    async with RendezvousClient(url) as client:
        found = None
        while found is None:
            found = await client.lookup(record.reply_name, wait=5)
    await mallory.session.submit_answer(found.token)


async def test_unreachable_service_is_remote_service_error_and_qr_still_works() -> None:
    cashier, customer = make_side(Role.OFFERER), make_side(Role.ANSWERER)
    try:
        async with RendezvousClient("http://127.0.0.1:9", retry=QUICK, timeout=1) as client:
            assert await publish_and_wait(cashier, client, "corner-shop") is None
        # The publication's failure, said once as its own error event.
        assert [e["code"] for e in cashier.of("error")] == [ErrorCode.REMOTE_SERVICE_ERROR]
        assert [c.state for c in cashier.publication] == [PublicationState.FAILED]
        offer = await cashier.session.new_customer()  # the QR flow is still there
        assert offer is not None
        answer = await customer.session.answer(offer.text)
        assert answer is not None
        await asyncio.gather(cashier.session.submit_answer(answer.text), customer.session.connect())
        assert await _pay(cashier, customer) == "approved"
    finally:
        await cashier.session.shutdown()
        await customer.session.shutdown()


async def test_unknown_handle() -> None:
    customer = make_side(Role.ANSWERER)
    app = create_app(config=ServiceConfig(rate_limit=None))
    url, stop, task = await _start(app)
    try:
        async with RendezvousClient(url) as client:
            with pytest.raises(QrlinkError) as info:
                await lookup_and_answer(customer.session, client, "nobody-here")
        assert info.value.code == ErrorCode.REMOTE_SERVICE_ERROR
    finally:
        stop.set()
        await task
        await customer.session.shutdown()


# --- through the command line ---------------------------------------------------------------

QRLINK = [sys.executable, "-m", "qrlink_desktop.cli"]


def _remote_peer(command: str, url: str, *extra: str) -> list[str]:
    """`qrlink peer publish|lookup corner-shop` on the service at `url`, over loopback."""
    return [
        *QRLINK,
        "peer",
        command,
        "corner-shop",
        "--rendezvous",
        url,
        "--json",
        "--address",
        "127.0.0.1",
        "--timeout",
        "60",
        *extra,
    ]


def _publishing(url: str, *extra: str) -> subprocess.Popen[str]:
    """`qrlink peer publish corner-shop`, returned once the offer is on the service."""
    pub = subprocess.Popen(
        _remote_peer("publish", url, *extra),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert pub.stdout is not None
    for line in pub.stdout:
        if event_line(line)["event"] == "published":
            return pub
    raise AssertionError(
        f"publish ended before publishing: {pub.stderr.read() if pub.stderr else ''}"
    )


async def _publish_and_lookup(url: str) -> tuple[CliPeer, CliPeer]:
    """`qrlink peer publish corner-shop --request 19.99 EUR` and, once the offer is on the
    service, `qrlink peer lookup corner-shop`; both up to their `sas` event."""
    common = ["corner-shop", "--rendezvous", url, "--json", *LOOPBACK, "--timeout", "60"]
    cashier = await CliPeer.start("publish", *common, "--request", "19.99", "EUR")
    try:
        await cashier.event("published")
        customer = await CliPeer.start("lookup", *common)
        await asyncio.gather(cashier.event("sas"), customer.event("sas"))
    except BaseException:
        await cashier.kill()
        raise
    return cashier, customer


def _payment_requests(peer: CliPeer) -> list[dict[str, Any]]:
    return peer.of("message", type="payment_request")


async def test_cli_cashier_types_the_customers_code_and_the_swap_is_refused(
    service: Callable[..., Awaitable[str]],
) -> None:
    """The token-swapping service, with both sides as `qrlink peer` processes: the cashier
    types in the code the customer's process shows; the codes differ, so the cashier's
    process refuses (exit 3) and no payment request leaves it or reaches the customer."""
    mallory = Mallory()
    mallory.url = await service(mallory.app())
    cashier, customer = await _publish_and_lookup(mallory.url)
    try:
        told = customer.of("sas")[0]["code"]
        assert told != cashier.of("sas")[0]["code"]
        await cashier.write_line(f"{told[:3]} {told[3:]}")  # as a person types it
        assert await cashier.finish() == 3
        error = cashier.of("error")[-1]
        assert error["code"] == "VERIFICATION_FAILED"
        assert "VERIFICATION_FAILED" in await cashier.stderr()
        assert "Traceback" not in await cashier.stderr()
        assert cashier.of("confirmed") == [] and _payment_requests(cashier) == []
        # The leg the cashier was really connected to (Mallory's) was told and got nothing.
        await mallory.answerer.wait_for("error", code="VERIFICATION_FAILED", timeout=30)
        assert mallory.answerer.session.conversation.payments == {}
        await asyncio.gather(*mallory.legs)
        await mallory.shutdown()  # Mallory hangs up on the customer, who got nothing
        await customer.finish()
        assert _payment_requests(customer) == []
    finally:
        for peer in (cashier, customer):
            await peer.kill()
        await mallory.shutdown()


async def test_cli_honest_service_the_customers_code_completes_the_payment(
    service: Callable[..., Awaitable[str]],
) -> None:
    cashier, customer = await _publish_and_lookup(await service())
    try:
        told = customer.of("sas")[0]["code"]
        assert told == cashier.of("sas")[0]["code"]
        await cashier.write_line(str(int(told)))  # read out as a number: leading zeros go
        assert await cashier.finish() == 0, await cashier.stderr()
        assert await customer.finish() == 0, await customer.stderr()
        assert len(cashier.of("confirmed")) == 1
        assert [e["payload"]["amount"] for e in _payment_requests(customer)] == ["19.99"]
        ack = customer.of("message", type="payment_acknowledgment")
        assert [e["payload"]["status"] for e in ack] == ["approved"]
    finally:
        for peer in (cashier, customer):
            await peer.kill()


@pytest.mark.parametrize("typed", ["wrong", "eof"])
async def test_cli_a_wrong_code_or_no_code_refuses_and_tells_the_customer(
    service: Callable[..., Awaitable[str]], typed: str
) -> None:
    """The cashier types another code, or standard input ends before a code: refused the
    same way, never confirmed; the customer's process is told and ends the same way."""
    cashier, customer = await _publish_and_lookup(await service())
    try:
        code = cashier.of("sas")[0]["code"]
        if typed == "wrong":
            await cashier.write_line(f"{(int(code) + 1) % 1_000_000:06d}")
        else:
            cashier.close_stdin()
        assert await cashier.finish() == 3, cashier.events
        assert await customer.finish() == 3, (customer.events, await customer.stderr())
        for peer in (cashier, customer):
            assert peer.of("error")[-1]["code"] == "VERIFICATION_FAILED"
            assert _payment_requests(peer) == []
            assert "Traceback" not in await peer.stderr()
        assert cashier.of("confirmed") == []
    finally:
        for peer in (cashier, customer):
            await peer.kill()


def test_cli_service_killed_mid_pairing() -> None:
    svc = ServiceProcess()
    pub = _publishing(svc.start())
    svc.kill9()
    out, err = pub.communicate(timeout=60)
    assert pub.returncode == 1 and "Traceback" not in err
    assert any(event_line(x).get("code") == "REMOTE_SERVICE_ERROR" for x in out.splitlines())
    assert "REMOTE_SERVICE_ERROR" in err


# --- relay credentials through the command line: only for those who hold a capability ------


@pytest.fixture(scope="module")
def relay_service() -> Iterator[str]:
    """A real coturn with TURN REST, and the service (its own process) holding its secret
    and the merchant's API token."""
    from turn_support import SECRET, Coturn

    turn = Coturn(rest=True, relay_ports=(49900, 49999)).start()
    service = ServiceProcess(
        "--turn-url",
        turn.url(),
        env={"QRLINK_TURN_SECRET": SECRET, "QRLINK_API_TOKEN": API_TOKEN},
    )
    try:
        yield service.start()
    finally:
        service.stop()
        turn.stop()


API_TOKEN = "merchant-api-token"


def _env(token: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "QRLINK_API_TOKEN"}
    return env if token is None else {**env, "QRLINK_API_TOKEN": token}


async def _metrics(url: str) -> str:
    async with aiohttp.ClientSession() as session, session.get(f"{url}/metrics") as resp:
        return await resp.text()


async def test_cli_relay_only_remote_pairing_with_capabilities(relay_service: str) -> None:
    """The cashier shows the merchant's API token, the customer the handle it looked up;
    both get credentials, pair relay-only through coturn, and pay."""
    url = relay_service
    common = ["corner-shop", "--rendezvous", url, "--json", *LOOPBACK, "--timeout", "60"]
    relay = ["--turn-from", url, "--relay-only", "--allow-loopback"]
    cashier = await CliPeer.start(
        "publish", *common, *relay, "--request", "3.30", "EUR", env=_env(API_TOKEN)
    )
    customer: CliPeer | None = None
    try:
        await cashier.event("published")
        customer = await CliPeer.start("lookup", *common, *relay, env=_env(None))
        told = (await customer.event("sas"))["code"]
        await cashier.event("sas")
        await cashier.write_line(told)
        assert await cashier.finish() == 0, await cashier.stderr()
        assert await customer.finish() == 0, await customer.stderr()
        for peer, kind in ((cashier, "offer"), (customer, "answer")):
            assert peer.of(kind)[0]["candidates"] == ["relay"]
            assert peer.of("state", state="CONNECTED")[0]["path"] == "relay"
        acks = customer.of("message", type="payment_acknowledgment")
        assert [e["payload"]["status"] for e in acks] == ["approved"]
        text = await _metrics(url)
        assert 'qrlink_rendezvous_turn_credentials_total{capability="api_token"} 1' in text
        assert 'qrlink_rendezvous_turn_credentials_total{capability="handle"} 1' in text
    finally:
        await cashier.kill()
        if customer is not None:
            await customer.kill()


async def test_cli_without_a_capability_gets_no_credential(relay_service: str) -> None:
    """No token, a wrong token, a handle nobody published: refused, said in a sentence,
    and the service hands out nothing."""
    url = relay_service
    before = await _metrics(url)
    relay = ["--turn-from", url, "--relay-only", "--allow-loopback", "--json", *LOOPBACK]
    for args, env, says in (
        (["offer", *relay], _env(None), "need a capability"),
        (["offer", *relay], _env("guessed-token"), "not one this service accepts"),
        (
            ["lookup", "nobody-here", "--rendezvous", url, *relay],
            _env(None),
            "Nothing is published under this handle",
        ),
    ):
        peer = await CliPeer.start(*args, env=env)
        try:
            assert await peer.finish() == 1
            stderr = await peer.stderr()
            assert "REMOTE_SERVICE_ERROR" in stderr and says in stderr, stderr
            assert "Traceback" not in stderr
            assert peer.of("offer") == peer.of("answer") == []
        finally:
            await peer.kill()
    after = await _metrics(url)

    def issued(text: str) -> list[str]:
        return [ln for ln in text.splitlines() if ln.startswith("qrlink_rendezvous_turn_cred")]

    assert issued(after) == issued(before)  # not one credential more
    assert 'qrlink_rendezvous_turn_refused_total{reason="anonymous"}' in after
    assert 'qrlink_rendezvous_turn_refused_total{reason="forbidden"} 2' in after
