"""`qrlink peer offer`'s standard input, line by line (cli.StdinLines) over a real pipe: a
read that lost the race to the page's answer takes no line with it, and once the answer
is taken an answer text that still arrives is skipped, so the next line read is the
customer's code. The whole flow through processes is in tests/e2e/test_cli_one_scan.py."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Iterator

import pytest

from qrlink_desktop.cli.reporter import Reporter
from qrlink_desktop.cli.stdin import StdinLines
from qrlink_desktop.core import bootstrap
from qrlink_desktop.core.bootstrap import BootstrapRecord, Kind
from qrlink_desktop.rtc.zstd import TOKENS

REPORT = Reporter(as_json=True)  # no prompts on standard error
ANSWER = BootstrapRecord(
    Kind.ANSWER, b"\x01\x02\x03\x04", "abcd", "e" * 22, bytes(range(32)), (), setup="active"
)
COMPACT = bootstrap.answer_text(ANSWER)
SPEC = TOKENS.encode_compat(ANSWER, now=time.time())  # the specification's base64 JSON


class Pipe:
    """A real pipe: StdinLines reads its reading end; the test writes and closes the other."""

    def __init__(self) -> None:
        read_fd, self._write_fd = os.pipe()
        self._stream = os.fdopen(read_fd, "r")
        self.stdin = StdinLines(self._stream)
        self._open = True

    def write(self, *lines: str) -> None:
        os.write(self._write_fd, "".join(f"{line}\n" for line in lines).encode())

    def end(self) -> None:
        if self._open:
            self._open = False
            os.close(self._write_fd)

    def close(self) -> None:
        """The end of input, then the reading thread gone, then its stream closed."""
        self.end()
        if self.stdin.reader is not None:
            self.stdin.reader.join(timeout=10)
            assert not self.stdin.reader.is_alive()
        self._stream.close()


@pytest.fixture
def pipe() -> Iterator[Pipe]:
    p = Pipe()
    try:
        yield p
    finally:
        p.close()


async def test_a_read_cancelled_while_waiting_takes_no_line(pipe: Pipe) -> None:
    reading = asyncio.ensure_future(pipe.stdin.next("answer?", REPORT))
    await asyncio.sleep(0.05)  # the reader waits on the queue, its thread on the pipe
    assert not reading.done()
    reading.cancel()  # the page's answer came first
    with pytest.raises(asyncio.CancelledError):
        await reading
    pipe.write("123 456")
    assert await asyncio.wait_for(pipe.stdin.next("code?", REPORT), 10) == "123 456"


async def test_a_read_cancelled_as_its_line_arrives_leaves_the_line_queued(pipe: Pipe) -> None:
    """The line is queued and the reader woken, but cancelled before it runs on (the page's
    answer won in the same turn of the loop): the line stays for the next read."""
    reading = asyncio.ensure_future(pipe.stdin.next("answer?", REPORT))
    await asyncio.sleep(0.05)
    pipe.write("123 456")
    queue = pipe.stdin._queue
    assert queue is not None
    deadline = time.monotonic() + 10
    while queue.empty():
        assert time.monotonic() < deadline, "the line never reached the queue"
        time.sleep(0.01)  # the reading thread's put, scheduled into the loop
        await asyncio.sleep(0)
    # The put ran in this turn or the last; the woken reader runs after this task.
    assert not reading.done()
    reading.cancel()
    with pytest.raises(asyncio.CancelledError):
        await reading
    assert await asyncio.wait_for(pipe.stdin.next("code?", REPORT), 10) == "123 456"


async def test_before_the_answer_is_taken_an_answer_line_is_read(pipe: Pipe) -> None:
    pipe.write(COMPACT)
    assert await asyncio.wait_for(pipe.stdin.next("answer?", REPORT), 10) == COMPACT


@pytest.mark.parametrize(
    "late",
    [COMPACT, COMPACT.lower(), SPEC, "QL:damaged"],
    ids=["compact", "lower", "spec", "damaged"],
)
async def test_after_the_answer_an_answer_line_is_skipped_and_the_code_read(
    pipe: Pipe, late: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="qrlink")
    pipe.stdin.answer_taken()
    pipe.write(late, late, "056 272")
    assert await asyncio.wait_for(pipe.stdin.next("code?", REPORT), 10) == "056 272"
    notes = [r.getMessage() for r in caplog.records]
    assert notes.count("an answer on standard input came after the first one; ignored") == 2


@pytest.mark.parametrize("line", ["56272", "not a code", "https://shop.example/#QL0ABC"])
async def test_after_the_answer_anything_else_is_returned_for_the_code_check(
    pipe: Pipe, line: str
) -> None:
    """Only answer texts are skipped: anything else reaches the code check, which refuses
    what is not the code (nothing typed is swallowed in silence)."""
    pipe.stdin.answer_taken()
    pipe.write(line)
    assert await asyncio.wait_for(pipe.stdin.next("code?", REPORT), 10) == line


async def test_end_of_input_after_a_late_answer_is_the_end(pipe: Pipe) -> None:
    """No code after the skipped answer: the end of input, for this read and every later
    one (the code check refuses it)."""
    pipe.stdin.answer_taken()
    pipe.write(COMPACT)
    pipe.end()
    assert await asyncio.wait_for(pipe.stdin.next("code?", REPORT), 10) is None
    assert await asyncio.wait_for(pipe.stdin.next("code?", REPORT), 10) is None
