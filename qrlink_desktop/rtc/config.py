"""What a pairing session is configured with: one frozen value, built once by the caller
(the window's settings, the command line's options) and never edited."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..core import facts
from ..core.tokens import TextFormat
from .channel import ChannelTimers
from .peer import IceConfig


@dataclass(frozen=True)
class SessionConfig:
    ice: IceConfig = field(default_factory=IceConfig)
    page_url: str = "http://127.0.0.1:8765/"
    offer_lifetime: float = 300.0
    connect_timeout: float = facts.timers().connect_timeout  # protocol/timers.json
    timers: ChannelTimers = field(default_factory=ChannelTimers)
    merchant: str | None = None
    # A prepared offer with less life left than this is replaced before it is shown.
    min_offer_life: float = 60.0
    # How offers and answers are written (read in either form).
    text_format: TextFormat = TextFormat.COMPACT
