"""A static server for the built mobile page (resources/mobile/dist).

The desktop app serves the page on the laptop's LAN address so that a shop without
internet works; `qrlink peer offer --serve-page ADDR:PORT` does the same for the headless
peer, and `qrlink rendezvous` serves it beside its API (one origin for both). Files are
read once at start and served from memory: correct MIME types, a Content-Security-Policy
with no external sources, `no-cache` (with an ETag) for index.html and a year's
`immutable` caching for the content-hashed assets, and the precompressed `.br`/`.gz`
copies the build writes for clients that accept them. No reverse DNS lookups (a server in
a namespace without DNS must not stall).

The index.html served tells the page what its origin offers, by markers in its head:

- `<meta name="qrlink-answer" content="answer">`: given an `AnswerInbox` (answers.py), the
  laptop takes the page's answer back at `POST /answer` (one scan);
- `<meta name="qrlink-rendezvous" content=".">`: the rendezvous service's API is on this
  origin, so the page publishes and looks up reply handles there with no setting.

Without either (a page host) the page shows its answer QR.

    python -m qrlink_desktop.pages --host 0.0.0.0 --port 8765
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import logging
import math
import re
import signal
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from ..core.answer_home import ANSWER_PATH, MAX_REQUEST_BYTES
from ..core.clock import SYSTEM_CLOCK, Clock
from ..core.errors import error_body
from ..core.resources import resources_dir
from .answers import AnswerInbox, Outcome

log = logging.getLogger(__name__)

DEFAULT_PORT = 8765
MAX_FILE_BYTES = 4 * 1024 * 1024  # the page is ~70 KB; anything huge is not ours

MIME_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".webmanifest": "application/manifest+json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".txt": "text/plain; charset=utf-8",
    ".map": "application/json",
}
# Asset names the build gives a content hash: `app-0123abcd45.js`.
_HASHED = re.compile(r"-[0-9a-f]{8,}\.[a-z]+$")
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$")
_ENCODINGS = (("br", ".br"), ("gzip", ".gz"))  # preferred first

IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"


def default_root() -> Path:
    return resources_dir() / "mobile" / "dist"


def content_security_policy(connect_src: Sequence[str] = ()) -> str:
    """Only this origin, plus the given origins for fetch (a rendezvous service elsewhere).
    WebRTC is not governed by connect-src, so peer connections are unaffected."""
    connect = " ".join(["'self'", *connect_src])
    return (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
        f"connect-src {connect}; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )


@dataclass(frozen=True)
class _File:
    body: bytes
    content_type: str
    cache_control: str
    etag: str
    encoded: tuple[tuple[str, bytes], ...]  # (content-coding, body), preferred first


def _load(root: Path) -> dict[str, _File]:
    if not (root / "index.html").is_file():
        raise FileNotFoundError(
            f"the mobile page is not built: {root / 'index.html'} is missing "
            "(run `make page`, or npm ci && npm run build in resources/mobile)"
        )
    files: dict[str, _File] = {}
    for path in sorted(root.iterdir()):
        name = path.name
        if not path.is_file() or not _SAFE_NAME.match(name) or name.endswith((".br", ".gz")):
            continue
        content_type = MIME_TYPES.get(path.suffix.lower())
        if content_type is None or path.stat().st_size > MAX_FILE_BYTES:
            continue
        body = path.read_bytes()
        encoded = tuple(
            (coding, (root / (name + ext)).read_bytes())
            for coding, ext in _ENCODINGS
            if (root / (name + ext)).is_file()
        )
        files[name] = _File(
            body,
            content_type,
            IMMUTABLE if _HASHED.search(name) else REVALIDATE,
            '"' + hashlib.sha256(body).hexdigest()[:20] + '"',
            encoded,
        )
    return files


MARKER = f'<meta name="qrlink-answer" content="{ANSWER_PATH}">'
# The rendezvous API's base, relative to the page: the service serves both.
SERVICE_MARKER = '<meta name="qrlink-rendezvous" content=".">'


def _with_marker(entry: _File, marker: str) -> _File:
    """index.html with a marker that tells the page what its origin offers."""
    body = entry.body.replace(b"</head>", marker.encode() + b"\n</head>", 1)
    if body == entry.body:
        raise ValueError("index.html has no </head> to put the page's marker before")
    etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
    return _File(body, entry.content_type, entry.cache_control, etag, ())


async def _read_capped(request: web.Request, cap: int) -> bytes:
    """At most cap + 1 bytes of the body: enough to tell it is over the cap."""
    if request.content_length is not None and request.content_length > cap:
        return b"\0" * (cap + 1)  # not read at all
    body = b""
    while len(body) <= cap:
        chunk = await request.content.read(cap + 1 - len(body))
        if not chunk:
            break
        body += chunk
    return body


def _answer_response(outcome: Outcome) -> web.Response:
    headers = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
    if outcome.code is None:
        return web.json_response({"status": "accepted"}, status=outcome.status, headers=headers)
    if outcome.retry_after:
        headers["Retry-After"] = str(max(1, math.ceil(outcome.retry_after)))
    return web.json_response(
        error_body(outcome.code, outcome.message), status=outcome.status, headers=headers
    )


def _accepts(header: str, coding: str) -> bool:
    for item in header.split(","):
        name, _, params = item.strip().partition(";")
        if name.strip().lower() == coding:
            return params.replace(" ", "") not in ("q=0", "q=0.0", "q=0.00", "q=0.000")
    return False


def create_page_app(
    root: Path | None = None,
    *,
    connect_src: Sequence[str] = (),
    inbox: AnswerInbox | None = None,
    clock: Clock = SYSTEM_CLOCK,
) -> web.Application:
    """An aiohttp app serving the built page (and, with an inbox, taking its answers); its
    routes may also be added to another app with `add_page_routes`."""
    app = web.Application()
    add_page_routes(app, root, connect_src=connect_src, inbox=inbox, clock=clock)
    return app


def add_page_routes(
    app: web.Application,
    root: Path | None = None,
    *,
    connect_src: Sequence[str] = (),
    inbox: AnswerInbox | None = None,
    clock: Clock = SYSTEM_CLOCK,
    service: bool = False,
) -> None:
    """The page's routes on `app`: `/` and each built file by name (nothing else, so the
    paths of an API beside it keep their own answers). `service`: the app is a rendezvous
    service, and the page is told so."""
    files = _load(root or default_root())
    csp = content_security_policy(connect_src)
    if service:
        files["index.html"] = _with_marker(files["index.html"], SERVICE_MARKER)
    if inbox is not None:
        files["index.html"] = _with_marker(files["index.html"], MARKER)

        async def answer(request: web.Request) -> web.Response:
            body = await _read_capped(request, MAX_REQUEST_BYTES)
            outcome = await inbox.handle(body, request.remote or "unknown", clock.now())
            return _answer_response(outcome)

        app.router.add_post("/" + ANSWER_PATH, answer)

    async def handle(request: web.Request) -> web.StreamResponse:
        entry = files[request.path.lstrip("/") or "index.html"]
        headers = {
            "Content-Type": entry.content_type,
            "Cache-Control": entry.cache_control,
            "ETag": entry.etag,
            "Vary": "Accept-Encoding",
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
        }
        if entry.content_type.startswith("text/html"):
            headers["Content-Security-Policy"] = csp
        if entry.etag in request.headers.get("If-None-Match", ""):
            return web.Response(status=304, headers=headers)
        body = entry.body
        accept = request.headers.get("Accept-Encoding", "")
        for coding, data in entry.encoded:
            if _accepts(accept, coding):
                body = data
                headers["Content-Encoding"] = coding
                break
        return web.Response(body=b"" if request.method == "HEAD" else body, headers=headers)

    for path in ("/", *("/" + name for name in files)):
        app.router.add_get(path, handle)  # GET routes answer HEAD too


class PageServer:
    """A running page server; `url` is where a browser finds the page."""

    def __init__(self, runner: web.AppRunner, url: str, inbox: AnswerInbox | None = None) -> None:
        self._runner = runner
        self.url = url
        self.inbox = inbox  # None: no way home for the page's answer

    async def close(self) -> None:
        await self._runner.cleanup()

    async def __aenter__(self) -> PageServer:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


async def serve_pages(
    host: str,
    port: int = DEFAULT_PORT,
    root: Path | None = None,
    *,
    connect_src: Sequence[str] = (),
    inbox: AnswerInbox | None = None,
) -> PageServer:
    """Start serving the built page on host:port (port 0: any free port) and return at
    once; the server runs on the current event loop until `close()`. With an inbox the
    page's answers come back to it (one scan)."""
    app = create_page_app(root, connect_src=connect_src, inbox=inbox)
    runner = web.AppRunner(app, access_log=log, shutdown_timeout=1.0)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    bound_host, bound_port = runner.addresses[0][:2]
    url = f"http://{_url_host(bound_host)}:{bound_port}/"
    log.info("mobile page served at %s%s", url, " (answers taken)" if inbox else "")
    return PageServer(runner, url, inbox)


def parse_address(text: str) -> tuple[str, int]:
    """`ADDR:PORT` (IPv6 as `[ADDR]:PORT`) -> (host, port)."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"{text!r} is not ADDR:PORT")
    return host.strip("[]"), int(port)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m qrlink_desktop.pages",
        description="Serve the built mobile page. Prints the URL once listening.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="port; 0 picks a free one")
    parser.add_argument("--root", type=Path, default=None, help="the built page directory")
    parser.add_argument(
        "--connect-src",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="another origin the page may fetch from (a rendezvous service)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")

    async def run() -> None:
        server = await serve_pages(args.host, args.port, args.root, connect_src=args.connect_src)
        print(f"listening on {server.url}", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        try:
            await stop.wait()
        finally:
            await server.close()

    try:
        asyncio.run(run())
    except FileNotFoundError as exc:
        print(f"qrlink: {exc}", file=sys.stderr)
        return 2
    return 0
