"""Bootstrap texts in either form: read any, write the chosen one.

The compact form (base-41 record in QR alphanumeric mode, bootstrap.py) is the default:
the smallest QR. The specification's own form (§5.1: base64 of zstd-compressed JSON with
the SDP, the candidates and metadata, compat.py) is for implementations that know only
that. Compression is injected (`compat.Codec`: rtc/zstd.py gives zstandard's) because
`core` is standard-library only.
"""

from __future__ import annotations

from enum import StrEnum

from . import bootstrap, compat
from .bootstrap import BootstrapRecord


class TextFormat(StrEnum):
    COMPACT = "compact"  # the base-41 record: the smallest QR (the default)
    SPEC = "spec"  # the specification's base64 JSON (zstd-compressed)


class TokenCodec:
    """Offers and answers as text, with the specification's form compressed by `codec`."""

    def __init__(self, codec: compat.Codec) -> None:
        self._codec = codec

    def decode(
        self, text: str, *, now: float, allow_loopback: bool = False, check_expiry: bool = True
    ) -> BootstrapRecord:
        """Either form; BOOTSTRAP_PARSE_FAILED for anything that is not a usable record."""
        payload = bootstrap.compact_payload(text)
        if compat.looks_compat(payload):
            return compat.decode(
                payload,
                self._codec,
                now=now,
                allow_loopback=allow_loopback,
                check_expiry=check_expiry,
            )
        return bootstrap.decode_compact(
            text, now=now, allow_loopback=allow_loopback, check_expiry=check_expiry
        )

    def encode_compat(self, record: BootstrapRecord, *, now: float) -> str:
        return compat.encode(record, self._codec, created_at=now)

    def offer_text(
        self, record: BootstrapRecord, page_url: str, fmt: TextFormat, *, now: float
    ) -> str:
        """The offer as the QR carries it: the page URL with the offer in its fragment."""
        if fmt == TextFormat.SPEC:
            bootstrap.qr_url_base(page_url)  # the same checks on the URL
            return f"{page_url}#{self.encode_compat(record, now=now)}"
        return bootstrap.offer_text(record, page_url)

    def answer_text(self, record: BootstrapRecord, fmt: TextFormat, *, now: float) -> str:
        if fmt == TextFormat.SPEC:
            return self.encode_compat(record, now=now)
        return bootstrap.answer_text(record)
