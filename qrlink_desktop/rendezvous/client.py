"""The app's side of the rendezvous service.

Failures that may pass (connection refused or reset, timeouts, 5xx, a body that is not
the expected JSON) are retried per the RetryPolicy and end as REMOTE_SERVICE_ERROR.
A 4xx is the service's considered answer: never retried, raised as RendezvousRefused
carrying the HTTP status and the service's code, except a 404 on lookup, which is None.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, TypeVar

import aiohttp

from qrlink_desktop.core.errors import ErrorCode, QrlinkError
from qrlink_desktop.core.retry import DEFAULT_RETRY, RetryPolicy

log = logging.getLogger(__name__)

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]

# Headroom over a long poll's own wait before the client gives up on the request.
_LONG_POLL_MARGIN = 10.0

_CODE_FOR_STATUS = {
    400: ErrorCode.INVALID_ARGUMENT,
    413: ErrorCode.INVALID_ARGUMENT,
    429: ErrorCode.RATE_LIMITED,
}


@dataclass(frozen=True, slots=True)
class PublishResult:
    token_id: str
    expires_at: int  # ms since the epoch
    owner_key: str


@dataclass(frozen=True, slots=True)
class LookupResult:
    token: str
    username: str
    published_at: int  # ms since the epoch


@dataclass(frozen=True, slots=True)
class TurnCredentials:
    username: str
    credential: str
    ttl: int  # seconds
    uris: tuple[str, ...]


class RendezvousRefused(QrlinkError):
    """The service refused the request (4xx); `status` and `reason` say how."""

    def __init__(
        self, status: int, reason: str, message: str, retry_after: float | None = None
    ) -> None:
        super().__init__(_CODE_FOR_STATUS.get(status, ErrorCode.REMOTE_SERVICE_ERROR), message)
        self.status = status
        self.reason = reason
        self.retry_after = retry_after


class _Transient(Exception):
    """One failed try that the retry policy may repeat."""


class RendezvousClient:
    def __init__(
        self,
        base_url: str,
        retry: RetryPolicy = DEFAULT_RETRY,
        session: aiohttp.ClientSession | None = None,
        *,
        timeout: float = 10.0,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.retry = retry
        self.timeout = timeout
        self._sleep = sleep
        self._session = session
        self._owns_session = session is None

    async def __aenter__(self) -> RendezvousClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None

    # -- the API -----------------------------------------------------------------------

    async def publish(
        self, username: str, token: str, ttl_ms: int, owner_key: str | None = None
    ) -> PublishResult:
        """Publish; pass the owner key of a live token to replace it."""
        data = await self._call(
            "POST",
            "/publish",
            body={"username": username, "token": token, "ttl": ttl_ms},
            bearer=owner_key,
        )
        return PublishResult(
            token_id=_field(data, "tokenId", str),
            expires_at=_field(data, "expiresAt", int),
            owner_key=_field(data, "ownerKey", str),
        )

    async def refresh(self, username: str, owner_key: str, ttl_ms: int) -> None:
        data = await self._call(
            "PATCH", "/publish", body={"username": username, "ttl": ttl_ms}, bearer=owner_key
        )
        _field(data, "success", bool)

    async def delete(self, username: str, owner_key: str) -> None:
        data = await self._call(
            "DELETE", "/publish", params={"username": username}, bearer=owner_key
        )
        _field(data, "success", bool)

    async def lookup(self, username: str, wait: float | None = None) -> LookupResult | None:
        """The live token, or None; with `wait`, the service holds the request up to that
        many seconds for a token to appear."""
        params = {"username": username}
        timeout = self.timeout
        if wait:
            params["wait"] = f"{wait:g}"
            timeout = wait + _LONG_POLL_MARGIN
        try:
            data = await self._call("GET", "/lookup", params=params, timeout=timeout)
        except RendezvousRefused as exc:
            if exc.status == 404:
                return None
            raise
        return LookupResult(
            token=_field(data, "token", str),
            username=_field(data, "username", str),
            published_at=_field(data, "publishedAt", int),
        )

    async def turn_credentials(
        self, *, api_token: str | None = None, handle: str | None = None
    ) -> TurnCredentials | None:
        """Short-lived TURN credentials, or None when the service holds no TURN secret.

        The service hands them out only against a capability: the merchant's `api_token`
        (the cashier's side) or a `handle` published now (the customer's side, which has
        just looked it up). Without one, or with a wrong one, it refuses (401/403)."""
        params = {"handle": handle} if handle and not api_token else None
        try:
            data = await self._call("GET", "/turn", params=params, bearer=api_token)
        except RendezvousRefused as exc:
            if exc.status == 404:
                return None
            raise
        uris = data.get("uris")
        if not isinstance(uris, list) or not all(isinstance(u, str) for u in uris):
            raise QrlinkError(
                ErrorCode.REMOTE_SERVICE_ERROR, "the service sent malformed TURN URLs"
            )
        return TurnCredentials(
            username=_field(data, "username", str),
            credential=_field(data, "credential", str),
            ttl=_field(data, "ttl", int),
            uris=tuple(uris),
        )

    async def health(self) -> str:
        data = await self._call("GET", "/health")
        return _field(data, "status", str)

    # -- transport ---------------------------------------------------------------------

    async def _call(
        self,
        method: str,
        path: str,
        *,
        body: Mapping[str, Any] | None = None,
        params: Mapping[str, str] | None = None,
        bearer: str | None = None,
        timeout: float | None = None,
    ) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
        last = "no attempt was made"
        for attempt in range(1, self.retry.attempts + 1):
            try:
                return await self._once(
                    method, path, body, params, headers, timeout or self.timeout
                )
            except _Transient as exc:
                last = str(exc)
            delay = self.retry.delay(attempt)
            if delay is None:
                break
            log.info("%s %s failed (%s); retry %d in %.1f s", method, path, last, attempt, delay)
            await self._sleep(delay)
        raise QrlinkError(
            ErrorCode.REMOTE_SERVICE_ERROR,
            f"The rendezvous service at {self.base_url} did not answer {method} {path} "
            f"after {self.retry.attempts} tries: {last}.",
        )

    async def _once(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None,
        params: Mapping[str, str] | None,
        headers: Mapping[str, str],
        timeout: float,
    ) -> dict[str, Any]:
        session = self._get_session()
        try:
            async with session.request(
                method,
                self.base_url + path,
                json=body,
                params=params,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=timeout),
            ) as response:
                raw = await response.read()
                status = response.status
                retry_after = response.headers.get("Retry-After")
        except TimeoutError:
            raise _Transient(f"no answer within {timeout:g} s") from None
        except aiohttp.ClientError as exc:
            raise _Transient(f"{type(exc).__name__}: {exc}") from None
        if status >= 500:
            raise _Transient(f"HTTP {status}")
        try:
            data = json.loads(raw)
        except ValueError:
            raise _Transient(f"HTTP {status} with a body that is not JSON") from None
        if not isinstance(data, dict):
            raise _Transient(f"HTTP {status} with JSON that is not an object")
        if status >= 400:
            raise _refusal(status, data, retry_after)
        return data

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        return self._session


def _refusal(status: int, data: dict[str, Any], retry_after: str | None) -> RendezvousRefused:
    error = data.get("error")
    reason, message = (
        f"HTTP_{status}",
        f"The rendezvous service refused the request (HTTP {status}).",
    )
    if isinstance(error, dict):
        if isinstance(error.get("code"), str):
            reason = error["code"]
        if isinstance(error.get("message"), str):
            message = error["message"]
    wait: float | None = None
    if retry_after is not None:
        try:
            wait = float(retry_after)
        except ValueError:
            wait = None
    return RendezvousRefused(status, reason, message, wait)


def _field(data: dict[str, Any], name: str, kind: type[T]) -> T:
    value = data.get(name)
    # bool is an int subclass; never accept one for the other.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise QrlinkError(
            ErrorCode.REMOTE_SERVICE_ERROR,
            f"The rendezvous service answered without a valid '{name}' field.",
        )
    return value
