"""Reduce an SDP to the fields a bootstrap record carries, and rebuild a full SDP from one.

The rebuilt SDP is a data-channel-only template that aiortc and Chromium, Safari and
Firefox accept: CRLF line ends, BUNDLE with mid 0, sctp-port 5000, max-message-size.
Everything it leaves out is either fixed for a data channel or negotiated in-band.
"""

from __future__ import annotations

from dataclasses import dataclass

from .bootstrap import (
    FINGERPRINT_BYTES,
    BootstrapRecord,
    Candidate,
    CandidateType,
    Kind,
)
from .errors import ErrorCode, QrlinkError

SCTP_PORT = 5000
MAX_MESSAGE_SIZE = 262144
_TYPE_PREF = {
    CandidateType.HOST: 126,
    CandidateType.PRFLX: 110,
    CandidateType.SRFLX: 100,
    CandidateType.RELAY: 0,
}
_TYPES_BY_NAME = {t.name.lower(): t for t in CandidateType}


@dataclass(frozen=True)
class ReducedSdp:
    ufrag: str
    pwd: str
    fingerprint: bytes
    setup: str
    candidates: tuple[Candidate, ...]
    dropped: tuple[str, ...]  # candidate lines left out, and why (for diagnostics)


def _fail(message: str) -> QrlinkError:
    return QrlinkError(ErrorCode.BOOTSTRAP_GENERATION_FAILED, message)


def parse_candidate(value: str) -> Candidate | None:
    """A candidate from the value of an `a=candidate:` line (or a bare `candidate:` string).

    Returns None for what a record does not carry: TCP and non-RTP components.
    """
    value = value.strip()
    if value.startswith("a="):
        value = value[2:]
    if value.startswith("candidate:"):
        value = value[len("candidate:") :]
    parts = value.split()
    if len(parts) < 8 or parts[6] != "typ":
        raise _fail(f"malformed candidate {value!r}")
    component, transport, address, port, typ = (
        parts[1],
        parts[2].lower(),
        parts[4],
        parts[5],
        parts[7],
    )
    if component != "1" or transport != "udp":
        return None
    ctype = _TYPES_BY_NAME.get(typ)
    if ctype is None:
        raise _fail(f"unknown candidate type {typ!r}")
    try:
        port_num = int(port)
    except ValueError:
        raise _fail(f"candidate port {port!r} is not a number") from None
    return Candidate(ctype, address.lower(), port_num)


def reduce(sdp: str, *, extra_candidates: tuple[str, ...] = ()) -> ReducedSdp:
    """The fields of a data-channel SDP (from aiortc or a browser) that a record keeps."""
    ufrag = pwd = setup = None
    fingerprint: bytes | None = None
    candidates: list[Candidate] = []
    dropped: list[str] = []
    lines = [ln.strip() for ln in sdp.replace("\r\n", "\n").split("\n") if ln.strip()]
    for line in [*lines, *(f"a={c.removeprefix('a=')}" for c in extra_candidates)]:
        if not line.startswith("a="):
            continue
        key, _, value = line[2:].partition(":")
        if key == "ice-ufrag" and ufrag is None:
            ufrag = value
        elif key == "ice-pwd" and pwd is None:
            pwd = value
        elif key == "setup" and setup is None:
            setup = value
        elif key == "fingerprint" and fingerprint is None:
            algo, _, digest = value.partition(" ")
            if algo.lower() == "sha-256":
                try:
                    fingerprint = bytes.fromhex(digest.replace(":", ""))
                except ValueError:
                    raise _fail("the sha-256 fingerprint is not hex") from None
        elif key == "candidate":
            cand = parse_candidate(value)
            if cand is None:
                dropped.append(f"{value} (not UDP component 1)")
            elif cand in candidates:
                continue
            else:
                candidates.append(cand)
    if not ufrag or not pwd:
        raise _fail("the SDP has no ICE username fragment or password")
    if fingerprint is None or len(fingerprint) != FINGERPRINT_BYTES:
        raise _fail("the SDP has no sha-256 DTLS fingerprint")
    if setup not in ("actpass", "active", "passive"):
        raise _fail(f"the SDP has DTLS setup {setup!r}")
    return ReducedSdp(ufrag, pwd, fingerprint, setup, tuple(candidates), tuple(dropped))


def candidate_priority(ctype: CandidateType, index: int) -> int:
    """RFC 8445 §5.1.2.1 priority; the local preference keeps the record's order."""
    return (_TYPE_PREF[ctype] << 24) | ((65535 - index) << 8) | 255


def candidate_line(c: Candidate, index: int) -> str:
    line = (
        f"candidate:{index + 1} 1 udp {candidate_priority(c.type, index)} "
        f"{c.address} {c.port} typ {c.type_name}"
    )
    if c.type != CandidateType.HOST:
        # Related addresses are informational; browsers also hide them this way.
        line += " raddr 0.0.0.0 rport 0"
    return line


def format_fingerprint(fp: bytes) -> str:
    return ":".join(f"{b:02X}" for b in fp)


def rebuild(record: BootstrapRecord) -> str:
    """A complete SDP for the record, ready for setRemoteDescription."""
    default = next((c for c in record.candidates if not c.is_mdns and ":" not in c.address), None)
    port = default.port if default else 9
    c_addr = default.address if default else "0.0.0.0"
    session_id = int.from_bytes(record.offer_id, "big") or 1
    lines = [
        "v=0",
        f"o=- {session_id} {2 if record.kind == Kind.ANSWER else 1} IN IP4 127.0.0.1",
        "s=-",
        "t=0 0",
        "a=group:BUNDLE 0",
        "a=msid-semantic: WMS",
        f"m=application {port} UDP/DTLS/SCTP webrtc-datachannel",
        f"c=IN IP4 {c_addr}",
        f"a=ice-ufrag:{record.ufrag}",
        f"a=ice-pwd:{record.pwd}",
        f"a=fingerprint:sha-256 {format_fingerprint(record.fingerprint)}",
        f"a=setup:{record.setup}",
        "a=mid:0",
        f"a=sctp-port:{SCTP_PORT}",
        f"a=max-message-size:{MAX_MESSAGE_SIZE}",
    ]
    lines += [f"a={candidate_line(c, i)}" for i, c in enumerate(record.candidates)]
    # aiortc fails ICE at once on an empty list ended this way, and an mDNS name may
    # still be resolving: only a non-empty, name-free list is declared complete.
    if record.candidates and not any(c.is_mdns for c in record.candidates):
        lines.append("a=end-of-candidates")
    return "\r\n".join(lines) + "\r\n"
