"""Both stores behind the one interface, with `now` passed in (Redis is a real server)."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator

import pytest

from qrlink_desktop.core.clock import ManualClock
from qrlink_desktop.rendezvous import redis_store
from qrlink_desktop.rendezvous.redis_store import RedisStore
from qrlink_desktop.rendezvous.store import (
    Conflict,
    Forbidden,
    MemoryStore,
    NotFound,
    Store,
    StoreUnavailable,
)

T0 = 1_800_000_000.0


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[Store]:
    made: Store
    if request.param == "memory":
        made = MemoryStore()
    else:
        made = RedisStore.from_url(request.getfixturevalue("redis_url"))
    await made.start()
    yield made
    await made.close()


async def test_publish_lookup_round_trip(store: Store) -> None:
    published = await store.publish("alice", "tok", 60, None, T0)
    assert not published.replaced
    record = await store.lookup("alice", T0 + 1)
    assert record is not None
    assert (record.token, record.token_id, record.published_at, record.expires_at) == (
        "tok",
        published.record.token_id,
        T0,
        T0 + 60,
    )
    assert await store.lookup("bob", T0) is None


async def test_expiry_is_decided_by_now(store: Store) -> None:
    await store.publish("alice", "tok", 60, None, T0)
    assert await store.lookup("alice", T0 + 59.999) is not None
    assert await store.lookup("alice", T0 + 60) is None
    assert await store.live_count(T0 + 59) == 1
    assert await store.live_count(T0 + 60) == 0


async def test_ownership(store: Store) -> None:
    first = await store.publish("alice", "tok", 60, None, T0)
    with pytest.raises(Conflict):
        await store.publish("alice", "evil", 60, None, T0 + 1)
    with pytest.raises(Conflict):
        await store.publish("alice", "evil", 60, "guess", T0 + 1)
    again = await store.publish("alice", "tok2", 60, first.owner_key, T0 + 2)
    assert again.replaced and again.owner_key == first.owner_key
    with pytest.raises(Forbidden):
        await store.refresh("alice", 60, "guess", T0 + 3)
    with pytest.raises(Forbidden):
        await store.delete("alice", "guess", T0 + 3)
    with pytest.raises(NotFound):
        await store.refresh("bob", 60, first.owner_key, T0 + 3)
    with pytest.raises(NotFound):
        await store.delete("bob", first.owner_key, T0 + 3)
    await store.delete("alice", first.owner_key, T0 + 3)
    assert await store.lookup("alice", T0 + 3) is None


async def test_refresh_moves_expiry(store: Store) -> None:
    key = (await store.publish("alice", "tok", 60, None, T0)).owner_key
    assert await store.refresh("alice", 120, key, T0 + 50) == T0 + 170
    assert await store.lookup("alice", T0 + 169) is not None
    with pytest.raises(NotFound):
        await store.refresh("alice", 120, key, T0 + 170)


async def test_expired_username_is_free_for_another_owner(store: Store) -> None:
    first = await store.publish("alice", "tok", 60, None, T0)
    second = await store.publish("alice", "tok2", 60, None, T0 + 60)
    assert not second.replaced and second.owner_key != first.owner_key
    # The old owner's key means nothing for the new token.
    with pytest.raises(Forbidden):
        await store.delete("alice", first.owner_key, T0 + 61)


async def test_prune_removes_only_expired_and_counts_each_once(store: Store) -> None:
    await store.publish("alice", "tok", 60, None, T0)
    await store.publish("bob", "tok", 120, None, T0)
    assert await store.prune(T0 + 59) == 0
    assert await store.prune(T0 + 60) == 1
    assert await store.prune(T0 + 60) == 0
    assert await store.lookup("bob", T0 + 60) is not None
    assert await store.prune(T0 + 1000) == 1


async def test_wait_for_wakes_on_publish(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    # The Redis store also re-checks now and then in case a notification was lost; pushed
    # out of reach here, so only the notification can wake the waiter within the bound.
    monkeypatch.setattr(redis_store, "RECHECK_SECONDS", 300.0)
    clock = ManualClock(T0)
    waiter = asyncio.create_task(store.wait_for("reply", 120, clock))
    await asyncio.sleep(0.05)
    assert not waiter.done()
    await store.publish("reply", "answer", 60, None, T0)
    record = await asyncio.wait_for(waiter, 60)
    assert record is not None and record.token == "answer"


async def test_wait_for_times_out_with_none(store: Store) -> None:
    assert await store.wait_for("reply", 0.1, ManualClock(T0)) is None


async def test_ping(store: Store) -> None:
    assert await store.ping() is None  # answers; an unreachable store raises (below)


async def test_ping_of_an_unreachable_redis_is_store_unavailable() -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    store = RedisStore.from_url(f"redis://127.0.0.1:{port}/0")
    try:
        with pytest.raises(StoreUnavailable):
            await store.ping()
    finally:
        await store.close()


async def test_redis_keys_carry_the_ttl(redis_url: str) -> None:
    store = RedisStore.from_url(redis_url)
    await store.start()
    try:
        await store.publish("alice", "tok", 60, None, time.time())
        ttl = await store._redis.pttl("qrlink:rv:tok:alice")
        assert 59_000 < ttl <= 60_000
        # Only a hash of the owner key is stored.
        stored = await store._redis.hgetall("qrlink:rv:tok:alice")
        assert len(stored["owner"]) == 64
    finally:
        await store.close()


async def test_two_redis_stores_count_each_expiry_once(redis_url: str) -> None:
    a, b = RedisStore.from_url(redis_url), RedisStore.from_url(redis_url)
    for s in (a, b):
        await s.start()
    try:
        for name in ("n1", "n2", "n3"):
            await a.publish(name, "tok", 60, None, T0)
        counts = await asyncio.gather(a.prune(T0 + 61), b.prune(T0 + 61))
        assert sum(counts) == 3
    finally:
        for s in (a, b):
            await s.close()
