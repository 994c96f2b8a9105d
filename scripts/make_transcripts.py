"""Writes resources/protocol/handshake-transcripts.json: the handshake, replayed by both suites.

Each transcript is one side's handshake (role, fingerprints, its own nonce, the versions
it speaks, what it says about itself) fed a sequence of inputs, with the exact outputs
expected after each input — steps sent, the verified code, failures with their code and
sentence — and the state it is in then. The expectations are written out here by hand
from resources/protocol/protocol.md, and the commitments and codes are computed with
hashlib, not through either implementation's sas module: the file states the protocol
independently of the code it checks. tests/core/test_handshake.py and
resources/mobile/test/transcripts.test.ts replay every transcript.

Run: .venv/bin/python scripts/make_transcripts.py (deterministic: fixed nonces, no clock).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parents[1] / "resources/protocol/handshake-transcripts.json"

FP_O, FP_A = bytes([1]) * 32, bytes([2]) * 32  # sha-256 DTLS fingerprints
N_O, N_A = bytes([3]) * 32, bytes([4]) * 32  # the offerer's and the answerer's nonces
AGENT = {"agent": "qrlink-page/1"}
SHOP = {"merchant": "Corner Shop", "agent": "qrlink/0.1"}
INTERFERING = "someone may be interfering with this connection"

Json = dict[str, Any]


def commit(nonce: bytes) -> str:
    return hashlib.sha256(b"qrlink-commit-v1" + nonce).hexdigest()


def code(fp_o: bytes, fp_a: bytes, n_o: bytes, n_a: bytes) -> str:
    digest = hashlib.sha256(b"qrlink-sas-v1" + fp_o + fp_a + n_o + n_a).digest()
    return f"{int.from_bytes(digest[:8], 'big') % 1_000_000:06d}"


def hello(nonce: bytes, versions: list[int] | None = None, **info: str) -> Json:
    return {"step": "hello", "versions": versions or [1], "commit": commit(nonce), **info}


def accept(nonce: bytes, version: int = 1, **info: str) -> Json:
    return {"step": "accept", "version": version, "nonce": nonce.hex(), **info}


def reveal(nonce: bytes) -> Json:
    return {"step": "reveal", "nonce": nonce.hex()}


def send(payload: Json) -> Json:
    return {"send": payload}


def verified(version: int, the_code: str, peer_info: Json) -> Json:
    return {"verified": {"version": version, "code": the_code, "peerInfo": peer_info}}


def failed(error: str, message: str, tell_peer: bool = True) -> Json:
    return {"failed": {"code": error, "message": message, "tellPeer": tell_peer}}


def step(given: str, payload: Json | None, outputs: list[Json], state: str) -> Json:
    out: Json = {"input": given}
    if payload is not None:
        out["payload"] = payload
    return {**out, "outputs": outputs, "state": state}


def side(
    name: str,
    role: str,
    steps: list[Json],
    *,
    nonce: bytes,
    versions: list[int] | None = None,
    info: Json | None = None,
    fingerprints: tuple[bytes, bytes] = (FP_O, FP_A),
) -> Json:
    return {
        "name": name,
        "role": role,
        "fingerprintOffer": fingerprints[0].hex(),
        "fingerprintAnswer": fingerprints[1].hex(),
        "nonce": nonce.hex(),
        "versions": versions or [1],
        "info": info or {},
        "steps": steps,
    }


def timed_out(seconds: str, waiting_for: str) -> Json:
    return failed(
        "TIMEOUT",
        f"the other device did not complete the verification handshake within {seconds} "
        f"seconds (waiting for {waiting_for})",
        tell_peer=False,  # the other side is silent, and the sentence speaks of it
    )


def leading_zero_nonce() -> bytes:
    """An answerer's nonce whose code starts with 0: the code stays six digits."""
    for i in range(1000):
        nonce = hashlib.sha256(f"answerer nonce {i}".encode()).digest()
        if code(FP_O, FP_A, N_O, nonce).startswith("0"):
            return nonce
    raise AssertionError("no such nonce in a thousand")


def transcripts() -> list[Json]:
    the_code = code(FP_O, FP_A, N_O, N_A)
    h, a, r = hello(N_A, **AGENT), accept(N_O, **SHOP), reveal(N_A)
    off, ans = "offerer", "answerer"
    z = leading_zero_nonce()
    other_fp = bytes([7]) * 32  # what a man in the middle presents to the offerer
    return [
        side(
            "offerer: a whole pairing",
            off,
            [
                step("open", None, [], "wait_hello"),
                step("hello", h, [send(a)], "wait_reveal"),
                step("reveal", r, [verified(1, the_code, AGENT)], "verified"),
            ],
            nonce=N_O,
            info=SHOP,
        ),
        side(
            "answerer: a whole pairing (the offerer's side above)",
            ans,
            [
                step("open", None, [send(h)], "hello_sent"),
                step("accept", a, [send(r), verified(1, the_code, SHOP)], "verified"),
            ],
            nonce=N_A,
            info=AGENT,
        ),
        side(
            "answerer: the hello is repeated, unchanged, until answered; late repeats "
            "change nothing",
            ans,
            [
                step("open", None, [send(h)], "hello_sent"),
                step("resend", None, [send(h)], "hello_sent"),
                step("resend", None, [send(h)], "hello_sent"),
                step("accept", a, [send(r), verified(1, the_code, SHOP)], "verified"),
                step("accept", a, [], "verified"),
                step("resend", None, [], "verified"),
                step("open", None, [], "verified"),
                step("timeout", {"seconds": 10}, [], "verified"),
            ],
            nonce=N_A,
            info=AGENT,
        ),
        side(
            "offerer: a repeated hello gets the same accept; the lost first one, arriving "
            "late, changes nothing",
            off,
            [
                step("open", None, [], "wait_hello"),
                step("hello", h, [send(a)], "wait_reveal"),
                step("hello", h, [send(a)], "wait_reveal"),
                step("reveal", r, [verified(1, the_code, AGENT)], "verified"),
                step("hello", h, [], "verified"),
                step("reveal", r, [], "verified"),
            ],
            nonce=N_O,
            info=SHOP,
        ),
        side(
            "offerer: a repeated hello with another commitment fails",
            off,
            [
                step("open", None, [], "wait_hello"),
                step("hello", h, [send(a)], "wait_reveal"),
                step(
                    "hello",
                    hello(bytes([5]) * 32, **AGENT),
                    [
                        failed(
                            "VERIFICATION_FAILED",
                            "the other side repeated its hello with a different commitment "
                            f"or other versions; {INTERFERING}",
                        )
                    ],
                    "failed",
                ),
                step("reveal", r, [], "failed"),
            ],
            nonce=N_O,
            info=SHOP,
        ),
        side(
            "offerer: a repeated hello with other versions fails",
            off,
            [
                step("open", None, [], "wait_hello"),
                step("hello", h, [send(a)], "wait_reveal"),
                step(
                    "hello",
                    hello(N_A, [1, 2], **AGENT),
                    [
                        failed(
                            "VERIFICATION_FAILED",
                            "the other side repeated its hello with a different commitment "
                            f"or other versions; {INTERFERING}",
                        )
                    ],
                    "failed",
                ),
            ],
            nonce=N_O,
            info=SHOP,
        ),
        side(
            "offerer: a reveal that breaks the commitment fails",
            off,
            [
                step("open", None, [], "wait_hello"),
                step("hello", h, [send(a)], "wait_reveal"),
                step(
                    "reveal",
                    reveal(bytes([9]) * 32),
                    [
                        failed(
                            "VERIFICATION_FAILED",
                            f"the other side's nonce does not match its commitment; {INTERFERING}",
                        )
                    ],
                    "failed",
                ),
                step("reveal", r, [], "failed"),
            ],
            nonce=N_O,
            info=SHOP,
        ),
        side(
            "offerer: no common version",
            off,
            [
                step("open", None, [], "wait_hello"),
                step(
                    "hello",
                    hello(N_A, [2, 3]),
                    [
                        failed(
                            "PROTOCOL_VERSION_UNSUPPORTED",
                            "the other side speaks protocol versions 2, 3; this side speaks 1",
                        )
                    ],
                    "failed",
                ),
            ],
            nonce=N_O,
        ),
        side(
            "answerer: the offerer chose a version this side did not offer",
            ans,
            [
                step("open", None, [send(hello(N_A))], "hello_sent"),
                step(
                    "accept",
                    accept(N_O, version=2),
                    [
                        failed(
                            "PROTOCOL_VERSION_UNSUPPORTED",
                            "the other side chose protocol version 2, which this side did not "
                            "offer",
                        )
                    ],
                    "failed",
                ),
            ],
            nonce=N_A,
        ),
        side(
            "offerer: the highest common version is chosen",
            off,
            [
                step("open", None, [], "wait_hello"),
                step("hello", hello(N_A, [1, 2]), [send(accept(N_O, version=2))], "wait_reveal"),
                step("reveal", r, [verified(2, the_code, {})], "verified"),
            ],
            nonce=N_O,
            versions=[1, 2, 3],
        ),
        side(
            "answerer: a step out of order fails",
            ans,
            [
                step(
                    "accept",
                    accept(N_O),
                    [
                        failed(
                            "VERIFICATION_FAILED",
                            'unexpected handshake step "accept" while start',
                        )
                    ],
                    "failed",
                ),
                step("open", None, [], "failed"),
            ],
            nonce=N_A,
        ),
        side(
            "offerer: a reveal before the hello fails",
            off,
            [
                step("open", None, [], "wait_hello"),
                step(
                    "reveal",
                    r,
                    [
                        failed(
                            "VERIFICATION_FAILED",
                            'unexpected handshake step "reveal" while wait_hello',
                        )
                    ],
                    "failed",
                ),
            ],
            nonce=N_O,
        ),
        side(
            "answerer: a hello from the other side (two answerers) fails",
            ans,
            [
                step("open", None, [send(hello(N_A))], "hello_sent"),
                step(
                    "hello",
                    hello(N_O),
                    [
                        failed(
                            "VERIFICATION_FAILED",
                            'unexpected handshake step "hello" while hello_sent',
                        )
                    ],
                    "failed",
                ),
            ],
            nonce=N_A,
        ),
        side(
            "offerer: times out waiting for the hello; the other side is not told",
            off,
            [
                step("open", None, [], "wait_hello"),
                step(
                    "timeout",
                    {"seconds": 10},
                    [timed_out("10", "the other side's hello")],
                    "failed",
                ),
                step("hello", h, [], "failed"),
            ],
            nonce=N_O,
        ),
        side(
            "offerer: times out waiting for the reveal",
            off,
            [
                step("open", None, [], "wait_hello"),
                step("hello", h, [send(accept(N_O))], "wait_reveal"),
                step(
                    "timeout",
                    {"seconds": 2.5},
                    [timed_out("2.5", "the other side's reveal")],
                    "failed",
                ),
            ],
            nonce=N_O,
        ),
        side(
            "answerer: times out after repeating its hello",
            ans,
            [
                step("open", None, [send(hello(N_A))], "hello_sent"),
                step("resend", None, [send(hello(N_A))], "hello_sent"),
                step(
                    "timeout",
                    {"seconds": 10},
                    [timed_out("10", "an answer to this side's hello")],
                    "failed",
                ),
                step("resend", None, [], "failed"),
            ],
            nonce=N_A,
        ),
        side(
            "offerer: times out before the channel opens",
            off,
            [
                step(
                    "timeout",
                    {"seconds": 10},
                    [timed_out("10", "the data channel to open")],
                    "failed",
                )
            ],
            nonce=N_O,
        ),
        side(
            "answerer: times out before the channel opens",
            ans,
            [
                step(
                    "timeout",
                    {"seconds": 10},
                    [timed_out("10", "the data channel to open")],
                    "failed",
                ),
            ],
            nonce=N_A,
        ),
        side(
            "answerer: a code with a leading zero keeps six digits",
            ans,
            [
                step("open", None, [send(hello(z))], "hello_sent"),
                step(
                    "accept",
                    accept(N_O),
                    [send(reveal(z)), verified(1, code(FP_O, FP_A, N_O, z), {})],
                    "verified",
                ),
            ],
            nonce=z,
        ),
        side(
            "offerer: the fingerprints a man in the middle presents give another code",
            off,
            [
                step("open", None, [], "wait_hello"),
                step("hello", hello(N_A), [send(accept(N_O))], "wait_reveal"),
                step("reveal", r, [verified(1, code(FP_O, other_fp, N_O, N_A), {})], "verified"),
            ],
            nonce=N_O,
            fingerprints=(FP_O, other_fp),
        ),
    ]


def document() -> Json:
    items = transcripts()
    outputs = [o for t in items for s in t["steps"] for o in s["outputs"]]
    codes = {o["verified"]["code"] for o in outputs if "verified" in o}
    assert len(codes) == 3, codes  # the pairing's, the leading zero's, the MITM's
    return {
        "description": "One side's handshake per transcript: build it from role, "
        "fingerprintOffer, fingerprintAnswer, nonce (its own), versions and info (what it "
        "says about itself in its steps); then, for each step, handle(input, payload) and "
        "compare the outputs produced by that input (send: a handshake payload sent; "
        "verified; failed, with tellPeer: whether the other side is sent an `error`) and "
        "the state after it, exactly. Written by scripts/make_transcripts.py from "
        "protocol.md; hashes computed independently of the implementations.",
        "transcripts": items,
    }


def main() -> None:
    OUT.write_text(json.dumps(document(), indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {OUT} ({len(document()['transcripts'])} transcripts)")


if __name__ == "__main__":
    main()
