"""GET /turn (TURN REST credentials) and CORS for a page on another origin."""

from __future__ import annotations

import base64
import hashlib
import hmac

from qrlink_desktop.core.clock import ManualClock
from qrlink_desktop.core.turn import rest_expiry
from qrlink_desktop.rendezvous.server import ServiceConfig

from .conftest import Client, MakeClient

SECRET = "s3cret"


async def test_turn_mints_rest_credentials(make_client: MakeClient, clock: ManualClock) -> None:
    config = ServiceConfig(
        rate_limit=None,
        turn_secret=SECRET,
        turn_urls=("turn:relay.example:3478?transport=udp",),
        turn_ttl=600,
    )
    client, _ = await make_client(clock=clock, config=config)
    resp = await client.get("/turn")
    assert resp.status == 200 and resp.headers["Cache-Control"] == "no-store"
    body = await resp.json()
    assert body["uris"] == ["turn:relay.example:3478?transport=udp"] and body["ttl"] == 600
    assert rest_expiry(body["username"]) == int(clock.now()) + 600
    expected = hmac.new(SECRET.encode(), body["username"].encode(), hashlib.sha1).digest()
    assert base64.b64decode(body["credential"]) == expected
    second = await (await client.get("/turn")).json()
    assert second["username"] != body["username"]  # a fresh user part each time


async def test_turn_without_a_secret_is_404(api: Client) -> None:
    resp = await api.get("/turn")
    assert resp.status == 404
    assert (await resp.json())["error"]["code"] == "NOT_FOUND"


async def test_cors_headers_and_preflight(api: Client) -> None:
    resp = await api.options(
        "/publish",
        headers={"Origin": "https://page.example", "Access-Control-Request-Method": "POST"},
    )
    assert resp.status == 204
    assert resp.headers["Access-Control-Allow-Origin"] == "*"
    assert "POST" in resp.headers["Access-Control-Allow-Methods"]
    assert "Authorization" in resp.headers["Access-Control-Allow-Headers"]
    got = await api.get("/lookup", params={"username": "nobody"})
    assert got.status == 404 and got.headers["Access-Control-Allow-Origin"] == "*"
