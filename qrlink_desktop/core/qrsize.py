"""Optimal QR segmentation and the smallest version at error correction M.

A QR symbol may mix numeric, alphanumeric and byte segments; choosing where to switch is a
shortest-path problem (after Nayuki's method, costs in sixths of a bit). An offer URL is
byte mode where the path has lower case and alphanumeric for the base-41 payload, so the
segmenter decides, not a fixed rule. Pure: used by the QR renderer and by benchmarks.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

ALNUM_CHARSET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
_ALNUM = frozenset(ALNUM_CHARSET)

# Data codewords of versions 1..40 at error correction M (ISO/IEC 18004 table 7).
DATA_CODEWORDS_M = (
    16,
    28,
    44,
    64,
    86,
    108,
    124,
    154,
    182,
    216,
    254,
    290,
    334,
    365,
    415,
    453,
    507,
    563,
    627,
    669,
    714,
    782,
    860,
    914,
    1000,
    1062,
    1128,
    1193,
    1267,
    1373,
    1455,
    1541,
    1631,
    1725,
    1812,
    1914,
    1992,
    2102,
    2216,
    2334,
)


class Mode(IntEnum):
    NUMERIC = 0
    ALNUM = 1
    BYTE = 2


_CC_BITS = {  # character-count bits by version range 1-9, 10-26, 27-40
    Mode.NUMERIC: (10, 12, 14),
    Mode.ALNUM: (9, 11, 13),
    Mode.BYTE: (8, 16, 16),
}


@dataclass(frozen=True)
class Segment:
    mode: Mode
    text: str

    def data_bits(self) -> int:
        n = len(self.text)
        if self.mode == Mode.NUMERIC:
            return n // 3 * 10 + (0, 4, 7)[n % 3]
        if self.mode == Mode.ALNUM:
            return n // 2 * 11 + (n % 2) * 6
        return len(self.text.encode("utf-8")) * 8


def _range_index(version: int) -> int:
    return 0 if version <= 9 else 1 if version <= 26 else 2


def segments_bits(segments: list[Segment], version: int) -> int:
    r = _range_index(version)
    return sum(4 + _CC_BITS[s.mode][r] + s.data_bits() for s in segments)


def _fits(ch: str, mode: Mode) -> bool:
    if mode == Mode.NUMERIC:
        return ch.isascii() and ch.isdigit()
    if mode == Mode.ALNUM:
        return ch in _ALNUM
    return True


def optimal_segments(text: str, version: int) -> list[Segment]:
    """Segments of least total bit length for a version's range.

    Dynamic programme over (position, mode): `open_cost[i][m]` is the least cost, in
    sixths of a bit, of text[:i] whose last segment has mode m and may still grow;
    `closed[i]` rounds that up to whole bits, which is where a new segment may start.
    """
    r = _range_index(version)
    n = len(text)
    head = [(4 + _CC_BITS[m][r]) * 6 for m in Mode]
    inf = float("inf")
    open_cost = [[inf] * 3 for _ in range(n + 1)]
    opened_at = [[0] * 3 for _ in range(n + 1)]  # where the open segment began
    closed = [inf] * (n + 1)
    closed_mode: list[Mode | None] = [None] * (n + 1)
    closed[0] = 0
    for i in range(n + 1):
        if i > 0:
            for m in Mode:
                whole = -(-open_cost[i][m] // 6) * 6
                if whole < closed[i]:
                    closed[i], closed_mode[i] = whole, m
        if i == n:
            break
        ch = text[i]
        for m in Mode:
            if not _fits(ch, m):
                continue
            step = {Mode.NUMERIC: 20, Mode.ALNUM: 33}.get(m, len(ch.encode("utf-8")) * 48)
            grow = open_cost[i][m] + step
            start = closed[i] + head[m] + step
            if grow <= start and grow < open_cost[i + 1][m]:
                open_cost[i + 1][m], opened_at[i + 1][m] = grow, opened_at[i][m]
            elif start < open_cost[i + 1][m]:
                open_cost[i + 1][m], opened_at[i + 1][m] = start, i
    segments: list[Segment] = []
    end = n
    while end > 0:
        mode = closed_mode[end]
        assert mode is not None
        begin = opened_at[end][mode]
        segments.append(Segment(mode, text[begin:end]))
        end = begin
    segments.reverse()
    return _merge(segments)


def _merge(segments: list[Segment]) -> list[Segment]:
    out: list[Segment] = []
    for s in segments:
        if out and out[-1].mode == s.mode:
            out[-1] = Segment(s.mode, out[-1].text + s.text)
        else:
            out.append(s)
    return out


def smallest_version(text: str) -> tuple[int, list[Segment]]:
    """The smallest version at M that holds `text`, with the segments that achieve it."""
    for version in range(1, 41):
        segs = optimal_segments(text, version)
        if segments_bits(segs, version) <= DATA_CODEWORDS_M[version - 1] * 8:
            return version, segs
    raise ValueError(f"{len(text)} characters do not fit a QR code at error correction M")
