"""The service's rate limiters: the token-bucket arithmetic of core/ratelimit.py, with the
buckets in a dict (one process) or in Redis, where a Lua script runs the same arithmetic so
every instance behind a load balancer draws from one bucket per client.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Protocol

from qrlink_desktop.core.ratelimit import Bucket, Decision, RateLimit, take
from qrlink_desktop.rendezvous.store import StoreUnavailable

if TYPE_CHECKING:
    import redis.asyncio as aioredis

__all__ = [
    "Bucket",
    "Decision",
    "MemoryRateLimiter",
    "RateLimit",
    "RateLimiter",
    "RedisRateLimiter",
    "take",
]


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
