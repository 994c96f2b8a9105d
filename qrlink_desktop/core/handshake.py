"""The in-band handshake: protocol version negotiation, then commit–reveal verification.

    answerer                         offerer
      | -- hello {versions, commit} -->  |   commit = H(N_a)
      | <-- accept {version, nonce} ---  |   nonce = N_o, version = highest common
      | -- reveal {nonce} ------------>  |   nonce = N_a, checked against commit
    both: code = SAS(fp_offer, fp_answer, N_o, N_a)

Pure: `handle` takes inputs and appends outputs to `self.outputs`; no I/O, no clock
(the caller owns the handshake timeout).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from . import sas
from .errors import ErrorCode

SUPPORTED_VERSIONS = (1,)


class Role(StrEnum):
    OFFERER = "offerer"
    ANSWERER = "answerer"


class HState(StrEnum):
    START = "start"  # the data channel is not open yet; nothing sent
    HELLO_SENT = "hello_sent"  # answerer: committed to N_a, waiting for the offerer's nonce
    WAIT_HELLO = "wait_hello"  # offerer: channel open, waiting for the answerer's commitment
    WAIT_REVEAL = "wait_reveal"  # offerer: N_o sent, waiting for N_a to check the commitment
    VERIFIED = "verified"  # both nonces known: the code can be shown, payments may flow
    FAILED = "failed"  # wrong step, no common version, or a broken commitment: terminal


# (role, state, input) -> (next state, action). Inputs: "open" (channel opened), "resend"
# (the caller's retransmission timer) and the handshake steps received from the peer.
#
# The hello is repeated until an answer comes: a browser can drop a message sent the
# instant its channel opens without a word (seen on the wire: Chromium sent its DCEP ACK
# and then nothing until its first heartbeat 3 s later). A repeated hello must carry the
# same commitment, and is answered with the same accept; anything else fails, or the
# commit-reveal order would no longer bind the answerer to its nonce.
TRANSITIONS: dict[tuple[Role, HState, str], tuple[HState, str | None]] = {
    (Role.ANSWERER, HState.START, "open"): (HState.HELLO_SENT, "_send_hello"),
    (Role.ANSWERER, HState.HELLO_SENT, "resend"): (HState.HELLO_SENT, "_send_hello"),
    (Role.OFFERER, HState.START, "open"): (HState.WAIT_HELLO, None),
    (Role.OFFERER, HState.WAIT_HELLO, "hello"): (HState.WAIT_REVEAL, "_on_hello"),
    (Role.OFFERER, HState.WAIT_REVEAL, "hello"): (HState.WAIT_REVEAL, "_on_repeated_hello"),
    (Role.ANSWERER, HState.HELLO_SENT, "accept"): (HState.VERIFIED, "_on_accept"),
    (Role.OFFERER, HState.WAIT_REVEAL, "reveal"): (HState.VERIFIED, "_on_reveal"),
}

# Inputs that change nothing: a second "open", a "resend" with nothing left to repeat, and
# anything after the handshake has ended (a late duplicate from the peer must not undo a
# verification or revive a failure).
IGNORED: set[tuple[HState, str]] = {
    *((s, "open") for s in HState if s != HState.START),
    *((s, "resend") for s in HState if s != HState.HELLO_SENT),
    *((s, i) for s in (HState.VERIFIED, HState.FAILED) for i in ("hello", "accept", "reveal")),
}


# What a handshake still waits for, by state: said when it times out, so a stalled
# pairing tells which step never came.
WAITING_FOR: dict[HState, str] = {
    HState.START: "the data channel to open",
    HState.HELLO_SENT: "an answer to this side's hello",
    HState.WAIT_HELLO: "the other side's hello",
    HState.WAIT_REVEAL: "the other side's reveal",
}


@dataclass(frozen=True)
class Verified:
    version: int
    code: str
    peer_info: dict[str, Any]


@dataclass(frozen=True)
class Failed:
    code: ErrorCode
    message: str


@dataclass(frozen=True)
class Send:
    payload: dict[str, Any]


Output = Send | Verified | Failed


class Handshake:
    def __init__(
        self,
        role: Role,
        fingerprint_offer: bytes,
        fingerprint_answer: bytes,
        *,
        nonce: bytes | None = None,
        versions: tuple[int, ...] = SUPPORTED_VERSIONS,
        info: dict[str, Any] | None = None,
    ) -> None:
        self.role = role
        self.state = HState.START
        self.outputs: list[Output] = []
        self._fp_offer = fingerprint_offer
        self._fp_answer = fingerprint_answer
        self._nonce = nonce or sas.new_nonce()
        self._versions = versions
        self._info = dict(info or {})
        self._peer_commit = b""
        self._peer_hello: dict[str, Any] = {}  # offerer: the hello answered, to match repeats
        self._accept: dict[str, Any] = {}  # offerer: sent again for a repeated hello
        self._peer_info: dict[str, Any] = {}
        self._version = 0
        self.result: Verified | None = None

    def handle(self, step: str, payload: dict[str, Any] | None = None) -> None:
        key = (self.role, self.state, step)
        if key in TRANSITIONS:
            nxt, action = TRANSITIONS[key]
            self.state = nxt
            if action is not None:
                getattr(self, action)(payload or {})
        elif (self.state, step) in IGNORED:
            return
        else:
            self._fail(
                ErrorCode.VERIFICATION_FAILED,
                f"unexpected handshake step {step!r} while {self.state}",
            )

    # --- actions -------------------------------------------------------------------------

    def _fail(self, code: ErrorCode, message: str) -> None:
        self.state = HState.FAILED
        self.outputs.append(Failed(code, message))

    def _send_hello(self, _: dict[str, Any]) -> None:
        self.outputs.append(
            Send(
                {
                    "step": "hello",
                    "versions": list(self._versions),
                    "commit": sas.commitment(self._nonce).hex(),
                    **self._info,
                }
            )
        )

    def _on_repeated_hello(self, payload: dict[str, Any]) -> None:
        if any(payload.get(k) != self._peer_hello.get(k) for k in ("commit", "versions")):
            self._fail(
                ErrorCode.VERIFICATION_FAILED,
                "the other side repeated its hello with a different commitment; someone may "
                "be interfering with this connection",
            )
            return
        self.outputs.append(Send(dict(self._accept)))

    def _on_hello(self, payload: dict[str, Any]) -> None:
        common = set(payload["versions"]) & set(self._versions)
        if not common:
            self._fail(
                ErrorCode.PROTOCOL_VERSION_UNSUPPORTED,
                f"the other side speaks protocol versions {payload['versions']}; "
                f"this app speaks {list(self._versions)}",
            )
            return
        self._version = max(common)
        self._peer_commit = bytes.fromhex(payload["commit"])
        self._peer_hello = dict(payload)
        self._peer_info = {k: v for k, v in payload.items() if k == "agent"}
        self._accept = {
            "step": "accept",
            "version": self._version,
            "nonce": self._nonce.hex(),
            **self._info,
        }
        self.outputs.append(Send(dict(self._accept)))

    def _on_accept(self, payload: dict[str, Any]) -> None:
        if payload["version"] not in self._versions:
            self._fail(
                ErrorCode.PROTOCOL_VERSION_UNSUPPORTED,
                f"the other side chose protocol version {payload['version']}, which this app "
                "did not offer",
            )
            return
        self._version = payload["version"]
        self._peer_info = {k: v for k, v in payload.items() if k in ("merchant", "agent")}
        self.outputs.append(Send({"step": "reveal", "nonce": self._nonce.hex()}))
        self._verified(bytes.fromhex(payload["nonce"]), self._nonce)

    def _on_reveal(self, payload: dict[str, Any]) -> None:
        nonce_a = bytes.fromhex(payload["nonce"])
        if not sas.commitment_matches(self._peer_commit, nonce_a):
            self._fail(
                ErrorCode.VERIFICATION_FAILED,
                "the other side's nonce does not match its commitment; someone may be "
                "interfering with this connection",
            )
            return
        self._verified(self._nonce, nonce_a)

    def _verified(self, nonce_o: bytes, nonce_a: bytes) -> None:
        code = sas.sas_code(self._fp_offer, self._fp_answer, nonce_o, nonce_a)
        self.result = Verified(self._version, code, self._peer_info)
        self.outputs.append(self.result)
