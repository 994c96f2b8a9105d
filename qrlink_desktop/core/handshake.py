"""The in-band handshake: protocol version negotiation, then commit–reveal verification.

    answerer                         offerer
      | -- hello {versions, commit} -->  |   commit = H(N_a)
      | <-- accept {version, nonce} ---  |   nonce = N_o, version = highest common
      | -- reveal {nonce} ------------>  |   nonce = N_a, checked against the commitment
    both: code = SAS(fp_offer, fp_answer, N_o, N_a)

The table (transitions, ignored inputs, what each state waits for, the failures and their
codes) is resources/protocol/handshake.json, which the page's handshake.ts reads too; this
module interprets it and does the arithmetic of each action. Both replay the transcripts
in resources/protocol/handshake-transcripts.json.

Pure: `handle` takes inputs and appends outputs to `self.outputs`; no I/O, no clock (the
caller owns the timers and says "resend" or "timeout" when one fires).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from . import facts, sas
from .errors import ErrorCode

_TABLE = facts.handshake()

SUPPORTED_VERSIONS: tuple[int, ...] = _TABLE.versions


class Role(StrEnum):
    OFFERER = "offerer"
    ANSWERER = "answerer"


class HState(StrEnum):
    """The states of handshake.json, where each one's `why` says what it stands for."""

    START = "start"
    HELLO_SENT = "hello_sent"
    WAIT_HELLO = "wait_hello"
    WAIT_REVEAL = "wait_reveal"
    VERIFIED = "verified"
    FAILED = "failed"


# (role, state, input) -> (next state, action): the table's transitions, typed.
TRANSITIONS: dict[tuple[Role, HState, str], tuple[HState, str | None]] = {
    (Role(t.role), HState(t.state), t.input): (HState(t.next), t.action) for t in _TABLE.transitions
}

# (state, input) pairs that change nothing, for either role.
IGNORED: set[tuple[HState, str]] = {(HState(s), step) for s, step in _TABLE.ignored}

# What a handshake still waits for, by state: said when it times out, so a stalled
# pairing tells which step never came.
WAITING_FOR: dict[HState, str] = {HState(s): text for s, text in _TABLE.waiting_for.items()}


@dataclass(frozen=True)
class Verified:
    version: int
    code: str
    peer_info: dict[str, Any]


@dataclass(frozen=True)
class Failed:
    code: ErrorCode
    message: str
    tell_peer: bool = True  # whether the other side is sent an `error` with the code


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
            before, self.state = self.state, nxt
            if action is not None:
                self._run(action, payload or {}, before)
        elif (self.state, step) not in IGNORED:
            self._fail(_TABLE.otherwise, input=step, state=self.state)

    def _run(self, action: str, payload: dict[str, Any], before: HState) -> None:
        match action:
            case "send_hello":
                self._send_hello(payload)
            case "on_hello":
                self._on_hello(payload)
            case "on_repeated_hello":
                self._on_repeated_hello(payload)
            case "on_accept":
                self._on_accept(payload)
            case "on_reveal":
                self._on_reveal(payload)
            case "time_out":
                self._fail("timed_out", seconds=payload["seconds"], waitingFor=WAITING_FOR[before])
            case _:
                raise facts.FactsError(
                    f"protocol/handshake.json names an unknown action {action!r}"
                )

    # --- actions -------------------------------------------------------------------------

    def _fail(self, failure: str, **values: object) -> None:
        """One of the table's failures, its sentence filled in: the handshake ends here."""
        f = _TABLE.failures[failure]
        self.state = HState.FAILED
        self.outputs.append(Failed(ErrorCode(f.code), facts.fill(f.message, values), f.tell_peer))

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

    def _on_hello(self, payload: dict[str, Any]) -> None:
        common = set(payload["versions"]) & set(self._versions)
        if not common:
            self._fail("no_common_version", theirs=payload["versions"], ours=self._versions)
            return
        self._version = max(common)
        self._peer_commit = bytes.fromhex(payload["commit"])
        self._peer_hello = dict(payload)
        self._peer_info = _kept(payload, "hello")
        self._accept = {
            "step": "accept",
            "version": self._version,
            "nonce": self._nonce.hex(),
            **self._info,
        }
        self.outputs.append(Send(dict(self._accept)))

    def _on_repeated_hello(self, payload: dict[str, Any]) -> None:
        if any(payload.get(k) != self._peer_hello.get(k) for k in _TABLE.repeated_hello_must_keep):
            self._fail("changed_hello")
            return
        self.outputs.append(Send(dict(self._accept)))

    def _on_accept(self, payload: dict[str, Any]) -> None:
        if payload["version"] not in self._versions:
            self._fail("version_not_offered", version=payload["version"])
            return
        self._version = payload["version"]
        self._peer_info = _kept(payload, "accept")
        self.outputs.append(Send({"step": "reveal", "nonce": self._nonce.hex()}))
        self._verified(bytes.fromhex(payload["nonce"]), self._nonce)

    def _on_reveal(self, payload: dict[str, Any]) -> None:
        nonce_a = bytes.fromhex(payload["nonce"])
        if not sas.commitment_matches(self._peer_commit, nonce_a):
            self._fail("broken_commitment")
            return
        self._verified(self._nonce, nonce_a)

    def _verified(self, nonce_o: bytes, nonce_a: bytes) -> None:
        code = sas.sas_code(self._fp_offer, self._fp_answer, nonce_o, nonce_a)
        self.result = Verified(self._version, code, self._peer_info)
        self.outputs.append(self.result)


def _kept(payload: dict[str, Any], step: str) -> dict[str, Any]:
    """What the other side said about itself in a step (its agent, its merchant)."""
    return {k: v for k, v in payload.items() if k in _TABLE.peer_info[step]}
