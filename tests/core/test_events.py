"""The typed events and their JSON form against resources/protocol/events.schema.json:
every kind has its form there, one of each validates, what does not fit is refused, and
the schema's lists of codes, states and types are the program's. The command line's
tests check every line they read against the same schema (tests/cli_support.py)."""

from __future__ import annotations

import typing
from typing import Any

import pytest

from qrlink_desktop.core import events as ev
from qrlink_desktop.core.bootstrap import CANDIDATE_TYPE_NAMES
from qrlink_desktop.core.errors import ErrorCode, QrlinkError
from qrlink_desktop.core.messages import MessageType
from qrlink_desktop.core.schema import SchemaError
from qrlink_desktop.core.session import State

ONE_OF_EACH: list[ev.SessionEvent] = [
    ev.OfferReady("http://x/#QL:A", "0a" * 8, 1_800_000_000, 60, "compact", 1.5, ("host",)),
    ev.OfferReady("http://x/#QL:A", "0a" * 8, None, 60, "spec", 0.0, ()),
    ev.AnswerReady("QL:B", "0a" * 8, 55, "compact", "r-0102", ("host", "relay")),
    ev.AnswerReady("QL:B", "0a" * 8, 55, "compact", None, ("srflx",)),
    ev.AnswerTaken(ev.AnswerVia.NETWORK, "0a" * 8, ("prflx",)),
    ev.AnswerRefused(409, ErrorCode.BOOTSTRAP_PARSE_FAILED, "127.0.0.1", None),
    ev.StateChanged(State.CONNECTING),
    ev.StateChanged(State.CONNECTED, ev.PathInfo("host", "prflx", "direct")),
    ev.CodeReady("012345", 1, {"agent": "qrlink/1"}, {"handshake_ms": 3.0}),
    ev.Confirmed(),
    ev.PathChanged(quiet=True),
    ev.RttMeasured(0.8),
    ev.IdleClosing(120.0),
    ev.Closed("payment complete"),
    ev.ErrorEvent(ErrorCode.TIMEOUT, "nothing heard for 10 seconds"),
    ev.ErrorEvent(ErrorCode.MESSAGE_SEND_FAILED, "not sent", "m-1"),
    ev.MessageEvent(ev.Direction.IN, MessageType.PAYMENT_REQUEST, "m-1", {"amount": "1.00"}),
    ev.Duplicate("m-1", MessageType.PAYMENT_REQUEST),
    ev.PeerError("SOMETHING_NEW", "the other side's own code", None),
    ev.Published("corner-shop", 1_800_000_000_000, "r-0102"),
    ev.Published("r-0102", 1_800_000_000_000),
    ev.AnswerFound("r-0102"),
    ev.QrWritten("/tmp/offer.png", 7),
]


@pytest.mark.parametrize("event", ONE_OF_EACH, ids=lambda e: type(e).__name__)
def test_each_event_s_json_is_one_of_the_schema_s_forms(event: ev.SessionEvent) -> None:
    ev.check_json(event.to_json())


def test_every_kind_of_event_is_in_the_schema_and_tested_here() -> None:
    kinds = set(typing.get_args(ev.Event))
    assert {type(e) for e in ONE_OF_EACH} == kinds
    consts = {d["properties"]["event"]["const"] for d in _forms()}
    assert {k.name for k in kinds} == consts


def test_field_names_are_the_ones_the_command_line_always_printed() -> None:
    offer = ONE_OF_EACH[0].to_json()
    assert offer == {
        "event": "offer",
        "text": "http://x/#QL:A",
        "offerId": "0a" * 8,
        "expiresAt": 1_800_000_000,
        "payloadBytes": 60,
        "format": "compact",
        "readyMs": 1.5,
        "candidates": ["host"],
    }
    connected = ev.StateChanged(State.CONNECTED, ev.PathInfo("relay", "host", "relay"))
    assert connected.to_json() == {
        "event": "state",
        "state": "CONNECTED",
        "local": "relay",
        "remote": "host",
        "path": "relay",
    }
    assert ev.ErrorEvent(ErrorCode.TIMEOUT, "x").to_json() == {
        "event": "error",
        "code": "TIMEOUT",
        "message": "x",
    }  # no messageId unless a message was not sent
    error = QrlinkError(ErrorCode.ICE_FAILED, "no path")
    assert ev.ErrorEvent.of(error, "m-2").error.code == ErrorCode.ICE_FAILED


@pytest.mark.parametrize(
    ("bad", "where"),
    [
        ({"event": "sas", "code": "12345", "version": 1, "peer": {}, "timings": {}}, "code"),
        ({"event": "state", "state": "SLEEPING"}, "state"),
        ({"event": "error", "code": "NOT_A_CODE", "message": "x"}, "code"),
        ({"event": "confirmed", "extra": 1}, "extra"),
        ({"event": "rtt"}, "ms"),
        ({"event": "gossip"}, "event"),
    ],
)
def test_what_does_not_fit_is_refused(bad: dict[str, Any], where: str) -> None:
    with pytest.raises(SchemaError):
        ev.check_json(bad)


def test_the_schema_s_lists_are_the_program_s() -> None:
    defs = ev.schema()["$defs"]
    assert defs["errorCode"]["enum"] == [str(c) for c in ErrorCode]
    assert defs["sessionState"]["enum"] == [str(s) for s in State]
    assert defs["messageType"]["enum"] == [str(t) for t in MessageType]
    assert set(defs["candidates"]["items"]["enum"]) == set(CANDIDATE_TYPE_NAMES.values())


def _forms() -> list[dict[str, Any]]:
    root = ev.schema()
    return [root["$defs"][ref["$ref"].rsplit("/", 1)[1]] for ref in root["oneOf"]]
