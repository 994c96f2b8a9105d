from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from qrlink_desktop.core.clock import Clock, ManualClock
from qrlink_desktop.rendezvous.ratelimit import RateLimiter
from qrlink_desktop.rendezvous.server import SERVICE_KEY, Service, ServiceConfig, create_app
from qrlink_desktop.rendezvous.store import Store

from .helpers import RedisProcess

# Most API tests are about behaviour, not throttling: a budget no test reaches.
UNLIMITED = ServiceConfig(rate_limit=None)

Client = TestClient[web.Request, web.Application]
MakeClient = Callable[..., Awaitable[tuple[Client, Service]]]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def make_client() -> AsyncIterator[MakeClient]:
    clients: list[Client] = []

    async def make(
        store: Store | None = None,
        clock: Clock | None = None,
        config: ServiceConfig = UNLIMITED,
        limiter: RateLimiter | None = None,
    ) -> tuple[Client, Service]:
        kwargs = {} if clock is None else {"clock": clock}
        app = create_app(store, limiter, config=config, **kwargs)
        client: Client = TestClient(TestServer(app, host="127.0.0.1"))
        await client.start_server()
        clients.append(client)
        return client, app[SERVICE_KEY]

    yield make
    for client in clients:
        await client.close()


@pytest.fixture
async def api(make_client: MakeClient, clock: ManualClock) -> Client:
    client, _ = await make_client(clock=clock)
    return client


@pytest.fixture(scope="session")
def redis_session() -> Iterator[RedisProcess]:
    """One redis-server for the session; a missing binary fails the tests loudly."""
    server = RedisProcess()
    try:
        server.start()
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_session: RedisProcess) -> str:
    redis_session.flush()
    return redis_session.url
