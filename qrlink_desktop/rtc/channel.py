"""One open data channel: handshake, heartbeat, inactivity close, ordered send with retry.

Every handler is guarded: an exception escaping an aiortc data-channel handler tears that
side's connection down while the other side still shows "connected" (measured with
aiortc 1.16; docs/architecture.md).
The conversation (payments, dedup, outbox) is not known here: it outlives the channel,
and the session that owns both hears what happens on the channel as typed reports
(`LinkReport`) and tells the conversation.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiortc import RTCDataChannel

from ..core import facts
from ..core.clock import SYSTEM_CLOCK, Clock
from ..core.conversation import OutStatus
from ..core.errors import ErrorCode, QrlinkError
from ..core.events import ErrorEvent, IdleClosing, PathChanged, RttMeasured
from ..core.handshake import Failed, Handshake, HState, Send, Verified
from ..core.liveness import Due, Liveness
from ..core.messages import PAYMENT_TYPES, Envelope, MessageType, make, parse
from ..core.retry import DEFAULT_RETRY, RetryPolicy

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HandshakeDone:
    """The handshake completed: payment messages may flow (reported before any follows)."""

    verified: Verified


@dataclass(frozen=True)
class Received:
    """A conversation message (payment or error) arrived and parsed."""

    envelope: Envelope


@dataclass(frozen=True)
class Delivery:
    """How sending a queued message went: SENT, RETRYING or FAILED, after `attempts`."""

    message_id: str
    status: OutStatus
    attempts: int


# What the link tells its session. Path changes, round trips, idle closing and problems
# it handled itself (an invalid message, a flood) are already what the world is told.
LinkReport = (
    HandshakeDone | Received | Delivery | PathChanged | RttMeasured | IdleClosing | ErrorEvent
)
Report = Callable[[LinkReport], None]

# An `error` from the other side with one of these codes ends the pairing on this side too:
# the other side refused it (its handshake failed, or its person saw different codes).
PAIRING_REFUSED = frozenset({ErrorCode.VERIFICATION_FAILED, ErrorCode.PROTOCOL_VERSION_UNSUPPORTED})


_DEFAULT = facts.timers()


@dataclass(frozen=True)
class ChannelTimers:
    # The defaults are resources/protocol/timers.json's, shared with the page, where each
    # figure says why it is what it is; tests shorten them.
    handshake_timeout: float = _DEFAULT.handshake_timeout
    hello_resend: tuple[float, ...] = _DEFAULT.hello_resend  # gaps between hello repeats
    ping_interval: float = _DEFAULT.ping_interval
    dead_after: float = _DEFAULT.dead_after
    inactivity: float = _DEFAULT.inactivity
    retry: RetryPolicy = DEFAULT_RETRY
    # Flood guard over incoming messages (heartbeats included): a burst of `max_burst`
    # and `max_rate` a second sustained. A payment conversation sends a handful; a
    # benchmark's back-to-back requests a few thousand a second.
    max_rate: float = 5000.0
    max_burst: float = 500.0


def _all_acknowledged(channel: RTCDataChannel) -> bool:
    """Whether everything sent on the channel's association has been acknowledged by the
    other side's SCTP (aiortc keeps these queues private; it has no graceful shutdown)."""
    sctp: Any = channel.transport
    return not (sctp._data_channel_queue or sctp._outbound_queue or sctp._sent_queue)


class _RateGate:
    """Token bucket over received messages; `now` comes from the caller's clock."""

    def __init__(self, rate: float, burst: float, now: float) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self.at = now

    def allow(self, now: float) -> bool:
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


class Link:
    def __init__(
        self,
        channel: RTCDataChannel,
        handshake: Handshake,
        *,
        timers: ChannelTimers = ChannelTimers(),
        clock: Clock = SYSTEM_CLOCK,
        report: Report,
    ) -> None:
        self.channel = channel
        self.handshake = handshake
        self.timers = timers
        self.clock = clock
        self._report = report
        now = clock.monotonic()
        self.liveness = Liveness(timers.ping_interval, timers.dead_after, timers.inactivity, now)
        self._gate = _RateGate(timers.max_rate, timers.max_burst, now)
        self._flood_reported = False
        self._queue: asyncio.Queue[Envelope] = asyncio.Queue()
        self._pings: dict[str, float] = {}
        self._busy = False  # the pump holds a message (waiting or retrying)
        self.rtt_ms: float | None = None
        self.failure: QrlinkError | None = None
        self.verified: asyncio.Future[Verified] = asyncio.get_running_loop().create_future()
        self.closed: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._tasks: list[asyncio.Task[None]] = []

    # --- lifecycle -----------------------------------------------------------------------

    def start(self, early: list[str | bytes] | None = None) -> None:
        """Attach to the channel; `early` holds what arrived before (handled first, in order)."""
        self.channel.on("message", self._on_message)
        self.channel.on("close", lambda: self._finish("the other device closed the connection"))
        self._tasks = [
            asyncio.ensure_future(self._pump()),
            asyncio.ensure_future(self._heartbeat()),
            asyncio.ensure_future(self._handshake_deadline()),
            asyncio.ensure_future(self._resend_hello()),
        ]
        self._apply_handshake("open", None)
        for message in early or []:
            self._on_message(message)

    async def close(self, reason: str = "closed") -> None:
        self._finish(reason)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []
        with contextlib.suppress(Exception):
            self.channel.close()

    def _finish(self, reason: str) -> None:
        if not self.closed.done():
            self.closed.set_result(reason)
            if not self.verified.done():
                self.verified.set_exception(
                    QrlinkError(ErrorCode.CONNECTION_FAILED, f"connection ended: {reason}")
                )
                self.verified.exception()  # mark retrieved: nobody may be waiting
            for task in self._tasks:
                if task is not asyncio.current_task():
                    task.cancel()

    def fail(self, code: ErrorCode, message: str) -> None:
        """End the link as failed: one `error` report, then `closed` resolves."""
        if self.closed.done():
            return
        self.failure = QrlinkError(code, message)
        self._report(ErrorEvent(code, message))
        self._finish(message)

    async def refuse(self, code: ErrorCode, message: str, grace: float) -> None:
        """End the pairing as failed, telling the other side first: the `error` goes out,
        and this side closes once the other side's SCTP has acknowledged it (or the other
        side hung up on it, or `grace` seconds passed: it is gone). Closing at once would
        abort the association with the message possibly still queued behind unacknowledged
        data (seen on a busy machine: the other side then saw a bare close)."""
        if self.closed.done():
            return
        self.failure = QrlinkError(code, message)
        self._report(ErrorEvent(code, message))
        self.send_control(
            make(
                MessageType.ERROR,
                {"code": str(code), "message": message[:500]},
                now=self.clock.now(),
            )
        )

        async def delivered() -> None:
            while not self.closed.done() and not _all_acknowledged(self.channel):
                await asyncio.sleep(0.01)

        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(delivered(), grace)
        self._finish(message)

    # --- sending -------------------------------------------------------------------------

    def send(self, env: Envelope) -> None:
        """Ordered delivery; payment messages wait for verification. With nothing queued
        and the channel open the message leaves at once (no task hop on the hot path)."""
        ready = env.type not in PAYMENT_TYPES or self.verified.done()
        if ready and not self._busy and self._queue.empty() and self.channel.readyState == "open":
            try:
                self.channel.send(env.to_json())
            except Exception:  # fall back to the queue and its retry policy
                log.debug("direct send of %s failed; queued", env.message_id)
            else:
                self._report(Delivery(env.message_id, OutStatus.SENT, 1))
                return
        self._queue.put_nowait(env)

    def send_control(self, env: Envelope) -> None:
        """Control messages (handshake, heartbeat, errors) bypass the queue."""
        try:
            self.channel.send(env.to_json())
        except Exception as exc:  # the channel is closing; the heartbeat will notice
            log.debug("control message %s not sent: %s", env.type, exc)

    async def _pump(self) -> None:
        while True:
            env = await self._queue.get()
            self._busy = True
            try:
                if env.type in PAYMENT_TYPES and not self.verified.done():
                    await asyncio.shield(self.verified)
                await self._deliver(env)
            finally:
                self._busy = self._queue.qsize() > 0

    async def _deliver(self, env: Envelope) -> None:
        policy = self.timers.retry
        attempts = 0
        for attempt in range(policy.attempts):
            attempts = attempt + 1
            try:
                if self.channel.readyState != "open":
                    raise ConnectionError("the data channel is not open")
                self.channel.send(env.to_json())
            except Exception as exc:
                delay = policy.delay(attempts)
                if delay is None:
                    break
                self._report(Delivery(env.message_id, OutStatus.RETRYING, attempts))
                log.info("send of %s failed (%s); retry in %gs", env.message_id, exc, delay)
                await asyncio.sleep(delay)
                continue
            self._report(Delivery(env.message_id, OutStatus.SENT, attempts))
            return
        self._report(Delivery(env.message_id, OutStatus.FAILED, attempts))
        self._report(
            ErrorEvent(
                ErrorCode.MESSAGE_SEND_FAILED,
                f"{env.type} could not be sent; it will be sent again after the next pairing",
                env.message_id,
            )
        )

    # --- receiving -----------------------------------------------------------------------

    def _on_message(self, raw: str | bytes) -> None:
        try:
            self._receive(raw)
        except Exception as exc:  # never let an exception reach aiortc
            log.exception("message handler failed")
            self._report(
                ErrorEvent(ErrorCode.MESSAGE_INVALID, f"a message could not be handled: {exc}")
            )

    def _receive(self, raw: str | bytes) -> None:
        now = self.clock.monotonic()
        if self.liveness.heard(now):
            self._report(PathChanged(quiet=False))
        if not self._gate.allow(now):
            if not self._flood_reported:
                self._flood_reported = True
                self._report(
                    ErrorEvent(
                        ErrorCode.RATE_LIMITED,
                        "the other device is sending too many messages; extra messages are dropped",
                    )
                )
            return
        wall = self.clock.now()
        try:
            env = parse(raw)
        except QrlinkError as exc:
            self._report(ErrorEvent.of(exc))
            self.send_control(
                make(
                    MessageType.ERROR,
                    {"code": str(exc.code), "message": exc.message[:500]},
                    now=wall,
                )
            )
            return
        if env.type == MessageType.HANDSHAKE:
            self._apply_handshake(env.payload["step"], env.payload)
            return
        if env.type == MessageType.PING:
            self.send_control(make(MessageType.PONG, {"pingId": env.message_id}, now=wall))
            return
        if env.type == MessageType.PONG:
            sent = self._pings.pop(env.payload["pingId"], None)
            if sent is not None:
                self.rtt_ms = (now - sent) * 1000
                self._report(RttMeasured(round(self.rtt_ms, 3)))
            return
        self.liveness.activity(now)
        self._report(Received(env))
        if env.type == MessageType.ERROR and env.payload["code"] in PAIRING_REFUSED:
            self.fail(
                ErrorCode(env.payload["code"]),
                f"the other device ended the pairing: {env.payload['message']}",
            )

    # --- handshake -----------------------------------------------------------------------

    def _apply_handshake(self, step: str, payload: dict[str, Any] | None) -> None:
        hs = self.handshake
        before = len(hs.outputs)
        hs.handle(step, payload)
        wall = self.clock.now()
        for out in hs.outputs[before:]:
            if isinstance(out, Send):
                self.send_control(make(MessageType.HANDSHAKE, out.payload, now=wall))
            elif isinstance(out, Verified):
                if not self.verified.done():
                    self.verified.set_result(out)
                    self._report(HandshakeDone(out))
            elif isinstance(out, Failed):
                if out.tell_peer:
                    error = {"code": str(out.code), "message": out.message}
                    self.send_control(make(MessageType.ERROR, error, now=wall))
                self.fail(out.code, out.message)

    async def _resend_hello(self) -> None:
        for gap in self.timers.hello_resend:
            await asyncio.sleep(gap)
            if self.handshake.state != HState.HELLO_SENT:
                return
            log.info("no answer to the hello after %gs; sending it again", gap)
            self._apply_handshake("resend", None)

    async def _handshake_deadline(self) -> None:
        await asyncio.sleep(self.timers.handshake_timeout)
        self._apply_handshake("timeout", {"seconds": self.timers.handshake_timeout})

    # --- heartbeat -----------------------------------------------------------------------

    async def _heartbeat(self) -> None:
        while not self.closed.done():
            now = self.clock.monotonic()
            await asyncio.sleep(max(0.05, self.liveness.next_check(now)))
            now = self.clock.monotonic()
            for due in self.liveness.due(now):
                if due == Due.PING:
                    env = make(MessageType.PING, {}, now=self.clock.now())
                    self._pings = {
                        k: v for k, v in self._pings.items() if now - v < self.timers.dead_after
                    }
                    self._pings[env.message_id] = now
                    self.send_control(env)
                elif due == Due.QUIET:
                    self._report(PathChanged(quiet=True))
                elif due == Due.DEAD:
                    self.fail(
                        ErrorCode.TIMEOUT,
                        f"the other device stopped answering (nothing heard for "
                        f"{self.timers.dead_after:g} seconds)",
                    )
                    return
                elif due == Due.IDLE:
                    self._report(IdleClosing(self.timers.inactivity))
                    self._finish("closed after inactivity")
                    return
