"""The HTTP API against the memory store, time driven by a ManualClock."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from qrlink_desktop.core.clock import ManualClock
from qrlink_desktop.rendezvous import validation as v

from .conftest import Client, MakeClient


async def publish(
    api: Client, username: str = "alice", token: str = "tok-1", **extra: Any
) -> dict[str, Any]:
    headers = extra.pop("headers", {})
    resp = await api.post(
        "/publish", json={"username": username, "token": token, **extra}, headers=headers
    )
    assert resp.status == 200, await resp.text()
    body: dict[str, Any] = await resp.json()
    return body


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def assert_error(resp: Any, status: int, code: str) -> dict[str, Any]:
    assert resp.status == status, await resp.text()
    assert resp.content_type == "application/json"
    body: dict[str, Any] = await resp.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message"}
    assert body["error"]["code"] == code
    message = body["error"]["message"]
    assert message[0].isupper() and message.endswith("."), message
    return body


# -- publish ---------------------------------------------------------------------------


async def test_publish_returns_token_id_expiry_and_owner_key(
    api: Client, clock: ManualClock
) -> None:
    body = await publish(api, ttl=120_000)
    assert set(body) == {"tokenId", "expiresAt", "ownerKey"}
    assert isinstance(body["tokenId"], str) and body["tokenId"]
    assert body["expiresAt"] == round(clock.now() * 1000) + 120_000
    assert isinstance(body["ownerKey"], str) and len(body["ownerKey"]) >= 32


async def test_publish_default_ttl_is_five_minutes(api: Client, clock: ManualClock) -> None:
    body = await publish(api)
    assert body["expiresAt"] == round(clock.now() * 1000) + 300_000


@pytest.mark.parametrize("ttl", [v.MIN_TTL_MS, v.MAX_TTL_MS])
async def test_publish_accepts_ttl_bounds(api: Client, ttl: int) -> None:
    await publish(api, ttl=ttl)


@pytest.mark.parametrize("ttl", [59_999, 900_001, 0, -1, 1.5, "300000", True, None, [300000]])
async def test_publish_refuses_ttl_outside_range_or_not_integer(api: Client, ttl: Any) -> None:
    resp = await api.post("/publish", json={"username": "alice", "token": "t", "ttl": ttl})
    body = await assert_error(resp, 400, "INVALID_ARGUMENT")
    assert "ttl" in body["error"]["message"]


@pytest.mark.parametrize(
    "username", ["ab", "a" * 65, "has space", "slash/y", "é-accent", "", None, 42, "abc\n"]
)
async def test_publish_refuses_bad_username(api: Client, username: Any) -> None:
    resp = await api.post("/publish", json={"username": username, "token": "t"})
    body = await assert_error(resp, 400, "INVALID_ARGUMENT")
    assert "username" in body["error"]["message"]


@pytest.mark.parametrize("username", ["abc", "A" * 64, "reply.9f_x-Z"])
async def test_publish_accepts_good_username(api: Client, username: str) -> None:
    await publish(api, username)


@pytest.mark.parametrize("token", ["", None, 5, {"sdp": "x"}, "x" * (v.MAX_TOKEN_CHARS + 1)])
async def test_publish_refuses_bad_token(api: Client, token: Any) -> None:
    resp = await api.post("/publish", json={"username": "alice", "token": token})
    body = await assert_error(resp, 400, "INVALID_ARGUMENT")
    assert "token" in body["error"]["message"]


async def test_publish_refuses_a_token_with_a_lone_surrogate(api: Client) -> None:
    raw = b'{"username": "alice", "token": "ab\\ud800cd"}'
    resp = await api.post("/publish", data=raw)
    await assert_error(resp, 400, "INVALID_ARGUMENT")


async def test_publish_accepts_largest_token(api: Client) -> None:
    await publish(api, token="x" * v.MAX_TOKEN_CHARS)


@pytest.mark.parametrize("raw", [b"", b"not json", b"[1, 2]", b'"s"', b"[" * 5000, b"\xff\xfe"])
async def test_publish_refuses_body_that_is_not_a_json_object(api: Client, raw: bytes) -> None:
    resp = await api.post("/publish", data=raw, headers={"Content-Type": "application/json"})
    await assert_error(resp, 400, "INVALID_ARGUMENT")


async def test_body_over_the_cap_is_413(api: Client) -> None:
    big = b'{"username": "alice", "token": "' + b"x" * v.MAX_BODY_BYTES + b'"}'
    resp = await api.post("/publish", data=big)
    await assert_error(resp, 413, "PAYLOAD_TOO_LARGE")
    resp = await api.patch("/publish", data=big, headers=bearer("k"))
    await assert_error(resp, 413, "PAYLOAD_TOO_LARGE")


async def test_chunked_body_over_the_cap_is_413(api: Client) -> None:
    async def chunks() -> Any:
        for _ in range(v.MAX_BODY_BYTES // 1024 + 2):
            yield b"x" * 1024

    resp = await api.post("/publish", data=chunks())
    await assert_error(resp, 413, "PAYLOAD_TOO_LARGE")


# -- ownership -------------------------------------------------------------------------


async def test_publish_over_live_username_without_or_with_wrong_key_is_409(api: Client) -> None:
    await publish(api)
    resp = await api.post("/publish", json={"username": "alice", "token": "evil"})
    await assert_error(resp, 409, "CONFLICT")
    resp = await api.post(
        "/publish", json={"username": "alice", "token": "evil"}, headers=bearer("guess")
    )
    await assert_error(resp, 409, "CONFLICT")
    found = await (await api.get("/lookup", params={"username": "alice"})).json()
    assert found["token"] == "tok-1"


async def test_owner_republishes_and_replaces_keeping_the_key(
    api: Client, clock: ManualClock
) -> None:
    first = await publish(api)
    clock.advance(10)
    second = await publish(api, token="tok-2", headers=bearer(first["ownerKey"]))
    assert second["ownerKey"] == first["ownerKey"]
    assert second["tokenId"] != first["tokenId"]
    found = await (await api.get("/lookup", params={"username": "alice"})).json()
    assert found == {
        "token": "tok-2",
        "username": "alice",
        "publishedAt": round(clock.now() * 1000),
    }


async def test_expired_username_can_be_taken_by_anyone(api: Client, clock: ManualClock) -> None:
    first = await publish(api, ttl=60_000)
    clock.advance(60)
    second = await publish(api, token="new-owner")
    assert second["ownerKey"] != first["ownerKey"]


async def test_patch_and_delete_without_or_with_wrong_key_are_403(api: Client) -> None:
    await publish(api)
    for headers in ({}, bearer("wrong"), {"Authorization": "Basic abc"}, {"Authorization": ""}):
        resp = await api.patch("/publish", json={"username": "alice"}, headers=headers)
        await assert_error(resp, 403, "FORBIDDEN")
        resp = await api.delete("/publish", params={"username": "alice"}, headers=headers)
        await assert_error(resp, 403, "FORBIDDEN")
    assert (await api.get("/lookup", params={"username": "alice"})).status == 200


# -- lookup and expiry -----------------------------------------------------------------


async def test_lookup_returns_exactly_token_username_published_at(
    api: Client, clock: ManualClock
) -> None:
    await publish(api, token='{"v":1}')
    resp = await api.get("/lookup", params={"username": "alice"})
    assert resp.status == 200
    assert await resp.json() == {
        "token": '{"v":1}',
        "username": "alice",
        "publishedAt": round(clock.now() * 1000),
    }


async def test_expired_and_unknown_usernames_get_the_same_404(
    api: Client, clock: ManualClock
) -> None:
    await publish(api, ttl=60_000)
    clock.advance(59.999)
    assert (await api.get("/lookup", params={"username": "alice"})).status == 200
    clock.advance(0.001)
    expired = await api.get("/lookup", params={"username": "alice"})
    unknown = await api.get("/lookup", params={"username": "nobody"})
    assert await assert_error(expired, 404, "NOT_FOUND") == await assert_error(
        unknown, 404, "NOT_FOUND"
    )


@pytest.mark.parametrize("query", [{}, {"username": "x"}, {"username": "a b c"}])
async def test_lookup_refuses_missing_or_bad_username(api: Client, query: dict[str, str]) -> None:
    await assert_error(await api.get("/lookup", params=query), 400, "INVALID_ARGUMENT")


# -- refresh (PATCH) -------------------------------------------------------------------


async def test_patch_extends_ttl_from_now(api: Client, clock: ManualClock) -> None:
    key = (await publish(api, ttl=60_000))["ownerKey"]
    clock.advance(50)
    resp = await api.patch(
        "/publish", json={"username": "alice", "ttl": 120_000}, headers=bearer(key)
    )
    assert resp.status == 200
    assert await resp.json() == {"success": True}
    clock.advance(119)  # 169 s after publishing, past the original 60 s
    assert (await api.get("/lookup", params={"username": "alice"})).status == 200
    clock.advance(1)
    assert (await api.get("/lookup", params={"username": "alice"})).status == 404


async def test_patch_default_ttl_and_bad_ttl(api: Client, clock: ManualClock) -> None:
    key = (await publish(api, ttl=60_000))["ownerKey"]
    resp = await api.patch("/publish", json={"username": "alice"}, headers=bearer(key))
    assert resp.status == 200
    clock.advance(299)
    assert (await api.get("/lookup", params={"username": "alice"})).status == 200
    resp = await api.patch("/publish", json={"username": "alice", "ttl": 1000}, headers=bearer(key))
    await assert_error(resp, 400, "INVALID_ARGUMENT")


async def test_patch_unknown_or_expired_is_404(api: Client, clock: ManualClock) -> None:
    key = (await publish(api, ttl=60_000))["ownerKey"]
    resp = await api.patch("/publish", json={"username": "nobody"}, headers=bearer(key))
    await assert_error(resp, 404, "NOT_FOUND")
    clock.advance(60)
    resp = await api.patch("/publish", json={"username": "alice"}, headers=bearer(key))
    await assert_error(resp, 404, "NOT_FOUND")


async def test_patch_refuses_bad_body(api: Client) -> None:
    resp = await api.patch("/publish", json={"ttl": 60_000}, headers=bearer("k"))
    await assert_error(resp, 400, "INVALID_ARGUMENT")
    resp = await api.patch("/publish", data=b"nope", headers=bearer("k"))
    await assert_error(resp, 400, "INVALID_ARGUMENT")


# -- delete ----------------------------------------------------------------------------


async def test_delete_withdraws_the_token(api: Client) -> None:
    key = (await publish(api))["ownerKey"]
    resp = await api.delete("/publish", params={"username": "alice"}, headers=bearer(key))
    assert resp.status == 200
    assert await resp.json() == {"success": True}
    assert (await api.get("/lookup", params={"username": "alice"})).status == 404
    again = await api.delete("/publish", params={"username": "alice"}, headers=bearer(key))
    await assert_error(again, 404, "NOT_FOUND")
    # Withdrawn means free: someone else may publish there now.
    await publish(api, token="other")


async def test_delete_refuses_bad_username(api: Client) -> None:
    resp = await api.delete("/publish", params={"username": "!!"}, headers=bearer("k"))
    await assert_error(resp, 400, "INVALID_ARGUMENT")
    resp = await api.delete("/publish", headers=bearer("k"))
    await assert_error(resp, 400, "INVALID_ARGUMENT")


# -- long poll -------------------------------------------------------------------------


async def test_long_poll_answers_when_the_token_appears(api: Client) -> None:
    started = time.monotonic()
    poll = asyncio.create_task(api.get("/lookup", params={"username": "reply-1", "wait": "5"}))
    await asyncio.sleep(0.1)
    assert not poll.done()
    await publish(api, "reply-1", token="answer")
    resp = await asyncio.wait_for(poll, 2)
    assert resp.status == 200
    assert (await resp.json())["token"] == "answer"
    assert time.monotonic() - started < 4.0  # before the poll's own 5 s wait ended


async def test_long_poll_times_out_with_404(api: Client) -> None:
    started = time.monotonic()
    resp = await api.get("/lookup", params={"username": "reply-2", "wait": "0.3"})
    elapsed = time.monotonic() - started
    await assert_error(resp, 404, "NOT_FOUND")
    assert 0.25 <= elapsed < 10  # it waited its 0.3 s, not the default wait


async def test_long_poll_on_a_live_token_answers_at_once(api: Client) -> None:
    await publish(api, "reply-3")
    started = time.monotonic()
    resp = await api.get("/lookup", params={"username": "reply-3", "wait": "20"})
    assert resp.status == 200
    assert time.monotonic() - started < 10  # not the 20 s wait


@pytest.mark.parametrize("wait", ["-1", "30.5", "abc", "nan", "inf", ""])
async def test_long_poll_refuses_bad_wait(api: Client, wait: str) -> None:
    resp = await api.get("/lookup", params={"username": "reply", "wait": wait})
    body = await assert_error(resp, 400, "INVALID_ARGUMENT")
    assert "wait" in body["error"]["message"]


async def test_many_long_polls_all_wake_and_leave_nothing_behind(
    make_client: MakeClient, clock: ManualClock
) -> None:
    api, service = await make_client(clock=clock)
    polls = [
        asyncio.create_task(api.get("/lookup", params={"username": "reply-n", "wait": "5"}))
        for _ in range(20)
    ]
    await asyncio.sleep(0.1)
    await publish(api, "reply-n")
    responses = await asyncio.wait_for(asyncio.gather(*polls), 3)
    assert [r.status for r in responses] == [200] * 20
    notifier = service.store.notifier  # type: ignore[attr-defined]
    assert notifier.waiting == 0 and not notifier._events


# -- other endpoints and errors --------------------------------------------------------


async def test_health(api: Client) -> None:
    resp = await api.get("/health")
    assert resp.status == 200
    assert await resp.json() == {"status": "ok"}


async def test_wrong_method_is_405_json_with_allow(api: Client) -> None:
    resp = await api.put("/publish", json={})
    await assert_error(resp, 405, "METHOD_NOT_ALLOWED")
    assert set(resp.headers["Allow"].split(",")) == {"POST", "PATCH", "DELETE"}
    resp = await api.post("/lookup", json={})
    await assert_error(resp, 405, "METHOD_NOT_ALLOWED")


async def test_unknown_path_is_404_json(api: Client) -> None:
    await assert_error(await api.get("/nothing-here"), 404, "NOT_FOUND")


async def test_a_full_memory_store_answers_503_until_tokens_expire(
    make_client: MakeClient, clock: ManualClock
) -> None:
    from qrlink_desktop.rendezvous.store import MemoryStore

    api, service = await make_client(store=MemoryStore(max_records=2), clock=clock)
    first = await publish(api, "user-1", ttl=60_000)
    await publish(api, "user-2", ttl=120_000)
    resp = await api.post("/publish", json={"username": "user-3", "token": "t"})
    await assert_error(resp, 503, "STORE_FULL")
    assert resp.headers["Retry-After"] == "5"
    # The owner may still replace a token it holds.
    await publish(api, "user-1", token="t2", ttl=60_000, headers=bearer(first["ownerKey"]))
    clock.advance(60)
    await service.prune_once()
    await publish(api, "user-3")
