"""When to ping, when the peer counts as dead, and when an idle session closes.

aiortc notices a frozen peer only after ~30 s of consent failures; pinging every few
seconds and giving up after `dead_after` of silence detects it within 15 s. Pure: the
caller passes monotonic `now` and acts on what `due` returns.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from . import facts


class Due(StrEnum):
    PING = "ping"  # time to send a heartbeat
    QUIET = "quiet"  # two heartbeats missed: the path may be down (reported once)
    DEAD = "dead"  # nothing heard for dead_after: the peer or the path is gone
    IDLE = "idle"  # no conversation for inactivity seconds: close the session


_DEFAULT = facts.timers()


@dataclass
class Liveness:
    # The defaults are resources/protocol/timers.json's, shared with the page: deadAfter
    # there says why 14 s (a 10 s blackout survives, a dead peer is noticed within 15 s).
    ping_interval: float = _DEFAULT.ping_interval
    dead_after: float = _DEFAULT.dead_after
    inactivity: float = _DEFAULT.inactivity
    started: float = 0.0

    def __post_init__(self) -> None:
        if not 0 < self.ping_interval < self.dead_after:
            raise ValueError("ping_interval must be positive and shorter than dead_after")
        self.last_heard = self.started
        self.last_ping = self.started
        self.last_activity = self.started
        self.quiet = False

    @property
    def quiet_after(self) -> float:
        return min(2 * self.ping_interval + 0.5, self.dead_after)

    def heard(self, now: float) -> bool:
        """Anything arrived from the peer, a pong included. True when it ends a quiet spell."""
        self.last_heard = max(self.last_heard, now)
        was_quiet, self.quiet = self.quiet, False
        return was_quiet

    def activity(self, now: float) -> None:
        """Conversation happened (not heartbeats): pushes back the inactivity close."""
        self.last_activity = max(self.last_activity, now)

    def due(self, now: float) -> list[Due]:
        out: list[Due] = []
        if now - self.last_heard >= self.dead_after:
            out.append(Due.DEAD)
        elif not self.quiet and now - self.last_heard >= self.quiet_after:
            self.quiet = True
            out.append(Due.QUIET)
        if self.inactivity > 0 and now - self.last_activity >= self.inactivity:
            out.append(Due.IDLE)
        if not out and now - self.last_ping >= self.ping_interval:
            self.last_ping = now
            out.append(Due.PING)
        return out

    def next_check(self, now: float) -> float:
        """Seconds until something may be due."""
        deadlines = [self.last_ping + self.ping_interval, self.last_heard + self.dead_after]
        if not self.quiet:
            deadlines.append(self.last_heard + self.quiet_after)
        if self.inactivity > 0:
            deadlines.append(self.last_activity + self.inactivity)
        return max(0.0, min(deadlines) - now)
