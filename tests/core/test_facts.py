"""The protocol facts shared with the page (resources/protocol/*.json): the code uses what
the files say, the files say something coherent, and a damaged file is refused with a
sentence. The page's resources/mobile/test/facts.test.ts checks its side against the same
files, so the two sides agree through them."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from qrlink_desktop.core import facts, liveness, retry
from qrlink_desktop.core.errors import ErrorCode
from qrlink_desktop.core.handshake import SUPPORTED_VERSIONS, WAITING_FOR, HState, Role
from qrlink_desktop.core.resources import load_json, resources_dir

PROTOCOL = Path(__file__).resolve().parents[2] / "resources" / "protocol"

# The specification's §10.1 list, verbatim and in its order.
SPECIFICATION = [
    "BOOTSTRAP_GENERATION_FAILED",
    "BOOTSTRAP_PARSE_FAILED",
    "CONNECTION_FAILED",
    "ICE_FAILED",
    "DATA_CHANNEL_FAILED",
    "MESSAGE_SEND_FAILED",
    "TIMEOUT",
    "REMOTE_SERVICE_ERROR",
]


def _raw(name: str) -> dict[str, Any]:
    """A file as it is on disk, read without the loader under test."""
    data: dict[str, Any] = json.loads((PROTOCOL / name).read_text(encoding="utf-8"))
    return data


def test_every_error_code_is_in_errors_json_and_every_entry_is_an_error_code() -> None:
    assert [str(c) for c in ErrorCode] == list(_raw("errors.json")["codes"])
    assert list(facts.specification_codes()) == SPECIFICATION
    for code, meaning in facts.error_meanings().items():
        assert 10 < len(meaning) and "\n" not in meaning, code


def test_the_handshake_enums_are_the_table_s() -> None:
    table = _raw("handshake.json")
    assert [str(s) for s in HState] == list(table["states"])
    assert {str(r) for r in Role} == {t["role"] for t in table["transitions"]}
    assert SUPPORTED_VERSIONS == tuple(table["versions"])
    assert {str(s): v["waitingFor"] for s, v in table["states"].items() if "waitingFor" in v} == {
        str(s): text for s, text in WAITING_FOR.items()
    }
    # Every failure the table names carries a code this app knows.
    for name, failure in table["failures"].items():
        assert failure["code"] in set(ErrorCode), name


def test_the_versions_spoken_fit_the_message_schema() -> None:
    hello = next(
        branch
        for branch in load_json("protocol/messages.schema.json")["$defs"]["handshake"]["oneOf"]
        if branch["properties"]["step"] == {"const": "hello"}
    )
    items = hello["properties"]["versions"]["items"]
    assert all(items["minimum"] <= v <= items["maximum"] for v in SUPPORTED_VERSIONS)


def test_the_default_timers_are_timers_json_s() -> None:
    # Imported here: rtc and gui read their defaults at import as core does.
    from qrlink_desktop.gui.settings import Settings
    from qrlink_desktop.rtc.channel import ChannelTimers
    from qrlink_desktop.rtc.config import SessionConfig

    raw = _raw("timers.json")
    channel = ChannelTimers()
    assert channel.handshake_timeout == raw["handshakeTimeout"]["seconds"]
    assert list(channel.hello_resend) == raw["helloResend"]["seconds"]
    assert channel.ping_interval == raw["pingInterval"]["seconds"]
    assert channel.dead_after == raw["deadAfter"]["seconds"]
    assert channel.inactivity == raw["inactivity"]["seconds"] == Settings().inactivity
    alive = liveness.Liveness()
    assert (alive.ping_interval, alive.dead_after, alive.inactivity) == (
        channel.ping_interval,
        channel.dead_after,
        channel.inactivity,
    )
    assert SessionConfig().connect_timeout == raw["connectTimeout"]["seconds"]
    policy = retry.RetryPolicy()
    assert (policy.base_delay, policy.factor, policy.max_delay, policy.retries) == (
        raw["retry"]["firstDelaySeconds"],
        raw["retry"]["factor"],
        raw["retry"]["maxDelaySeconds"],
        raw["retry"]["retries"],
    )
    assert channel.retry == retry.DEFAULT_RETRY == policy
    # The specification's §10.2 and the 15 s dead-peer promise, as figures.
    assert retry.DEFAULT_RETRY.delays() == [1.0, 2.0, 4.0]
    assert channel.ping_interval < channel.dead_after <= 15


def test_a_sentence_is_filled_in_as_the_page_fills_it() -> None:
    assert facts.fill("versions {theirs}; {ours}", {"theirs": [2, 3], "ours": (1,)}) == (
        "versions 2, 3; 1"
    )
    assert facts.fill("within {s} seconds", {"s": 10.0}) == "within 10 seconds"
    assert facts.fill("within {s} seconds", {"s": 2.5}) == "within 2.5 seconds"
    with pytest.raises(KeyError):
        facts.fill("{missing}", {})


def test_protocol_md_points_at_the_files() -> None:
    text = (PROTOCOL / "protocol.md").read_text(encoding="utf-8")
    for name in ("handshake.json", "timers.json", "errors.json", "handshake-transcripts.json"):
        assert name in text, name


# --- a damaged installation ---------------------------------------------------------------


@pytest.fixture
def protocol_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A copy of resources/ the loader reads instead; caches cleared before and after."""
    shutil.copytree(resources_dir() / "protocol", tmp_path / "protocol")
    monkeypatch.setenv("QRLINK_RESOURCES", str(tmp_path))
    caches = (facts.timers, facts.handshake, facts.error_meanings, facts.specification_codes)
    for cached in (*caches, load_json):
        cached.cache_clear()
    yield tmp_path / "protocol"
    monkeypatch.undo()
    for cached in (*caches, load_json):
        cached.cache_clear()


def test_a_missing_file_is_named(protocol_copy: Path) -> None:
    (protocol_copy / "timers.json").unlink()
    with pytest.raises(facts.FactsError, match=r"timers\.json.*installation is incomplete"):
        facts.timers()


def test_a_table_naming_an_unknown_state_is_refused(protocol_copy: Path) -> None:
    table = _raw("handshake.json")
    table["transitions"][0]["next"] = "nowhere"
    (protocol_copy / "handshake.json").write_text(json.dumps(table))
    with pytest.raises(facts.FactsError, match="unknown state"):
        facts.handshake()


def test_a_file_of_the_wrong_shape_is_refused(protocol_copy: Path) -> None:
    (protocol_copy / "timers.json").write_text('{"pingInterval": 3}')
    with pytest.raises(facts.FactsError, match=r"timers\.json is not as expected"):
        facts.timers()
    (protocol_copy / "errors.json").write_text("[1, 2]")
    with pytest.raises(facts.FactsError, match="not a JSON object"):
        facts.error_meanings()
