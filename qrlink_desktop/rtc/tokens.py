"""Reading any bootstrap text: the compact QR forms or the specification's base64 form.

Wires zstandard into the standard-library-only core.
"""

from __future__ import annotations

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
