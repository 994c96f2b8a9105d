"""Token buckets: the arithmetic with `now` passed in, then 429 through the API."""

from __future__ import annotations

import asyncio

import pytest

from qrlink_desktop.core.clock import ManualClock
from qrlink_desktop.rendezvous.ratelimit import (
    Bucket,
    Decision,
    MemoryRateLimiter,
    RateLimit,
    RedisRateLimiter,
    take,
)
from qrlink_desktop.rendezvous.redis_store import connect
from qrlink_desktop.rendezvous.server import ServiceConfig

from .conftest import MakeClient

LIMIT = RateLimit(rate=2.0, burst=3)


def test_burst_then_refuse_with_time_until_next_token() -> None:
    bucket: Bucket | None = None
    decisions = []
    for _ in range(4):
        bucket, decision = take(bucket, 100.0, LIMIT)
        decisions.append(decision)
    assert decisions == [Decision(True)] * 3 + [Decision(False, 0.5)]
    assert decisions[-1].retry_after_header == "1"


def test_refill_is_proportional_and_capped_at_burst() -> None:
    bucket, _ = take(None, 0.0, LIMIT)
    bucket, _ = take(bucket, 0.0, LIMIT)
    bucket, _ = take(bucket, 0.0, LIMIT)
    assert bucket.tokens == 0.0
    bucket, decision = take(bucket, 0.25, LIMIT)  # half a token back: not enough
    assert not decision.allowed and decision.retry_after == pytest.approx(0.25)
    bucket, decision = take(bucket, 0.5, LIMIT)
    assert decision.allowed
    bucket, _ = take(bucket, 1000.0, LIMIT)
    assert bucket.tokens == LIMIT.burst - 1


def test_clock_going_back_refills_nothing() -> None:
    bucket = Bucket(0.0, 50.0)
    bucket, decision = take(bucket, 10.0, LIMIT)
    assert not decision.allowed and bucket.updated == 50.0


def test_rate_limit_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        RateLimit(0, 1)
    with pytest.raises(ValueError):
        RateLimit(1, 0)


async def test_memory_limiter_keys_clients_apart_and_prunes_idle_buckets() -> None:
    limiter = MemoryRateLimiter(LIMIT)
    assert [(await limiter.check("a", 0.0)).allowed for _ in range(4)] == [True] * 3 + [False]
    assert (await limiter.check("b", 0.0)).allowed
    assert limiter.prune(1.0) == 0
    assert limiter.prune(LIMIT.idle_seconds) == 2
    assert len(limiter) == 0


async def test_redis_limiter_matches_the_memory_arithmetic(redis_url: str) -> None:
    client = connect(redis_url)
    try:
        limiter = RedisRateLimiter(client, LIMIT)
        memory = MemoryRateLimiter(LIMIT)
        for now in [0.0, 0.0, 0.0, 0.0, 0.1, 0.5, 0.6, 2.0, 2.0, 2.0, 2.0]:
            assert await limiter.check("c", now) == await memory.check("c", now), now
        ttl = await client.pttl("qrlink:rv:rl:c")
        assert 0 < ttl <= (LIMIT.idle_seconds + 1) * 1000
    finally:
        await client.aclose()


async def test_429_with_retry_after_then_allowed_again(
    make_client: MakeClient, clock: ManualClock
) -> None:
    api, _ = await make_client(clock=clock, config=ServiceConfig(rate_limit=LIMIT))
    for _ in range(3):
        resp = await api.post("/publish", json={"username": "x", "token": "t"})
        assert resp.status == 400  # refused requests still spend the budget
    resp = await api.get("/lookup", params={"username": "abc"})
    assert resp.status == 429
    assert resp.headers["Retry-After"] == "1"
    body = await resp.json()
    assert body["error"]["code"] == "RATE_LIMITED"
    clock.advance(0.5)
    assert (await api.get("/lookup", params={"username": "abc"})).status == 404


async def test_health_metrics_and_openapi_answer_under_a_flood(
    make_client: MakeClient, clock: ManualClock
) -> None:
    api, _ = await make_client(clock=clock, config=ServiceConfig(rate_limit=RateLimit(1, 5)))
    flood = [api.get("/lookup", params={"username": "abc"}) for _ in range(200)]
    checks = [api.get("/health") for _ in range(20)]
    responses = await asyncio.gather(*flood, *checks)
    flood_statuses = [r.status for r in responses[:200]]
    assert flood_statuses.count(429) == 195
    assert [r.status for r in responses[200:]] == [200] * 20
    assert (await api.get("/metrics")).status == 200
    assert (await api.get("/openapi.json")).status == 200


async def test_forwarded_for_is_the_key_only_when_trusted(
    make_client: MakeClient, clock: ManualClock
) -> None:
    limit = RateLimit(1, 1)
    trusted, _ = await make_client(
        clock=clock, config=ServiceConfig(rate_limit=limit, trust_forwarded_for=True)
    )
    for client_ip in ("198.51.100.1", "198.51.100.2"):
        headers = {"X-Forwarded-For": f"203.0.113.9, {client_ip}"}
        resp = await trusted.get("/lookup", params={"username": "abc"}, headers=headers)
        assert resp.status == 404
    untrusted, _ = await make_client(clock=clock, config=ServiceConfig(rate_limit=limit))
    statuses = [
        (
            await untrusted.get(
                "/lookup", params={"username": "abc"}, headers={"X-Forwarded-For": ip}
            )
        ).status
        for ip in ("198.51.100.1", "198.51.100.2")
    ]
    assert statuses == [404, 429]
