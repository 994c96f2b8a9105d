"""Standard input of `qrlink peer offer|publish`: the answer text (unless the page sends
it home) and then the code the customer reads out, which alone confirms the pairing."""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
import time
from typing import Any, TextIO

from ..core import bootstrap
from ..core.errors import ErrorCode, QrlinkError
from ..core.sas import codes_match, format_code, typed_code
from ..rtc.offering import OfferingSession
from ..rtc.zstd import TOKENS
from .config import PeerConfig
from .exits import SessionFailed
from .reporter import Reporter

log = logging.getLogger("qrlink")


def is_answer_text(line: str) -> bool:
    """An answer in either form: the compact `QL:…` (even a damaged one) or the
    specification's base64 JSON. Never a six-digit code."""
    if line.upper().startswith(bootstrap.ANSWER_PREFIX):
        return True
    if typed_code(line) is not None:
        return False
    try:
        record = TOKENS.decode(line, now=time.time(), allow_loopback=True, check_expiry=False)
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
            if self._answer_taken and is_answer_text(line):
                log.info("an answer on standard input came after the first one; ignored")
                continue
            return line


async def check_code(
    session: OfferingSession, code: str, cfg: PeerConfig, stdin: StdinLines, report: Reporter
) -> None:
    """The cashier confirms only the code the customer reads out from the other screen: a
    service or network that swapped the tokens shows the two sides different codes."""
    if cfg.skip_code_check:
        report.say(
            "warning: --skip-code-check: the verification code is confirmed without "
            "comparing it with the customer's; whoever sits in the middle (a dishonest "
            "rendezvous service, say) could take the payment"
        )
        session.confirm()
        return
    link = session.link
    assert link is not None
    reading = asyncio.ensure_future(
        stdin.next("Type the code the customer reads out, then press Enter:", report)
    )
    waits: list[asyncio.Future[Any]] = [reading, link.closed]
    await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    if not reading.done():  # the other side hung up while the cashier was reading
        reading.cancel()
        if link.failure is not None:  # the link's `error` said it
            raise SessionFailed(link.failure)
        raise QrlinkError(
            ErrorCode.CONNECTION_FAILED, "the connection ended before the code was confirmed"
        )
    typed = reading.result()
    if typed is not None and codes_match(typed, code):
        session.confirm()
        return
    reason = (
        "standard input ended before the customer's code was typed; nothing was confirmed"
        if typed is None
        else f"the customer's code ({typed[:20]}) is not this side's ({format_code(code)}): "
        "someone may be in the middle; nothing was paid"
    )
    await session.reject_code(reason)  # says VERIFICATION_FAILED, to both sides
    raise SessionFailed(QrlinkError(ErrorCode.VERIFICATION_FAILED, reason))
