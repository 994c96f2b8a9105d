"""Per-client token buckets: `burst` requests at once, refilled at `rate` per second.

The arithmetic is one pure function with `now` passed in; the memory limiter keeps the
buckets in a dict, the Redis limiter runs the same arithmetic in a Lua script so every
instance behind a load balancer draws from one bucket per client.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from qrlink_desktop.rendezvous.store import StoreUnavailable

if TYPE_CHECKING:  # the window's page server uses the arithmetic, never Redis
    import redis.asyncio as aioredis


@dataclass(frozen=True, slots=True)
class RateLimit:
    rate: float  # tokens added per second
    burst: int  # bucket size

    def __post_init__(self) -> None:
        if self.rate <= 0 or self.burst < 1:
            raise ValueError("a rate limit needs rate > 0 and burst >= 1")

    @property
    def idle_seconds(self) -> float:
        """After this long untouched a bucket is full again and can be forgotten."""
        return self.burst / self.rate


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    retry_after: float = 0.0  # seconds until one token is back; 0 when allowed

    @property
    def retry_after_header(self) -> str:
        # Retry-After is whole seconds; never say 0 to a refused client.
        return str(max(1, math.ceil(self.retry_after)))


@dataclass(frozen=True, slots=True)
class Bucket:
    tokens: float
    updated: float


def take(bucket: Bucket | None, now: float, limit: RateLimit) -> tuple[Bucket, Decision]:
    """Spend one token if there is one. A clock that went back refills nothing."""
    if bucket is None:
        tokens, updated = float(limit.burst), now
    else:
        tokens, updated = bucket.tokens, bucket.updated
        if now > updated:
            tokens = min(float(limit.burst), tokens + (now - updated) * limit.rate)
            updated = now
    if tokens >= 1.0:
        return Bucket(tokens - 1.0, updated), Decision(True)
    return Bucket(tokens, updated), Decision(False, (1.0 - tokens) / limit.rate)


class RateLimiter(Protocol):
    async def check(self, client: str, now: float) -> Decision: ...

    def prune(self, now: float) -> int: ...


class MemoryRateLimiter:
    def __init__(self, limit: RateLimit) -> None:
        self.limit = limit
        self._buckets: dict[str, Bucket] = {}

    async def check(self, client: str, now: float) -> Decision:
        bucket, decision = take(self._buckets.get(client), now, self.limit)
        self._buckets[client] = bucket
        return decision

    def prune(self, now: float) -> int:
        idle = self.limit.idle_seconds
        stale = [c for c, b in self._buckets.items() if now - b.updated >= idle]
        for client in stale:
            del self._buckets[client]
        return len(stale)

    def __len__(self) -> int:
        return len(self._buckets)


# Same arithmetic as take(); numbers cross as strings because Redis truncates Lua floats.
_TAKE = """
local b = redis.call('HMGET', KEYS[1], 'tokens', 'updated')
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local tokens = tonumber(b[1])
local updated = tonumber(b[2])
if tokens == nil or updated == nil then
  tokens = burst
  updated = now
elseif now > updated then
  tokens = math.min(burst, tokens + (now - updated) * rate)
  updated = now
end
local allowed = 0
local retry = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
else
  retry = (1 - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'updated', tostring(updated))
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return {allowed, tostring(retry)}
"""


class RedisRateLimiter:
    def __init__(
        self, client: aioredis.Redis, limit: RateLimit, prefix: str = "qrlink:rv:"
    ) -> None:
        self.limit = limit
        self._prefix = f"{prefix}rl:"
        self._take = client.register_script(_TAKE)
        # Redis forgets a bucket once it would be full again, so no pruning is needed.
        self._expire_ms = max(1000, math.ceil(limit.idle_seconds * 1000) + 1000)

    async def check(self, client: str, now: float) -> Decision:
        from redis.exceptions import RedisError

        try:
            allowed, retry = await self._take(
                keys=[self._prefix + client],
                args=[repr(self.limit.rate), self.limit.burst, repr(now), self._expire_ms],
            )
        except (RedisError, OSError) as exc:
            raise StoreUnavailable(f"Redis is unreachable: {exc}") from exc
        if int(allowed):
            return Decision(True)
        return Decision(False, float(retry))

    def prune(self, now: float) -> int:
        return 0
