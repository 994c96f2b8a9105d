"""One aiortc peer connection, made from and reduced to bootstrap records.

Always passes an explicit ICE server list (aiortc falls back to a public STUN server when
none is given), gathers host candidates only on the configured addresses, and sets the
offer's ICE credentials from the record's seed so the QR carries 16 bytes instead of 25.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from aioice import ice as aioice_ice
from aiortc import (
    RTCConfiguration,
    RTCDataChannel,
    RTCIceServer,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.rtcconfiguration import RTCIceTransportPolicy

from ..core import bootstrap, sdp
from ..core.bootstrap import BootstrapRecord, Candidate, CandidateType, Kind
from ..core.clock import SYSTEM_CLOCK, Clock
from ..core.errors import ErrorCode, QrlinkError
from ..core.events import PathInfo
from ..core.handshake import Role

log = logging.getLogger(__name__)

CHANNEL_LABEL = "qrlink"


@dataclass(frozen=True)
class IceServerConfig:
    urls: tuple[str, ...]
    username: str | None = None
    credential: str | None = None

    def to_aiortc(self) -> RTCIceServer:
        return RTCIceServer(
            urls=list(self.urls), username=self.username, credential=self.credential
        )


@dataclass(frozen=True)
class IceConfig:
    servers: tuple[IceServerConfig, ...] = ()
    relay_only: bool = False
    # Host candidates only on these addresses; None means every interface aioice finds.
    addresses: tuple[str, ...] | None = None
    # Accept loopback candidates from the other side (local testing only).
    allow_loopback: bool = False

    def rtc_configuration(self) -> RTCConfiguration:
        return RTCConfiguration(
            iceServers=[s.to_aiortc() for s in self.servers],
            iceTransportPolicy=(
                RTCIceTransportPolicy.RELAY if self.relay_only else RTCIceTransportPolicy.ALL
            ),
        )

    def turn_rotations(self) -> list[IceConfig]:
        """One configuration per TURN server, each with that server first.

        aiortc uses only the first TURN server it is given; trying them in turn is how
        a second relay takes over when the first cannot be reached.
        """
        turns = [s for s in self.servers if any(u.startswith("turn") for u in s.urls)]
        if len(turns) <= 1:
            return [self]
        others = tuple(s for s in self.servers if s not in turns)
        return [replace(self, servers=(t, *others)) for t in turns]

    @property
    def has_turn(self) -> bool:
        return any(u.startswith("turn") for s in self.servers for u in s.urls)

    @property
    def loopback_ok(self) -> bool:
        return self.allow_loopback or any(
            a.startswith("127.") or a == "::1" for a in self.addresses or ()
        )


@dataclass
class PeerTimings:
    created: float = field(default_factory=time.perf_counter)
    gathered: float | None = None
    remote_applied: float | None = None
    ice_connected: float | None = None
    dtls_connected: float | None = None
    channel_open: float | None = None

    def as_ms(self) -> dict[str, float]:
        base = self.remote_applied
        out: dict[str, float] = {}
        if self.gathered is not None:
            out["gather_ms"] = (self.gathered - self.created) * 1000
        if base is not None:
            for name, value in (
                ("ice_connected", self.ice_connected),
                ("dtls_connected", self.dtls_connected),
                ("channel_open", self.channel_open),
            ):
                if value is not None:
                    out[f"{name}_ms"] = (value - base) * 1000
        return out


def _ice_connection(pc: RTCPeerConnection) -> aioice_ice.Connection:
    assert pc.sctp is not None
    return pc.sctp.transport.transport.iceGatherer._connection


def _restrict_gathering(conn: aioice_ice.Connection, addresses: tuple[str, ...]) -> None:
    """Replace aioice's every-interface gathering with the configured addresses.

    aioice gathers on every address but 127.0.0.1; tests and privacy-minded shops need
    to name them. Mirrors aioice 0.13's gather_candidates with the address list swapped.
    """

    async def gather() -> None:
        if conn._local_candidates_start:
            return
        conn._local_candidates_start = True
        use = list(addresses) if conn._transport_policy == aioice_ice.TransportPolicy.ALL else []
        results = await asyncio.gather(
            *(conn.get_component_candidates(component=c, addresses=use) for c in conn._components)
        )
        for candidates in results:
            conn._local_candidates += candidates
        conn._local_candidates_end = True

    conn.gather_candidates = gather  # type: ignore[method-assign]


def _trigger_in_progress_checks(conn: aioice_ice.Connection) -> None:
    """Give an In-Progress pair a triggered check when the peer's check arrives.

    RFC 5245 §7.2.1.4: an agent receiving a check for a pair that is In-Progress cancels
    the transaction and checks again at once. aioice only triggers checks for frozen,
    waiting or failed pairs, so when both sides are relay-only the answerer's first check
    (dropped at the offerer's relay, which has no permission for it yet) is retried only
    after the 500 ms STUN retransmit: that was the ~500 ms relay-only connect time.
    """
    original = conn.check_incoming

    def check_incoming(message: Any, addr: tuple[str, int], protocol: Any) -> None:
        for pair in conn._check_list:
            if (
                pair.protocol is protocol
                and pair.remote_addr == addr
                and pair.state == aioice_ice.CandidatePair.State.IN_PROGRESS
                and pair.task is not None
                and not pair.remote_nominated
            ):
                pair.task.cancel()
                pair.task = None
                conn.check_state(pair, aioice_ice.CandidatePair.State.WAITING)
        original(message, addr, protocol)

    conn.check_incoming = check_incoming  # type: ignore[method-assign]


def _set_credentials(conn: aioice_ice.Connection, ufrag: str, pwd: str) -> None:
    aioice_ice.validate_username(ufrag)
    aioice_ice.validate_password(pwd)
    conn._local_username = ufrag
    conn._local_password = pwd


def _keep_candidate(c: Candidate, cfg: IceConfig) -> bool:
    if cfg.relay_only:
        return c.type == CandidateType.RELAY
    return True


class Peer:
    """A peer connection in the offering or answering role, with its data channel."""

    def __init__(self, role: Role, cfg: IceConfig, clock: Clock = SYSTEM_CLOCK) -> None:
        self.role = role
        self.cfg = cfg
        self.clock = clock
        self.pc = RTCPeerConnection(cfg.rtc_configuration())
        self.timings = PeerTimings()
        self.local: BootstrapRecord | None = None
        self.remote: BootstrapRecord | None = None
        self.channel: RTCDataChannel | None = None
        self._channel_ready: asyncio.Future[RTCDataChannel] = (
            asyncio.get_running_loop().create_future()
        )
        self._state_listeners: list[Callable[[str], None]] = []
        self._closing: asyncio.Future[None] | None = None
        self._early: list[str | bytes] = []
        self.pc.on("connectionstatechange", self._on_connection_state)
        self.pc.on("iceconnectionstatechange", self._on_ice_state)
        self.pc.on("datachannel", self._on_datachannel)

    # --- events --------------------------------------------------------------------------

    def on_state(self, listener: Callable[[str], None]) -> None:
        self._state_listeners.append(listener)

    def _on_connection_state(self) -> None:
        state = self.pc.connectionState
        log.debug("peer %s connection state -> %s", self.role, state)
        if state == "connected" and self.timings.dtls_connected is None:
            self.timings.dtls_connected = time.perf_counter()
        for listener in list(self._state_listeners):
            listener(state)

    def _on_ice_state(self) -> None:
        if self.pc.iceConnectionState == "completed" and self.timings.ice_connected is None:
            self.timings.ice_connected = time.perf_counter()

    def _on_datachannel(self, channel: RTCDataChannel) -> None:
        if self.channel is None and channel.label == CHANNEL_LABEL:
            self._adopt(channel)

    def _adopt(self, channel: RTCDataChannel) -> None:
        self.channel = channel
        # A browser sends its hello the moment the channel opens, often before the app has
        # attached its handler; keep what arrives until `take_early_messages`.
        channel.on("message", self._buffer_early)

        def opened() -> None:
            if self.timings.channel_open is None:
                self.timings.channel_open = time.perf_counter()
            if not self._channel_ready.done():
                self._channel_ready.set_result(channel)

        if channel.readyState == "open":
            opened()
        else:
            channel.on("open", opened)

    def _buffer_early(self, message: str | bytes) -> None:
        if len(self._early) < 64:  # a peer cannot grow this before the handshake
            self._early.append(message)

    def take_early_messages(self) -> list[str | bytes]:
        """Stop buffering; what arrived before the channel's owner attached its handler."""
        if self.channel is not None:
            self.channel.remove_listener("message", self._buffer_early)
        early, self._early = self._early, []
        return early

    # --- offer / answer ------------------------------------------------------------------

    async def _describe_local(self, kind: str) -> sdp.ReducedSdp:
        """Create the local offer or answer, gather, and reduce it to the record's fields."""
        try:
            create = self.pc.createOffer if kind == "offer" else self.pc.createAnswer
            await self.pc.setLocalDescription(await create())
            self.timings.gathered = time.perf_counter()
            return sdp.reduce(self.pc.localDescription.sdp)
        except QrlinkError:
            raise
        except Exception as exc:
            raise QrlinkError(
                ErrorCode.BOOTSTRAP_GENERATION_FAILED, f"could not create an {kind}: {exc}"
            ) from exc

    def _prepare_ice(self) -> aioice_ice.Connection:
        conn = _ice_connection(self.pc)
        if self.cfg.addresses is not None:
            _restrict_gathering(conn, self.cfg.addresses)
        _trigger_in_progress_checks(conn)
        return conn

    def _local_candidates(self, reduced: sdp.ReducedSdp) -> tuple[Candidate, ...]:
        kept = tuple(c for c in reduced.candidates if _keep_candidate(c, self.cfg))
        if len(kept) > bootstrap.MAX_CANDIDATES:
            kept = kept[: bootstrap.MAX_CANDIDATES]
        return kept

    async def make_offer(
        self, lifetime: float, reply_handle: bytes | None = None
    ) -> BootstrapRecord:
        assert self.role == Role.OFFERER
        self._adopt(self.pc.createDataChannel(CHANNEL_LABEL, ordered=True))
        seed = bootstrap.new_seed()
        _, ufrag, pwd = bootstrap.derive_credentials(seed)
        _set_credentials(self._prepare_ice(), ufrag, pwd)
        reduced = await self._describe_local("offer")
        if (reduced.ufrag, reduced.pwd) != (ufrag, pwd):
            raise QrlinkError(
                ErrorCode.BOOTSTRAP_GENERATION_FAILED, "the ICE agent did not take the credentials"
            )
        candidates = self._local_candidates(reduced)
        if not candidates:
            raise QrlinkError(
                ErrorCode.BOOTSTRAP_GENERATION_FAILED,
                "no usable network address was found"
                + (
                    " (relay-only mode needs a reachable TURN server)"
                    if self.cfg.relay_only
                    else ""
                ),
            )
        self.local = bootstrap.new_offer(
            reduced.fingerprint,
            candidates,
            int(self.clock.now() + lifetime),
            seed=seed,
            relay_only=self.cfg.relay_only,
            reply_handle=reply_handle,
        )
        return self.local

    async def accept_answer(self, answer: BootstrapRecord) -> None:
        assert self.role == Role.OFFERER and self.local is not None
        if answer.kind != Kind.ANSWER:
            raise QrlinkError(
                ErrorCode.BOOTSTRAP_PARSE_FAILED, "this code is an offer, not an answer"
            )
        if answer.offer_id != self.local.offer_id:
            raise QrlinkError(
                ErrorCode.BOOTSTRAP_PARSE_FAILED,
                "this answer belongs to a different offer (an older QR code?); "
                "ask the customer to scan the code on screen now",
            )
        self.remote = answer
        await self._apply_remote(answer, "answer")

    async def _apply_remote(self, record: BootstrapRecord, kind: str) -> None:
        try:
            await self.pc.setRemoteDescription(RTCSessionDescription(sdp.rebuild(record), kind))
        except Exception as exc:
            raise QrlinkError(
                ErrorCode.CONNECTION_FAILED, f"the {kind} could not be applied: {exc}"
            ) from exc
        self.timings.remote_applied = time.perf_counter()

    async def make_answer(self, offer: BootstrapRecord) -> BootstrapRecord:
        assert self.role == Role.ANSWERER
        if offer.kind != Kind.OFFER:
            raise QrlinkError(
                ErrorCode.BOOTSTRAP_PARSE_FAILED, "this code is an answer, not an offer"
            )
        self.remote = offer
        # The ICE agent exists only once the offer is applied; aiortc gathers on
        # setLocalDescription, so restricting it in between is in time.
        await self._apply_remote(offer, "offer")
        self._prepare_ice()
        reduced = await self._describe_local("answer")
        candidates = self._local_candidates(reduced)
        self.local = BootstrapRecord(
            Kind.ANSWER,
            offer.offer_id,
            reduced.ufrag,
            reduced.pwd,
            reduced.fingerprint,
            candidates,
            setup=reduced.setup if reduced.setup != "actpass" else "active",
            relay_only=self.cfg.relay_only,
        )
        return self.local

    # --- connection ----------------------------------------------------------------------

    async def wait_open(self, timeout: float) -> RTCDataChannel:
        """The open data channel, or TIMEOUT / ICE_FAILED / CONNECTION_FAILED."""
        failed: asyncio.Future[str] = asyncio.get_running_loop().create_future()

        def watch(state: str) -> None:
            if state in ("failed", "closed") and not failed.done():
                failed.set_result(state)

        self.on_state(watch)
        try:
            waiting: set[asyncio.Future[Any]] = {self._channel_ready, failed}
            done, _ = await asyncio.wait(
                waiting, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            self._state_listeners.remove(watch)
            if not failed.done():
                failed.cancel()
        if self._channel_ready in done:
            return self._channel_ready.result()
        if failed in done:
            ice_failed = self.pc.iceConnectionState == "failed"
            raise QrlinkError(
                ErrorCode.ICE_FAILED if ice_failed else ErrorCode.CONNECTION_FAILED,
                "no network path to the other device was found"
                if ice_failed
                else "the secure connection to the other device failed",
            )
        raise QrlinkError(
            ErrorCode.TIMEOUT, f"the other device did not connect within {timeout:g} seconds"
        )

    def selected_pair(self) -> tuple[str, str] | None:
        """(local, remote) candidate types of the pair in use, e.g. ("host", "prflx")."""
        try:
            conn = _ice_connection(self.pc)
            pair = conn._nominated.get(1)
        except (AssertionError, AttributeError):
            return None
        if pair is None:
            return None
        return pair.local_candidate.type, pair.remote_candidate.type

    def describe(self) -> PathInfo:
        pair = self.selected_pair()
        if pair is None:
            return PathInfo(None, None, None)
        return PathInfo(pair[0], pair[1], "relay" if "relay" in pair else "direct")

    async def close(self) -> None:
        # aiortc's close cannot survive a cancellation half-way (its closed future is
        # never resolved and every later close waits forever), so it runs as its own
        # task and callers only wait for it.
        if self._closing is None:
            self._closing = asyncio.ensure_future(self.pc.close())
        await asyncio.shield(self._closing)
