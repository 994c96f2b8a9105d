"""Remote bootstrap through a real rendezvous service: in-process engines, CLI processes,
a dishonest service that swaps tokens, an unreachable service and one killed mid-pairing."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from engine_support import Side, make_side
from rendezvous.helpers import ServiceProcess

from qrlink_desktop.core.errors import ErrorCode, QrlinkError
from qrlink_desktop.core.handshake import Role
from qrlink_desktop.core.retry import RetryPolicy
from qrlink_desktop.remote import lookup_and_answer, publish_and_wait
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


async def _pay(cashier: Side, customer: Side, approve: bool = True) -> str:
    cashier.engine.confirm()
    rid = cashier.engine.request_payment("19.99", "EUR", "REMOTE-1")
    await customer.wait_for("message", type="payment_request")
    customer.engine.respond(rid, approve)
    await cashier.wait_for("message", type="payment_acknowledgment")
    return cashier.engine.conversation.payments[rid].status


async def test_publish_lookup_pair_and_pay(service: Callable[..., Awaitable[str]]) -> None:
    url = await service()
    cashier, customer = make_side(Role.OFFERER), make_side(Role.ANSWERER)
    try:
        async with RendezvousClient(url) as c1, RendezvousClient(url) as c2:
            task = asyncio.ensure_future(publish_and_wait(cashier.engine, c1, "corner-shop"))
            await cashier.wait_for("published")
            v_customer = await lookup_and_answer(customer.engine, c2, "corner-shop")
            v_cashier = await task
            assert v_cashier.code == v_customer.code
            assert await _pay(cashier, customer) == "approved"
            # The handle is gone once the answer is in; the reply handle was deleted too.
            assert await c2.lookup("corner-shop") is None
            assert await c2.lookup(cashier.of("published")[0]["replyTo"]) is None
    finally:
        await cashier.engine.shutdown()
        await customer.engine.shutdown()


async def test_dishonest_service_swapping_tokens_is_exposed_by_the_codes(
    service: Callable[..., Awaitable[str]],
) -> None:
    """The service answers the cashier's offer itself and hands the customer its own
    offer: both legs connect, but the two screens show different codes, so the cashier
    does not confirm and no payment message is sent or accepted."""
    mallory_answerer, mallory_offerer = make_side(Role.ANSWERER), make_side(Role.OFFERER)
    urls: list[str] = []
    legs: list[asyncio.Task[Any]] = []

    @web.middleware
    async def swap(request: web.Request, handler: Any) -> web.StreamResponse:
        if request.path == "/lookup" and request.query.get("username") == "corner-shop":
            real = json.loads((await handler(request)).text)
            async with RendezvousClient(urls[0]) as own:
                legs.append(
                    asyncio.ensure_future(_answer_real(mallory_answerer, own, real["token"]))
                )
                fake = await mallory_offerer.engine.new_customer(reply_handle=b"\x01" * 8)
            legs.append(asyncio.ensure_future(_await_answer(mallory_offerer, urls[0])))
            return web.json_response(
                {"token": fake, "username": "corner-shop", "publishedAt": real["publishedAt"]}
            )
        return await handler(request)

    app = create_app(config=ServiceConfig(rate_limit=None))
    app.middlewares.append(swap)
    urls.append(await service(app))
    cashier, customer = make_side(Role.OFFERER), make_side(Role.ANSWERER)
    try:
        async with RendezvousClient(urls[0]) as c1, RendezvousClient(urls[0]) as c2:
            task = asyncio.ensure_future(publish_and_wait(cashier.engine, c1, "corner-shop"))
            await cashier.wait_for("published")
            v_customer = await lookup_and_answer(customer.engine, c2, "corner-shop")
            v_cashier = await task
            await asyncio.gather(*legs)
        assert v_cashier.code != v_customer.code  # what the cashier and customer compare
        with pytest.raises(QrlinkError) as info:
            cashier.engine.request_payment("19.99", "EUR")  # not confirmed: refused
        assert info.value.code == ErrorCode.NOT_VERIFIED
        await asyncio.sleep(0.2)
        assert customer.of("message", type="payment_request") == []
        assert customer.engine.conversation.payments == {}
    finally:
        for side in (cashier, customer, mallory_answerer, mallory_offerer):
            await side.engine.shutdown()


async def _answer_real(mallory: Side, client: RendezvousClient, token: str) -> None:
    record = mallory.engine.decode(token)
    text = await mallory.engine.answer(token)
    assert record.reply_name is not None
    await client.publish(record.reply_name, text, 60_000)
    await mallory.engine.connect()


async def _await_answer(mallory: Side, url: str) -> None:
    record = mallory.engine.offer
    assert record is not None and record.reply_name is not None
    async with RendezvousClient(url) as client:
        found = None
        while found is None:
            found = await client.lookup(record.reply_name, wait=5)
    await mallory.engine.submit_answer(found.token)


async def test_unreachable_service_is_remote_service_error_and_qr_still_works() -> None:
    cashier, customer = make_side(Role.OFFERER), make_side(Role.ANSWERER)
    try:
        async with RendezvousClient("http://127.0.0.1:9", retry=QUICK, timeout=1) as client:
            with pytest.raises(QrlinkError) as info:
                await publish_and_wait(cashier.engine, client, "corner-shop")
        assert info.value.code == ErrorCode.REMOTE_SERVICE_ERROR
        offer = await cashier.engine.new_customer()  # the QR flow is still there
        answer = await customer.engine.answer(offer)
        await asyncio.gather(cashier.engine.submit_answer(answer), customer.engine.connect())
        assert await _pay(cashier, customer) == "approved"
    finally:
        await cashier.engine.shutdown()
        await customer.engine.shutdown()


async def test_unknown_handle() -> None:
    customer = make_side(Role.ANSWERER)
    app = create_app(config=ServiceConfig(rate_limit=None))
    url, stop, task = await _start(app)
    try:
        async with RendezvousClient(url) as client:
            with pytest.raises(QrlinkError) as info:
                await lookup_and_answer(customer.engine, client, "nobody-here")
        assert info.value.code == ErrorCode.REMOTE_SERVICE_ERROR
    finally:
        stop.set()
        await task
        await customer.engine.shutdown()


# --- through the command line, with the service as its own process -----------------------

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
        if json.loads(line)["event"] == "published":
            return pub
    raise AssertionError(
        f"publish ended before publishing: {pub.stderr.read() if pub.stderr else ''}"
    )


def test_cli_publish_and_lookup() -> None:
    svc = ServiceProcess()
    url = svc.start()
    try:
        pub = _publishing(url, "--request", "5.00", "EUR")
        look = subprocess.run(
            _remote_peer("lookup", url),
            capture_output=True,
            text=True,
            timeout=60,
        )
        out, _ = pub.communicate(timeout=60)
        assert (pub.returncode, look.returncode) == (0, 0), look.stderr
        codes = {
            json.loads(x)["code"]
            for x in [*out.splitlines(), *look.stdout.splitlines()]
            if json.loads(x)["event"] == "sas"
        }
        assert len(codes) == 1
    finally:
        svc.stop()


def test_cli_service_killed_mid_pairing() -> None:
    svc = ServiceProcess()
    pub = _publishing(svc.start())
    svc.kill9()
    out, err = pub.communicate(timeout=60)
    assert pub.returncode == 1 and "Traceback" not in err
    assert any(json.loads(x).get("code") == "REMOTE_SERVICE_ERROR" for x in out.splitlines())
    assert "REMOTE_SERVICE_ERROR" in err
