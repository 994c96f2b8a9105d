"""RendezvousClient: the API round trip, 4xx mapping, and retries with a recorded sleep."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from qrlink_desktop.core.clock import ManualClock
from qrlink_desktop.core.errors import ErrorCode, QrlinkError
from qrlink_desktop.core.retry import DEFAULT_RETRY, RetryPolicy
from qrlink_desktop.rendezvous.client import (
    LookupResult,
    RendezvousClient,
    RendezvousRefused,
)
from qrlink_desktop.rendezvous.ratelimit import RateLimit
from qrlink_desktop.rendezvous.server import ServiceConfig

from .conftest import MakeClient
from .helpers import free_port


class Sleeps:
    """Stands in for asyncio.sleep: records the delays, waits for nothing."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


@pytest.fixture
async def service_url(make_client: MakeClient, clock: ManualClock) -> str:
    api, _ = await make_client(clock=clock)
    return str(api.make_url("")).rstrip("/")


@pytest.fixture
async def rv(service_url: str) -> AsyncIterator[RendezvousClient]:
    async with RendezvousClient(service_url) as client:
        yield client


async def fake_service(handler: Callable[[web.Request], web.StreamResponse]) -> TestServer:
    async def wrapped(request: web.Request) -> web.StreamResponse:
        result = handler(request)
        if asyncio.iscoroutine(result):
            return await result  # type: ignore[no-any-return]
        return result

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", wrapped)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    return server


async def test_publish_lookup_refresh_delete_health(
    rv: RendezvousClient, clock: ManualClock
) -> None:
    published = await rv.publish("alice", "offer", 60_000)
    assert published.expires_at == round(clock.now() * 1000) + 60_000
    assert published.owner_key and published.token_id
    assert await rv.lookup("alice") == LookupResult("offer", "alice", round(clock.now() * 1000))
    await rv.refresh("alice", published.owner_key, 120_000)
    replaced = await rv.publish("alice", "offer-2", 60_000, owner_key=published.owner_key)
    assert replaced.owner_key == published.owner_key
    await rv.delete("alice", published.owner_key)
    assert await rv.lookup("alice") is None
    assert await rv.health() == "ok"


async def test_long_poll_through_the_client(rv: RendezvousClient, service_url: str) -> None:
    waiting = asyncio.create_task(rv.lookup("reply-7", wait=5))
    await asyncio.sleep(0.1)
    async with RendezvousClient(service_url) as other:
        await other.publish("reply-7", "answer", 60_000)
    result = await asyncio.wait_for(waiting, 3)
    assert result is not None and result.token == "answer"
    assert await rv.lookup("reply-8", wait=0.1) is None


async def test_4xx_are_clear_errors_and_not_retried(service_url: str) -> None:
    sleeps = Sleeps()
    async with RendezvousClient(service_url, sleep=sleeps) as rv:
        key = (await rv.publish("alice", "offer", 60_000)).owner_key
        with pytest.raises(RendezvousRefused) as conflict:
            await rv.publish("alice", "evil", 60_000)
        assert (conflict.value.status, conflict.value.reason) == (409, "CONFLICT")
        assert conflict.value.code == ErrorCode.REMOTE_SERVICE_ERROR
        assert "username" in conflict.value.message
        with pytest.raises(RendezvousRefused) as bad:
            await rv.publish("alice", "offer", 5)
        assert (bad.value.status, bad.value.code) == (400, ErrorCode.INVALID_ARGUMENT)
        with pytest.raises(RendezvousRefused) as forbidden:
            await rv.delete("alice", key + "x")
        assert (forbidden.value.status, forbidden.value.reason) == (403, "FORBIDDEN")
        with pytest.raises(RendezvousRefused) as missing:
            await rv.refresh("bob", key, 60_000)
        assert (missing.value.status, missing.value.reason) == (404, "NOT_FOUND")
    assert sleeps.delays == []


async def test_429_maps_to_rate_limited_with_retry_after(
    make_client: MakeClient, clock: ManualClock
) -> None:
    api, _ = await make_client(clock=clock, config=ServiceConfig(rate_limit=RateLimit(0.5, 1)))
    async with RendezvousClient(str(api.make_url("")).rstrip("/")) as rv:
        await rv.lookup("abc")
        with pytest.raises(RendezvousRefused) as limited:
            await rv.lookup("abc")
    assert limited.value.code == ErrorCode.RATE_LIMITED
    assert limited.value.retry_after == 2.0


async def test_connection_refused_is_retried_1_2_4_then_remote_service_error() -> None:
    sleeps = Sleeps()
    async with RendezvousClient(f"http://127.0.0.1:{free_port()}", sleep=sleeps) as rv:
        with pytest.raises(QrlinkError) as error:
            await rv.lookup("alice")
    assert error.value.code == ErrorCode.REMOTE_SERVICE_ERROR
    assert sleeps.delays == DEFAULT_RETRY.delays() == [1.0, 2.0, 4.0]
    assert "4 tries" in error.value.message


async def test_5xx_is_retried_until_it_passes() -> None:
    calls: list[str] = []

    def handler(request: web.Request) -> web.StreamResponse:
        calls.append(request.method)
        if len(calls) < 3:
            return web.json_response({"error": {"code": "X", "message": "Down."}}, status=503)
        return web.json_response({"status": "ok"})

    server = await fake_service(handler)
    sleeps = Sleeps()
    try:
        async with RendezvousClient(str(server.make_url("")), sleep=sleeps) as rv:
            assert await rv.health() == "ok"
    finally:
        await server.close()
    assert len(calls) == 3 and sleeps.delays == [1.0, 2.0]


@pytest.mark.parametrize(
    "response",
    [
        lambda: web.Response(text="<html>proxy error</html>", content_type="text/html"),
        lambda: web.Response(text="[1, 2]", content_type="application/json"),
        lambda: web.Response(status=500, text="boom"),
    ],
)
async def test_bad_answers_end_as_remote_service_error(
    response: Callable[[], web.Response],
) -> None:
    server = await fake_service(lambda request: response())
    sleeps = Sleeps()
    try:
        rv = RendezvousClient(str(server.make_url("")), RetryPolicy(retries=2), sleep=sleeps)
        with pytest.raises(QrlinkError) as error:
            await rv.publish("alice", "t", 60_000)
        await rv.close()
    finally:
        await server.close()
    assert error.value.code == ErrorCode.REMOTE_SERVICE_ERROR
    assert sleeps.delays == [1.0, 2.0]


async def test_missing_field_in_a_200_is_remote_service_error() -> None:
    server = await fake_service(lambda request: web.json_response({"tokenId": "x"}))
    try:
        async with RendezvousClient(str(server.make_url(""))) as rv:
            with pytest.raises(QrlinkError) as error:
                await rv.publish("alice", "t", 60_000)
    finally:
        await server.close()
    assert error.value.code == ErrorCode.REMOTE_SERVICE_ERROR
    assert "expiresAt" in error.value.message


async def test_timeout_is_retried() -> None:
    async def slow(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(2)
        return web.json_response({"status": "ok"})

    server = await fake_service(slow)  # type: ignore[arg-type]
    sleeps = Sleeps()
    try:
        rv = RendezvousClient(
            str(server.make_url("")), RetryPolicy(retries=1), timeout=0.1, sleep=sleeps
        )
        with pytest.raises(QrlinkError) as error:
            await rv.health()
        await rv.close()
    finally:
        await server.close()
    assert error.value.code == ErrorCode.REMOTE_SERVICE_ERROR
    assert "no answer within 0.1 s" in error.value.message
    assert sleeps.delays == [1.0]


async def test_a_shared_session_is_left_open(service_url: str) -> None:
    import aiohttp

    async with aiohttp.ClientSession() as session:
        async with RendezvousClient(service_url, session=session) as rv:
            assert await rv.health() == "ok"
        assert not session.closed
