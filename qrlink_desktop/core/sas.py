"""The 6-digit verification code, by commit–reveal.

A code from the two DTLS fingerprints alone can be ground: an attacker who sits in the
middle generates certificates until the codes on both legs match (about 20,600 a second
on one core finds 4 matching digits in half a second). Here the answerer first commits to
its nonce N_a, the offerer then sends N_o, and only then N_a is revealed; neither side can
choose its nonce after seeing the other's, so a man in the middle gets one guess in 10**6.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

NONCE_BYTES = 32
_COMMIT_TAG = b"qrlink-commit-v1"
_SAS_TAG = b"qrlink-sas-v1"


def new_nonce() -> bytes:
    return secrets.token_bytes(NONCE_BYTES)


def commitment(nonce: bytes) -> bytes:
    return hashlib.sha256(_COMMIT_TAG + nonce).digest()


def commitment_matches(commit: bytes, nonce: bytes) -> bool:
    return hmac.compare_digest(commit, commitment(nonce))


def sas_code(
    fingerprint_offer: bytes, fingerprint_answer: bytes, nonce_offer: bytes, nonce_answer: bytes
) -> str:
    """Six decimal digits from H(tag ‖ fp_offer ‖ fp_answer ‖ N_o ‖ N_a)."""
    for part in (fingerprint_offer, fingerprint_answer, nonce_offer, nonce_answer):
        if len(part) != 32:
            raise ValueError("fingerprints and nonces are 32 bytes each")
    digest = hashlib.sha256(
        _SAS_TAG + fingerprint_offer + fingerprint_answer + nonce_offer + nonce_answer
    ).digest()
    return f"{int.from_bytes(digest[:8], 'big') % 1_000_000:06d}"


def format_code(code: str) -> str:
    """'123456' -> '123 456', easier to read aloud and compare."""
    return f"{code[:3]} {code[3:]}"


def typed_code(text: str) -> str | None:
    """The code as a person types what the other screen shows: digits, spaces anywhere,
    leading zeros possibly dropped (read out as a number). None when it is not a code."""
    digits = "".join(text.split())
    if not digits.isascii() or not digits.isdigit() or not 1 <= len(digits) <= 6:
        return None
    return digits.zfill(6)


def codes_match(typed: str, code: str) -> bool:
    """Whether `typed` (as `typed_code` reads it) is `code`."""
    wanted = typed_code(typed)
    return wanted is not None and hmac.compare_digest(wanted, code)
