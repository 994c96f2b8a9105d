"""What the service accepts: handles, tokens, TTLs and long-poll waits.

Limits live here so the handlers, the OpenAPI document and the tests read one source.
"""

from __future__ import annotations

import math
import re
from typing import Any

from qrlink_desktop.rendezvous.errors import invalid

USERNAME_PATTERN = r"^[A-Za-z0-9._-]{3,64}$"
_USERNAME_RE = re.compile(r"[A-Za-z0-9._-]{3,64}")

# A bootstrap token is < 2 KB by design (spec §5.1); 8 KiB leaves room for the
# specification's literal zstd/base64 form with several candidates.
MAX_TOKEN_CHARS = 8192
# Large enough for the biggest valid token JSON-escaped, small enough to refuse floods.
MAX_BODY_BYTES = 32 * 1024
MAX_OWNER_KEY_CHARS = 256

DEFAULT_TTL_MS = 300_000
MIN_TTL_MS = 60_000
MAX_TTL_MS = 900_000

# A long poll holds a connection; past 30 s proxies start closing idle requests.
MAX_WAIT_SECONDS = 30.0


def username(value: Any) -> str:
    if not isinstance(value, str) or _USERNAME_RE.fullmatch(value) is None:
        raise invalid(
            "The username must be 3 to 64 characters of letters, digits, '.', '_' or '-'."
        )
    return value


def token(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise invalid("The token must be a non-empty string.")
    if len(value) > MAX_TOKEN_CHARS:
        raise invalid(f"The token must be at most {MAX_TOKEN_CHARS} characters long.")
    try:
        # JSON can carry lone surrogates ("\ud800") that no store can encode.
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise invalid("The token must be valid Unicode text.") from None
    return value


def ttl_ms(value: Any) -> int:
    # bool is an int in Python but never a TTL.
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid("The ttl must be an integer number of milliseconds.")
    if not MIN_TTL_MS <= value <= MAX_TTL_MS:
        raise invalid(
            f"The ttl must be between {MIN_TTL_MS} and {MAX_TTL_MS} milliseconds; got {value}."
        )
    return value


def wait_seconds(raw: str | None, maximum: float = MAX_WAIT_SECONDS) -> float:
    """The `wait` query parameter: absent means answer at once."""
    if raw is None:
        return 0.0
    try:
        value = float(raw)
    except ValueError:
        raise invalid("The wait parameter must be a number of seconds.") from None
    if not math.isfinite(value) or not 0.0 <= value <= maximum:
        raise invalid(f"The wait parameter must be between 0 and {maximum:g} seconds.")
    return value


def bearer_key(header: str | None) -> str | None:
    """The owner key from `Authorization: Bearer <key>`; None when absent or malformed."""
    if not header:
        return None
    scheme, _, key = header.partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not key or len(key) > MAX_OWNER_KEY_CHARS:
        return None
    return key
