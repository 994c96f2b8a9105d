"""GET /turn: short-lived credentials for the merchant's coturn, only against a capability.

A public service that handed relay credentials to anyone would be a free relay. The
cashier's side shows one of the merchant's API tokens (`Authorization: Bearer`); the
customer's side names a handle that is published now, and its credential ends with it.
Anonymous requests get 401, unknown tokens or handles 403; refusals are counted and, past a
client's budget, rate-limited.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from qrlink_desktop.core.clock import Clock
from qrlink_desktop.core.turn import rest_credentials
from qrlink_desktop.rendezvous import validation as v
from qrlink_desktop.rendezvous.errors import ApiError, ApiErrorCode, too_many
from qrlink_desktop.rendezvous.metrics import Metrics
from qrlink_desktop.rendezvous.ratelimit import RateLimit, RateLimiter
from qrlink_desktop.rendezvous.store import Store

# Refused GET /turn requests, per client: a few mistakes pass, guessing handles does not.
DEFAULT_TURN_REFUSAL_LIMIT = RateLimit(rate=0.2, burst=10)
DEFAULT_TURN_TTL = 300  # seconds: a credential outlives one pairing, not a working day
MAX_TURN_TTL = 1800


def hash_api_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def api_tokens_from(text: str | None) -> tuple[str, ...]:
    """QRLINK_API_TOKEN: one token, or several separated by commas (to rotate them)."""
    return tuple(hash_api_token(t.strip()) for t in (text or "").split(",") if t.strip())


@dataclass(frozen=True)
class TurnPolicy:
    """What the service was configured with: the relay's shared secret (coturn's
    `use-auth-secret`), the URLs handed out, a credential's lifetime, and the SHA-256 of
    the merchant's API tokens (the tokens themselves are never kept)."""

    secret: str | None
    urls: tuple[str, ...]
    ttl: int
    api_token_hashes: tuple[str, ...]


@dataclass
class TurnGrants:
    policy: TurnPolicy
    store: Store
    clock: Clock
    metrics: Metrics
    refusals: RateLimiter | None
    client_of: Callable[[web.Request], str]

    async def handle(self, request: web.Request) -> web.Response:
        policy = self.policy
        if not policy.secret or not policy.urls:
            raise ApiError(
                404,
                ApiErrorCode.NOT_FOUND,
                "This service does not hand out TURN credentials.",
            )
        now = self.clock.now()
        try:
            capability, ttl = await self._capability(request, now)
        except ApiError as refusal:
            raise await self._refused(request, refusal, now) from None
        self.metrics.turn_issued[capability] += 1
        username, credential = rest_credentials(
            policy.secret, "qrlink-" + secrets.token_hex(4), ttl, now
        )
        return web.json_response(
            {
                "username": username,
                "credential": credential,
                "ttl": ttl,
                "uris": list(policy.urls),
            },
            headers={"Cache-Control": "no-store"},
        )

    async def _capability(self, request: web.Request, now: float) -> tuple[str, int]:
        """(which capability, credential lifetime) or the refusal."""
        policy = self.policy
        header = request.headers.get("Authorization")
        if header is not None:
            token = v.bearer_key(header)
            wanted = hash_api_token(token) if token is not None else ""
            if not any(hmac.compare_digest(wanted, known) for known in policy.api_token_hashes):
                raise ApiError(
                    403, ApiErrorCode.FORBIDDEN, "This API token is not one this service accepts."
                )
            return "api_token", policy.ttl
        handle = request.query.get("handle")
        if handle is None:
            raise ApiError(
                401,
                ApiErrorCode.UNAUTHORIZED,
                "TURN credentials need a capability: the merchant's API token as "
                "'Authorization: Bearer <token>', or ?handle= naming an offer published now.",
                {"WWW-Authenticate": 'Bearer realm="qrlink"'},
            )
        record = await self.store.lookup(v.username(handle), now)
        if record is None:
            raise ApiError(
                403,
                ApiErrorCode.FORBIDDEN,
                "Nothing is published under this handle now; TURN credentials are handed "
                "out only while it is.",
            )
        # Valid while the handle lives, and never longer than the service's lifetime.
        return "handle", max(1, min(policy.ttl, int(record.expires_at - now)))

    async def _refused(self, request: web.Request, refusal: ApiError, now: float) -> ApiError:
        """Count a refused request; past the client's budget of refusals it becomes 429."""
        reason = {401: "anonymous", 403: "forbidden"}.get(refusal.status, "invalid")
        self.metrics.turn_refused[reason] += 1
        if self.refusals is None:
            return refusal
        decision = await self.refusals.check(self.client_of(request), now)
        if decision.allowed:
            return refusal
        self.metrics.turn_refused["rate_limited"] += 1
        return too_many(
            decision,
            "Too many refused TURN credential requests from this client; wait and try again.",
        )
