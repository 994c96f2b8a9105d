"""The `qrlink` command line's arguments: one parser, every command and its options."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from .. import __version__
from ..core import facts
from ..core.tokens import TextFormat
from ..options import add_ice_options

DEFAULT_PAGE_URL = "http://127.0.0.1:8765/"
DEFAULT_RENDEZVOUS = "http://127.0.0.1:8787"
# resources/protocol/timers.json's, which the page reads too.
CONNECT_TIMEOUT = facts.timers().connect_timeout


def _ice_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("network")
    add_ice_options(g, keep_unset=False)
    g.add_argument(
        "--turn-from",
        metavar="URL",
        help="fetch short-lived TURN credentials and URLs from this rendezvous service "
        "(GET /turn), which holds the relay's secret and hands them out only against a "
        "capability: the merchant's API token from $QRLINK_API_TOKEN, or (peer lookup) "
        "the handle being looked up",
    )
    g.add_argument(
        "--allow-loopback",
        action="store_true",
        help="accept loopback addresses from the other side (local testing only)",
    )
    g.add_argument(
        "--connect-timeout",
        type=float,
        default=CONNECT_TIMEOUT,
        metavar="SECONDS",
        help=f"give up connecting after this long (default {CONNECT_TIMEOUT:g})",
    )


def _peer_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="one JSON event per line on stdout")
    p.add_argument("--qr-png", type=Path, metavar="FILE", help="also write the QR image here")
    p.add_argument(
        "--format",
        choices=[str(f) for f in TextFormat],
        default=str(TextFormat.COMPACT),
        help="how the offer or answer text is written: compact (the default, the smallest "
        "QR) or spec, the specification's base64 JSON, for implementations that know only "
        "that form; either form is read",
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=300.0,
        metavar="SECONDS",
        help="give up on the whole session after this long (default 300)",
    )
    _ice_options(p)


def _cashier_options(p: argparse.ArgumentParser) -> None:
    _peer_common(p)
    p.add_argument(
        "--page-url",
        default=DEFAULT_PAGE_URL,
        help=f"the customer's page the QR points to (default {DEFAULT_PAGE_URL})",
    )
    p.add_argument(
        "--request",
        nargs=2,
        metavar=("AMOUNT", "CURRENCY"),
        help="request a payment once verified, e.g. --request 12.50 EUR",
    )
    p.add_argument(
        "--skip-code-check",
        action="store_true",
        help="confirm the verification code without reading the customer's code on "
        "standard input (a warning is printed: whoever sits in the middle, a dishonest "
        "rendezvous service for one, could take the payment)",
    )
    p.add_argument("--reference", help="payment reference shown to the customer")
    p.add_argument("--merchant", help="merchant name shown to the customer")
    p.add_argument(
        "--lifetime",
        type=float,
        default=300.0,
        metavar="SECONDS",
        help="how long the offer stays valid (default 300)",
    )


def _customer_options(p: argparse.ArgumentParser) -> None:
    _peer_common(p)
    decision = p.add_mutually_exclusive_group()
    decision.add_argument(
        "--approve",
        dest="approve",
        action="store_true",
        default=True,
        help="approve payment requests (default)",
    )
    decision.add_argument(
        "--decline", dest="approve", action="store_false", help="decline payment requests"
    )


def _rendezvous_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--rendezvous",
        default=os.environ.get("QRLINK_RENDEZVOUS", DEFAULT_RENDEZVOUS),
        metavar="URL",
        help=f"the rendezvous service (default $QRLINK_RENDEZVOUS or {DEFAULT_RENDEZVOUS})",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qrlink",
        description="Pair a cashier's laptop with a customer's phone through QR codes and "
        "run a payment conversation over an encrypted WebRTC data channel. "
        "With no command, the cashier's window opens.",
    )
    parser.add_argument("--version", action="version", version=f"qrlink {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more detail")
    parser.add_argument(
        "--self-test",
        action="store_true",
        help="check this installation: decoders, a bundled QR image, an offer, and two "
        "sessions pairing on loopback; exits 0 when all is well",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    peer = sub.add_parser(
        "peer",
        help="a headless peer for scripts, tests and load",
        description="A headless peer: the cashier's side (offer) or the "
        "customer's side (answer), without a window.",
    )
    peer_sub = peer.add_subparsers(dest="peer_command", metavar="ROLE", required=True)

    offer = peer_sub.add_parser(
        "offer",
        help="make an offer, take the answer from the page or stdin, connect",
        description="Print the offer QR text, read the answer text from standard input "
        "(with --serve-page the page sends it back by itself, whichever comes first), "
        "connect, print the verification code, read the code the customer reads out "
        "(the next line on standard input; an answer text still arriving there is "
        "skipped), and with --request ask for a payment.",
    )
    _cashier_options(offer)
    offer.add_argument(
        "--serve-page",
        metavar="ADDR:PORT",
        help="serve the built mobile page on ADDR:PORT (an address the phone "
        "reaches) and point the QR at it, replacing --page-url; the page sends its answer "
        'back there (the `answer` event says "via": "network" or "input")',
    )
    publish = peer_sub.add_parser(
        "publish",
        help="publish an offer under HANDLE on the rendezvous service, wait for the answer",
        description="Remote mode: publish the offer under HANDLE, keep it alive, take the "
        "answer from its reply handle, connect, print the verification code, read the code "
        "the customer reads out on standard input, and with --request ask for a payment.",
    )
    publish.add_argument("handle", metavar="HANDLE", help="the name customers look up")
    _cashier_options(publish)
    _rendezvous_options(publish)
    publish.add_argument(
        "--ttl",
        type=int,
        default=300_000,
        metavar="MS",
        help="how long the published offer lives, 60000-900000 ms (default 300000)",
    )

    answer = peer_sub.add_parser(
        "answer",
        help="answer an offer text, connect, answer payment requests",
        description="Print the answer text for OFFER_TEXT, connect, print the verification "
        "code, and approve (default) or decline payment requests.",
    )
    answer.add_argument("offer_text", metavar="OFFER_TEXT", help="the offer URL or text")
    _customer_options(answer)
    lookup = peer_sub.add_parser(
        "lookup",
        help="look HANDLE up on the rendezvous service, answer through it, connect",
        description="Remote mode: find the offer published under HANDLE, publish the answer "
        "to its reply handle, connect, and approve (default) or decline payment requests.",
    )
    lookup.add_argument("handle", metavar="HANDLE", help="the merchant's handle")
    _customer_options(lookup)
    _rendezvous_options(lookup)

    demo = sub.add_parser(
        "demo",
        help="pair two sessions through rendered QR images and pay",
        description="Two sessions in one process pair through QR images "
        "(encode, render, decode with zxing-cpp), verify, run one payment "
        "and print the timings.",
    )
    demo.add_argument(
        "--address",
        action="append",
        default=None,
        metavar="ADDR",
        help="local address to use (default 127.0.0.1)",
    )
    demo.add_argument("--decoder", default="zxing", help="zxing (default) or pyzbar")

    sub.add_parser("gui", help="open the cashier's window (the default)", add_help=False)
    sub.add_parser("rendezvous", help="run the rendezvous (publish/lookup) service", add_help=False)
    return parser
