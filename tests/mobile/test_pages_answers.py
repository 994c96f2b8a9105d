"""The page server's way home, over real HTTP on loopback: the marker only where answers
are taken, `POST /answer` statuses, codes and headers, the size cap before reading."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import aiohttp
import mobile_support as ms
import pytest

from qrlink_desktop.core import answer_home, bootstrap
from qrlink_desktop.core.bootstrap import BootstrapRecord, Kind
from qrlink_desktop.core.errors import ErrorCode, QrlinkError
from qrlink_desktop.pages.answers import AnswerInbox, NetworkAnswer
from qrlink_desktop.pages.server import MARKER, PageServer, serve_pages


def _offer(seed: bytes) -> BootstrapRecord:
    return bootstrap.new_offer(bytes(32), (), int(time.time()) + 300, seed=seed)


def _answer(offer: BootstrapRecord) -> str:
    return bootstrap.answer_text(
        BootstrapRecord(
            Kind.ANSWER, offer.offer_id, "abcd", "b" * 22, bytes(32), (), setup="active"
        )
    )


@pytest.fixture
async def taken() -> list[NetworkAnswer]:
    return []


@pytest.fixture
async def server(taken: list[NetworkAnswer]) -> AsyncIterator[PageServer]:
    ms.ensure_page_built()

    async def sink(answer: NetworkAnswer) -> None:
        if taken:
            raise QrlinkError(ErrorCode.INVALID_ARGUMENT, "no offer is waiting for an answer")
        taken.append(answer)

    srv = await serve_pages("127.0.0.1", 0, ms.DIST, inbox=AnswerInbox(sink))
    try:
        yield srv
    finally:
        await srv.close()


async def test_only_a_server_that_takes_answers_marks_its_page(server: PageServer) -> None:
    plain = await serve_pages("127.0.0.1", 0, ms.DIST)
    try:
        async with aiohttp.ClientSession() as s:
            async with s.get(server.url) as r:
                marked = await r.text()
            async with s.get(plain.url) as r:
                unmarked = await r.text()
            async with s.post(plain.url + "answer", data=b"{}") as r:
                assert r.status in (404, 405)  # no way home on a plain page host
    finally:
        await plain.close()
    assert MARKER in marked and marked.index(MARKER) < marked.index("</head>")
    assert "qrlink-answer" not in unmarked
    assert marked.replace(MARKER + "\n", "") == unmarked


async def test_genuine_answer_then_replay(server: PageServer, taken: list[NetworkAnswer]) -> None:
    assert server.inbox is not None
    offer = _offer(bytes(16))
    server.inbox.expect(offer, time.time())
    assert offer.seed is not None
    body = answer_home.make_request(offer.seed, _answer(offer)).to_json()
    async with aiohttp.ClientSession() as s:
        async with s.post(server.url + "answer", data=body) as r:
            assert r.status == 202
            assert await r.json() == {"status": "accepted"}
            assert r.headers["Cache-Control"] == "no-store"
        async with s.post(server.url + "answer", data=body) as r:
            assert r.status == 409
            doc = await r.json()
    assert doc["error"]["code"] == "INVALID_ARGUMENT"
    assert [a.text for a in taken] == [_answer(offer)]
    assert taken[0].client == "127.0.0.1"


async def test_oversize_is_refused_before_it_is_read(server: PageServer) -> None:
    assert server.inbox is not None
    big = b"{" + b" " * (10 * 1024 * 1024) + b"}"
    async with aiohttp.ClientSession() as s:
        async with s.post(server.url + "answer", data=big) as r:
            assert r.status == 413
            assert (await r.json())["error"]["code"] == "MESSAGE_TOO_LARGE"

        async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: read up to the cap
            for _ in range(64):
                yield b" " * 1024

        async with s.post(server.url + "answer", data=chunks()) as r:
            assert r.status == 413
    assert server.inbox.refused == {ErrorCode.MESSAGE_TOO_LARGE: 2}


async def test_a_burst_gets_retry_after(server: PageServer) -> None:
    async with aiohttp.ClientSession() as s:

        async def post() -> tuple[int, str | None]:
            async with s.post(server.url + "answer", data=b"{}") as r:
                return r.status, r.headers.get("Retry-After")

        results = await asyncio.gather(*(post() for _ in range(40)))
    statuses = sorted(status for status, _ in results)
    assert statuses.count(400) == 10 and statuses.count(429) == 30
    assert {after for status, after in results if status == 429} == {"1"}
