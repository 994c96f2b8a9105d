"""Remote bootstrap (specification §5.2): pairing with no camera through the rendezvous
service. Wires the engine (`rtc`) to the rendezvous client, which may not import each
other, so this sits beside `app.py` and `cli.py` at the top.

    cashier                         service                      customer
    offer with reply handle R --> POST /publish HANDLE
                                    GET /lookup HANDLE <---------- looks the handle up
                                    POST /publish r-R  <---------- answers, publishes answer
    GET /lookup r-R &wait=25 <----  (long poll)
    connects; both compare the 6-digit code

The service sees both tokens and could swap them; the commit-reveal verification code
is what exposes that (the codes on the two screens differ), so the cashier's confirm
step stays mandatory in remote mode.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from dataclasses import dataclass

from .core.errors import ErrorCode, QrlinkError
from .core.handshake import Verified
from .rendezvous.client import RendezvousClient
from .rtc.engine import Engine

log = logging.getLogger(__name__)

DEFAULT_TTL_MS = 300_000
REPLY_TTL_MS = 60_000  # the service's minimum: the answer is fetched within seconds
POLL_SECONDS = 25.0


@dataclass
class Published:
    handle: str
    owner_key: str
    reply_name: str


async def _keep_alive(client: RendezvousClient, pub: Published, ttl_ms: int) -> None:
    """PATCH the TTL at a third of its length so the offer stays findable while waiting."""
    while True:
        await asyncio.sleep(ttl_ms / 3000)
        try:
            await client.refresh(pub.handle, pub.owner_key, ttl_ms)
        except QrlinkError as exc:  # the next refresh may succeed; the wait loop decides
            log.warning("could not refresh %s: %s", pub.handle, exc.message)


async def publish_and_wait(
    engine: Engine,
    client: RendezvousClient,
    handle: str,
    *,
    ttl_ms: int = DEFAULT_TTL_MS,
    poll_seconds: float = POLL_SECONDS,
) -> Verified:
    """Publish a fresh offer under `handle`, wait for the answer on its reply handle,
    connect. The handle is deleted once the answer is in (or on failure)."""
    reply = secrets.token_bytes(8)
    text = await engine.new_customer(reply_handle=reply)
    record = engine.offer
    assert record is not None and record.reply_name is not None and record.expires_at
    result = await client.publish(handle, text, ttl_ms)
    pub = Published(handle, result.owner_key, record.reply_name)
    engine.emit(
        {
            "event": "published",
            "handle": handle,
            "replyTo": pub.reply_name,
            "expiresAt": result.expires_at,
        }
    )
    keeper = asyncio.ensure_future(_keep_alive(client, pub, ttl_ms))
    try:
        while True:
            remaining = record.expires_at - engine.clock.now()
            if remaining <= 0:
                raise QrlinkError(
                    ErrorCode.TIMEOUT, f"nobody answered the offer published as {handle!r} in time"
                )
            found = await client.lookup(pub.reply_name, wait=min(poll_seconds, remaining))
            if found is not None:
                break
        engine.emit({"event": "answer_found", "replyTo": pub.reply_name})
    finally:
        keeper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await keeper
        with contextlib.suppress(QrlinkError):
            await client.delete(handle, pub.owner_key)
    return await engine.submit_answer(found.token)


async def lookup_and_answer(engine: Engine, client: RendezvousClient, handle: str) -> Verified:
    """Find the offer published under `handle`, answer it through its reply handle, connect."""
    found = await client.lookup(handle)
    if found is None:
        raise QrlinkError(
            ErrorCode.REMOTE_SERVICE_ERROR,
            f"nothing is published under {handle!r} (check the name, or the offer has expired)",
        )
    record = engine.decode(found.token)
    if record.reply_name is None:
        raise QrlinkError(
            ErrorCode.BOOTSTRAP_PARSE_FAILED,
            "this offer expects its answer by QR code, not through the service",
        )
    text = await engine.answer(found.token)
    published = await client.publish(record.reply_name, text, REPLY_TTL_MS)
    engine.emit(
        {"event": "published", "handle": record.reply_name, "expiresAt": published.expires_at}
    )
    try:
        return await engine.connect()
    finally:
        with contextlib.suppress(QrlinkError):
            await client.delete(record.reply_name, published.owner_key)
