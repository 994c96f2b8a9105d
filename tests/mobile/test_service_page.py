"""`qrlink rendezvous` serves the page at `/` beside its API: one origin, the same headers
and caching as the laptop's page server, and a marker that tells the page the service is
there (so it uses it for reply handles unasked)."""

from __future__ import annotations

from collections.abc import Iterator

import aiohttp
import mobile_support as ms
import pytest
from rendezvous.helpers import ServiceProcess

from qrlink_desktop.pages.server import MARKER, SERVICE_MARKER, serve_pages

SAME = (
    "Content-Type",
    "Cache-Control",
    "ETag",
    "Vary",
    "X-Content-Type-Options",
    "Referrer-Policy",
    "Content-Security-Policy",
)


@pytest.fixture
def service() -> Iterator[ServiceProcess]:
    process = ServiceProcess("--page-root", str(ms.DIST))
    process.start()
    try:
        yield process
    finally:
        process.stop()


def _asset(suffix: str) -> str:
    return next(p.name for p in ms.DIST.iterdir() if p.name.endswith(suffix))


async def test_the_service_serves_the_page_as_the_page_server_does(
    service: ServiceProcess,
) -> None:
    laptop = await serve_pages("127.0.0.1", 0, ms.DIST)
    try:
        async with aiohttp.ClientSession(auto_decompress=False) as s:
            for path in ("", _asset(".js"), _asset(".css")):
                headers = {"Accept-Encoding": "br, gzip"}
                async with s.get(service.url + "/" + path, headers=headers) as r:
                    assert r.status == 200, path
                    theirs = r.headers
                    body = await r.read()
                async with s.get(laptop.url + path, headers=headers) as r:
                    ours = r.headers
                    plain = await r.read()
                for name in SAME:
                    if name == "ETag" and not path:
                        continue  # index.html differs by its marker
                    assert theirs.get(name) == ours.get(name), (path, name)
                if path:
                    assert theirs["Content-Encoding"] == "br" and body == plain
                    assert "immutable" in theirs["Cache-Control"]
                else:
                    page = body.decode()
                    assert SERVICE_MARKER in page and MARKER not in page
                    assert page.index(SERVICE_MARKER) < page.index("</head>")
                    assert theirs["Cache-Control"] == "no-cache"
                    assert "connect-src 'self';" in theirs["Content-Security-Policy"]
                    index_etag = theirs["ETag"]
            # Revalidation, and the API on the same origin, its answers unchanged.
            async with s.get(service.url + "/", headers={"If-None-Match": index_etag}) as r:
                assert r.status == 304
            async with s.get(service.url + "/health") as r:
                assert (await r.json()) == {"status": "ok"}
            async with s.get(service.url + "/publish") as r:
                assert r.status == 405
            async with s.get(service.url + "/nothing.js") as r:
                assert r.status == 404
                assert (await r.json())["error"]["code"] == "NOT_FOUND"
    finally:
        await laptop.close()


async def test_without_a_page_the_service_is_the_api_alone() -> None:
    process = ServiceProcess("--no-page")
    process.start()
    try:
        async with aiohttp.ClientSession() as s, s.get(process.url + "/") as r:
            assert r.status == 404
    finally:
        process.stop()
