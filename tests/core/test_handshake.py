"""Commit–reveal handshake: outputs recorded and compared exactly; no network.

The module interprets resources/protocol/handshake.json. Two checks come from elsewhere:
the transcripts (handshake-transcripts.json, written by scripts/make_transcripts.py and
replayed by the page's tests too) and the tables below, written out by hand."""

from __future__ import annotations

import hashlib
import importlib.util
import itertools
import json
from pathlib import Path
from typing import Any

import pytest

from qrlink_desktop.core import facts, sas
from qrlink_desktop.core.errors import ErrorCode
from qrlink_desktop.core.handshake import (
    IGNORED,
    TRANSITIONS,
    Failed,
    Handshake,
    HState,
    Output,
    Role,
    Send,
    Verified,
)
from qrlink_desktop.core.resources import load_json

FP_O, FP_A = bytes([1]) * 32, bytes([2]) * 32
N_O, N_A = bytes([3]) * 32, bytes([4]) * 32


def _pair() -> tuple[Handshake, Handshake]:
    return (
        Handshake(Role.OFFERER, FP_O, FP_A, nonce=N_O, info={"merchant": "Shop"}),
        Handshake(Role.ANSWERER, FP_O, FP_A, nonce=N_A),
    )


def _deliver(to: Handshake, out: object) -> None:
    assert isinstance(out, Send)
    to.handle(out.payload["step"], out.payload)


def test_full_exchange_exact_outputs() -> None:
    off, ans = _pair()
    off.handle("open")
    ans.handle("open")
    assert ans.outputs == [
        Send({"step": "hello", "versions": [1], "commit": sas.commitment(N_A).hex()})
    ]
    _deliver(off, ans.outputs[0])
    assert off.outputs == [
        Send({"step": "accept", "version": 1, "nonce": N_O.hex(), "merchant": "Shop"})
    ]
    _deliver(ans, off.outputs[0])
    code = sas.sas_code(FP_O, FP_A, N_O, N_A)
    assert ans.outputs[1:] == [
        Send({"step": "reveal", "nonce": N_A.hex()}),
        Verified(1, code, {"merchant": "Shop"}),
    ]
    _deliver(off, ans.outputs[1])
    assert off.outputs[1:] == [Verified(1, code, {})]
    assert off.state == ans.state == HState.VERIFIED


def test_reveal_that_breaks_the_commitment_fails() -> None:
    off, ans = _pair()
    off.handle("open")
    ans.handle("open")
    _deliver(off, ans.outputs[0])
    off.handle("reveal", {"step": "reveal", "nonce": (bytes([9]) * 32).hex()})
    assert off.state == HState.FAILED
    assert (
        isinstance(off.outputs[-1], Failed)
        and off.outputs[-1].code == ErrorCode.VERIFICATION_FAILED
    )


def test_no_common_version() -> None:
    off = Handshake(Role.OFFERER, FP_O, FP_A, versions=(1,))
    off.handle("open")
    off.handle("hello", {"step": "hello", "versions": [2, 3], "commit": "00" * 32})
    assert off.outputs[-1] == Failed(
        ErrorCode.PROTOCOL_VERSION_UNSUPPORTED,
        "the other side speaks protocol versions 2, 3; this side speaks 1",
    )
    ans = Handshake(Role.ANSWERER, FP_O, FP_A, versions=(1,))
    ans.handle("open")
    ans.handle("accept", {"step": "accept", "version": 7, "nonce": "00" * 32})
    assert isinstance(ans.outputs[-1], Failed)
    assert ans.outputs[-1].code == ErrorCode.PROTOCOL_VERSION_UNSUPPORTED


def test_highest_common_version_is_chosen() -> None:
    off = Handshake(Role.OFFERER, FP_O, FP_A, versions=(1, 2, 3))
    off.handle("open")
    off.handle("hello", {"step": "hello", "versions": [1, 2], "commit": "00" * 32})
    assert isinstance(off.outputs[0], Send) and off.outputs[0].payload["version"] == 2


STEPS = ["open", "resend", "hello", "accept", "reveal", "timeout"]
PAYLOADS = {
    "open": None,
    "resend": None,
    "hello": {"step": "hello", "versions": [1], "commit": sas.commitment(N_A).hex()},
    "accept": {"step": "accept", "version": 1, "nonce": N_O.hex()},
    "reveal": {"step": "reveal", "nonce": N_A.hex()},
    "timeout": {"seconds": 10},
}

# What each input does in each state, written out by hand from the protocol
# (resources/protocol/protocol.md), not read from the module's tables. A cell is the next
# state and what is put out ("hello"/"accept"/"reveal" a step sent, "verified"), or "="
# (the state stays, nothing is put out), or "FAIL" / "TIMEOUT" (failed, with
# VERIFICATION_FAILED / TIMEOUT). Columns: open, resend, hello, accept, reveal, timeout.
EXPECTED_ANSWERER = """
start       hello_sent:hello =                FAIL FAIL                     FAIL TIMEOUT
hello_sent  =                hello_sent:hello FAIL verified:reveal+verified FAIL TIMEOUT
wait_hello  =                =                FAIL FAIL                     FAIL FAIL
wait_reveal =                =                FAIL FAIL                     FAIL FAIL
verified    =                =                =    =                        =    =
failed      =                =                =    =                        =    =
"""
# The offerer never is in hello_sent; a "resend" there is unexpected like any other input.
EXPECTED_OFFERER = """
start       wait_hello =    FAIL               FAIL FAIL              TIMEOUT
hello_sent  =          FAIL FAIL               FAIL FAIL              FAIL
wait_hello  =          =    wait_reveal:accept FAIL FAIL              TIMEOUT
wait_reveal =          =    wait_reveal:accept FAIL verified:verified TIMEOUT
verified    =          =    =                  =    =                 =
failed      =          =    =                  =    =                 =
"""


def _table(text: str) -> dict[tuple[HState, str], tuple[HState, str]]:
    out = {}
    for line in text.strip().splitlines():
        state, *cells = line.split()
        for step, cell in zip(STEPS, cells, strict=True):
            if cell == "=":
                out[(HState(state), step)] = (HState(state), "-")
            elif cell in ("FAIL", "TIMEOUT"):
                out[(HState(state), step)] = (HState.FAILED, cell)
            else:
                nxt, _, outputs = cell.partition(":")
                out[(HState(state), step)] = (HState(nxt), outputs or "-")
    return out


EXPECTED = {Role.ANSWERER: _table(EXPECTED_ANSWERER), Role.OFFERER: _table(EXPECTED_OFFERER)}


def _describe(outputs: list[Output]) -> str:
    names = []
    for o in outputs:
        if isinstance(o, Send):
            names.append(o.payload["step"])
        elif isinstance(o, Verified):
            names.append("verified")
        else:
            names.append("TIMEOUT" if o.code == ErrorCode.TIMEOUT else "FAIL")
    return "+".join(names) or "-"


def _at(role: Role, state: HState) -> Handshake:
    """A handshake brought to `state` through its inputs. A role never enters some states
    (the offerer never sends a hello); there the state alone is set, as nothing else of
    the handshake is read on the way to failing or ignoring."""
    h = Handshake(role, FP_O, FP_A, nonce=N_O if role == Role.OFFERER else N_A)
    way = {
        (Role.ANSWERER, HState.HELLO_SENT): ["open"],
        (Role.ANSWERER, HState.VERIFIED): ["open", "accept"],
        (Role.OFFERER, HState.WAIT_HELLO): ["open"],
        (Role.OFFERER, HState.WAIT_REVEAL): ["open", "hello"],
        (Role.OFFERER, HState.VERIFIED): ["open", "hello", "reveal"],
    }
    if state == HState.FAILED:
        h.handle("reveal", PAYLOADS["reveal"])  # out of order for either role
    elif (role, state) in way:
        for step in way[(role, state)]:
            h.handle(step, PAYLOADS[step])
    elif state != HState.START:
        h.state = state
    assert h.state == state
    return h


@pytest.mark.parametrize(("role", "state", "step"), list(itertools.product(Role, HState, STEPS)))
def test_every_transition(role: Role, state: HState, step: str) -> None:
    h = _at(role, state)
    before = len(h.outputs)
    h.handle(step, PAYLOADS[step])
    assert (h.state, _describe(h.outputs[before:])) == EXPECTED[role][(state, step)]


def test_the_steps_here_are_every_input_of_the_table() -> None:
    assert sorted(STEPS) == sorted(facts.handshake().inputs)


def test_the_module_tables_say_the_same_as_the_written_out_ones() -> None:
    """TRANSITIONS and IGNORED, read independently against the tables above."""
    for role, table in EXPECTED.items():
        for (state, step), (nxt, outputs) in table.items():
            if (role, state, step) in TRANSITIONS:
                assert TRANSITIONS[(role, state, step)][0] == nxt
            elif (state, step) in IGNORED:
                assert (nxt, outputs) == (state, "-")
            else:
                assert (nxt, outputs) == (HState.FAILED, "FAIL")


# --- the transcripts shared with the page -------------------------------------------------

TRANSCRIPTS: list[dict[str, Any]] = load_json("protocol/handshake-transcripts.json")["transcripts"]


def _expected(o: dict[str, Any]) -> Output:
    if "send" in o:
        return Send(o["send"])
    if "verified" in o:
        v = o["verified"]
        return Verified(v["version"], v["code"], v["peerInfo"])
    f = o["failed"]
    return Failed(ErrorCode(f["code"]), f["message"], f["tellPeer"])


def _replay(t: dict[str, Any]) -> list[tuple[Role, HState, str]]:
    """Replays one transcript, checking every step; returns the (role, state, input) taken."""
    role = Role(t["role"])
    h = Handshake(
        role,
        bytes.fromhex(t["fingerprintOffer"]),
        bytes.fromhex(t["fingerprintAnswer"]),
        nonce=bytes.fromhex(t["nonce"]),
        versions=tuple(t["versions"]),
        info=t["info"],
    )
    taken = []
    for i, step in enumerate(t["steps"]):
        taken.append((role, h.state, step["input"]))
        before = len(h.outputs)
        h.handle(step["input"], step.get("payload"))
        assert h.outputs[before:] == [_expected(o) for o in step["outputs"]], (i, step["input"])
        assert h.state == HState(step["state"]), (i, step["input"])
    return taken


@pytest.mark.parametrize("transcript", TRANSCRIPTS, ids=[t["name"] for t in TRANSCRIPTS])
def test_transcript(transcript: dict[str, Any]) -> None:
    _replay(transcript)


def test_the_transcripts_take_every_transition_of_the_table() -> None:
    taken = {key for t in TRANSCRIPTS for key in _replay(t)}
    assert set(TRANSITIONS) - taken == set()


def test_the_transcript_file_is_what_its_script_writes() -> None:
    """Edited by hand, or a script changed and not run: either way the two disagree."""
    script = Path(__file__).resolve().parents[2] / "scripts" / "make_transcripts.py"
    spec = importlib.util.spec_from_file_location("make_transcripts", script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.document() == load_json("protocol/handshake-transcripts.json")


def test_the_code_and_commitment_match_a_hand_computed_transcript() -> None:
    """SHA-256 written out here from protocol.md, not through the sas module."""
    commit = hashlib.sha256(b"qrlink-commit-v1" + N_A).hexdigest()
    digest = hashlib.sha256(b"qrlink-sas-v1" + FP_O + FP_A + N_O + N_A).digest()
    code = f"{int.from_bytes(digest[:8], 'big') % 1_000_000:06d}"
    off, ans = _pair()
    off.handle("open")
    ans.handle("open")
    transcript = []
    for sender, receiver in ((ans, off), (off, ans), (ans, off)):
        out = [o for o in sender.outputs if isinstance(o, Send)][-1]
        transcript.append(out.payload)
        receiver.handle(out.payload["step"], out.payload)
    assert transcript == [
        {"step": "hello", "versions": [1], "commit": commit},
        {"step": "accept", "version": 1, "nonce": "03" * 32, "merchant": "Shop"},
        {"step": "reveal", "nonce": "04" * 32},
    ]
    assert off.result == Verified(1, code, {}) and ans.result == Verified(
        1, code, {"merchant": "Shop"}
    )


def test_a_repeated_hello_gets_the_same_accept_and_the_pairing_completes() -> None:
    """The answerer repeats its hello until answered (a browser may drop the first); the
    offerer answers a repeat with the accept it already sent, and both reach one code."""
    off = Handshake(Role.OFFERER, FP_O, FP_A, nonce=N_O)
    ans = Handshake(Role.ANSWERER, FP_O, FP_A, nonce=N_A)
    off.handle("open")
    ans.handle("open")
    ans.handle("resend")
    ans.handle("resend")
    hellos = [o.payload for o in ans.outputs if isinstance(o, Send)]
    assert len(hellos) == 3 and all(h == hellos[0] for h in hellos)
    # The first hello was lost: the offerer sees the second and third.
    off.handle("hello", hellos[1])
    off.handle("hello", hellos[2])
    accepts = [o.payload for o in off.outputs if isinstance(o, Send)]
    assert len(accepts) == 2 and accepts[0] == accepts[1]
    ans.handle("accept", accepts[0])
    ans.handle("accept", accepts[1])  # the repeat changes nothing
    ans.handle("resend")  # nor does a timer that fires late
    reveal = [o.payload for o in ans.outputs if isinstance(o, Send)][-1]
    assert reveal["step"] == "reveal"
    off.handle("reveal", reveal)
    off.handle("hello", hellos[0])  # the lost one, arriving at last
    assert off.state == ans.state == HState.VERIFIED
    assert off.result is not None and ans.result is not None
    assert off.result.code == ans.result.code


def test_a_repeated_hello_with_another_commitment_fails() -> None:
    """Changing the commitment after the offerer revealed its nonce would let a man in the
    middle pick his nonce to match a code: refused."""
    off = Handshake(Role.OFFERER, FP_O, FP_A, nonce=N_O)
    off.handle("open")
    off.handle("hello", {"step": "hello", "versions": [1], "commit": sas.commitment(N_A).hex()})
    off.handle("hello", {"step": "hello", "versions": [1], "commit": "00" * 32})
    assert off.state == HState.FAILED
    last = off.outputs[-1]
    assert isinstance(last, Failed) and last.code == ErrorCode.VERIFICATION_FAILED
    assert "different commitment" in last.message


def test_sas_vector_shared_with_the_page() -> None:
    v = load_json("protocol/bootstrap-vectors.json")["sas"][0]
    args = [
        bytes.fromhex(v[k])
        for k in ("fingerprintOffer", "fingerprintAnswer", "nonceOffer", "nonceAnswer")
    ]
    assert sas.sas_code(*args) == v["code"]
    assert sas.commitment(args[3]).hex() == v["commitAnswer"]
    assert sas.format_code("012345") == "012 345"
    with pytest.raises(ValueError):
        sas.sas_code(b"short", *args[1:])


def test_a_typed_code_tolerates_spaces_and_dropped_leading_zeros() -> None:
    assert sas.typed_code("056 272") == "056272"
    assert sas.typed_code(" 0 5 6 2 7 2 \n") == "056272"
    assert sas.typed_code("56272") == "056272"  # read out as a number
    assert sas.typed_code("7") == "000007"
    for bad in ("", "   ", "1234567", "12a456", "12-456", "\u0661\u0662\u0663"):
        assert sas.typed_code(bad) is None, bad
    assert sas.codes_match("56 272", "056272")
    assert not sas.codes_match("056 273", "056272")
    assert not sas.codes_match("", "000000")


def test_codes_differ_when_a_fingerprint_differs() -> None:
    """A man in the middle presents other fingerprints on each leg: the codes disagree."""
    codes = {sas.sas_code(bytes([i]) * 32, FP_A, N_O, N_A) for i in range(50)}
    assert len(codes) == 50


ENVELOPE = {"timestamp": 1_800_000_000_000, "messageId": "msg-00000001"}


def test_the_caller_s_inputs_cannot_come_from_the_wire() -> None:
    """ "open", "resend" and "timeout" are the caller's: a handshake message naming one is
    refused by the schema before the handshake sees it, so a peer cannot fail this side
    with a TIMEOUT or make it repeat itself."""
    from qrlink_desktop.core.errors import QrlinkError
    from qrlink_desktop.core.messages import parse

    assert parse(json.dumps({"type": "handshake", **ENVELOPE, "payload": PAYLOADS["reveal"]}))
    for step in ("open", "resend", "timeout"):
        raw = {"type": "handshake", **ENVELOPE, "payload": {"step": step, "seconds": 1}}
        with pytest.raises(QrlinkError) as caught:
            parse(json.dumps(raw))
        assert caught.value.code == ErrorCode.MESSAGE_INVALID
