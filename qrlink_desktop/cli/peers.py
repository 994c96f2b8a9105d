"""`qrlink peer offer|publish` (the cashier's side) and `qrlink peer answer|lookup` (the
customer's side): one session each, driven to its end, with the exit status it earned."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
from pathlib import Path
from typing import Any

from ..core.conversation import PaymentStatus
from ..core.errors import ErrorCode, InvalidStateError, QrlinkError
from ..core.events import (
    AnswerRefused,
    AnswerTaken,
    AnswerVia,
    Closed,
    Direction,
    Event,
    MessageEvent,
    QrWritten,
)
from ..core.messages import MessageType
from ..pages.answers import AnswerInbox, NetworkAnswer, Refusal
from ..rtc.answering import AnsweringSession
from ..rtc.offering import OfferingSession
from .config import PeerConfig
from .exits import EXIT_DECLINED, EXIT_OK, SessionFailed
from .reporter import Reporter
from .stdin import StdinLines, check_code

log = logging.getLogger("qrlink")


def _refused(refusal: Refusal) -> AnswerRefused:
    return AnswerRefused(refusal.status, refusal.code, refusal.client, refusal.offer_id)


def write_qr(path: Path | None, text: str, report: Reporter) -> None:
    if path is None:
        return
    from ..scan import qrimage  # the QR libraries load only when asked for

    qrimage.write_png(text, path)
    report(QrWritten(str(path), qrimage.version(text)))


async def take_answer(
    session: OfferingSession, inbox: AnswerInbox | None, stdin: StdinLines, report: Reporter
) -> None:
    """The customer's answer, applied: from the page over the network (with --serve-page)
    or from standard input, whichever comes first; the other is ignored with a log note."""
    # The way the answer came, or None when applying it failed the session.
    taken: asyncio.Future[AnswerVia | None] = asyncio.get_running_loop().create_future()

    async def accept(text: str, via: AnswerVia) -> bool:
        try:
            applied = await session.accept_answer(text)
        except InvalidStateError:
            log.info("an answer from %s came after the first one; ignored", via)
            raise
        if not taken.done():
            taken.set_result(via if applied else None)
        return applied

    if inbox is not None:

        async def from_network(answer: NetworkAnswer) -> None:
            if not await accept(answer.text, AnswerVia.NETWORK):
                # The page's request is refused with the session's code (said here once).
                raise session.status.error or QrlinkError(
                    ErrorCode.CONNECTION_FAILED, "the answer could not be applied"
                )

        inbox.sink = from_network
        assert session.offer is not None
        inbox.expect(session.offer, session.clock.now())

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
            await accept(line, AnswerVia.INPUT)
        except InvalidStateError:
            if inbox is None:
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
    if via is None:
        raise SessionFailed(session.status.error)
    stdin.answer_taken()
    remote = session.peer.remote if session.peer is not None else None
    assert remote is not None
    report(AnswerTaken(via, remote.offer_id_hex, tuple(c.type_name for c in remote.candidates)))


async def with_turn_from_service(cfg: PeerConfig) -> PeerConfig:
    """With --turn-from, short-lived TURN credentials come from the rendezvous service
    (GET /turn), which holds the relay's secret; this process never sees the secret."""
    if not cfg.turn_from:
        return cfg
    from ..rendezvous.client import RendezvousClient

    # The token comes from the environment so it never shows in a process list.
    token = os.environ.get("QRLINK_API_TOKEN") or None
    handle = cfg.handle if cfg.command == "lookup" else None
    async with RendezvousClient(cfg.turn_from) as client:
        creds = await client.turn_credentials(api_token=token, handle=handle)
    if creds is None or not creds.uris:
        raise QrlinkError(
            ErrorCode.REMOTE_SERVICE_ERROR,
            f"{cfg.turn_from} hands out no TURN credentials (it holds no TURN secret)",
        )
    return cfg.with_turn(creds.uris, creds.username, creds.credential)


async def run_offer(cfg: PeerConfig, report: Reporter) -> int:
    pages = None
    inbox: AnswerInbox | None = None
    if cfg.serve_page:
        from ..pages.server import parse_address, serve_pages

        try:
            host, port = parse_address(cfg.serve_page)
        except ValueError as exc:
            raise QrlinkError(ErrorCode.INVALID_ARGUMENT, str(exc)) from None
        # The page served here sends its answer back here (one scan).
        inbox = AnswerInbox()
        inbox.listeners.append(lambda r: report(_refused(r)))
        pages = await serve_pages(host, port, inbox=inbox)
        cfg = dataclasses.replace(cfg, page_url=pages.url)
    cfg = await with_turn_from_service(cfg)
    session = OfferingSession(cfg.session_config(), listener=report)
    stdin = StdinLines()
    try:
        if cfg.command == "publish":
            from ..remote import Publication
            from ..rendezvous.client import RendezvousClient

            assert cfg.handle is not None and cfg.rendezvous is not None
            async with RendezvousClient(cfg.rendezvous) as client:
                publication = Publication(
                    session, client, cfg.handle, ttl_ms=cfg.ttl_ms, listener=report
                )
                verified = await publication.run()
            if verified is None:
                raise SessionFailed(publication.status.error or session.status.error)
        else:
            offer = await session.new_customer()
            if offer is None:
                raise SessionFailed(session.status.error)
            write_qr(cfg.qr_png, offer.text, report)
            await take_answer(session, inbox, stdin, report)
            verified = await session.connect()
            if verified is None:
                raise SessionFailed(session.status.error)
        await check_code(session, verified.code, cfg, stdin, report)
        if not cfg.request:
            if session.link is not None:
                await session.link.closed  # the customer's side ends the session
            return EXIT_OK
        amount, currency = cfg.request
        request_id = session.request_payment(amount, currency.upper(), cfg.reference)
        outcome = await session.payment_outcome(request_id)
        if outcome is None:
            if session.status.error is not None:
                raise SessionFailed(session.status.error)
            raise QrlinkError(
                ErrorCode.CONNECTION_FAILED, "the connection ended before the customer answered"
            )
        await asyncio.sleep(0.05)  # let the acknowledgment leave before closing
        return EXIT_OK if outcome == PaymentStatus.APPROVED else EXIT_DECLINED
    finally:
        await session.shutdown()
        if pages is not None:
            await pages.close()


async def run_answer(cfg: PeerConfig, report: Reporter) -> int:
    outcome: dict[str, int] = {}
    # The session's end, from its `closed` event: the link may end (and the session let
    # go of it) while lookup_and_answer is still tidying up on the service.
    ended: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    cfg = await with_turn_from_service(cfg)
    session = AnsweringSession(cfg.session_config())

    def on_event(event: Event) -> None:
        report(event)
        match event:
            case Closed() if not ended.done():
                ended.set_result(None)
            case MessageEvent(direction=Direction.IN, type=MessageType.PAYMENT_REQUEST):
                # The customer's side answers payment requests as they arrive.
                session.respond(event.message_id, cfg.approve)
            case MessageEvent(direction=Direction.IN, type=MessageType.PAYMENT_ACKNOWLEDGMENT):
                approved = event.payload["status"] == PaymentStatus.APPROVED
                outcome["code"] = EXIT_OK if approved else EXIT_DECLINED

    session.add_listener(on_event)
    try:
        if cfg.command == "lookup":
            from ..remote import lookup_and_answer
            from ..rendezvous.client import RendezvousClient

            assert cfg.handle is not None and cfg.rendezvous is not None
            async with RendezvousClient(cfg.rendezvous) as client:
                verified = await lookup_and_answer(session, client, cfg.handle, tell=report)
        else:
            assert cfg.offer_text is not None
            answer = await session.answer(cfg.offer_text)
            if answer is None:
                raise SessionFailed(session.status.error)
            write_qr(cfg.qr_png, answer.text, report)
            verified = await session.connect()
        if verified is None:
            raise SessionFailed(session.status.error)
        await ended
        if session.status.error is not None and "code" not in outcome:
            raise SessionFailed(session.status.error)
        return outcome.get("code", EXIT_OK)
    finally:
        await session.shutdown()
