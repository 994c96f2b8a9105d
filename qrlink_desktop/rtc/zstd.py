"""zstandard for the specification's bootstrap form: the codec core/tokens.py is given.

`TOKENS` reads and writes offers and answers in either form for everything above core.
"""

from __future__ import annotations

import zstandard

from ..core.tokens import TokenCodec


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
TOKENS = TokenCodec(ZSTD)
