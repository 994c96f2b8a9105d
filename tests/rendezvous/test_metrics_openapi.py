"""`/metrics` counts what happened; `/openapi.json` describes exactly the routes served."""

from __future__ import annotations

import re

from qrlink_desktop.core.clock import ManualClock
from qrlink_desktop.rendezvous.ratelimit import RateLimit
from qrlink_desktop.rendezvous.server import ServiceConfig, create_app

from .conftest import Client, MakeClient


def samples(text: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


async def scrape(api: Client) -> dict[str, float]:
    resp = await api.get("/metrics")
    assert resp.status == 200
    assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    text = await resp.text()
    # Every sample belongs to a family announced with HELP and TYPE.
    for name in samples(text):
        family = re.sub(r"\{.*", "", name)
        assert f"# TYPE {family} " in text, family
    return samples(text)


async def test_metrics_count_publishes_lookups_refusals_expiry_and_live_tokens(
    make_client: MakeClient, clock: ManualClock
) -> None:
    api, service = await make_client(clock=clock)
    p = "qrlink_rendezvous_"
    owner = (
        await (
            await api.post("/publish", json={"username": "alice", "token": "t", "ttl": 60_000})
        ).json()
    )["ownerKey"]
    await api.post("/publish", json={"username": "bob", "token": "t", "ttl": 120_000})
    await api.post("/publish", json={"username": "alice", "token": "x"})  # 409
    await api.post("/publish", json={"username": "al", "token": "x"})  # 400
    await api.delete("/publish", params={"username": "bob"})  # 403
    await api.get("/lookup", params={"username": "alice"})  # hit
    await api.get("/lookup", params={"username": "carol"})  # miss
    await api.patch(
        "/publish", json={"username": "alice"}, headers={"Authorization": f"Bearer {owner}"}
    )
    m = await scrape(api)
    assert m[f"{p}publishes_total"] == 2
    assert m[f'{p}lookups_total{{result="hit"}}'] == 1
    assert m[f'{p}lookups_total{{result="miss"}}'] == 1
    assert m[f'{p}refused_total{{code="CONFLICT"}}'] == 1
    assert m[f'{p}refused_total{{code="INVALID_ARGUMENT"}}'] == 1
    assert m[f'{p}refused_total{{code="FORBIDDEN"}}'] == 1
    assert m[f"{p}live_tokens"] == 2
    assert m[f"{p}store_up"] == 1
    assert m[f'{p}requests_total{{method="POST",route="/publish",status="409"}}'] == 1

    clock.advance(120)  # alice was refreshed to 300 s; bob's 120 s are over
    await service.prune_once()
    m = await scrape(api)
    assert m[f"{p}expired_total"] == 1
    assert m[f"{p}live_tokens"] == 1
    clock.advance(300)
    m = await scrape(api)
    assert m[f"{p}live_tokens"] == 0  # expired tokens never count, pruned or not
    await service.prune_once()
    assert (await scrape(api))[f"{p}expired_total"] == 2


async def test_metrics_count_rate_limited(make_client: MakeClient, clock: ManualClock) -> None:
    api, _ = await make_client(clock=clock, config=ServiceConfig(rate_limit=RateLimit(1, 2)))
    statuses = [(await api.get("/lookup", params={"username": "abc"})).status for _ in range(4)]
    assert statuses == [404, 404, 429, 429]
    assert (await scrape(api))["qrlink_rendezvous_rate_limited_total"] == 2


async def test_openapi_describes_every_route_and_nothing_else(api: Client) -> None:
    resp = await api.get("/openapi.json")
    assert resp.status == 200
    doc = await resp.json()
    assert doc["openapi"].startswith("3.")
    documented = {(path, method.upper()) for path, ops in doc["paths"].items() for method in ops}
    app = create_app()
    served = {
        (route.resource.canonical, route.method)
        for route in app.router.routes()
        if route.resource is not None and route.method != "HEAD"
    }
    assert documented == served


async def test_openapi_limits_match_validation() -> None:
    from qrlink_desktop.rendezvous import validation as v
    from qrlink_desktop.rendezvous.openapi import document

    doc = document(max_wait=12.5)
    schemas = doc["components"]["schemas"]
    ttl = schemas["PublishRequest"]["properties"]["ttl"]
    assert (ttl["minimum"], ttl["maximum"], ttl["default"]) == (
        v.MIN_TTL_MS,
        v.MAX_TTL_MS,
        v.DEFAULT_TTL_MS,
    )
    assert schemas["PublishRequest"]["properties"]["token"]["maxLength"] == v.MAX_TOKEN_CHARS
    wait = doc["paths"]["/lookup"]["get"]["parameters"][1]
    assert wait["name"] == "wait" and wait["schema"]["maximum"] == 12.5
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            if path not in ("/health", "/metrics", "/openapi.json"):
                assert "429" in op["responses"] and "503" in op["responses"], (path, method)
