"""`qrlink demo`: two sessions in one process pair through rendered QR images, verify,
run one payment and print the timings."""

from __future__ import annotations

import argparse
import asyncio
import time

from ..core.errors import ErrorCode, QrlinkError
from ..core.events import Direction, Event, MessageEvent
from ..core.messages import MessageType
from ..rtc.answering import AnsweringSession
from ..rtc.config import SessionConfig
from ..rtc.offering import OfferingSession
from ..rtc.peer import IceConfig
from .exits import EXIT_OK, SessionFailed


async def run_demo(args: argparse.Namespace) -> int:
    from ..scan import qrimage
    from ..scan.decoders import get_decoder

    decoder = get_decoder(args.decoder)
    ice = IceConfig(addresses=tuple(args.address or ["127.0.0.1"]))
    cfg = SessionConfig(ice=ice, merchant="qrlink demo shop")
    cashier = OfferingSession(cfg)
    customer = AnsweringSession(cfg)
    asked: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    def on_customer(event: Event) -> None:
        match event:
            case MessageEvent(direction=Direction.IN, type=MessageType.PAYMENT_REQUEST):
                if not asked.done():
                    asked.set_result(event.message_id)

    customer.add_listener(on_customer)
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
        if offer is None:
            raise SessionFailed(cashier.status.error)
        rows.append(
            ("new customer -> offer QR text ready", f"{(time.perf_counter() - t0) * 1000:.1f} ms")
        )
        scanned, ms, version = through_pixels(offer.text)
        rows.append(
            (f"offer QR v{version} render + decode ({len(offer.text)} chars)", f"{ms:.1f} ms")
        )
        t1 = time.perf_counter()
        answer = await customer.answer(scanned)
        if answer is None:
            raise SessionFailed(customer.status.error)
        rows.append(
            ("customer: offer -> answer text", f"{(time.perf_counter() - t1) * 1000:.1f} ms")
        )
        scanned_answer, ms, version = through_pixels(answer.text)
        rows.append(
            (f"answer QR v{version} render + decode ({len(answer.text)} chars)", f"{ms:.1f} ms")
        )
        t2 = time.perf_counter()
        v_cashier, v_customer = await asyncio.gather(
            cashier.submit_answer(scanned_answer), customer.connect()
        )
        if v_cashier is None or v_customer is None:
            raise SessionFailed(cashier.status.error or customer.status.error)
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
        customer.respond(await asyncio.wait_for(asked, 30), True)
        status = await cashier.payment_outcome(request_id)
        if status is None:
            raise SessionFailed(cashier.status.error)
        rows.append(
            (
                "payment request -> approved -> acknowledged",
                f"{(time.perf_counter() - t3) * 1000:.1f} ms",
            )
        )
        rows.append(("outcome", f"{status}, 12.50 EUR"))
    finally:
        await cashier.shutdown()
        await customer.shutdown()
    width = max(len(r[0]) for r in rows)
    print("qrlink demo: two sessions paired through QR images on loopback\n")
    for label, value in rows:
        print(f"  {label:<{width}}  {value}")
    return EXIT_OK
