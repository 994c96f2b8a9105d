"""The service as an aiohttp application, and its runner (the command line that starts it
is command.py).

Handlers only parse, call the store with `now` from the injected clock, and shape JSON;
the store and the rate limiter decide. One middleware owns rate limiting, error bodies
and request metrics so every path answers the same way. With a built page the service
also serves it at `/` through the page server (pages/server.py), so a phone gets the page
and the API from one origin and the page uses this service for reply handles unasked.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from qrlink_desktop.core.clock import SYSTEM_CLOCK, Clock
from qrlink_desktop.pages.server import add_page_routes
from qrlink_desktop.rendezvous import validation as v
from qrlink_desktop.rendezvous.errors import ApiError, ApiErrorCode, invalid, too_many
from qrlink_desktop.rendezvous.metrics import CONTENT_TYPE, Metrics
from qrlink_desktop.rendezvous.openapi import document
from qrlink_desktop.rendezvous.ratelimit import (
    MemoryRateLimiter,
    RateLimit,
    RateLimiter,
    RedisRateLimiter,
)
from qrlink_desktop.rendezvous.redis_store import RedisStore, connect
from qrlink_desktop.rendezvous.responses import (
    error_response,
    http_exception_response,
    refusal_code,
    too_large,
)
from qrlink_desktop.rendezvous.store import (
    Conflict,
    Forbidden,
    MemoryStore,
    NotFound,
    Store,
    StoreFull,
    StoreUnavailable,
)
from qrlink_desktop.rendezvous.turn_grants import (
    DEFAULT_TURN_REFUSAL_LIMIT,
    DEFAULT_TURN_TTL,
    TurnGrants,
    TurnPolicy,
)

log = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8787
# One line per request: client, request line, status, bytes, seconds.
ACCESS_LOG_FORMAT = '%a "%r" %s %b %Tf'
# Operational endpoints stay outside the per-client budget so a flood of API calls from
# one address cannot make the service look dead to its health checker or scraper.
UNLIMITED_PATHS = frozenset({"/health", "/metrics", "/openapi.json"})
# Credentials travel as bearer tokens, never cookies, so any origin may call the API.
CORS = {"Access-Control-Allow-Origin": "*", "Access-Control-Expose-Headers": "Retry-After"}
CORS_PREFLIGHT = {
    "Access-Control-Allow-Methods": "GET, POST, PATCH, DELETE, OPTIONS",
    "Access-Control-Allow-Headers": "Content-Type, Authorization",
    "Access-Control-Max-Age": "600",
}
KNOWN_PATHS = frozenset({"/publish", "/lookup", "/turn", *UNLIMITED_PATHS})
DEFAULT_RATE_LIMIT = RateLimit(rate=20.0, burst=60)


@dataclass(frozen=True)
class ServiceConfig:
    rate_limit: RateLimit | None = DEFAULT_RATE_LIMIT
    prune_interval: float = 5.0
    # Only behind a proxy that sets X-Forwarded-For; otherwise clients could pick their key.
    trust_forwarded_for: bool = False
    health_timeout: float = 1.0
    max_wait: float = v.MAX_WAIT_SECONDS
    # TURN REST credentials (GET /turn): the shared secret of the merchant's coturn
    # (`use-auth-secret`), the URLs to hand out and how long a credential lives.
    turn_secret: str | None = None
    turn_urls: tuple[str, ...] = ()
    turn_ttl: int = DEFAULT_TURN_TTL
    # Who may have them: the cashier's side shows one of the merchant's API tokens (only
    # their SHA-256 is kept here); the customer's side names a handle published now.
    api_token_hashes: tuple[str, ...] = ()
    turn_refusal_limit: RateLimit | None = DEFAULT_TURN_REFUSAL_LIMIT
    # The built mobile page, served at `/`; None: the API alone.
    page_root: Path | None = None


@dataclass
class Service:
    store: Store
    limiter: RateLimiter | None
    clock: Clock = SYSTEM_CLOCK
    config: ServiceConfig = field(default_factory=ServiceConfig)
    metrics: Metrics = field(default_factory=Metrics)
    turn_refusals: RateLimiter | None = None

    def __post_init__(self) -> None:
        self._document = document(max_wait=self.config.max_wait)
        cfg = self.config
        policy = TurnPolicy(cfg.turn_secret, cfg.turn_urls, cfg.turn_ttl, cfg.api_token_hashes)
        self.turn_grants = TurnGrants(
            policy, self.store, self.clock, self.metrics, self.turn_refusals, self.client_of
        )

    # -- handlers ----------------------------------------------------------------------

    async def publish(self, request: web.Request) -> web.Response:
        body = await self._json_object(request)
        username = v.username(body.get("username"))
        token = v.token(body.get("token"))
        ttl_ms = v.ttl_ms(body.get("ttl", v.DEFAULT_TTL_MS))
        owner_key = v.bearer_key(request.headers.get("Authorization"))
        try:
            published = await self.store.publish(
                username, token, ttl_ms / 1000, owner_key, self.clock.now()
            )
        except StoreFull:
            raise ApiError(
                503,
                ApiErrorCode.STORE_FULL,
                "The service holds as many tokens as it may; try again when some expire.",
                {"Retry-After": "5"},
            ) from None
        except Conflict:
            raise ApiError(
                409,
                ApiErrorCode.CONFLICT,
                "This username holds a live token published with another owner key; "
                "choose another username or wait until it expires.",
            ) from None
        self.metrics.publishes += 1
        return web.json_response(
            {
                "tokenId": published.record.token_id,
                "expiresAt": round(published.record.expires_at * 1000),
                "ownerKey": published.owner_key,
            }
        )

    async def refresh(self, request: web.Request) -> web.Response:
        body = await self._json_object(request)
        username = v.username(body.get("username"))
        ttl_ms = v.ttl_ms(body.get("ttl", v.DEFAULT_TTL_MS))
        owner_key = self._require_owner(request)
        try:
            await self.store.refresh(username, ttl_ms / 1000, owner_key, self.clock.now())
        except (NotFound, Forbidden) as exc:
            raise self._ownership_error(exc) from None
        return web.json_response({"success": True})

    async def unpublish(self, request: web.Request) -> web.Response:
        username = v.username(request.query.get("username"))
        owner_key = self._require_owner(request)
        try:
            await self.store.delete(username, owner_key, self.clock.now())
        except (NotFound, Forbidden) as exc:
            raise self._ownership_error(exc) from None
        return web.json_response({"success": True})

    async def lookup(self, request: web.Request) -> web.Response:
        username = v.username(request.query.get("username"))
        wait = v.wait_seconds(request.query.get("wait"), self.config.max_wait)
        if wait > 0:
            record = await self.store.wait_for(username, wait, self.clock)
        else:
            record = await self.store.lookup(username, self.clock.now())
        if record is None:
            self.metrics.lookup_misses += 1
            raise ApiError(
                404, ApiErrorCode.NOT_FOUND, "No live token is published under this username."
            )
        self.metrics.lookup_hits += 1
        return web.json_response(
            {
                "token": record.token,
                "username": record.username,
                "publishedAt": round(record.published_at * 1000),
            }
        )

    async def health(self, request: web.Request) -> web.Response:
        try:
            async with asyncio.timeout(self.config.health_timeout):
                await self.store.ping()
        except (StoreUnavailable, TimeoutError):
            return web.json_response({"status": "unavailable"}, status=503)
        return web.json_response({"status": "ok"})

    async def metrics_text(self, request: web.Request) -> web.Response:
        live: int | None
        try:
            live = await self.store.live_count(self.clock.now())
        except StoreUnavailable:
            live = None
        return web.Response(
            body=self.metrics.render(live).encode(),
            headers={"Content-Type": f"{CONTENT_TYPE}; charset=utf-8"},
        )

    async def openapi(self, request: web.Request) -> web.Response:
        return web.json_response(self._document)

    # -- helpers -----------------------------------------------------------------------

    async def _json_object(self, request: web.Request) -> dict[str, Any]:
        if request.content_length is not None and request.content_length > v.MAX_BODY_BYTES:
            raise too_large()
        try:
            raw = await request.read()
        except web.HTTPRequestEntityTooLarge:
            raise too_large() from None
        try:
            data = json.loads(raw)
        except (ValueError, RecursionError):
            raise invalid("The request body must be a JSON object.") from None
        if not isinstance(data, dict):
            raise invalid("The request body must be a JSON object.")
        return data

    @staticmethod
    def _require_owner(request: web.Request) -> str:
        owner_key = v.bearer_key(request.headers.get("Authorization"))
        if owner_key is None:
            raise ApiError(
                403,
                ApiErrorCode.FORBIDDEN,
                "This request needs the owner key from publishing as "
                "'Authorization: Bearer <ownerKey>'.",
            )
        return owner_key

    @staticmethod
    def _ownership_error(exc: NotFound | Forbidden) -> ApiError:
        if isinstance(exc, NotFound):
            return ApiError(
                404, ApiErrorCode.NOT_FOUND, "No live token is published under this username."
            )
        return ApiError(
            403, ApiErrorCode.FORBIDDEN, "The owner key does not match this username's token."
        )

    def client_of(self, request: web.Request) -> str:
        if self.config.trust_forwarded_for:
            forwarded = request.headers.get("X-Forwarded-For", "")
            # The proxy appends the address it saw; earlier entries are the client's word.
            last = forwarded.rsplit(",", 1)[-1].strip()
            # An address is short ASCII; anything else is not one and must not become a key.
            if last and len(last) <= 64 and last.isascii():
                return last
        return request.remote or "unknown"

    async def prune_once(self) -> None:
        now = self.clock.now()
        for limiter in (self.limiter, self.turn_refusals):
            if limiter is not None:
                limiter.prune(now)
        try:
            self.metrics.expired += await self.store.prune(now)
        except StoreUnavailable as exc:
            log.debug("pruning skipped: %s", exc)

    async def _pruner(self) -> None:
        while True:
            await asyncio.sleep(self.config.prune_interval)
            await self.prune_once()

    # -- middleware --------------------------------------------------------------------

    async def _dispatch(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        resource = request.match_info.route.resource
        if resource is not None:
            route = resource.canonical
        else:
            # A wrong method on a known path still names the path; anything else is one label
            # so scanners cannot grow the metrics without bound.
            route = request.path if request.path in KNOWN_PATHS else "unmatched"
        if request.method == "OPTIONS" and request.path in KNOWN_PATHS:
            # A CORS preflight: the mobile page may live on another origin than the service.
            response: web.StreamResponse = web.Response(status=204, headers=CORS_PREFLIGHT)
            response.headers.update(CORS)
            self.metrics.requests[(request.method, route, 204)] += 1
            return response
        try:
            if self.limiter is not None and request.path not in UNLIMITED_PATHS:
                decision = await self.limiter.check(self.client_of(request), self.clock.now())
                if not decision.allowed:
                    raise too_many(
                        decision, "Too many requests from this client; wait and try again."
                    )
            response = await handler(request)
        except ApiError as exc:
            response = error_response(exc)
        except web.HTTPException as exc:
            response = http_exception_response(exc)
        except StoreUnavailable as exc:
            log.warning("%s %s: %s", request.method, request.path, exc)
            self.metrics.store_errors += 1
            response = error_response(
                ApiError(
                    503,
                    ApiErrorCode.STORE_UNAVAILABLE,
                    "The token store is unreachable; try again shortly.",
                    {"Retry-After": "1"},
                )
            )
        except Exception:
            log.exception("%s %s failed", request.method, request.path)
            response = error_response(
                ApiError(500, ApiErrorCode.INTERNAL, "The service failed to answer.")
            )
        status = response.status
        if status == 429:  # only a rate limit answers 429: the API's, or GET /turn's
            self.metrics.rate_limited += 1
        if 400 <= status < 500 and status != 429 and not (route == "/lookup" and status == 404):
            self.metrics.refused[refusal_code(response)] += 1
        self.metrics.requests[(request.method, route, status)] += 1
        response.headers.update(CORS)
        return response


SERVICE_KEY = web.AppKey("rendezvous_service", Service)


def create_app(
    store: Store | None = None,
    limiter: RateLimiter | None = None,
    clock: Clock = SYSTEM_CLOCK,
    config: ServiceConfig | None = None,
    turn_refusals: RateLimiter | None = None,
) -> web.Application:
    """The service as an aiohttp app. Without limiters they are made from `config`."""
    config = config or ServiceConfig()
    if limiter is None and config.rate_limit is not None:
        limiter = MemoryRateLimiter(config.rate_limit)
    if turn_refusals is None and config.turn_refusal_limit is not None:
        turn_refusals = MemoryRateLimiter(config.turn_refusal_limit)
    service = Service(store or MemoryStore(), limiter, clock, config, turn_refusals=turn_refusals)

    @web.middleware
    async def middleware(
        request: web.Request,
        handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
    ) -> web.StreamResponse:
        return await service._dispatch(request, handler)

    # The body cap is enforced again in _json_object so the refusal is our JSON 413.
    app = web.Application(middlewares=[middleware], client_max_size=v.MAX_BODY_BYTES)
    app[SERVICE_KEY] = service
    app.router.add_post("/publish", service.publish)
    app.router.add_patch("/publish", service.refresh)
    app.router.add_delete("/publish", service.unpublish)
    app.router.add_get("/lookup", service.lookup)
    app.router.add_get("/turn", service.turn_grants.handle)
    app.router.add_get("/health", service.health)
    app.router.add_get("/metrics", service.metrics_text)
    app.router.add_get("/openapi.json", service.openapi)
    if config.page_root is not None:
        add_page_routes(app, config.page_root, service=True)

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        await service.store.start()
        pruner = asyncio.create_task(service._pruner(), name="rendezvous-pruner")
        yield
        pruner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await pruner
        await service.store.close()

    app.cleanup_ctx.append(lifecycle)
    return app


def app_for_redis(url: str, config: ServiceConfig | None = None) -> web.Application:
    """An app whose tokens and rate limits live in the Redis at `url`."""
    config = config or ServiceConfig()
    client = connect(url)
    limiter = RedisRateLimiter(client, config.rate_limit) if config.rate_limit else None
    refusals = (
        RedisRateLimiter(client, config.turn_refusal_limit, prefix="qrlink:rv:turn-refused:")
        if config.turn_refusal_limit
        else None
    )
    return create_app(RedisStore(client), limiter, config=config, turn_refusals=refusals)


async def serve(
    app: web.Application,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    stop: asyncio.Event | None = None,
    ready: Callable[[str], None] | None = None,
) -> None:
    """Serve until `stop` is set (or forever); `ready` gets the URL once listening."""
    runner = web.AppRunner(
        app,
        access_log_format=ACCESS_LOG_FORMAT,
        # A long poll whose client went away should not hold its slot until it times out.
        handler_cancellation=True,
        shutdown_timeout=2.0,
    )
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound_host, bound_port = runner.addresses[0][:2]
        url = f"http://{_url_host(bound_host)}:{bound_port}"
        log.info("rendezvous service listening on %s", url)
        if ready is not None:
            ready(url)
        await (stop or asyncio.Event()).wait()
    finally:
        await runner.cleanup()


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
