"""The cashier's settings: what they are, how they persist (QSettings), when they are valid.

`Settings` is a plain frozen value; `load`/`save` move it in and out of a QSettings
store, and `problems` says in one sentence per field what is wrong, so the dialog can
refuse an invalid value with a message instead of saving it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields, replace
from typing import Any
from urllib.parse import urlsplit

from PySide6.QtCore import QLocale, QSettings

from ..core import facts
from ..core.messages import currencies
from ..core.tokens import TextFormat
from ..rtc.channel import ChannelTimers
from ..rtc.config import SessionConfig
from ..rtc.peer import IceConfig, IceServerConfig
from ..scan.decoders import DEFAULT_DECODER, decoder_names
from .netinfo import default_page_url

ICE_SCHEMES = ("stun", "stuns", "turn", "turns")
LIFETIME_RANGE = (30, 3600)  # seconds an offer stays valid
INACTIVITY_RANGE = (10, 3600)  # seconds of silence before the channel closes
_RESOLUTION = re.compile(r"^(\d{3,4})x(\d{3,4})$")
# The rendezvous service's own rule for a username (rendezvous/validation.py).
HANDLE = re.compile(r"[A-Za-z0-9._-]{3,64}")
# The service keeps a token between 60 s and 15 min.
REMOTE_TTL_MS = (60_000, 900_000)


def default_currency() -> str:
    code = QLocale.system().currencySymbol(QLocale.CurrencySymbolFormat.CurrencyIsoCode)
    return code if code in currencies() else "EUR"


@dataclass(frozen=True)
class Settings:
    camera: str = "0"  # index, video file or stream URL, as for --camera
    resolution: str = "1280x720"  # WIDTHxHEIGHT asked of the camera; "" for its default
    mirror: bool = True  # a camera facing the cashier reads like a mirror
    decoder: str = DEFAULT_DECODER
    ice_servers: tuple[str, ...] = ()
    ice_username: str = ""
    ice_credential: str = ""
    relay_only: bool = False
    page_url: str = ""  # "" means this laptop's LAN address (netinfo.default_page_url)
    merchant: str = ""
    currency: str = ""  # "" means the system locale's currency, else EUR
    offer_lifetime: int = 300
    inactivity: int = int(facts.timers().inactivity)  # protocol/timers.json
    rendezvous_url: str = ""  # "" means remote mode is off
    handle: str = ""  # the name the offer is published under in remote mode
    # Shown to the rendezvous service for TURN credentials (--turn-from); "" means
    # $QRLINK_API_TOKEN, if set.
    api_token: str = ""
    # How the offer is written: "compact" (the smallest QR) or "spec", the specification's
    # base64 JSON, for a customer's app that knows only that form.
    text_format: str = str(TextFormat.COMPACT)

    # -- derived values ----------------------------------------------------------------

    @property
    def effective_page_url(self) -> str:
        return self.page_url or default_page_url()

    @property
    def effective_currency(self) -> str:
        return self.currency or default_currency()

    @property
    def size(self) -> tuple[int, int] | None:
        m = _RESOLUTION.match(self.resolution)
        return (int(m.group(1)), int(m.group(2))) if m else None

    @property
    def remote_enabled(self) -> bool:
        return bool(self.rendezvous_url and self.handle)

    @property
    def remote_ttl_ms(self) -> int:
        """How long the service keeps the published offer: its lifetime, within the
        service's limits (the offer's own expiry still ends the wait)."""
        lo, hi = REMOTE_TTL_MS
        return max(lo, min(hi, self.offer_lifetime * 1000))

    def ice_config(self, addresses: tuple[str, ...] | None = None) -> IceConfig:
        servers = tuple(
            IceServerConfig(
                (url,),
                self.ice_username or None if url.startswith("turn") else None,
                self.ice_credential or None if url.startswith("turn") else None,
            )
            for url in self.ice_servers
        )
        return IceConfig(servers=servers, relay_only=self.relay_only, addresses=addresses)

    def session_config(self, addresses: tuple[str, ...] | None = None) -> SessionConfig:
        lifetime = float(self.offer_lifetime)
        return SessionConfig(
            ice=self.ice_config(addresses),
            page_url=self.effective_page_url,
            offer_lifetime=lifetime,
            timers=ChannelTimers(inactivity=float(self.inactivity)),
            merchant=self.merchant or None,
            text_format=TextFormat(self.text_format),
            # The offer panel refreshes at a quarter of the lifetime left; the prepared
            # offer (made when the shown one was taken) must still count as fresh then,
            # or the session would gather a new one while the cashier waits.
            min_offer_life=lifetime / 5,
        )

    # -- validation ----------------------------------------------------------------------

    def problems(self) -> list[str]:
        """One sentence per invalid field; empty when every field is usable."""
        out: list[str] = []
        if not self.camera.strip():
            out.append("Camera: give a camera number (0, 1, …), a video file or a stream URL.")
        if self.resolution and self.size is None:
            out.append(f"Resolution {self.resolution!r}: write it as WIDTHxHEIGHT, e.g. 1280x720.")
        if self.decoder not in decoder_names():
            out.append(f"Decoder {self.decoder!r}: choose one of {', '.join(decoder_names())}.")
        for url in self.ice_servers:
            scheme, _, rest = url.partition(":")
            if scheme not in ICE_SCHEMES or not rest.strip("/"):
                out.append(f"ICE server {url!r}: write it as stun:host:port or turn:host:port.")
        turn = [u for u in self.ice_servers if u.startswith("turn")]
        if self.relay_only and not turn:
            out.append("Relay-only mode needs a TURN server (turn:host:port).")
        if turn and not (self.ice_username and self.ice_credential):
            out.append("TURN servers need a username and a credential.")
        if self.page_url:
            parts = urlsplit(self.page_url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                out.append(f"Page URL {self.page_url!r}: write a full http:// or https:// address.")
            elif "#" in self.page_url:
                out.append("Page URL: leave out the '#' part; the offer goes there.")
        if self.rendezvous_url:
            parts = urlsplit(self.rendezvous_url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                out.append(
                    f"Rendezvous service {self.rendezvous_url!r}: write a full http:// or "
                    "https:// address, e.g. http://svc:8787."
                )
            if not self.handle:
                out.append("Remote mode needs a handle to publish the offer under.")
        if self.handle and HANDLE.fullmatch(self.handle) is None:
            out.append(
                f"Handle {self.handle!r}: use 3 to 64 letters, digits, '.', '_' or '-' "
                "(e.g. corner-shop)."
            )
        if self.currency and self.currency not in currencies():
            out.append(f"Currency {self.currency!r} is not an ISO 4217 code (EUR, USD, GBP, …).")
        if self.text_format not in set(TextFormat):
            out.append(
                f"Code format {self.text_format!r}: choose "
                f"{' or '.join(str(f) for f in TextFormat)}."
            )
        if len(self.merchant) > 80:
            out.append("Merchant name: keep it under 80 characters.")
        lo, hi = LIFETIME_RANGE
        if not lo <= self.offer_lifetime <= hi:
            out.append(f"Offer lifetime: between {lo} and {hi} seconds.")
        lo, hi = INACTIVITY_RANGE
        if not lo <= self.inactivity <= hi:
            out.append(f"Inactivity timeout: between {lo} and {hi} seconds.")
        return out

    def with_overrides(self, **changes: Any) -> Settings:
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


_LIST_FIELDS = {"ice_servers"}


def _coerce(name: str, default: Any, raw: Any) -> Any:
    """QSettings hands back strings from INI files and native types elsewhere."""
    if isinstance(default, bool):
        return raw if isinstance(raw, bool) else str(raw).lower() in ("1", "true", "yes")
    if isinstance(default, int):
        return int(raw)
    if name in _LIST_FIELDS:
        if isinstance(raw, str):
            return tuple(u for u in raw.split() if u)
        return tuple(str(u) for u in raw or ())
    return str(raw)


def load(store: QSettings) -> Settings:
    """The stored settings; a stored value that cannot be read, or that is invalid, falls
    back to its default (a damaged file must not keep the window from opening)."""
    defaults = Settings()
    values: dict[str, Any] = {}
    for f in fields(Settings):
        default = getattr(defaults, f.name)
        raw = store.value(f.name)
        if raw is None:
            continue
        try:
            values[f.name] = _coerce(f.name, default, raw)
        except (TypeError, ValueError):
            continue
    settings = Settings(**values)
    if settings.problems():
        good = {k: v for k, v in values.items() if not _alone(k, v, values).problems()}
        settings = Settings(**good)
    return settings


def _alone(name: str, value: Any, values: dict[str, Any]) -> Settings:
    """Default settings with one stored value (a service URL with its handle, which it
    needs), to tell which stored values are usable."""
    probe = {name: value}
    if name == "rendezvous_url" and "handle" in values:
        probe["handle"] = values["handle"]
    return Settings(**probe)


def save(store: QSettings, settings: Settings) -> None:
    for f in fields(Settings):
        value = getattr(settings, f.name)
        store.setValue(f.name, " ".join(value) if f.name in _LIST_FIELDS else value)
    store.sync()
