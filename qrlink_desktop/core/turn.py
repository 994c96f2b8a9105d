"""TURN configuration: URL checks and short-lived TURN REST credentials.

A TURN REST credential (the scheme coturn's `use-auth-secret` implements) is a username
`<expiry>:<user>` and a password base64(HMAC-SHA1(secret, username)); whoever holds the
shared secret mints them, so the app never stores the secret, only the service does.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass

from .errors import ErrorCode, QrlinkError

_URL = re.compile(
    r"^(?P<scheme>stuns?|turns?):(?P<host>\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)"
    r"(?::(?P<port>\d{1,5}))?(?:\?transport=(?P<transport>udp|tcp))?$"
)
DEFAULT_PORTS = {"stun": 3478, "stuns": 5349, "turn": 3478, "turns": 5349}


@dataclass(frozen=True)
class IceUrl:
    scheme: str
    host: str
    port: int
    transport: str

    @property
    def is_turn(self) -> bool:
        return self.scheme.startswith("turn")


def parse_ice_url(url: str) -> IceUrl:
    m = _URL.match(url.strip())
    if not m:
        raise QrlinkError(
            ErrorCode.INVALID_ARGUMENT,
            f"{url!r} is not a STUN or TURN URL (e.g. stun:host:3478, "
            "turn:host:3478?transport=udp, turns:host:5349?transport=tcp)",
        )
    scheme = m["scheme"]
    port = int(m["port"]) if m["port"] else DEFAULT_PORTS[scheme]
    if not 0 < port < 65536:
        raise QrlinkError(ErrorCode.INVALID_ARGUMENT, f"{url!r} has port {port} out of range")
    transport = m["transport"] or ("tcp" if scheme == "turns" else "udp")
    if scheme == "turns" and transport != "tcp":
        raise QrlinkError(ErrorCode.INVALID_ARGUMENT, f"{url!r}: TURN over TLS runs on TCP")
    if scheme.startswith("stun") and m["transport"]:
        raise QrlinkError(ErrorCode.INVALID_ARGUMENT, f"{url!r}: STUN URLs take no transport")
    return IceUrl(scheme, m["host"].strip("[]"), port, transport)


def rest_credentials(secret: str, user: str, ttl: int, now: float) -> tuple[str, str]:
    """(username, password) valid for `ttl` seconds from `now`."""
    if ttl <= 0:
        raise ValueError("a TURN credential needs a positive lifetime")
    username = f"{int(now) + ttl}:{user}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode()


def rest_expiry(username: str) -> int | None:
    """The expiry (Unix seconds) in a TURN REST username, if it is one."""
    head, sep, _ = username.partition(":")
    return int(head) if sep and head.isdigit() else None
