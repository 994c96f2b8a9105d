"""The compact bootstrap record: what an offer or an answer must carry, and nothing more.

Everything else in an SDP is rebuilt from a template (see `sdp.py`). The record is packed
into bytes, then into base-41 text (see `alnum.py`) for the QR code. The byte layout is
documented in resources/protocol/bootstrap-format.md and tested against
resources/protocol/bootstrap-vectors.json by the Python and the TypeScript codecs.

Decoding is hostile-input safe: a size cap before anything else, strict lengths, reserved
bits zero, at most 8 candidates, no unspecified/multicast/broadcast addresses, and
expired offers refused. Every rejection is `BOOTSTRAP_PARSE_FAILED` with a sentence.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
import secrets
import uuid
from dataclasses import dataclass, field
from enum import IntEnum

from . import alnum
from .errors import ErrorCode, QrlinkError

FORMAT_VERSION = 1
MAX_CANDIDATES = 8
MAX_TEXT_CHARS = 2048  # before any decoding: the spec's 2 KB QR payload ceiling
MAX_OFFER_LIFETIME = 24 * 3600  # an offer valid for longer than this is not ours
ANSWER_PREFIX = "QL:"
OFFER_ID_BYTES = 4
SEED_BYTES = 16
FINGERPRINT_BYTES = 32
REPLY_BYTES = 8
ICE_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_ICE_INDEX = {c: i for i, c in enumerate(ICE_CHARS)}
UFRAG_MIN, PWD_MIN = 4, 22  # RFC 8839 minimums; a nibble each stores the excess (0..15)
_MDNS_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.local$")

# Header byte: vvv k r p s x — version, kind, relay-only, reply slot, a kind-specific bit
# (for an offer "credentials derived from a seed", for an answer "setup:passive"), and
# "credentials are lower-case hex, 4 bits a character": Firefox's ufrag and pwd are hex
# (8 + 32 characters), which packs into 20 bytes instead of 30 and keeps its answer QR at
# version 5.
_KIND_BIT, _RELAY_BIT, _REPLY_BIT, _SPECIAL_BIT, _HEX_BIT = 0x10, 0x08, 0x04, 0x02, 0x01
_HEX_CHARS = "0123456789abcdef"


class Kind(IntEnum):
    OFFER = 0
    ANSWER = 1


class CandidateType(IntEnum):
    HOST = 0
    SRFLX = 1
    PRFLX = 2
    RELAY = 3


class _AddrKind(IntEnum):
    IPV4 = 0
    IPV6 = 1
    MDNS = 2


CANDIDATE_TYPE_NAMES = {t: t.name.lower() for t in CandidateType}


@dataclass(frozen=True)
class Candidate:
    """One ICE candidate: type, address (IPv4, IPv6 or an mDNS `<uuid>.local`), UDP port."""

    type: CandidateType
    address: str
    port: int

    @property
    def type_name(self) -> str:
        return CANDIDATE_TYPE_NAMES[self.type]

    @property
    def is_mdns(self) -> bool:
        return self.address.endswith(".local")


@dataclass(frozen=True)
class BootstrapRecord:
    kind: Kind
    offer_id: bytes
    ufrag: str
    pwd: str
    fingerprint: bytes
    candidates: tuple[Candidate, ...] = ()
    expires_at: int | None = None  # offers only: Unix seconds
    setup: str = "actpass"  # the offer is always actpass; an answer is active or passive
    relay_only: bool = False
    reply_handle: bytes | None = None  # remote mode: where the answer is to be published
    seed: bytes | None = field(default=None, compare=False)  # offers: source of id/ufrag/pwd

    @property
    def offer_id_hex(self) -> str:
        return self.offer_id.hex()

    def to_json(self) -> dict[str, object]:
        """The record as the cross-language vectors write it."""
        return {
            "kind": self.kind.name.lower(),
            "offerId": self.offer_id.hex(),
            "ufrag": self.ufrag,
            "pwd": self.pwd,
            "fingerprint": self.fingerprint.hex(),
            "candidates": [
                {"type": c.type_name, "address": c.address, "port": c.port} for c in self.candidates
            ],
            "expiresAt": self.expires_at,
            "setup": self.setup,
            "relayOnly": self.relay_only,
            "replyHandle": self.reply_handle.hex() if self.reply_handle else None,
            "seed": self.seed.hex() if self.seed else None,
        }

    @property
    def reply_name(self) -> str | None:
        """The reply handle as a rendezvous username."""
        return None if self.reply_handle is None else "r-" + self.reply_handle.hex()


def _fail(message: str) -> QrlinkError:
    return QrlinkError(ErrorCode.BOOTSTRAP_PARSE_FAILED, message)


def _gen_fail(message: str) -> QrlinkError:
    return QrlinkError(ErrorCode.BOOTSTRAP_GENERATION_FAILED, message)


# --- credentials -------------------------------------------------------------------------


def _bits_to_ice_chars(data: bytes, count: int) -> str:
    value = int.from_bytes(data, "big")
    total = len(data) * 8
    return "".join(ICE_CHARS[(value >> (total - 6 * (i + 1))) & 0x3F] for i in range(count))


def derive_credentials(seed: bytes) -> tuple[bytes, str, str]:
    """Offer id, ice-ufrag and ice-pwd from a 16-byte seed, so an offer carries 16 bytes
    where it would otherwise carry 25. The pwd keeps 132 bits of the seed's entropy."""
    if len(seed) != SEED_BYTES:
        raise _gen_fail("a credential seed must be 16 bytes")
    h = hashlib.sha256(b"qrlink-creds-v1" + seed).digest()
    return h[0:4], _bits_to_ice_chars(h[4:7], 4), _bits_to_ice_chars(h[7:24], 22)


def new_seed() -> bytes:
    return secrets.token_bytes(SEED_BYTES)


def _is_hex(ufrag: str, pwd: str) -> bool:
    return all(c in _HEX_CHARS for c in ufrag + pwd)


def _pack_creds(ufrag: str, pwd: str) -> bytes:
    """Lengths byte, then the characters: 4 bits each when all are lower-case hex (the
    header says so), else 6-bit ice-char indices."""
    if not (UFRAG_MIN <= len(ufrag) <= UFRAG_MIN + 15 and PWD_MIN <= len(pwd) <= PWD_MIN + 15):
        raise _gen_fail(
            f"ICE credentials of {len(ufrag)}/{len(pwd)} characters do not fit the compact record"
        )
    chars = ufrag + pwd
    hexed = _is_hex(ufrag, pwd)
    width, index = (4, {c: i for i, c in enumerate(_HEX_CHARS)}) if hexed else (6, _ICE_INDEX)
    try:
        value = 0
        for c in chars:
            value = (value << width) | index[c]
    except KeyError:
        raise _gen_fail("ICE credentials contain a character outside ice-char") from None
    nbytes = (len(chars) * width + 7) // 8
    value <<= nbytes * 8 - len(chars) * width
    lengths = ((len(ufrag) - UFRAG_MIN) << 4) | (len(pwd) - PWD_MIN)
    return bytes([lengths]) + value.to_bytes(nbytes, "big")


def _unpack_creds(buf: bytes, pos: int, hexed: bool) -> tuple[str, str, int]:
    if pos >= len(buf):
        raise _fail("the record ends before the ICE credentials")
    ulen, plen = (buf[pos] >> 4) + UFRAG_MIN, (buf[pos] & 0x0F) + PWD_MIN
    count = ulen + plen
    width = 4 if hexed else 6
    nbytes = (count * width + 7) // 8
    chunk = buf[pos + 1 : pos + 1 + nbytes]
    if len(chunk) != nbytes:
        raise _fail("the record ends inside the ICE credentials")
    value = int.from_bytes(chunk, "big")
    pad = nbytes * 8 - count * width
    if value & ((1 << pad) - 1):
        raise _fail("the ICE credentials have non-zero padding")
    if hexed:
        chars = f"{value >> pad:0{count}x}"
    else:
        chars = _bits_to_ice_chars(chunk, count)
    return chars[:ulen], chars[ulen:], pos + 1 + nbytes


# --- candidates --------------------------------------------------------------------------


def _check_ip(ip: ipaddress.IPv4Address | ipaddress.IPv6Address, allow_loopback: bool) -> None:
    if ip.is_unspecified or ip.is_multicast:
        raise _fail(f"candidate address {ip} is unspecified or multicast")
    if isinstance(ip, ipaddress.IPv4Address) and ip == ipaddress.IPv4Address("255.255.255.255"):
        raise _fail("candidate address is the broadcast address")
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        raise _fail(f"candidate address {ip} is an IPv4-mapped IPv6 address")
    if ip.is_loopback and not allow_loopback:
        raise _fail(f"candidate address {ip} is a loopback address")


def _pack_candidate(c: Candidate) -> bytes:
    if not 1 <= c.port <= 0xFFFF:
        raise _gen_fail(f"candidate port {c.port} is out of range")
    if _MDNS_RE.match(c.address):
        kind, addr = _AddrKind.MDNS, uuid.UUID(c.address[: -len(".local")]).bytes
    else:
        try:
            ip = ipaddress.ip_address(c.address)
        except ValueError:
            raise _gen_fail(f"candidate address {c.address!r} cannot be packed") from None
        kind = _AddrKind.IPV4 if ip.version == 4 else _AddrKind.IPV6
        addr = ip.packed
    return bytes([(int(c.type) << 6) | (int(kind) << 4)]) + addr + c.port.to_bytes(2, "big")


def _unpack_candidate(buf: bytes, pos: int, allow_loopback: bool) -> tuple[Candidate, int]:
    head = buf[pos]
    if head & 0x0F:
        raise _fail("a candidate has reserved bits set")
    ctype, akind = CandidateType(head >> 6), head >> 4 & 0x03
    size = {0: 4, 1: 16, 2: 16}.get(akind)
    if size is None:
        raise _fail("a candidate has an unknown address kind")
    body = buf[pos + 1 : pos + 1 + size + 2]
    if len(body) != size + 2:
        raise _fail("the record ends inside a candidate")
    raw, port = body[:size], int.from_bytes(body[size:], "big")
    if port == 0:
        raise _fail("a candidate has port 0")
    if akind == _AddrKind.MDNS:
        address = f"{uuid.UUID(bytes=raw)}.local"
    else:
        ip = ipaddress.IPv4Address(raw) if akind == _AddrKind.IPV4 else ipaddress.IPv6Address(raw)
        _check_ip(ip, allow_loopback)
        address = str(ip)
    return Candidate(ctype, address, port), pos + 1 + size + 2


# --- record ------------------------------------------------------------------------------


def new_offer(
    fingerprint: bytes,
    candidates: tuple[Candidate, ...],
    expires_at: int,
    *,
    seed: bytes | None = None,
    relay_only: bool = False,
    reply_handle: bytes | None = None,
) -> BootstrapRecord:
    """An offer whose id and ICE credentials come from a seed (set them on the ICE agent)."""
    seed = seed if seed is not None else new_seed()
    offer_id, ufrag, pwd = derive_credentials(seed)
    return BootstrapRecord(
        Kind.OFFER,
        offer_id,
        ufrag,
        pwd,
        fingerprint,
        candidates,
        expires_at=expires_at,
        relay_only=relay_only,
        reply_handle=reply_handle,
        seed=seed,
    )


def pack(record: BootstrapRecord) -> bytes:
    if len(record.fingerprint) != FINGERPRINT_BYTES:
        raise _gen_fail("the DTLS fingerprint must be a 32-byte sha-256 digest")
    if len(record.candidates) > MAX_CANDIDATES:
        raise _gen_fail(f"more than {MAX_CANDIDATES} candidates")
    if record.reply_handle is not None and len(record.reply_handle) != REPLY_BYTES:
        raise _gen_fail("a reply handle must be 8 bytes")
    offer = record.kind == Kind.OFFER
    if offer and record.setup != "actpass":
        raise _gen_fail("an offer's DTLS setup must be actpass")
    if not offer and record.setup not in ("active", "passive"):
        raise _gen_fail("an answer's DTLS setup must be active or passive")
    derived = offer and record.seed is not None
    if derived:
        assert record.seed is not None
        if derive_credentials(record.seed) != (record.offer_id, record.ufrag, record.pwd):
            raise _gen_fail("the offer's id and credentials do not match its seed")
    elif len(record.offer_id) != OFFER_ID_BYTES:
        raise _gen_fail("an offer id must be 4 bytes")
    special = derived if offer else record.setup == "passive"
    header = (
        FORMAT_VERSION << 5
        | (_KIND_BIT if not offer else 0)
        | (_RELAY_BIT if record.relay_only else 0)
        | (_REPLY_BIT if record.reply_handle is not None else 0)
        | (_SPECIAL_BIT if special else 0)
        | (_HEX_BIT if not derived and _is_hex(record.ufrag, record.pwd) else 0)
    )
    out = bytearray([header])
    if derived:
        assert record.seed is not None
        out += record.seed
    else:
        out += record.offer_id + _pack_creds(record.ufrag, record.pwd)
    if offer:
        if record.expires_at is None or not 0 < record.expires_at < 1 << 32:
            raise _gen_fail("an offer needs an expiry time")
        out += record.expires_at.to_bytes(4, "big")
    out += record.fingerprint
    if record.reply_handle is not None:
        out += record.reply_handle
    for c in record.candidates:
        out += _pack_candidate(c)
    return bytes(out)


def unpack(
    buf: bytes, *, now: float, allow_loopback: bool = False, check_expiry: bool = True
) -> BootstrapRecord:
    if not buf:
        raise _fail("the record is empty")
    header = buf[0]
    if header >> 5 != FORMAT_VERSION:
        raise _fail(f"format version {header >> 5} is not supported (this app reads version 1)")
    kind = Kind.ANSWER if header & _KIND_BIT else Kind.OFFER
    special = bool(header & _SPECIAL_BIT)
    pos = 1
    seed = None
    if kind == Kind.OFFER and special:
        if header & _HEX_BIT:
            raise _fail("an offer with a credential seed carries no credentials to be hex")
        seed = buf[pos : pos + SEED_BYTES]
        if len(seed) != SEED_BYTES:
            raise _fail("the record ends inside the credential seed")
        pos += SEED_BYTES
        offer_id, ufrag, pwd = derive_credentials(seed)
    else:
        offer_id = buf[pos : pos + OFFER_ID_BYTES]
        if len(offer_id) != OFFER_ID_BYTES:
            raise _fail("the record ends inside the offer id")
        ufrag, pwd, pos = _unpack_creds(buf, pos + OFFER_ID_BYTES, bool(header & _HEX_BIT))
    expires_at = None
    if kind == Kind.OFFER:
        raw = buf[pos : pos + 4]
        if len(raw) != 4:
            raise _fail("the record ends inside the expiry time")
        expires_at = int.from_bytes(raw, "big")
        pos += 4
        if check_expiry and expires_at <= now:
            raise _fail("this offer has expired; ask for a new QR code")
        if check_expiry and expires_at > now + MAX_OFFER_LIFETIME:
            raise _fail("this offer claims to be valid for more than a day")
    fingerprint = buf[pos : pos + FINGERPRINT_BYTES]
    if len(fingerprint) != FINGERPRINT_BYTES:
        raise _fail("the record ends inside the DTLS fingerprint")
    pos += FINGERPRINT_BYTES
    reply = None
    if header & _REPLY_BIT:
        reply = buf[pos : pos + REPLY_BYTES]
        if len(reply) != REPLY_BYTES:
            raise _fail("the record ends inside the reply handle")
        pos += REPLY_BYTES
    candidates: list[Candidate] = []
    while pos < len(buf):
        if len(candidates) == MAX_CANDIDATES:
            raise _fail(f"the record has more than {MAX_CANDIDATES} candidates")
        cand, pos = _unpack_candidate(buf, pos, allow_loopback)
        candidates.append(cand)
    relay_only = bool(header & _RELAY_BIT)
    if relay_only and any(c.type != CandidateType.RELAY for c in candidates):
        raise _fail("a relay-only record carries a non-relay candidate")
    setup = "actpass" if kind == Kind.OFFER else ("passive" if special else "active")
    return BootstrapRecord(
        kind,
        bytes(offer_id),
        ufrag,
        pwd,
        bytes(fingerprint),
        tuple(candidates),
        expires_at=expires_at,
        setup=setup,
        relay_only=relay_only,
        reply_handle=None if reply is None else bytes(reply),
        seed=None if seed is None else bytes(seed),
    )


# --- QR text -----------------------------------------------------------------------------


def qr_url_base(page_url: str) -> str:
    """The page URL with scheme and host upper-cased (both are case-insensitive), so that a
    URL like HTTP://10.0.0.5:8765/ fits QR alphanumeric mode. The path keeps its case."""
    scheme, sep, rest = page_url.partition("://")
    if not sep:
        raise _gen_fail(f"page URL {page_url!r} has no scheme")
    if "#" in page_url:
        raise _gen_fail("page URL must not have a fragment; the offer goes there")
    host, slash, path = rest.partition("/")
    return f"{scheme.upper()}://{host.upper()}{slash}{path}"


def offer_text(record: BootstrapRecord, page_url: str) -> str:
    if record.kind != Kind.OFFER:
        raise _gen_fail("offer_text needs an offer record")
    return f"{qr_url_base(page_url)}#{alnum.encode(pack(record))}"


def answer_text(record: BootstrapRecord) -> str:
    if record.kind != Kind.ANSWER:
        raise _gen_fail("answer_text needs an answer record")
    return ANSWER_PREFIX + alnum.encode(pack(record))


def compact_payload(text: str) -> str:
    """The base-41 part of an offer URL, an answer text or a bare payload."""
    text = text.strip()
    if len(text) > MAX_TEXT_CHARS:
        raise _fail(f"the code holds {len(text)} characters; a qrlink code has at most 2048")
    if "#" in text:
        return text.rsplit("#", 1)[1]
    if text.upper().startswith(ANSWER_PREFIX):
        return text[len(ANSWER_PREFIX) :]
    return text


def decode_compact(
    text: str, *, now: float, allow_loopback: bool = False, check_expiry: bool = True
) -> BootstrapRecord:
    payload = compact_payload(text)
    try:
        raw = alnum.decode(payload)
    except alnum.AlnumError as exc:
        raise _fail(f"this is not a qrlink code ({exc})") from None
    return unpack(raw, now=now, allow_loopback=allow_loopback, check_expiry=check_expiry)
