"""GET /turn (TURN REST credentials, only against a capability) and CORS for a page on
another origin."""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import replace
from typing import Any

from qrlink_desktop.core.clock import ManualClock
from qrlink_desktop.core.turn import rest_expiry
from qrlink_desktop.rendezvous.command import parse_options
from qrlink_desktop.rendezvous.ratelimit import RateLimit
from qrlink_desktop.rendezvous.server import ServiceConfig
from qrlink_desktop.rendezvous.turn_grants import api_tokens_from

from .conftest import Client, MakeClient

SECRET = "s3cret"
API_TOKEN = "merchant-api-token"
TURN_URL = "turn:relay.example:3478?transport=udp"


def _config(**changes: Any) -> ServiceConfig:
    return replace(
        ServiceConfig(
            rate_limit=None,
            turn_secret=SECRET,
            turn_urls=(TURN_URL,),
            turn_ttl=600,
            api_token_hashes=api_tokens_from(f"old-token, {API_TOKEN}"),
        ),
        **changes,
    )


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_turn_mints_rest_credentials_for_the_merchants_api_token(
    make_client: MakeClient, clock: ManualClock
) -> None:
    client, _ = await make_client(clock=clock, config=_config())
    resp = await client.get("/turn", headers=_bearer(API_TOKEN))
    assert resp.status == 200 and resp.headers["Cache-Control"] == "no-store"
    body = await resp.json()
    assert body["uris"] == [TURN_URL] and body["ttl"] == 600
    assert rest_expiry(body["username"]) == int(clock.now()) + 600
    expected = hmac.new(SECRET.encode(), body["username"].encode(), hashlib.sha1).digest()
    assert base64.b64decode(body["credential"]) == expected
    second = await (await client.get("/turn", headers=_bearer(API_TOKEN))).json()
    assert second["username"] != body["username"]  # a fresh user part each time
    assert (await client.get("/turn", headers=_bearer("old-token"))).status == 200


async def test_turn_without_a_capability_hands_out_nothing(
    make_client: MakeClient, clock: ManualClock
) -> None:
    client, _ = await make_client(clock=clock, config=_config())
    anonymous = await client.get("/turn")
    assert anonymous.status == 401
    assert anonymous.headers["WWW-Authenticate"].startswith("Bearer")
    body = await anonymous.json()
    assert body["error"]["code"] == "UNAUTHORIZED" and "credential" not in body
    for headers, params in (
        (_bearer("guessed"), {}),
        ({"Authorization": "Basic bWU6cHc="}, {}),
        ({}, {"handle": "corner-shop"}),  # nothing published under it
    ):
        refused = await client.get("/turn", headers=headers, params=params)
        assert refused.status == 403, (headers, params)
        refusal = await refused.json()
        assert refusal["error"]["code"] == "FORBIDDEN" and "credential" not in refusal
    malformed = await client.get("/turn", params={"handle": "x"})
    assert malformed.status == 400
    text = await (await client.get("/metrics")).text()
    assert 'qrlink_rendezvous_turn_refused_total{reason="anonymous"} 1' in text
    assert 'qrlink_rendezvous_turn_refused_total{reason="forbidden"} 3' in text
    assert 'qrlink_rendezvous_refused_total{code="UNAUTHORIZED"} 1' in text
    assert "qrlink_rendezvous_turn_credentials_total{" not in text


async def test_a_published_handle_is_the_customers_capability_while_it_lives(
    make_client: MakeClient, clock: ManualClock
) -> None:
    client, _ = await make_client(clock=clock, config=_config())
    published = await client.post(
        "/publish", json={"username": "corner-shop", "token": "offer", "ttl": 120_000}
    )
    assert published.status == 200
    clock.advance(20)
    resp = await client.get("/turn", params={"handle": "corner-shop"})
    assert resp.status == 200
    body = await resp.json()
    # Valid while the handle lives: 100 s left of it, under the service's 600 s.
    assert body["ttl"] == 100
    assert rest_expiry(body["username"]) == int(clock.now()) + 100
    clock.advance(100)  # the handle has expired
    gone = await client.get("/turn", params={"handle": "corner-shop"})
    assert gone.status == 403
    text = await (await client.get("/metrics")).text()
    assert 'qrlink_rendezvous_turn_credentials_total{capability="handle"} 1' in text
    assert 'qrlink_rendezvous_turn_refused_total{reason="forbidden"} 1' in text


async def test_refused_turn_requests_are_rate_limited_per_client(
    make_client: MakeClient, clock: ManualClock
) -> None:
    """Guessing handles or tokens stops after a few tries; the merchant's token still
    works, and the refusals and the limit show in /metrics."""
    config = _config(turn_refusal_limit=RateLimit(rate=0.1, burst=3))
    client, _ = await make_client(clock=clock, config=config)
    statuses = [
        (await client.get("/turn", params={"handle": f"guess-{i}"})).status for i in range(5)
    ]
    assert statuses == [403, 403, 403, 429, 429]
    limited = await client.get("/turn")
    assert limited.status == 429 and int(limited.headers["Retry-After"]) >= 1
    assert (await client.get("/turn", headers=_bearer(API_TOKEN))).status == 200
    clock.advance(10)  # one refusal's worth of budget back
    assert (await client.get("/turn", params={"handle": "guess-9"})).status == 403
    text = await (await client.get("/metrics")).text()
    assert 'qrlink_rendezvous_turn_refused_total{reason="rate_limited"} 3' in text
    assert "qrlink_rendezvous_rate_limited_total 3" in text
    assert 'qrlink_rendezvous_turn_credentials_total{capability="api_token"} 1' in text


def test_the_credential_lifetime_stays_short() -> None:
    assert ServiceConfig().turn_ttl == 300
    assert parse_options([], {}).service.turn_ttl == 300


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
