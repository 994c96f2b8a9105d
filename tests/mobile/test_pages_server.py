"""The static server for the built page: MIME types, CSP, cache headers, precompressed
assets, no way out of the page directory; and `qrlink peer offer --serve-page` input."""

from __future__ import annotations

import gzip
import re
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import mobile_support as ms
import pytest

from qrlink_desktop import cli
from qrlink_desktop.pages.server import (
    PageServer,
    content_security_policy,
    parse_address,
    serve_pages,
)


@pytest.fixture
async def server() -> AsyncIterator[PageServer]:
    ms.ensure_page_built()
    srv = await serve_pages("127.0.0.1", 0, ms.DIST, connect_src=("http://10.0.0.5:8787",))
    try:
        yield srv
    finally:
        await srv.close()


def _asset(suffix: str) -> str:
    return next(p.name for p in ms.DIST.iterdir() if p.name.endswith(suffix))


async def test_index_headers_and_revalidation(server: PageServer) -> None:
    async with aiohttp.ClientSession(auto_decompress=False) as s:
        async with s.get(server.url) as r:
            assert r.status == 200
            assert r.headers["Content-Type"] == "text/html; charset=utf-8"
            assert r.headers["Cache-Control"] == "no-cache"
            assert r.headers["X-Content-Type-Options"] == "nosniff"
            csp = r.headers["Content-Security-Policy"]
            body = await r.text()
        # Nothing but this origin (and the configured rendezvous origin for fetch).
        assert "default-src 'none'" in csp and "script-src 'self';" in csp
        assert "connect-src 'self' http://10.0.0.5:8787;" in csp
        assert re.findall(r"https?://", csp.replace("http://10.0.0.5:8787", "")) == []
        assert re.search(r'src="app-[0-9a-f]{10}\.js"', body)
        assert "http" not in body.lower().replace("http-equiv", "")
        async with s.get(server.url, headers={"If-None-Match": r.headers["ETag"]}) as again:
            assert again.status == 304
        async with s.head(server.url + "index.html") as head:
            assert head.status == 200 and await head.read() == b""


@pytest.mark.parametrize(
    ("accept", "encoding"), [("br, gzip", "br"), ("gzip", "gzip"), ("", None), ("br;q=0", None)]
)
async def test_assets_are_immutable_and_precompressed(
    server: PageServer, accept: str, encoding: str | None
) -> None:
    name = _asset(".js")
    plain = (ms.DIST / name).read_bytes()
    async with (
        aiohttp.ClientSession(auto_decompress=False) as s,
        s.get(server.url + name, headers={"Accept-Encoding": accept}) as r,
    ):
        assert r.status == 200
        assert r.headers["Content-Type"] == "text/javascript; charset=utf-8"
        assert r.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        assert r.headers.get("Content-Encoding") == encoding
        assert r.headers["Vary"] == "Accept-Encoding"
        body = await r.read()
    if encoding == "gzip":
        assert gzip.decompress(body) == plain
    elif encoding is None:
        assert body == plain


async def test_stylesheet_type(server: PageServer) -> None:
    async with aiohttp.ClientSession() as s, s.get(server.url + _asset(".css")) as r:
        assert r.status == 200
        assert r.headers["Content-Type"] == "text/css; charset=utf-8"


@pytest.mark.parametrize(
    "path", ["nothing.js", "..%2Fpackage.json", "%2E%2E/%2E%2E/etc/passwd", ".hidden", "a/b"]
)
async def test_nothing_outside_the_page(server: PageServer, path: str) -> None:
    async with aiohttp.ClientSession() as s, s.get(server.url + path) as r:
        assert r.status == 404


async def test_unbuilt_page_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="make page"):
        await serve_pages("127.0.0.1", 0, tmp_path)


def test_addresses_and_policy() -> None:
    assert parse_address("10.99.0.1:8765") == ("10.99.0.1", 8765)
    assert parse_address("[::1]:80") == ("::1", 80)
    for bad in ("nonsense", "1.2.3.4:", ":80", "h:99999"):
        with pytest.raises(ValueError):
            parse_address(bad)
    assert "connect-src 'self';" in content_security_policy()


def test_serve_page_refuses_a_bad_address() -> None:
    assert cli.main(["peer", "offer", "--serve-page", "nonsense", "--address", "127.0.0.1"]) == 2
