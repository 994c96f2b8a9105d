"""What a `qrlink peer` run is asked to do: one frozen value built from the arguments.

Nothing edits it afterwards; what is learnt on the way (the page server's address, TURN
credentials from the rendezvous service) makes a new value with `dataclasses.replace`.
"""

from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core.errors import ErrorCode, QrlinkError
from ..core.tokens import TextFormat
from ..core.turn import parse_ice_url
from ..rtc.channel import ChannelTimers
from ..rtc.config import SessionConfig
from ..rtc.peer import IceConfig, IceServerConfig


@dataclass(frozen=True)
class PeerConfig:
    command: str  # offer, publish (the cashier's side), answer, lookup (the customer's)
    as_json: bool
    qr_png: Path | None
    text_format: TextFormat
    timeout: float  # the whole session
    connect_timeout: float
    ice_servers: tuple[str, ...]
    ice_username: str | None
    ice_credential: str | None
    relay_only: bool
    addresses: tuple[str, ...] | None
    allow_loopback: bool
    turn_from: str | None
    # The cashier's side.
    page_url: str | None = None
    serve_page: str | None = None
    request: tuple[str, str] | None = None  # amount, currency
    reference: str | None = None
    merchant: str | None = None
    lifetime: float = 300.0
    skip_code_check: bool = False
    # Remote mode: the handle to publish under or look up, on which service.
    handle: str | None = None
    rendezvous: str | None = None
    ttl_ms: int = 300_000
    # The customer's side.
    offer_text: str | None = None
    approve: bool = True

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> PeerConfig:
        cashier = args.peer_command in ("offer", "publish")
        optional: dict[str, Any] = {
            "handle": getattr(args, "handle", None),
            "rendezvous": getattr(args, "rendezvous", None),
        }
        if cashier:
            optional.update(
                page_url=args.page_url,
                serve_page=getattr(args, "serve_page", None),
                request=tuple(args.request) if args.request else None,
                reference=args.reference,
                merchant=args.merchant,
                lifetime=args.lifetime,
                skip_code_check=args.skip_code_check,
                ttl_ms=getattr(args, "ttl", 300_000),
            )
        else:
            optional.update(offer_text=getattr(args, "offer_text", None), approve=args.approve)
        return cls(
            command=args.peer_command,
            as_json=args.json,
            qr_png=args.qr_png,
            text_format=TextFormat(args.format),
            timeout=args.timeout,
            connect_timeout=args.connect_timeout,
            ice_servers=tuple(args.ice_server),
            ice_username=args.ice_username,
            ice_credential=args.ice_credential,
            relay_only=args.relay_only,
            addresses=tuple(args.address) if args.address else None,
            allow_loopback=args.allow_loopback,
            turn_from=args.turn_from,
            **optional,
        )

    @property
    def cashier(self) -> bool:
        return self.command in ("offer", "publish")

    def with_turn(self, uris: tuple[str, ...], username: str, credential: str) -> PeerConfig:
        """The relay's short-lived credentials from the service, beside the servers given."""
        return dataclasses.replace(
            self,
            ice_servers=(*self.ice_servers, *uris),
            ice_username=username,
            ice_credential=credential,
        )

    def ice_config(self) -> IceConfig:
        parsed = [parse_ice_url(url) for url in self.ice_servers]
        if any(p.is_turn for p in parsed) and not (self.ice_username and self.ice_credential):
            raise QrlinkError(
                ErrorCode.INVALID_ARGUMENT,
                "a TURN server needs --ice-username and --ice-credential",
            )
        if self.relay_only and not any(p.is_turn for p in parsed):
            raise QrlinkError(
                ErrorCode.INVALID_ARGUMENT,
                "--relay-only needs a TURN server (--ice-server turn:host:port)",
            )
        servers = tuple(
            IceServerConfig(
                (url,),
                self.ice_username if p.is_turn else None,
                self.ice_credential if p.is_turn else None,
            )
            for url, p in zip(self.ice_servers, parsed, strict=True)
        )
        return IceConfig(
            servers=servers,
            relay_only=self.relay_only,
            addresses=self.addresses,
            allow_loopback=self.allow_loopback,
        )

    def session_config(self) -> SessionConfig:
        cashier: dict[str, Any] = {}
        if self.cashier:
            assert self.page_url is not None
            cashier = {
                "page_url": self.page_url,
                "offer_lifetime": self.lifetime,
                "merchant": self.merchant,
            }
        return SessionConfig(
            ice=self.ice_config(),
            connect_timeout=self.connect_timeout,
            timers=ChannelTimers(),
            text_format=self.text_format,
            **cashier,
        )
