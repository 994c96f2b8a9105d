"""Counters for `/metrics`, rendered in the Prometheus text format (version 0.0.4).

Counters are per instance (Prometheus sums them across instances); the live-token gauge
reads the store, so with Redis every instance reports the shared number.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

CONTENT_TYPE = "text/plain; version=0.0.4"
_P = "qrlink_rendezvous_"


def _labels(pairs: tuple[tuple[str, str], ...]) -> str:
    if not pairs:
        return ""
    inner = ",".join(
        f'{k}="{v.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"'
        for k, v in pairs
    )
    return "{" + inner + "}"


@dataclass
class Metrics:
    publishes: int = 0
    lookup_hits: int = 0
    lookup_misses: int = 0
    expired: int = 0
    rate_limited: int = 0
    store_errors: int = 0
    refused: Counter[str] = field(default_factory=Counter)
    # GET /turn: credentials handed out by capability, and requests refused by reason.
    turn_issued: Counter[str] = field(default_factory=Counter)
    turn_refused: Counter[str] = field(default_factory=Counter)
    requests: Counter[tuple[str, str, int]] = field(default_factory=Counter)

    def render(self, live_tokens: int | None) -> str:
        lines: list[str] = []

        def family(name: str, kind: str, help_text: str, samples: list[tuple[str, int]]) -> None:
            lines.append(f"# HELP {_P}{name} {help_text}")
            lines.append(f"# TYPE {_P}{name} {kind}")
            lines.extend(f"{_P}{name}{labels} {value}" for labels, value in samples)

        family("publishes_total", "counter", "Tokens published.", [("", self.publishes)])
        family(
            "lookups_total",
            "counter",
            "Lookups answered, by whether a live token was found.",
            [
                (_labels((("result", "hit"),)), self.lookup_hits),
                (_labels((("result", "miss"),)), self.lookup_misses),
            ],
        )
        family(
            "expired_total",
            "counter",
            "Tokens removed by the pruner after their TTL passed.",
            [("", self.expired)],
        )
        family(
            "refused_total",
            "counter",
            "Requests refused with a 4xx other than 429, by error code.",
            [(_labels((("code", c),)), n) for c, n in sorted(self.refused.items())],
        )
        family(
            "turn_credentials_total",
            "counter",
            "TURN credentials handed out, by the capability shown.",
            [(_labels((("capability", c),)), n) for c, n in sorted(self.turn_issued.items())],
        )
        family(
            "turn_refused_total",
            "counter",
            "TURN credential requests refused, by reason (rate-limited ones included).",
            [(_labels((("reason", r),)), n) for r, n in sorted(self.turn_refused.items())],
        )
        family(
            "rate_limited_total",
            "counter",
            "Requests refused with 429 by the per-client rate limit.",
            [("", self.rate_limited)],
        )
        family(
            "store_errors_total",
            "counter",
            "Requests answered 503 because the store was unreachable.",
            [("", self.store_errors)],
        )
        family(
            "requests_total",
            "counter",
            "HTTP requests by method, route and status.",
            [
                (_labels((("method", m), ("route", r), ("status", str(s)))), n)
                for (m, r, s), n in sorted(self.requests.items())
            ],
        )
        if live_tokens is not None:
            family(
                "live_tokens",
                "gauge",
                "Tokens published and not yet expired.",
                [("", live_tokens)],
            )
        family(
            "store_up",
            "gauge",
            "1 when the store answered this scrape.",
            [("", int(live_tokens is not None))],
        )
        return "\n".join(lines) + "\n"
