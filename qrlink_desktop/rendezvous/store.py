"""Where published tokens live: one interface, a memory store and (in redis_store) Redis.

Every decision takes `now` (seconds since the epoch) from the caller, so tests move time
with a ManualClock. A record whose `expires_at` has passed is never returned, whether or
not the pruner (or Redis's own key expiry) has removed it yet.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

from qrlink_desktop.core.clock import Clock


@dataclass(frozen=True, slots=True)
class Record:
    username: str
    token: str
    token_id: str
    # Only a hash of the owner key is kept, so a dump of the store cannot take over handles.
    owner_hash: str
    published_at: float
    expires_at: float

    def live(self, now: float) -> bool:
        return now < self.expires_at


@dataclass(frozen=True, slots=True)
class Published:
    record: Record
    owner_key: str
    replaced: bool


class StoreError(Exception):
    pass


class Conflict(StoreError):
    """The username holds a live token published under another owner key."""


class NotFound(StoreError):
    """No live token under the username (never published, deleted or expired)."""


class Forbidden(StoreError):
    """The owner key does not match the live token's."""


class StoreUnavailable(StoreError):
    """The backing store cannot be reached; the request may succeed later."""


class StoreFull(StoreError):
    """The store holds as many tokens as it may; publishing succeeds once some expire."""


def hash_owner_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_owner_key() -> str:
    return secrets.token_urlsafe(24)


def new_token_id() -> str:
    return uuid.uuid4().hex


def owner_matches(record: Record, owner_key: str | None) -> bool:
    if owner_key is None:
        return False
    return hmac.compare_digest(record.owner_hash, hash_owner_key(owner_key))


class Store(Protocol):
    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def ping(self) -> None:
        """Raise StoreUnavailable when the store cannot answer."""
        ...

    async def publish(
        self, username: str, token: str, ttl: float, owner_key: str | None, now: float
    ) -> Published:
        """Store a token for `ttl` seconds. Over a live record only its owner may replace it
        (Conflict otherwise); the owner key then stays the same. A fresh record gets a new key.
        """
        ...

    async def refresh(self, username: str, ttl: float, owner_key: str, now: float) -> float:
        """Extend a live record to expire `ttl` seconds from now; returns the new expiry."""
        ...

    async def delete(self, username: str, owner_key: str, now: float) -> None: ...

    async def lookup(self, username: str, now: float) -> Record | None: ...

    async def wait_for(self, username: str, timeout: float, clock: Clock) -> Record | None:
        """The live record, waiting up to `timeout` seconds for one to be published."""
        ...

    async def prune(self, now: float) -> int:
        """Remove expired records; returns how many this call removed."""
        ...

    async def live_count(self, now: float) -> int: ...


class Notifier:
    """Wakes long polls when a username is published.

    A waiter takes the event *before* looking the store up, so a publish that lands between
    the lookup and the wait still wakes it.
    """

    def __init__(self) -> None:
        self._events: dict[str, asyncio.Event] = {}
        self._watchers: dict[str, int] = {}

    @contextlib.contextmanager
    def watch(self, username: str) -> Iterator[asyncio.Event]:
        event = self._events.get(username)
        if event is None:
            event = self._events[username] = asyncio.Event()
        self._watchers[username] = self._watchers.get(username, 0) + 1
        try:
            yield event
        finally:
            left = self._watchers[username] - 1
            if left:
                self._watchers[username] = left
            else:
                # Nobody waits any more: drop the entry so unanswered handles don't pile up.
                del self._watchers[username]
                if self._events.get(username) is event:
                    del self._events[username]

    def notify(self, username: str) -> None:
        event = self._events.pop(username, None)
        if event is not None:
            event.set()

    def notify_all(self) -> None:
        for username in list(self._events):
            self.notify(username)

    @property
    def waiting(self) -> int:
        return sum(self._watchers.values())


async def wait_with(
    store: Store,
    notifier: Notifier,
    username: str,
    timeout: float,
    clock: Clock,
    recheck: float | None = None,
) -> Record | None:
    """Long-poll loop shared by the stores; `recheck` bounds each sleep when notifications
    can be lost (Redis pub/sub reconnecting)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        with notifier.watch(username) as event:
            record = await store.lookup(username, clock.now())
            if record is not None:
                return record
            remaining = deadline - loop.time()
            if remaining <= 0:
                return None
            if recheck is not None:
                remaining = min(remaining, recheck)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(remaining):
                    await event.wait()


# 100,000 tokens of the largest size is under 2 GiB; real tokens are a tenth of that.
DEFAULT_MAX_RECORDS = 100_000


class MemoryStore:
    """One process, nothing to install; lost on restart, which suits minutes-long tokens."""

    def __init__(self, max_records: int = DEFAULT_MAX_RECORDS) -> None:
        # A cap, so many clients each within their rate limit cannot exhaust memory.
        self.max_records = max_records
        self._records: dict[str, Record] = {}
        self.notifier = Notifier()

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        self.notifier.notify_all()

    async def ping(self) -> None:
        pass

    async def publish(
        self, username: str, token: str, ttl: float, owner_key: str | None, now: float
    ) -> Published:
        current = self._live(username, now)
        if current is not None:
            if not owner_matches(current, owner_key):
                raise Conflict(username)
            assert owner_key is not None
            key, owner_hash, replaced = owner_key, current.owner_hash, True
        else:
            if username not in self._records and len(self._records) >= self.max_records:
                raise StoreFull(username)
            key = new_owner_key()
            owner_hash, replaced = hash_owner_key(key), False
        record = Record(username, token, new_token_id(), owner_hash, now, now + ttl)
        self._records[username] = record
        self.notifier.notify(username)
        return Published(record, key, replaced)

    async def refresh(self, username: str, ttl: float, owner_key: str, now: float) -> float:
        current = self._owned(username, owner_key, now)
        expires_at = now + ttl
        self._records[username] = Record(
            current.username,
            current.token,
            current.token_id,
            current.owner_hash,
            current.published_at,
            expires_at,
        )
        return expires_at

    async def delete(self, username: str, owner_key: str, now: float) -> None:
        self._owned(username, owner_key, now)
        del self._records[username]

    async def lookup(self, username: str, now: float) -> Record | None:
        return self._live(username, now)

    async def wait_for(self, username: str, timeout: float, clock: Clock) -> Record | None:
        return await wait_with(self, self.notifier, username, timeout, clock)

    async def prune(self, now: float) -> int:
        expired = [name for name, record in self._records.items() if not record.live(now)]
        for name in expired:
            del self._records[name]
        return len(expired)

    async def live_count(self, now: float) -> int:
        return sum(1 for record in self._records.values() if record.live(now))

    def _live(self, username: str, now: float) -> Record | None:
        record = self._records.get(username)
        if record is None or not record.live(now):
            return None
        return record

    def _owned(self, username: str, owner_key: str, now: float) -> Record:
        current = self._live(username, now)
        if current is None:
            raise NotFound(username)
        if not owner_matches(current, owner_key):
            raise Forbidden(username)
        return current
