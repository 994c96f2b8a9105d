"""The cashier's side of remote mode, for the browser test: a rendezvous service with the
page on the same origin, an offer published under a handle with a reply handle in it, the
answer taken from the reply handle, one payment. One JSON event per line on stdout.

    python tests/mobile/remote_cashier.py ADDR PORT HANDLE AMOUNT CURRENCY [ANSWER_DELAY
                                          [TURN_URL TURN_SECRET]]

ANSWER_DELAY (seconds) holds the service's reply to the page's publish of its answer after
the answer is stored: a slow service, so the cashier connects while the page still waits.
TURN_URL and TURN_SECRET: a coturn with TURN REST auth; the service hands out credentials
for it and the cashier connects only through it (relay-only).
"""

from __future__ import annotations

import asyncio
import json
import secrets
import sys
import time
from typing import Any

from aiohttp import web

from qrlink_desktop.core.conversation import PaymentStatus
from qrlink_desktop.core.events import Event
from qrlink_desktop.core.turn import rest_credentials
from qrlink_desktop.pages.server import default_root
from qrlink_desktop.rendezvous.client import RendezvousClient
from qrlink_desktop.rendezvous.server import ServiceConfig, create_app
from qrlink_desktop.rtc.config import SessionConfig
from qrlink_desktop.rtc.offering import OfferingSession
from qrlink_desktop.rtc.peer import IceConfig, IceServerConfig


def emit(event: dict[str, Any]) -> None:
    print(json.dumps(event, default=str), flush=True)


def told(event: Event) -> None:
    emit(event.to_json())


def slow_answers(delay: float) -> Any:
    @web.middleware
    async def hold(request: web.Request, handler: Any) -> web.StreamResponse:
        response = await handler(request)
        if request.method == "POST" and request.path == "/publish":
            body = await request.json()  # aiohttp keeps the body the handler read
            if str(body.get("username", "")).startswith("r-"):
                await asyncio.sleep(delay)
                emit({"event": "answer_reply_released"})
        return response

    return hold


async def main(
    addr: str,
    port: int,
    handle: str,
    amount: str,
    currency: str,
    answer_delay: float,
    turn: tuple[str, str] | None = None,
) -> int:
    # The service serves the page itself, as `qrlink rendezvous` does; with a TURN URL it
    # also hands out credentials for that relay (GET /turn), and the cashier goes relay-only
    # through it, so the customer's page can connect only through what /turn gave it.
    relay = {} if turn is None else {"turn_secret": turn[1], "turn_urls": (turn[0],)}
    app = create_app(config=ServiceConfig(page_root=default_root(), **relay))
    if answer_delay > 0:
        app.middlewares.append(slow_answers(answer_delay))
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, addr, port).start()
    base = f"http://{addr}:{port}"
    emit({"event": "listening", "url": base + "/"})
    session = OfferingSession(
        SessionConfig(ice=_ice(addr, turn), page_url=base + "/", merchant="Far Shop"),
        listener=told,
    )
    reply = secrets.token_bytes(8)
    try:
        async with RendezvousClient(base) as client:
            offer = await session.new_customer(reply_handle=reply)
            assert offer is not None
            await client.publish(handle, offer.text, 120_000)
            emit({"event": "published", "username": handle, "reply": "r-" + reply.hex()})
            found = None
            while found is None:
                found = await client.lookup("r-" + reply.hex(), wait=20)
            emit({"event": "answer_found", "token": found.token})
            if await session.submit_answer(found.token) is None:
                return 1
            session.confirm()
            request_id = session.request_payment(amount, currency, "REMOTE-1")
            outcome = await session.payment_outcome(request_id)
            await asyncio.sleep(0.1)
            return 0 if outcome == PaymentStatus.APPROVED else 4
    finally:
        await session.shutdown()
        await runner.cleanup()


def _ice(addr: str, turn: tuple[str, str] | None) -> IceConfig:
    if turn is None:
        return IceConfig(addresses=(addr,))
    # The merchant holds the relay's secret, so it makes its own credentials.
    username, credential = rest_credentials(turn[1], "cashier", 600, time.time())
    server = IceServerConfig((turn[0],), username, credential)
    return IceConfig(servers=(server,), relay_only=True, addresses=(addr,))


if __name__ == "__main__":
    a = sys.argv[1:]
    delay = float(a[5]) if len(a) > 5 else 0.0
    relay = (a[6], a[7]) if len(a) > 7 else None
    run = main(a[0], int(a[1]), a[2], a[3], a[4], delay, relay)
    sys.exit(asyncio.run(asyncio.wait_for(run, 60)))
