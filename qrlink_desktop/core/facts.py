"""The protocol facts this app shares with the page, read from resources/protocol/.

handshake.json (the handshake's table), timers.json and errors.json are the one source
both languages read: the page imports the same files into its bundle. Each is checked
when read, so a damaged installation stops with a sentence naming the file instead of
misbehaving later. Standard library only, like the rest of core.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from typing import Any

from .resources import load_json, resources_dir


class FactsError(RuntimeError):
    """A protocol file is missing or says something impossible: a broken installation."""


def _load(name: str) -> dict[str, Any]:
    try:
        data = load_json(f"protocol/{name}")
    except (OSError, ValueError) as exc:
        raise FactsError(
            f"qrlink cannot read {resources_dir() / 'protocol' / name} ({exc}); "
            "the installation is incomplete"
        ) from exc
    if not isinstance(data, dict):
        raise FactsError(f"protocol/{name} is not a JSON object")
    return data


def _require(ok: bool, name: str, what: str) -> None:
    if not ok:
        raise FactsError(f"protocol/{name}: {what}")


@contextmanager
def _reading(name: str) -> Iterator[None]:
    """A missing key or a value of the wrong kind is the file's fault: said as such."""
    try:
        yield
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise FactsError(f"protocol/{name} is not as expected: {exc!r}") from exc


# --- timers.json ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Timers:
    """Seconds, as timers.json gives them (its `why` fields say where each figure comes from)."""

    handshake_timeout: float
    hello_resend: tuple[float, ...]
    ping_interval: float
    dead_after: float
    inactivity: float
    connect_timeout: float
    retry_first_delay: float
    retry_factor: float
    retry_max_delay: float
    retries: int


@cache
def timers() -> Timers:
    with _reading("timers.json"):
        return _timers(_load("timers.json"))


def _timers(raw: dict[str, Any]) -> Timers:

    def seconds(key: str) -> float:
        value = raw[key]["seconds"]
        _require(isinstance(value, int | float) and value >= 0, "timers.json", key)
        return float(value)

    retry = raw["retry"]
    resend = raw["helloResend"]["seconds"]
    _require(
        all(isinstance(s, int | float) and s > 0 for s in resend), "timers.json", "helloResend"
    )
    _require(isinstance(retry["retries"], int), "timers.json", "retry.retries")
    return Timers(
        handshake_timeout=seconds("handshakeTimeout"),
        hello_resend=tuple(float(s) for s in resend),
        ping_interval=seconds("pingInterval"),
        dead_after=seconds("deadAfter"),
        inactivity=seconds("inactivity"),
        connect_timeout=seconds("connectTimeout"),
        retry_first_delay=float(retry["firstDelaySeconds"]),
        retry_factor=float(retry["factor"]),
        retry_max_delay=float(retry["maxDelaySeconds"]),
        retries=retry["retries"],
    )


# --- errors.json ---------------------------------------------------------------------------


@cache
def error_meanings() -> dict[str, str]:
    """Every error code, in the file's order, with its one-line meaning."""
    with _reading("errors.json"):
        codes = _load("errors.json")["codes"]
        return {code: str(entry["meaning"]) for code, entry in codes.items()}


@cache
def specification_codes() -> tuple[str, ...]:
    """The codes that are the specification's own (§10.1), in its order."""
    with _reading("errors.json"):
        codes = _load("errors.json")["codes"]
        return tuple(code for code, entry in codes.items() if entry["specification"] is True)


# --- handshake.json ------------------------------------------------------------------------


@dataclass(frozen=True)
class Transition:
    role: str
    state: str
    input: str
    next: str
    action: str | None


@dataclass(frozen=True)
class Failure:
    code: str
    message: str  # a template: {name} is filled in by the action that fails
    tell_peer: bool  # whether the other side is sent an `error` with this code


@dataclass(frozen=True)
class HandshakeFacts:
    versions: tuple[int, ...]
    inputs: tuple[str, ...]
    states: tuple[str, ...]
    waiting_for: dict[str, str]  # unfinished state -> what it waits for
    transitions: tuple[Transition, ...]
    ignored: frozenset[tuple[str, str]]  # (state, input) that changes nothing
    otherwise: str  # the failure for an input neither a transition nor ignored
    repeated_hello_must_keep: tuple[str, ...]
    peer_info: dict[str, tuple[str, ...]]  # step received -> fields kept of it
    failures: dict[str, Failure]


@cache
def handshake() -> HandshakeFacts:
    with _reading("handshake.json"):
        return _handshake(_load("handshake.json"))


def _handshake(raw: dict[str, Any]) -> HandshakeFacts:
    name = "handshake.json"
    states = tuple(raw["states"])
    inputs = tuple(raw["inputs"])
    transitions = tuple(
        Transition(t["role"], t["state"], t["input"], t["next"], t["action"])
        for t in raw["transitions"]
    )
    ignored = frozenset(
        (state, step)
        for group in raw["ignored"]
        for state in group["states"]
        for step in group["inputs"]
    )
    failures = {
        key: Failure(f["code"], f["message"], bool(f["tellPeer"]))
        for key, f in raw["failures"].items()
    }
    keys = [(t.role, t.state, t.input) for t in transitions]
    _require(len(keys) == len(set(keys)), name, "a transition is listed twice")
    for t in transitions:
        _require({t.state, t.next} <= set(states), name, f"unknown state in {t}")
        _require(t.input in inputs, name, f"unknown input in {t}")
        _require((t.state, t.input) not in ignored, name, f"{t} is also ignored")
    _require(all(s in states and i in inputs for s, i in ignored), name, "ignored names")
    _require(raw["otherwise"] in failures, name, "otherwise names no failure")
    known = error_meanings()
    _require(all(f.code in known for f in failures.values()), name, "unknown error code")
    return HandshakeFacts(
        versions=tuple(raw["versions"]),
        inputs=inputs,
        states=states,
        waiting_for={s: v["waitingFor"] for s, v in raw["states"].items() if "waitingFor" in v},
        transitions=transitions,
        ignored=ignored,
        otherwise=raw["otherwise"],
        repeated_hello_must_keep=tuple(raw["repeatedHelloMustKeep"]),
        peer_info={step: tuple(keys) for step, keys in raw["peerInfo"].items()},
        failures=failures,
    )


def fill(template: str, values: Mapping[str, object]) -> str:
    """A failure's sentence with its {names} filled in, as the page's fill() writes it:
    a list as "1, 2", a whole number of seconds without ".0"."""

    def text(value: object) -> str:
        if isinstance(value, list | tuple):
            return ", ".join(text(v) for v in value)
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        return str(value)

    return re.sub(r"\{(\w+)\}", lambda m: text(values[m.group(1)]), template)
