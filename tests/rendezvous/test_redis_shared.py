"""Two service instances on one real Redis share tokens, owners, long polls and budgets."""

from __future__ import annotations

import asyncio
import time

from qrlink_desktop.rendezvous.ratelimit import RateLimit, RedisRateLimiter
from qrlink_desktop.rendezvous.redis_store import RedisStore, connect
from qrlink_desktop.rendezvous.server import ServiceConfig

from .conftest import UNLIMITED, Client, MakeClient


async def two_instances(
    make_client: MakeClient, redis_url: str, config: ServiceConfig = UNLIMITED
) -> tuple[Client, Client]:
    clients = []
    for _ in range(2):
        redis_client = connect(redis_url)
        limiter = RedisRateLimiter(redis_client, config.rate_limit) if config.rate_limit else None
        api, _ = await make_client(store=RedisStore(redis_client), limiter=limiter, config=config)
        clients.append(api)
    return clients[0], clients[1]


async def test_publish_on_one_look_up_and_manage_on_the_other(
    make_client: MakeClient, redis_url: str
) -> None:
    a, b = await two_instances(make_client, redis_url)
    published = await (
        await a.post("/publish", json={"username": "alice", "token": "offer", "ttl": 60_000})
    ).json()
    found = await b.get("/lookup", params={"username": "alice"})
    assert found.status == 200
    assert (await found.json())["token"] == "offer"
    # Ownership is shared: B refuses strangers and obeys the key A handed out.
    resp = await b.post("/publish", json={"username": "alice", "token": "evil"})
    assert resp.status == 409
    auth = {"Authorization": f"Bearer {published['ownerKey']}"}
    resp = await b.patch("/publish", json={"username": "alice", "ttl": 120_000}, headers=auth)
    assert resp.status == 200
    resp = await b.delete("/publish", params={"username": "alice"}, headers=auth)
    assert resp.status == 200
    assert (await a.get("/lookup", params={"username": "alice"})).status == 404


async def test_long_poll_on_one_is_woken_by_publish_on_the_other(
    make_client: MakeClient, redis_url: str
) -> None:
    a, b = await two_instances(make_client, redis_url)
    poll = asyncio.create_task(b.get("/lookup", params={"username": "reply-x", "wait": "10"}))
    await asyncio.sleep(0.2)
    published = time.monotonic()
    await a.post("/publish", json={"username": "reply-x", "token": "answer"})
    resp = await asyncio.wait_for(poll, 5)
    latency = time.monotonic() - published
    assert resp.status == 200
    assert (await resp.json())["token"] == "answer"
    # Woken by pub/sub (milliseconds), not by the 1 s safety re-check.
    assert latency < 0.3, latency


async def test_rate_limits_are_shared(make_client: MakeClient, redis_url: str) -> None:
    config = ServiceConfig(rate_limit=RateLimit(rate=0.5, burst=3))
    a, b = await two_instances(make_client, redis_url, config)
    statuses = []
    for api in (a, b, a, b):
        statuses.append((await api.get("/lookup", params={"username": "abc"})).status)
    assert statuses == [404, 404, 404, 429]
    assert (await a.get("/health")).status == 200


async def test_live_token_gauge_is_shared(make_client: MakeClient, redis_url: str) -> None:
    a, b = await two_instances(make_client, redis_url)
    await a.post("/publish", json={"username": "alice", "token": "t"})
    await b.post("/publish", json={"username": "bob", "token": "t"})
    for api in (a, b):
        text = await (await api.get("/metrics")).text()
        assert "qrlink_rendezvous_live_tokens 2" in text.splitlines()
