"""The `qrlink` command: the app, the headless peers, the demo and the rendezvous service.

`qrlink peer ...` is a contract other tools script against: with `--json` every event is
one JSON object per line on standard output; without it, the offer or answer text is
printed alone on a line and everything meant for a person goes to standard error.
The cashier's side (`peer offer`, `peer publish`) reads the code the customer reads out
as a line on standard input after its `sas` event (`peer offer` reads the answer text
first; with --serve-page the page may send the answer home instead, and an answer text
that still comes on standard input is then skipped); only a matching code confirms.
Exit status: 0 done (payment approved), 1 the connection failed, 2 bad input,
3 verification failed (the codes differ, or none was typed: nothing was paid),
4 payment declined, 130 interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from . import __version__, logsetup
from .core import bootstrap
from .core.errors import ErrorCode, QrlinkError
from .core.handshake import Role
from .core.qrsize import smallest_version
from .core.sas import codes_match, format_code, typed_code
from .core.session import State
from .core.turn import parse_ice_url
from .options import add_ice_options
from .pages.answers import AnswerInbox, NetworkAnswer, Refusal
from .rtc.channel import ChannelTimers
from .rtc.engine import Engine, EngineConfig
from .rtc.peer import IceConfig, IceServerConfig
from .rtc.tokens import TextFormat, decode_any

log = logging.getLogger("qrlink")

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_UNVERIFIED, EXIT_DECLINED = 0, 1, 2, 3, 4
EXIT_INTERRUPTED = 130
_BAD_INPUT = {
    ErrorCode.BOOTSTRAP_PARSE_FAILED,
    ErrorCode.INVALID_ARGUMENT,
    ErrorCode.MESSAGE_INVALID,
}
DEFAULT_PAGE_URL = "http://127.0.0.1:8765/"
DEFAULT_RENDEZVOUS = "http://127.0.0.1:8787"


# --- argument parsing --------------------------------------------------------------------


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
        default=15.0,
        metavar="SECONDS",
        help="give up connecting after this long (default 15)",
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
        "engines pairing on loopback; exits 0 when all is well",
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
        help="pair two engines through rendered QR images and pay",
        description="Two engines in one process pair through QR images "
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


def ice_config(args: argparse.Namespace) -> IceConfig:
    parsed = [parse_ice_url(url) for url in args.ice_server]
    servers = tuple(
        IceServerConfig(
            (url,),
            args.ice_username if p.is_turn else None,
            args.ice_credential if p.is_turn else None,
        )
        for url, p in zip(args.ice_server, parsed, strict=True)
    )
    if any(p.is_turn for p in parsed) and not (args.ice_username and args.ice_credential):
        raise QrlinkError(
            ErrorCode.INVALID_ARGUMENT,
            "a TURN server needs --ice-username and --ice-credential",
        )
    if args.relay_only and not any(p.is_turn for p in parsed):
        raise QrlinkError(
            ErrorCode.INVALID_ARGUMENT,
            "--relay-only needs a TURN server (--ice-server turn:host:port)",
        )
    return IceConfig(
        servers=servers,
        relay_only=args.relay_only,
        addresses=tuple(args.address) if args.address else None,
        allow_loopback=getattr(args, "allow_loopback", False),
    )


# --- output ------------------------------------------------------------------------------


class Reporter:
    """Prints engine events: JSON lines, or the texts alone on stdout and prose on stderr."""

    def __init__(self, as_json: bool, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> None:
        self.as_json = as_json
        self.out = out
        self.err = err
        self.events: list[dict[str, Any]] = []

    def __call__(self, event: dict[str, Any]) -> None:
        self.events.append(event)
        if self.as_json:
            print(json.dumps(event, separators=(",", ":"), default=str), file=self.out, flush=True)
            return
        kind = event.get("event")
        if kind == "answer" and "via" in event:  # the cashier's side took the answer
            self.say(f"answer received ({event['via']})")
        elif kind == "answer_refused":
            self.say(f"answer request refused: {event['status']} {event['code']}")
        elif kind in ("offer", "answer"):
            version, _ = smallest_version(event["text"])
            self.say(
                f"{kind.capitalize()} ready: {event['payloadBytes']} bytes, QR version "
                f"{version}, candidates {', '.join(event['candidates']) or 'none'}"
            )
            print(event["text"], file=self.out, flush=True)
        elif kind == "state":
            path = f" ({event['local']} -> {event['remote']})" if event.get("local") else ""
            self.say(f"state: {event['state']}{path}")
        elif kind == "sas":
            self.say(f"verification code: {event['code'][:3]} {event['code'][3:]}")
        elif kind == "message":
            arrow = "->" if event["direction"] == "out" else "<-"
            self.say(f"{arrow} {event['type']} {json.dumps(event['payload'])}")
        elif kind == "error":
            self.say(f"error: {event['code']}: {event['message']}")
        elif kind == "closed":
            self.say(f"closed: {event['reason']}")
        elif kind == "qr_png":
            self.say(f"QR image written to {event['path']}")

    def say(self, text: str) -> None:
        print(text, file=self.err, flush=True)


def _refusal_event(refusal: Refusal) -> dict[str, Any]:
    return {
        "event": "answer_refused",
        "status": refusal.status,
        "code": str(refusal.code),
        "client": refusal.client,
        "offerId": refusal.offer_id,
    }


def _write_qr(path: Path | None, text: str, report: Reporter) -> None:
    if path is None:
        return
    from .scan import qrimage  # the QR libraries load only when asked for

    qrimage.write_png(text, path)
    report({"event": "qr_png", "path": str(path), "version": qrimage.version(text)})


# --- peers -------------------------------------------------------------------------------


def _is_answer_text(line: str) -> bool:
    """An answer in either form: the compact `QL:…` (even a damaged one) or the
    specification's base64 JSON. Never a six-digit code."""
    if line.upper().startswith(bootstrap.ANSWER_PREFIX):
        return True
    if typed_code(line) is not None:
        return False
    try:
        record = decode_any(line, now=time.time(), allow_loopback=True, check_expiry=False)
    except QrlinkError:
        return False
    return record.kind == bootstrap.Kind.ANSWER


class StdinLines:
    """Lines of standard input, read by a daemon thread: a wait for input never holds the
    process open once the session is over (an executor thread would, until input ends).
    A read cancelled while it waits (the page's answer came over the network first) takes
    no line: what arrives stays queued for the next read. Once the answer is taken, answer
    texts still arriving (a script that pastes the answer the page also sent home) are
    skipped with a log note, so the next read is the customer's code, not a stale answer."""

    def __init__(self, stream: TextIO = sys.stdin) -> None:
        self._stream = stream
        self._queue: asyncio.Queue[str | None] | None = None
        self.reader: threading.Thread | None = None  # started by the first read
        self._answer_taken = False

    def _pump(self, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[str | None]) -> None:
        try:
            for line in iter(self._stream.readline, ""):
                loop.call_soon_threadsafe(queue.put_nowait, line)
            loop.call_soon_threadsafe(queue.put_nowait, None)
        except RuntimeError:  # the loop is closed: the session is over, nobody reads on
            return

    def answer_taken(self) -> None:
        """From now on an answer text on standard input is late: skipped, never returned."""
        self._answer_taken = True

    async def next(self, prompt: str, report: Reporter) -> str | None:
        """The next line, stripped; None once standard input has ended."""
        if self._queue is None:
            self._queue = asyncio.Queue()
            loop = asyncio.get_running_loop()
            self.reader = threading.Thread(
                target=self._pump, args=(loop, self._queue), daemon=True, name="qrlink-stdin"
            )
            self.reader.start()
        if not report.as_json:
            report.say(prompt)
        while True:
            # A cancelled get() leaves the queue as it was (asyncio.Queue's contract).
            line = await self._queue.get()
            if line is None:
                self._queue.put_nowait(None)  # ended for every later read too
                return None
            line = line.strip()
            if self._answer_taken and _is_answer_text(line):
                log.info("an answer on standard input came after the first one; ignored")
                continue
            return line


async def _check_code(
    engine: Engine, code: str, args: argparse.Namespace, stdin: StdinLines, report: Reporter
) -> None:
    """The cashier confirms only the code the customer reads out from the other screen: a
    service or network that swapped the tokens shows the two sides different codes."""
    if args.skip_code_check:
        report.say(
            "warning: --skip-code-check: the verification code is confirmed without "
            "comparing it with the customer's; whoever sits in the middle (a dishonest "
            "rendezvous service, say) could take the payment"
        )
        engine.confirm()
        return
    link = engine.link
    assert link is not None
    reading = asyncio.ensure_future(
        stdin.next("Type the code the customer reads out, then press Enter:", report)
    )
    waits: list[asyncio.Future[Any]] = [reading, link.closed]
    await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    if not reading.done():  # the other side hung up while the cashier was reading
        reading.cancel()
        raise engine.error or QrlinkError(
            ErrorCode.CONNECTION_FAILED, "the connection ended before the code was confirmed"
        )
    typed = reading.result()
    if typed is not None and codes_match(typed, code):
        engine.confirm()
        return
    reason = (
        "standard input ended before the customer's code was typed; nothing was confirmed"
        if typed is None
        else f"the customer's code ({typed[:20]}) is not this side's ({format_code(code)}): "
        "someone may be in the middle; nothing was paid"
    )
    await engine.reject_code(reason)
    raise QrlinkError(ErrorCode.VERIFICATION_FAILED, reason)


async def _take_answer(
    engine: Engine, inbox: AnswerInbox | None, stdin: StdinLines, report: Reporter
) -> None:
    """The customer's answer, applied: from the page over the network (with --serve-page)
    or from standard input, whichever comes first; the other is ignored with a log note."""
    taken: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    async def accept(text: str, via: str) -> None:
        try:
            await engine.accept_answer(text)
        except QrlinkError as exc:
            if exc.code == ErrorCode.INVALID_ARGUMENT and engine.machine.state != State.FAILED:
                log.info("an answer from %s came after the first one; ignored", via)
            raise
        if not taken.done():
            taken.set_result(via)

    if inbox is not None:

        async def from_network(answer: NetworkAnswer) -> None:
            await accept(answer.text, "network")

        inbox.sink = from_network
        assert engine.offer is not None
        inbox.expect(engine.offer, engine.clock.now())

    async def from_input() -> None:
        prompt = (
            "Waiting for the customer's phone — or paste its answer text and press Enter:"
            if inbox is not None
            else "Scan or paste the answer text, then press Enter:"
        )
        line = await stdin.next(prompt, report)
        if line is None:
            if inbox is None:
                raise QrlinkError(
                    ErrorCode.INVALID_ARGUMENT, "standard input ended before an answer came"
                )
            return  # standard input ended: the page's answer is the way left
        try:
            await accept(line, "input")
        except QrlinkError as exc:
            if exc.code != ErrorCode.INVALID_ARGUMENT or inbox is None:
                raise

    reader = asyncio.ensure_future(from_input())
    try:
        first: set[asyncio.Future[Any]] = {reader, taken}
        await asyncio.wait(first, return_when=asyncio.FIRST_COMPLETED)
        if reader.done():
            reader.result()  # an unusable answer on standard input: said as ever (exit 2)
        via = await taken
    finally:
        reader.cancel()
        if inbox is not None:
            inbox.sink = None  # later requests: answered already (409)
    stdin.answer_taken()
    remote = engine.peer.remote if engine.peer is not None else None
    assert remote is not None
    report(
        {
            "event": "answer",
            "via": via,
            "offerId": remote.offer_id_hex,
            "candidates": [c.type_name for c in remote.candidates],
        }
    )


async def _turn_from_service(args: argparse.Namespace) -> None:
    """With --turn-from, short-lived TURN credentials come from the rendezvous service
    (GET /turn), which holds the relay's secret; this process never sees the secret."""
    if not getattr(args, "turn_from", None):
        return
    from .rendezvous.client import RendezvousClient

    # The token comes from the environment so it never shows in a process list.
    token = os.environ.get("QRLINK_API_TOKEN") or None
    handle = args.handle if args.peer_command == "lookup" else None
    async with RendezvousClient(args.turn_from) as client:
        creds = await client.turn_credentials(api_token=token, handle=handle)
    if creds is None or not creds.uris:
        raise QrlinkError(
            ErrorCode.REMOTE_SERVICE_ERROR,
            f"{args.turn_from} hands out no TURN credentials (it holds no TURN secret)",
        )
    args.ice_server = [*args.ice_server, *creds.uris]
    args.ice_username, args.ice_credential = creds.username, creds.credential


async def _engine_config(args: argparse.Namespace, **extra: Any) -> EngineConfig:
    await _turn_from_service(args)
    return EngineConfig(
        ice=ice_config(args),
        connect_timeout=args.connect_timeout,
        timers=ChannelTimers(),
        text_format=TextFormat(args.format),
        **extra,
    )


async def run_offer(args: argparse.Namespace, report: Reporter) -> int:
    pages = None
    inbox: AnswerInbox | None = None
    if getattr(args, "serve_page", None):
        from .pages.server import parse_address, serve_pages

        try:
            host, port = parse_address(args.serve_page)
        except ValueError as exc:
            raise QrlinkError(ErrorCode.INVALID_ARGUMENT, str(exc)) from None
        # The page served here sends its answer back here (one scan).
        inbox = AnswerInbox()
        inbox.listeners.append(lambda r: report(_refusal_event(r)))
        pages = await serve_pages(host, port, inbox=inbox)
        args.page_url = pages.url
    cfg = await _engine_config(
        args, page_url=args.page_url, offer_lifetime=args.lifetime, merchant=args.merchant
    )
    engine = Engine(Role.OFFERER, cfg, emit=report)
    stdin = StdinLines()
    try:
        if args.peer_command == "publish":
            from .remote import publish_and_wait
            from .rendezvous.client import RendezvousClient

            async with RendezvousClient(args.rendezvous) as client:
                verified = await publish_and_wait(engine, client, args.handle, ttl_ms=args.ttl)
        else:
            text = await engine.new_customer()
            _write_qr(args.qr_png, text, report)
            await _take_answer(engine, inbox, stdin, report)
            verified = await engine.connect()
        await _check_code(engine, verified.code, args, stdin, report)
        if not args.request:
            if engine.link is not None:
                await engine.link.closed  # the customer's side ends the session
            return EXIT_OK
        amount, currency = args.request
        request_id = engine.request_payment(amount, currency.upper(), args.reference)
        payment = engine.conversation.payments[request_id]
        link = engine.link
        assert link is not None
        while payment.acknowledgment is None and not link.closed.done():
            await asyncio.sleep(0.01)
        if payment.acknowledgment is None:
            raise engine.error or QrlinkError(
                ErrorCode.CONNECTION_FAILED, "the connection ended before the customer answered"
            )
        await asyncio.sleep(0.05)  # let the acknowledgment leave before closing
        return EXIT_OK if payment.status == "approved" else EXIT_DECLINED
    finally:
        await engine.shutdown()
        if pages is not None:
            await pages.close()


async def run_answer(args: argparse.Namespace, report: Reporter) -> int:
    outcome: dict[str, int] = {}
    # The session's end, from its `closed` event: the link may end (and the engine let go
    # of it) while lookup_and_answer is still tidying up on the service.
    ended: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def on_event(event: dict[str, Any]) -> None:
        report(event)
        if event.get("event") == "closed" and not ended.done():
            ended.set_result(None)
        if event.get("event") == "message" and event["direction"] == "in":
            if event["type"] == "payment_request":
                engine.respond(event["messageId"], args.approve)
            elif event["type"] == "payment_acknowledgment":
                outcome["code"] = (
                    EXIT_OK if event["payload"]["status"] == "approved" else EXIT_DECLINED
                )

    # The customer's side answers payment requests as they arrive.
    engine = Engine(Role.ANSWERER, await _engine_config(args), emit=on_event)
    try:
        if args.peer_command == "lookup":
            from .remote import lookup_and_answer
            from .rendezvous.client import RendezvousClient

            async with RendezvousClient(args.rendezvous) as client:
                await lookup_and_answer(engine, client, args.handle)
        else:
            text = await engine.answer(args.offer_text)
            _write_qr(args.qr_png, text, report)
            await engine.connect()
        await ended
        if engine.error is not None and "code" not in outcome:
            raise engine.error
        return outcome.get("code", EXIT_OK)
    finally:
        await engine.shutdown()


# --- demo --------------------------------------------------------------------------------


async def run_demo(args: argparse.Namespace) -> int:
    from .scan import qrimage
    from .scan.decoders import get_decoder

    decoder = get_decoder(args.decoder)
    ice = IceConfig(addresses=tuple(args.address or ["127.0.0.1"]))
    cfg = EngineConfig(ice=ice, merchant="qrlink demo shop")
    cashier = Engine(Role.OFFERER, cfg, emit=lambda e: None)
    customer_events: list[dict[str, Any]] = []
    customer = Engine(Role.ANSWERER, cfg, emit=customer_events.append)
    rows: list[tuple[str, str]] = []

    def through_pixels(text: str) -> tuple[str, float, int]:
        t0 = time.perf_counter()
        image = qrimage.render_grey(text, scale=6)
        found = decoder.decode(image)
        if not found:
            raise QrlinkError(ErrorCode.BOOTSTRAP_PARSE_FAILED, "the QR image could not be decoded")
        return found[0].text, (time.perf_counter() - t0) * 1000, qrimage.version(text)

    try:
        cashier.prepare()
        await asyncio.sleep(0.05)  # the prepared offer is gathered before the customer arrives
        t0 = time.perf_counter()
        offer = await cashier.new_customer()
        rows.append(
            ("new customer -> offer QR text ready", f"{(time.perf_counter() - t0) * 1000:.1f} ms")
        )
        scanned, ms, version = through_pixels(offer)
        rows.append((f"offer QR v{version} render + decode ({len(offer)} chars)", f"{ms:.1f} ms"))
        t1 = time.perf_counter()
        answer = await customer.answer(scanned)
        rows.append(
            ("customer: offer -> answer text", f"{(time.perf_counter() - t1) * 1000:.1f} ms")
        )
        scanned_answer, ms, version = through_pixels(answer)
        rows.append((f"answer QR v{version} render + decode ({len(answer)} chars)", f"{ms:.1f} ms"))
        t2 = time.perf_counter()
        v_cashier, v_customer = await asyncio.gather(
            cashier.submit_answer(scanned_answer), customer.connect()
        )
        rows.append(
            (
                "answer applied -> channel open",
                f"{cashier.timings.get('channel_open_ms', float('nan')):.1f} ms",
            )
        )
        rows.append(
            ("answer -> verified (handshake done)", f"{(time.perf_counter() - t2) * 1000:.1f} ms")
        )
        if v_cashier.code != v_customer.code:
            raise QrlinkError(ErrorCode.VERIFICATION_FAILED, "the verification codes differ")
        rows.append(
            ("verification code (both screens)", f"{v_cashier.code[:3]} {v_cashier.code[3:]}")
        )
        cashier.confirm()
        t3 = time.perf_counter()
        request_id = cashier.request_payment("12.50", "EUR", "DEMO-1")
        payment = cashier.conversation.payments[request_id]
        while not any(e.get("type") == "payment_request" for e in customer_events):
            await asyncio.sleep(0.001)
        customer.respond(request_id, True)
        while payment.acknowledgment is None:
            await asyncio.sleep(0.001)
        rows.append(
            (
                "payment request -> approved -> acknowledged",
                f"{(time.perf_counter() - t3) * 1000:.1f} ms",
            )
        )
        rows.append(("outcome", f"{payment.status}, 12.50 EUR"))
    finally:
        await cashier.shutdown()
        await customer.shutdown()
    width = max(len(r[0]) for r in rows)
    print("qrlink demo: two engines paired through QR images on loopback\n")
    for label, value in rows:
        print(f"  {label:<{width}}  {value}")
    return EXIT_OK


# --- entry -------------------------------------------------------------------------------


def _fail(exc: QrlinkError, report: Reporter | None) -> int:
    if report is not None and report.as_json:
        if not any(
            e.get("event") == "error" and e.get("code") == str(exc.code) for e in report.events
        ):
            report({"event": "error", **exc.to_dict()})
    print(f"qrlink: {exc.code}: {exc.message}", file=sys.stderr)
    if exc.code == ErrorCode.VERIFICATION_FAILED:
        return EXIT_UNVERIFIED
    return EXIT_BAD_INPUT if exc.code in _BAD_INPUT else EXIT_FAILED


async def _with_timeout(coro: Any, seconds: float) -> int:
    try:
        return int(await asyncio.wait_for(coro, seconds))
    except TimeoutError:
        raise QrlinkError(
            ErrorCode.TIMEOUT, f"the session did not finish within {seconds:g} seconds"
        ) from None


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "gui":
        from .app import main as gui_main

        return gui_main(argv[1:])
    if argv and argv[0] == "rendezvous":
        from .rendezvous.command import main as rendezvous_main

        return rendezvous_main(argv[1:])
    args = build_parser().parse_args(argv)
    logsetup.setup(args.verbose, "qrlink-cli")
    report: Reporter | None = None
    try:
        if args.self_test:
            from .selftest import run as self_test

            return self_test()
        if args.command == "peer":
            report = Reporter(args.json)
            runner = run_offer if args.peer_command in ("offer", "publish") else run_answer
            return asyncio.run(_with_timeout(runner(args, report), args.timeout))
        if args.command is None:
            from .app import main as gui_main

            return gui_main(["--verbose"] if args.verbose else [])
        if args.command == "demo":
            return asyncio.run(run_demo(args))
        return EXIT_OK
    except QrlinkError as exc:
        return _fail(exc, report)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except OSError as exc:
        return _fail(QrlinkError(ErrorCode.INVALID_ARGUMENT, str(exc)), report)


if __name__ == "__main__":
    with contextlib.suppress(BrokenPipeError):
        sys.exit(main())
