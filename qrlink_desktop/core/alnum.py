"""Base-41 text in the QR alphanumeric alphabet.

QR alphanumeric mode stores 45 symbols in 5.5 bits each; byte mode needs 8 bits a
character. Two bytes become three characters of a 41-symbol alphabet (41**3 >= 2**16),
8.25 bits of QR data a byte, where base32 costs 8.8 and base64url in byte mode 10.7.
The alphabet leaves out space and '%' (not allowed raw in a URL fragment) and '+' and '$'
(some URL detectors stop at them), so the text can sit in a fragment untouched.
"""

from __future__ import annotations

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-.:/*"
BASE = len(ALPHABET)
_INDEX = {c: i for i, c in enumerate(ALPHABET)}

assert BASE == 41 and BASE**3 >= 1 << 16 and BASE**2 >= 1 << 8


class AlnumError(ValueError):
    pass


def encode(data: bytes) -> str:
    out: list[str] = []
    for i in range(0, len(data) - 1, 2):
        v = (data[i] << 8) | data[i + 1]
        out += (ALPHABET[v % BASE], ALPHABET[(v // BASE) % BASE], ALPHABET[v // BASE // BASE])
    if len(data) % 2:
        v = data[-1]
        out += (ALPHABET[v % BASE], ALPHABET[v // BASE])
    return "".join(out)


def decode(text: str) -> bytes:
    """Strict inverse of `encode`: every text has at most one decoding, or an error."""
    if len(text) % 3 == 1:
        raise AlnumError("text length leaves a dangling character")
    try:
        digits = [_INDEX[c] for c in text]
    except KeyError as exc:
        raise AlnumError(f"character {exc.args[0]!r} is not in the alphabet") from None
    out = bytearray()
    full = len(digits) - len(digits) % 3
    for i in range(0, full, 3):
        v = digits[i] + digits[i + 1] * BASE + digits[i + 2] * BASE * BASE
        if v > 0xFFFF:
            raise AlnumError("a character group is out of range")
        out += v.to_bytes(2, "big")
    if full < len(digits):
        v = digits[full] + digits[full + 1] * BASE
        if v > 0xFF:
            raise AlnumError("the last character pair is out of range")
        out.append(v)
    return bytes(out)


def encoded_length(nbytes: int) -> int:
    return nbytes // 2 * 3 + (nbytes % 2) * 2
