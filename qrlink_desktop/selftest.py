"""`qrlink --self-test`: is this installation (a source checkout or a bundle) whole?

It loads the QR decoders (zxing-cpp, and pyzbar with its zbar library), decodes the
bundled answer QR image with each, plays the bundled video through OpenCV's capture and
reads the code in every frame with each, creates an offer, pairs two sessions on
loopback (127.0.0.1 only, no STUN or TURN server) and runs one payment. One line per
check with its timing; exit 0 when every check passed, 1 otherwise, naming what failed.
Nothing leaves this machine.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TextIO

from .core.resources import resources_dir

EXIT_OK, EXIT_FAILED = 0, 1
ANSWER_IMAGE = "selftest/answer.png"
ANSWER_TEXT = "selftest/answer.txt"
ANSWER_VIDEO = "selftest/answer.avi"  # Motion JPEG, what a USB webcam sends
# The self-test never connects anywhere but this machine.
LOOPBACK = ("127.0.0.1",)


class CheckFailed(Exception):
    """A check's reason for failing, in a sentence."""


def zbar_library_path() -> str | None:
    """The file of the zbar library mapped into this process, if any (Linux: /proc)."""
    maps = Path("/proc/self/maps")
    if maps.is_file():
        for line in maps.read_text(encoding="utf-8", errors="replace").splitlines():
            parts = line.split(maxsplit=5)
            if len(parts) == 6 and "libzbar" in Path(parts[5]).name:
                return parts[5].strip()
        return None
    return os.environ.get("QRLINK_ZBAR_LIBRARY")  # set by the bundle's runtime hook


class SelfTest:
    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.failed: list[str] = []
        self.passed = 0

    def _line(self, ok: bool, name: str, ms: float, detail: str) -> None:
        mark = "ok  " if ok else "FAIL"
        print(f"{mark} {name:<24} {ms:8.1f} ms  {detail}", file=self.out, flush=True)

    def check(self, name: str, fn: Callable[[], str]) -> bool:
        t0 = time.perf_counter()
        try:
            detail = fn()
        except Exception as exc:  # a self-test reports every failure, whatever it is
            self.fail(name, t0, exc)
            return False
        self._ok(name, t0, detail)
        return True

    async def acheck(self, name: str, fn: Callable[[], Awaitable[str]]) -> bool:
        t0 = time.perf_counter()
        try:
            detail = await fn()
        except Exception as exc:
            self.fail(name, t0, exc)
            return False
        self._ok(name, t0, detail)
        return True

    def skip(self, name: str, why: str) -> None:
        self.failed.append(name)
        self._line(False, name, 0.0, why)

    def _ok(self, name: str, t0: float, detail: str) -> None:
        self.passed += 1
        self._line(True, name, (time.perf_counter() - t0) * 1000, detail)

    def fail(self, name: str, t0: float, exc: BaseException) -> None:
        self.failed.append(name)
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()] or [""]
        # One line per check: a long message (an import error's advice) keeps its ends.
        text = lines[0] if len(lines) == 1 else f"{lines[0]} ... {lines[-1]}"
        reason = text if isinstance(exc, CheckFailed) else f"{type(exc).__name__}: {text}"
        self._line(False, name, (time.perf_counter() - t0) * 1000, reason)


def _where() -> str:
    bundle = getattr(sys, "_MEIPASS", None)
    return f"bundle {bundle}" if bundle else f"source {Path(__file__).resolve().parent}"


def _decoder_names() -> list[str]:
    # Both, always: the app's default decoder runs zxing-cpp and then pyzbar.
    return ["zxing", "pyzbar"]


async def _session_checks(st: SelfTest, timeout: float) -> None:
    """Create an offer; pair two sessions on 127.0.0.1 with no ICE servers; pay once."""
    from .core.events import Direction, Event, MessageEvent
    from .core.messages import MessageType
    from .core.qrsize import smallest_version
    from .rtc.answering import AnsweringSession
    from .rtc.config import SessionConfig
    from .rtc.offering import OfferingSession
    from .rtc.peer import IceConfig

    ice = IceConfig(servers=(), addresses=LOOPBACK)
    cfg = SessionConfig(ice=ice, merchant="qrlink self-test", connect_timeout=10.0)
    cashier = OfferingSession(cfg)
    customer = AnsweringSession(cfg)
    state: dict[str, str] = {}  # what one step hands the next

    def approve(event: Event) -> None:
        match event:
            case MessageEvent(direction=Direction.IN, type=MessageType.PAYMENT_REQUEST):
                customer.respond(event.message_id, True)

    customer.add_listener(approve)

    def failed(what: str) -> CheckFailed:
        error = cashier.status.error or customer.status.error
        return CheckFailed(f"{what}: {error.code}: {error.message}" if error else what)

    async def offer() -> str:
        made = await asyncio.wait_for(cashier.new_customer(), timeout)
        if made is None:
            raise failed("no offer")
        state["offer"] = text = made.text
        return f"{len(text)} chars, QR version {smallest_version(text)[0]}"

    async def pair() -> str:
        answer = await customer.answer(state["offer"])
        if answer is None:
            raise failed("no answer")
        v_cashier, v_customer = await asyncio.wait_for(
            asyncio.gather(cashier.submit_answer(answer.text), customer.connect()), timeout
        )
        if v_cashier is None or v_customer is None:
            raise failed("not paired")
        if v_cashier.code != v_customer.code:
            raise CheckFailed("the two verification codes differ")
        code = v_cashier.code
        return f"127.0.0.1 only, no ICE servers; verification code {code[:3]} {code[3:]}"

    async def pay() -> str:
        cashier.confirm()
        request_id = cashier.request_payment("1.00", "EUR", "SELF-TEST")
        status = await asyncio.wait_for(cashier.payment_outcome(request_id), timeout)
        if status != "approved":
            raise CheckFailed(f"the payment ended {status!r}, not approved")
        return "1.00 EUR requested, approved, acknowledged"

    try:
        steps: list[tuple[str, Callable[[], Awaitable[str]]]] = [
            ("create offer", offer),
            ("pair on loopback", pair),
            ("payment", pay),
        ]
        for i, (name, step) in enumerate(steps):
            if not await st.acheck(name, step):
                for later, _ in steps[i + 1 :]:
                    st.skip(later, f"skipped: {name} failed")
                break
    finally:
        await cashier.shutdown()
        await customer.shutdown()


def run(out: TextIO | None = None, *, timeout: float = 30.0) -> int:
    """Run every check; 0 when all passed, 1 otherwise (the failed checks are named)."""
    out = out if out is not None else sys.stdout
    st = SelfTest(out)
    print(f"qrlink self-test ({_where()})", file=out, flush=True)
    started = time.perf_counter()
    decoders: dict[str, Any] = {}

    def load_decoder(name: str) -> Callable[[], str]:
        def load() -> str:
            from .scan.decoders import get_decoder

            decoders[name] = get_decoder(name)
            if name == "zxing":
                module = importlib.import_module("zxingcpp")
                return f"zxing-cpp {module.__file__}"
            path = zbar_library_path()
            if path is None:
                raise CheckFailed("pyzbar imported but no zbar library is mapped")
            return f"libzbar {path}"

        return load

    for name in _decoder_names():
        st.check(f"decoder {name}", load_decoder(name))

    image_path = resources_dir() / ANSWER_IMAGE
    expected: dict[str, str] = {}

    def read_expected() -> str:
        text = (resources_dir() / ANSWER_TEXT).read_text(encoding="ascii").strip()
        from .rtc.zstd import TOKENS

        record = TOKENS.decode(text, now=time.time(), allow_loopback=True)
        expected["text"] = text
        return f"{record.kind.name.lower()} record, {len(text)} chars, {image_path}"

    st.check("bundled answer text", read_expected)

    def decode_with(name: str) -> Callable[[], str]:
        def decode() -> str:
            from .scan.frames import read_image

            image = read_image(image_path)
            if image is None:
                raise CheckFailed(f"cannot read {image_path}")
            found = decoders[name].decode(image)
            if not found:
                raise CheckFailed(f"no QR code found in {image_path.name}")
            if found[0].text != expected.get("text"):
                raise CheckFailed("the decoded text differs from the bundled answer text")
            return f"{image.shape[1]}x{image.shape[0]} image, text matches"

        return decode

    for name in list(decoders):
        st.check(f"decode image ({name})", decode_with(name))

    def play_video() -> str:
        # The camera path: OpenCV's capture (its FFmpeg demuxer and MJPEG decoder), then
        # every frame through each decoder on its own.
        from .scan.sources import open_source

        video = resources_dir() / ANSWER_VIDEO
        with open_source(str(video)) as source:
            frames = list(source)
            backend = source.backend
        if not frames:
            raise CheckFailed(f"no frame in {video.name}")
        missing = [name for name in _decoder_names() if name not in decoders]
        if missing:
            raise CheckFailed(f"decoder {', '.join(missing)} did not load")
        counts = []
        for name, decoder in decoders.items():
            found = sum(
                any(d.text == expected.get("text") for d in decoder.decode(f)) for f in frames
            )
            if found < len(frames):
                raise CheckFailed(f"{name} read the code in {found} of {len(frames)} frames")
            counts.append(f"{name} {found}/{len(frames)}")
        height, width = frames[0].shape[:2]
        return f"{len(frames)} frames {width}x{height} via OpenCV {backend}; {', '.join(counts)}"

    st.check("play video (camera path)", play_video)

    try:
        asyncio.run(_session_checks(st, timeout))
    except Exception as exc:  # shutting the sessions down failed
        st.fail("session shutdown", time.perf_counter(), exc)

    total = (time.perf_counter() - started) * 1000
    if st.failed:
        print(
            f"self-test FAILED: {', '.join(st.failed)} ({st.passed} passed, {total:.0f} ms)",
            file=out,
            flush=True,
        )
        return EXIT_FAILED
    print(f"self-test passed: {st.passed} checks in {total:.0f} ms", file=out, flush=True)
    return EXIT_OK
