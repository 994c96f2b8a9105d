"""`qrlink rendezvous`: the service's entry point.

The arguments (and the secrets, which come from the environment so they never show in a
process list) become one immutable `Options`, checked once; `main` only starts what it
describes. The application itself is server.py.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from qrlink_desktop.pages.server import default_root
from qrlink_desktop.rendezvous import validation as v
from qrlink_desktop.rendezvous.ratelimit import RateLimit
from qrlink_desktop.rendezvous.server import (
    DEFAULT_HOST,
    DEFAULT_PORT,
    DEFAULT_RATE_LIMIT,
    ServiceConfig,
    app_for_redis,
    create_app,
    serve,
)
from qrlink_desktop.rendezvous.turn_grants import (
    DEFAULT_TURN_REFUSAL_LIMIT,
    DEFAULT_TURN_TTL,
    MAX_TURN_TTL,
    api_tokens_from,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Options:
    """Everything the command line decides, built once from the arguments."""

    host: str
    port: int
    redis_url: str | None  # None: tokens and rate limits in this process's memory
    log_level: str
    service: ServiceConfig
    # Why the page is not served, when it is not (said once at start); None when it is.
    page_note: str | None = None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qrlink rendezvous",
        description="Run the rendezvous service (topic broadcaster + lookup resolver). "
        "It also serves the mobile page at / when the page is built, so phones get the "
        "page and the API from one address.",
    )
    parser.add_argument("--host", default=DEFAULT_HOST, help="address to listen on")
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help="port to listen on (0: any free port)"
    )
    parser.add_argument(
        "--redis",
        metavar="URL",
        help="share tokens and rate limits through this Redis (redis://host:port/db); "
        "without it tokens live in this process's memory",
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=DEFAULT_RATE_LIMIT.rate,
        help="requests per second allowed per client (0 disables rate limiting)",
    )
    parser.add_argument(
        "--burst",
        type=int,
        default=DEFAULT_RATE_LIMIT.burst,
        help="requests a client may send at once before the rate applies",
    )
    parser.add_argument(
        "--trust-forwarded-for",
        action="store_true",
        help="key rate limits on the last X-Forwarded-For address (only behind a proxy)",
    )
    parser.add_argument(
        "--max-wait",
        type=float,
        default=v.MAX_WAIT_SECONDS,
        help="longest long poll, in seconds, that /lookup?wait= accepts",
    )
    parser.add_argument(
        "--turn-url",
        action="append",
        default=[],
        metavar="URL",
        help="TURN URL handed out by GET /turn (repeatable); needs the secret",
    )
    parser.add_argument(
        "--turn-ttl",
        type=int,
        default=DEFAULT_TURN_TTL,
        metavar="SECONDS",
        help=f"lifetime of the TURN credentials GET /turn mints, 60-{MAX_TURN_TTL} "
        f"(default {DEFAULT_TURN_TTL}); a customer's credential also ends with its handle",
    )
    page = parser.add_mutually_exclusive_group()
    page.add_argument(
        "--page-root",
        type=Path,
        metavar="DIR",
        help="the built mobile page to serve at / (default: this installation's, when built)",
    )
    page.add_argument("--no-page", action="store_true", help="serve the API alone")
    parser.add_argument(
        "--log-level",
        default="info",
        choices=["debug", "info", "warning", "error"],
        help="'info' logs one line per request",
    )
    return parser


def _page(args: argparse.Namespace) -> tuple[Path | None, str | None]:
    """(the page directory to serve, or None with the reason)."""
    if args.no_page:
        return None, "the page is not served (--no-page)"
    if args.page_root is not None:
        if not (args.page_root / "index.html").is_file():
            raise ValueError(f"--page-root {args.page_root} holds no built page (index.html)")
        return args.page_root, None
    root = default_root()
    if not (root / "index.html").is_file():
        return None, f"the mobile page is not built ({root}); serving the API alone (make page)"
    return root, None


def options_from_args(args: argparse.Namespace, environ: Mapping[str, str]) -> Options:
    """The options, or ValueError naming the argument that is wrong."""
    if args.rate < 0 or args.burst < 1:
        raise ValueError("--rate must be >= 0 and --burst >= 1")
    if not 0 < args.max_wait <= v.MAX_WAIT_SECONDS:
        raise ValueError(f"--max-wait must be above 0 and at most {v.MAX_WAIT_SECONDS:g}")
    if not 60 <= args.turn_ttl <= MAX_TURN_TTL:
        raise ValueError(f"--turn-ttl must be between 60 and {MAX_TURN_TTL} seconds")
    page_root, page_note = _page(args)
    limited = args.rate > 0
    service = ServiceConfig(
        rate_limit=RateLimit(args.rate, args.burst) if limited else None,
        trust_forwarded_for=args.trust_forwarded_for,
        max_wait=args.max_wait,
        turn_secret=environ.get("QRLINK_TURN_SECRET") or None,
        turn_urls=tuple(args.turn_url),
        turn_ttl=args.turn_ttl,
        api_token_hashes=api_tokens_from(environ.get("QRLINK_API_TOKEN")),
        turn_refusal_limit=DEFAULT_TURN_REFUSAL_LIMIT if limited else None,
        page_root=page_root,
    )
    return Options(args.host, args.port, args.redis, args.log_level, service, page_note)


def parse_options(argv: Sequence[str] | None, environ: Mapping[str, str]) -> Options:
    """Parse and check; a wrong argument exits with status 2 and the parser's usage."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return options_from_args(args, environ)
    except ValueError as exc:
        parser.error(str(exc))


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_options(argv, os.environ)
    logging.basicConfig(
        level=options.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if options.page_note is not None:
        log.warning("%s", options.page_note)
    config = options.service
    app = (
        app_for_redis(options.redis_url, config) if options.redis_url else create_app(config=config)
    )

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await serve(app, options.host, options.port, stop, ready=_announce)

    try:
        asyncio.run(run())
    except OSError as exc:
        print(
            f"qrlink rendezvous: cannot listen on {options.host}:{options.port}: {exc}",
            file=sys.stderr,
        )
        return 1
    return 0


def _announce(url: str) -> None:
    # Scripts and tests read this line to learn the port when started with --port 0.
    print(f"listening on {url}", flush=True)
