"""What a pairing session tells the world: one small frozen value per kind of event.

Readers `match` on the type. `to_json()` is the object `qrlink peer --json` prints, one
per line; resources/protocol/events.schema.json describes every one of them, and the
command line's tests check each event they see against it. JSON field names are the
camelCase of the field names (`offer_id` -> `offerId`), the event's name in "event".

Nothing here decides anything: the sessions (rtc/) and the remote publication (remote.py)
make these, the window (gui/) and the command line (cli/) read them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from enum import StrEnum
from typing import Any, ClassVar

from . import schema as json_schema
from .errors import ErrorCode, QrlinkError
from .messages import MessageType
from .resources import load_json
from .session import State


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def _plain(value: Any) -> Any:
    if isinstance(value, StrEnum):
        return str(value)
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    return value


# Field metadata: left out of the JSON object when None (the key is absent, as ever).
OPTIONAL = {"omit_none": True}


class SessionEvent:
    """The common shape: a JSON name and the generic JSON form."""

    name: ClassVar[str]

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"event": self.name}
        for f in fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if value is None and f.metadata.get("omit_none"):
                continue
            out[_camel(f.name)] = _plain(value)
        return out


# --- making the offer and the answer -----------------------------------------------------


@dataclass(frozen=True)
class OfferReady(SessionEvent):
    """The offering side's QR text is ready to show (also a refreshed offer)."""

    name: ClassVar[str] = "offer"
    text: str
    offer_id: str  # hex
    expires_at: int | None  # seconds since the epoch
    payload_bytes: int
    format: str  # compact or spec
    ready_ms: float
    candidates: tuple[str, ...]


@dataclass(frozen=True)
class AnswerReady(SessionEvent):
    """The answering side's answer text is ready to show (or to send home)."""

    name: ClassVar[str] = "answer"
    text: str
    offer_id: str
    payload_bytes: int
    format: str
    reply_to: str | None  # the offer's reply handle on the rendezvous service, if any
    candidates: tuple[str, ...]


class AnswerVia(StrEnum):
    NETWORK = "network"  # the page sent it home (one scan)
    INPUT = "input"  # standard input: typed or pasted


@dataclass(frozen=True)
class AnswerTaken(SessionEvent):
    """The cashier's command took the customer's answer, and from where."""

    name: ClassVar[str] = "answer"
    via: AnswerVia
    offer_id: str
    candidates: tuple[str, ...]


@dataclass(frozen=True)
class AnswerRefused(SessionEvent):
    """The page server refused a request to take an answer (forged, late, flooding...)."""

    name: ClassVar[str] = "answer_refused"
    status: int
    code: ErrorCode
    client: str
    offer_id: str | None


# --- the session ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PathInfo:
    """Candidate types of the pair in use, e.g. host -> prflx, and what that means."""

    local: str | None
    remote: str | None
    path: str | None  # direct or relay


@dataclass(frozen=True)
class StateChanged(SessionEvent):
    """The session's §6.1 state changed; on CONNECTED, with the pair in use."""

    name: ClassVar[str] = "state"
    state: State
    pair: PathInfo | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"event": self.name, "state": str(self.state)}
        if self.pair is not None:
            out.update(local=self.pair.local, remote=self.pair.remote, path=self.pair.path)
        return out


@dataclass(frozen=True)
class CodeReady(SessionEvent):
    """The handshake is done: the 6-digit code both screens show, and how long it took."""

    name: ClassVar[str] = "sas"
    code: str
    version: int
    peer: Mapping[str, Any]  # what the other side said about itself (agent, merchant)
    timings: Mapping[str, float]


@dataclass(frozen=True)
class Confirmed(SessionEvent):
    """The cashier saw the same code on both screens: payments may be requested."""

    name: ClassVar[str] = "confirmed"


@dataclass(frozen=True)
class PathChanged(SessionEvent):
    """The heartbeat's view of the path: quiet (two heartbeats missed) or back."""

    name: ClassVar[str] = "path"
    quiet: bool


@dataclass(frozen=True)
class RttMeasured(SessionEvent):
    name: ClassVar[str] = "rtt"
    ms: float


@dataclass(frozen=True)
class IdleClosing(SessionEvent):
    """No conversation for `seconds`: the session closes (a `closed` follows)."""

    name: ClassVar[str] = "idle"
    seconds: float


@dataclass(frozen=True)
class Closed(SessionEvent):
    name: ClassVar[str] = "closed"
    reason: str


@dataclass(frozen=True)
class ErrorEvent(SessionEvent):
    """A failure, said once: a code of core/errors.py and a sentence for a person."""

    name: ClassVar[str] = "error"
    code: ErrorCode
    message: str
    message_id: str | None = field(default=None, metadata=OPTIONAL)  # a message not sent

    @classmethod
    def of(cls, error: QrlinkError, message_id: str | None = None) -> ErrorEvent:
        return cls(error.code, error.message, message_id)

    @property
    def error(self) -> QrlinkError:
        return QrlinkError(self.code, self.message)


# --- the conversation ----------------------------------------------------------------------


class Direction(StrEnum):
    IN = "in"
    OUT = "out"


@dataclass(frozen=True)
class MessageEvent(SessionEvent):
    """A payment message that left or arrived (decided on: duplicates are `Duplicate`)."""

    name: ClassVar[str] = "message"
    direction: Direction
    type: MessageType
    message_id: str
    payload: Mapping[str, Any]


@dataclass(frozen=True)
class Duplicate(SessionEvent):
    """A message seen before arrived again: answered as the first time, not acted on."""

    name: ClassVar[str] = "duplicate"
    message_id: str
    type: MessageType


@dataclass(frozen=True)
class PeerError(SessionEvent):
    """The other side sent an `error` message."""

    name: ClassVar[str] = "peer_error"
    code: str  # the other side's code: not necessarily one this side knows
    message: str
    ref_message_id: str | None


# --- remote publication (remote.py) and the command line's own -----------------------------


@dataclass(frozen=True)
class Published(SessionEvent):
    """An offer (or an answer, on the customer's side) is on the rendezvous service."""

    name: ClassVar[str] = "published"
    handle: str
    expires_at: int  # milliseconds since the epoch, as the service says
    reply_to: str | None = field(default=None, metadata=OPTIONAL)


@dataclass(frozen=True)
class AnswerFound(SessionEvent):
    """The customer's answer came through the service's reply handle."""

    name: ClassVar[str] = "answer_found"
    reply_to: str


@dataclass(frozen=True)
class QrWritten(SessionEvent):
    """`--qr-png`: the QR image was written."""

    name: ClassVar[str] = "qr_png"
    path: str
    version: int


Event = (
    OfferReady
    | AnswerReady
    | AnswerTaken
    | AnswerRefused
    | StateChanged
    | CodeReady
    | Confirmed
    | PathChanged
    | RttMeasured
    | IdleClosing
    | Closed
    | ErrorEvent
    | MessageEvent
    | Duplicate
    | PeerError
    | Published
    | AnswerFound
    | QrWritten
)


def schema() -> dict[str, Any]:
    """resources/protocol/events.schema.json: the `--json` stream's contract."""
    return dict(load_json("protocol/events.schema.json"))


def check_json(obj: Any) -> None:
    """Raise core/schema.py's SchemaError unless `obj` is one of the schema's events."""
    root = schema()
    json_schema.validate(obj, root, root)
