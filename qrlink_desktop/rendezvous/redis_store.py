"""The Redis store: several service instances share tokens, TTLs and long-poll wake-ups.

Each write is one Lua script, so the ownership check and the write are atomic across
instances. A token is a hash with a Redis key TTL (Redis forgets it even if every
instance dies) plus a member of an expiry sorted set, which gives a cheap live count and
lets exactly one instance count each expiry. Long polls wait on a local event that a
pub/sub listener sets; they also re-check every second in case a message was lost while
the listener reconnected. Times are stored as integer milliseconds.
Keys are built inside the scripts, so this targets a single Redis, not a cluster.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from qrlink_desktop.core.clock import Clock
from qrlink_desktop.rendezvous.store import (
    Conflict,
    Forbidden,
    NotFound,
    Notifier,
    Published,
    Record,
    StoreUnavailable,
    hash_owner_key,
    new_owner_key,
    new_token_id,
    wait_with,
)

log = logging.getLogger(__name__)

DEFAULT_PREFIX = "qrlink:rv:"
# How often a long poll looks again even without a pub/sub message.
RECHECK_SECONDS = 1.0

_PUBLISH = """
local cur = redis.call('HMGET', KEYS[1], 'owner', 'expires_at')
local owner = ARGV[4]
local replaced = 0
if cur[1] and tonumber(cur[2]) > tonumber(ARGV[6]) then
  if cur[1] ~= ARGV[5] then return {0, 0} end
  owner = cur[1]
  replaced = 1
end
redis.call('HSET', KEYS[1], 'token', ARGV[2], 'token_id', ARGV[3], 'owner', owner,
           'published_at', ARGV[6], 'expires_at', ARGV[7])
redis.call('PEXPIRE', KEYS[1], ARGV[8])
redis.call('ZADD', KEYS[2], ARGV[7], ARGV[1])
redis.call('PUBLISH', ARGV[9], ARGV[1])
return {1, replaced}
"""

# 1 done, 0 not found (or expired), -1 wrong owner.
_REFRESH = """
local cur = redis.call('HMGET', KEYS[1], 'owner', 'expires_at')
if not cur[1] or tonumber(cur[2]) <= tonumber(ARGV[3]) then return 0 end
if cur[1] ~= ARGV[2] then return -1 end
redis.call('HSET', KEYS[1], 'expires_at', ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1])
return 1
"""

_DELETE = """
local cur = redis.call('HMGET', KEYS[1], 'owner', 'expires_at')
if not cur[1] or tonumber(cur[2]) <= tonumber(ARGV[3]) then return 0 end
if cur[1] ~= ARGV[2] then return -1 end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
"""

# Bounded per call so one prune never blocks Redis for long; the timer comes back.
_PRUNE = """
local names = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, 1000)
for _, name in ipairs(names) do
  redis.call('ZREM', KEYS[1], name)
  local key = ARGV[2] .. name
  local exp = redis.call('HGET', key, 'expires_at')
  if exp and tonumber(exp) <= tonumber(ARGV[1]) then redis.call('DEL', key) end
end
return #names
"""


def _ms(seconds: float) -> int:
    return round(seconds * 1000)


@contextlib.contextmanager
def _unavailable() -> Iterator[None]:
    try:
        yield
    except (RedisError, OSError) as exc:
        raise StoreUnavailable(f"Redis is unreachable: {exc}") from exc


def connect(url: str) -> aioredis.Redis:
    # Fail fast while Redis is down (the request answers 503) instead of redis-py's default
    # backoff; one immediate retry replaces a pooled connection that a restart broke.
    client: aioredis.Redis = aioredis.Redis.from_url(
        url,
        decode_responses=True,
        socket_timeout=2.0,
        socket_connect_timeout=1.0,
        retry=Retry(NoBackoff(), 1),
    )
    return client


class RedisStore:
    def __init__(self, client: aioredis.Redis, prefix: str = DEFAULT_PREFIX) -> None:
        self._redis = client
        self._prefix = prefix
        self._expiry_key = f"{prefix}expiry"
        self._channel = f"{prefix}published"
        self._publish = client.register_script(_PUBLISH)
        self._refresh = client.register_script(_REFRESH)
        self._delete = client.register_script(_DELETE)
        self._prune = client.register_script(_PRUNE)
        self.notifier = Notifier()
        self._listener: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()

    @classmethod
    def from_url(cls, url: str, prefix: str = DEFAULT_PREFIX) -> RedisStore:
        return cls(connect(url), prefix)

    async def start(self) -> None:
        self._listener = asyncio.create_task(self._listen(), name="rendezvous-redis-listener")
        # Long polls work without the subscription (they re-check), only slower; don't
        # refuse to start because Redis is late.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(2.0):
                await self._subscribed.wait()
        if not self._subscribed.is_set():
            log.warning("Redis is not reachable yet; the service answers 503 until it is")

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
        self.notifier.notify_all()
        await self._redis.aclose()

    async def ping(self) -> None:
        with _unavailable():
            await self._redis.ping()

    def _key(self, username: str) -> str:
        return f"{self._prefix}tok:{username}"

    async def publish(
        self, username: str, token: str, ttl: float, owner_key: str | None, now: float
    ) -> Published:
        fresh_key = new_owner_key()
        token_id = new_token_id()
        presented = hash_owner_key(owner_key) if owner_key is not None else ""
        with _unavailable():
            ok, replaced = await self._publish(
                keys=[self._key(username), self._expiry_key],
                args=[
                    username,
                    token,
                    token_id,
                    hash_owner_key(fresh_key),
                    presented,
                    _ms(now),
                    _ms(now + ttl),
                    _ms(ttl),
                    self._channel,
                ],
            )
        if not ok:
            raise Conflict(username)
        key = owner_key if replaced and owner_key is not None else fresh_key
        record = Record(
            username, token, token_id, hash_owner_key(key), _ms(now) / 1000, _ms(now + ttl) / 1000
        )
        return Published(record, key, bool(replaced))

    async def refresh(self, username: str, ttl: float, owner_key: str, now: float) -> float:
        expires_ms = _ms(now + ttl)
        with _unavailable():
            result = await self._refresh(
                keys=[self._key(username), self._expiry_key],
                args=[username, hash_owner_key(owner_key), _ms(now), expires_ms, _ms(ttl)],
            )
        self._raise_for(int(result), username)
        return expires_ms / 1000

    async def delete(self, username: str, owner_key: str, now: float) -> None:
        with _unavailable():
            result = await self._delete(
                keys=[self._key(username), self._expiry_key],
                args=[username, hash_owner_key(owner_key), _ms(now)],
            )
        self._raise_for(int(result), username)

    @staticmethod
    def _raise_for(result: int, username: str) -> None:
        if result == 0:
            raise NotFound(username)
        if result < 0:
            raise Forbidden(username)

    async def lookup(self, username: str, now: float) -> Record | None:
        with _unavailable():
            fields: list[Any] = await self._redis.hmget(
                self._key(username), ["token", "token_id", "owner", "published_at", "expires_at"]
            )
        token, token_id, owner, published_at, expires_at = fields
        if token is None or expires_at is None or int(expires_at) <= _ms(now):
            return None
        return Record(
            username, token, token_id, owner, int(published_at) / 1000, int(expires_at) / 1000
        )

    async def wait_for(self, username: str, timeout: float, clock: Clock) -> Record | None:
        return await wait_with(
            self, self.notifier, username, timeout, clock, recheck=RECHECK_SECONDS
        )

    async def prune(self, now: float) -> int:
        with _unavailable():
            removed = await self._prune(
                keys=[self._expiry_key], args=[_ms(now), f"{self._prefix}tok:"]
            )
        return int(removed)

    async def live_count(self, now: float) -> int:
        with _unavailable():
            count = await self._redis.zcount(self._expiry_key, f"({_ms(now)}", "+inf")
        return int(count)

    async def _listen(self) -> None:
        delay = 0.1
        while True:
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self._channel)
                if delay > 0.1:
                    log.info("Redis pub/sub subscription restored")
                delay = 0.1
                self._subscribed.set()
                # Messages may have been missed while unsubscribed: let every poll look again.
                self.notifier.notify_all()
                while True:
                    message = await pubsub.get_message(timeout=1.0)
                    if message is not None and message.get("type") == "message":
                        self.notifier.notify(str(message["data"]))
            except (RedisError, OSError) as exc:
                self._subscribed.clear()
                log.warning("Redis pub/sub lost (%s); retrying in %.1f s", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
            finally:
                with contextlib.suppress(RedisError, OSError):
                    await pubsub.aclose()
