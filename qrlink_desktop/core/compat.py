"""The specification's literal bootstrap form: base64 of (zstd-compressed) JSON carrying
the SDP, the ICE candidates and metadata. Produced for interoperability (and usable as a
rendezvous token); accepted wherever a compact code is.

Compression is injected (`Codec`) because `core` is standard-library only.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any, Protocol

from .bootstrap import MAX_CANDIDATES, BootstrapRecord, Kind, _fail, pack, unpack
from .sdp import candidate_line, rebuild, reduce

MAX_COMPAT_TEXT = 16 * 1024  # base64 characters, before decoding
MAX_JSON_BYTES = 16 * 1024  # after decompression: a data-channel SDP is ~1 KB
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


class Codec(Protocol):
    def compress(self, data: bytes) -> bytes: ...

    def decompress(self, data: bytes, max_output: int) -> bytes: ...


def looks_compat(text: str) -> bool:
    """Base64 has lower-case letters, '+' or '='; a compact payload never does."""
    return any(c.islower() or c in "+=" for c in text)


def encode(record: BootstrapRecord, codec: Codec | None, *, created_at: float) -> str:
    sdp_text = rebuild(record)
    metadata: dict[str, Any] = {
        "offerId": record.offer_id_hex,
        "createdAt": int(created_at * 1000),
        "relayOnly": record.relay_only,
    }
    if record.expires_at is not None:
        metadata["expiresAt"] = record.expires_at * 1000
    if record.reply_name is not None:
        metadata["replyTo"] = record.reply_name
    doc = {
        "v": 1,
        "type": "offer" if record.kind == Kind.OFFER else "answer",
        "sdp": "\r\n".join(ln for ln in sdp_text.split("\r\n") if not ln.startswith("a=candidate")),
        "candidates": [candidate_line(c, i) for i, c in enumerate(record.candidates)],
        "metadata": metadata,
    }
    raw = json.dumps(doc, separators=(",", ":")).encode()
    if codec is not None:
        raw = codec.compress(raw)
    return base64.b64encode(raw).decode()


def _field(doc: dict[str, Any], key: str, kind: type, limit: int | None = None) -> Any:
    value = doc.get(key)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise _fail(f"the token's field {key!r} is missing or of the wrong type")
    if limit is not None and isinstance(value, str | list) and len(value) > limit:
        raise _fail(f"the token's field {key!r} is too long")
    return value


def decode(
    text: str,
    codec: Codec | None,
    *,
    now: float,
    allow_loopback: bool = False,
    check_expiry: bool = True,
) -> BootstrapRecord:
    text = text.strip()
    if len(text) > MAX_COMPAT_TEXT:
        raise _fail("the token is too long")
    try:
        raw = base64.b64decode(text + "=" * (-len(text) % 4), altchars=None, validate=True)
    except (binascii.Error, ValueError):
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        except (binascii.Error, ValueError):
            raise _fail("this is neither a qrlink code nor a base64 token") from None
    if raw.startswith(ZSTD_MAGIC):
        if codec is None:
            raise _fail("compressed tokens need zstandard, which is not available")
        try:
            raw = codec.decompress(raw, MAX_JSON_BYTES)
        except Exception:
            raise _fail("the token's compressed data is damaged or too large") from None
    if len(raw) > MAX_JSON_BYTES:
        raise _fail("the token's JSON is too large")
    try:
        doc = json.loads(raw)
    except (ValueError, RecursionError):
        raise _fail("the token is not valid JSON") from None
    if not isinstance(doc, dict) or doc.get("v") != 1:
        raise _fail("the token is not a version 1 qrlink bootstrap document")
    kind_name = _field(doc, "type", str)
    if kind_name not in ("offer", "answer"):
        raise _fail("the token's type must be offer or answer")
    sdp_text = _field(doc, "sdp", str, 8192)
    cands = _field(doc, "candidates", list, MAX_CANDIDATES)
    if not all(isinstance(c, str) and len(c) <= 256 for c in cands):
        raise _fail("the token's candidates must be short strings")
    meta = _field(doc, "metadata", dict)
    try:
        offer_id = bytes.fromhex(_field(meta, "offerId", str, 8))
    except ValueError:
        raise _fail("the token's offerId is not hex") from None
    if len(offer_id) != 4:
        raise _fail("the token's offerId must be 8 hex digits")
    try:
        reduced = reduce(sdp_text, extra_candidates=tuple(cands))
    except Exception as exc:
        raise _fail(f"the token's SDP cannot be used: {exc}") from None
    kind = Kind.OFFER if kind_name == "offer" else Kind.ANSWER
    expires = None
    if kind == Kind.OFFER:
        expires = _field(meta, "expiresAt", int) // 1000
    reply = meta.get("replyTo")
    reply_handle = None
    if reply is not None:
        if not isinstance(reply, str) or not reply.startswith("r-") or len(reply) != 18:
            raise _fail("the token's replyTo is malformed")
        try:
            reply_handle = bytes.fromhex(reply[2:])
        except ValueError:
            raise _fail("the token's replyTo is malformed") from None
    setup = reduced.setup if kind == Kind.ANSWER else "actpass"
    if kind == Kind.ANSWER and setup == "actpass":
        setup = "active"
    record = BootstrapRecord(
        kind,
        offer_id,
        reduced.ufrag,
        reduced.pwd,
        reduced.fingerprint,
        reduced.candidates,
        expires_at=expires,
        setup=setup,
        relay_only=bool(meta.get("relayOnly", False)),
        reply_handle=reply_handle,
    )
    # Round-trip through the compact packer: one set of strict checks for both forms.
    try:
        packed = pack(record)
    except Exception as exc:
        raise _fail(f"the token cannot be used: {getattr(exc, 'message', exc)}") from None
    return unpack(packed, now=now, allow_loopback=allow_loopback, check_expiry=check_expiry)
