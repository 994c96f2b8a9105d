"""Bootstrap texts in either form: read any, write the chosen one.

The compact form (base-41 record in QR alphanumeric mode) is the default: the smallest QR.
The specification's own form (§5.1: base64 of zstd-compressed JSON with the SDP, the
candidates and metadata) is for implementations that know only that. Wires zstandard
into the standard-library-only core.
"""

from __future__ import annotations

from enum import StrEnum

import zstandard

from ..core import bootstrap, compat
from ..core.bootstrap import BootstrapRecord


class ZstdCodec:
    def __init__(self, level: int = 19) -> None:
        self._level = level

    def compress(self, data: bytes) -> bytes:
        return zstandard.ZstdCompressor(level=self._level).compress(data)

    def decompress(self, data: bytes, max_output: int) -> bytes:
        # stream_reader bounds the output, so a decompression bomb stops at max_output.
        with zstandard.ZstdDecompressor().stream_reader(data) as reader:
            out = reader.read(max_output + 1)
        if len(out) > max_output:
            raise ValueError("decompressed data exceeds the limit")
        return out


ZSTD = ZstdCodec()


def decode_any(
    text: str, *, now: float, allow_loopback: bool = False, check_expiry: bool = True
) -> BootstrapRecord:
    payload = bootstrap.compact_payload(text)
    if compat.looks_compat(payload):
        return compat.decode(
            payload, ZSTD, now=now, allow_loopback=allow_loopback, check_expiry=check_expiry
        )
    return bootstrap.decode_compact(
        text, now=now, allow_loopback=allow_loopback, check_expiry=check_expiry
    )


def encode_compat(record: BootstrapRecord, *, now: float) -> str:
    return compat.encode(record, ZSTD, created_at=now)


class TextFormat(StrEnum):
    COMPACT = "compact"  # the base-41 record: the smallest QR (the default)
    SPEC = "spec"  # the specification's base64 JSON (zstd-compressed)


def offer_text(record: BootstrapRecord, page_url: str, fmt: TextFormat, *, now: float) -> str:
    """The offer as the QR carries it: the page URL with the offer in its fragment."""
    if fmt == TextFormat.SPEC:
        bootstrap.qr_url_base(page_url)  # the same checks on the URL
        return f"{page_url}#{encode_compat(record, now=now)}"
    return bootstrap.offer_text(record, page_url)


def answer_text(record: BootstrapRecord, fmt: TextFormat, *, now: float) -> str:
    if fmt == TextFormat.SPEC:
        return encode_compat(record, now=now)
    return bootstrap.answer_text(record)
