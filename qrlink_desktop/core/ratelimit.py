"""Per-client token buckets: `burst` requests at once, refilled at `rate` per second.

The arithmetic alone, one pure function with `now` passed in, so every place that limits
a client counts the same way: the rendezvous service (in memory, or the same arithmetic
as a Lua script in Redis) and the laptop's page server, which takes the page's answers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


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
