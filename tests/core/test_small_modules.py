"""Retry policy, dedup window, liveness, clock, qrsize and resources: pure and clock-driven."""

from __future__ import annotations

import os
import random

import pytest

from qrlink_desktop.core import alnum
from qrlink_desktop.core.clock import ManualClock, SystemClock
from qrlink_desktop.core.dedup import ReplyLog
from qrlink_desktop.core.liveness import Due, Liveness
from qrlink_desktop.core.qrsize import (
    DATA_CODEWORDS_M,
    Mode,
    Segment,
    optimal_segments,
    segments_bits,
    smallest_version,
)
from qrlink_desktop.core.resources import resources_dir
from qrlink_desktop.core.retry import DEFAULT_RETRY, RetryPolicy


def test_retry_policy_is_the_specification() -> None:
    assert DEFAULT_RETRY.delays() == [1.0, 2.0, 4.0]
    assert DEFAULT_RETRY.attempts == 4 and DEFAULT_RETRY.delay(4) is None
    assert RetryPolicy(retries=6).delays() == [1, 2, 4, 8, 10, 10]
    with pytest.raises(ValueError):
        RetryPolicy(factor=0.5)


def test_reply_log_keeps_what_was_acted_on_and_its_reply() -> None:
    log = ReplyLog()
    assert "a" not in log and log.reply("a") is None
    log.set_reply("a", "ignored")  # never acted on: nothing to attach a reply to
    assert "a" not in log and len(log) == 0
    log.record("a")
    assert "a" in log and log.reply("a") is None
    log.set_reply("a", "reply-a")
    log.record("a")  # recording again keeps the reply
    assert log.reply("a") == "reply-a" and len(log) == 1


def test_liveness_ping_dead_idle() -> None:
    live = Liveness(ping_interval=3, dead_after=10, inactivity=30, started=0)
    assert live.due(1) == []
    assert live.due(3) == [Due.PING] and live.due(4) == []
    live.heard(9)
    assert live.due(12) == [Due.PING]
    assert live.due(19) == [Due.DEAD]
    live.heard(25)
    assert live.due(30) == [Due.IDLE]
    live.activity(30)
    assert live.next_check(30) == pytest.approx(0.0)
    with pytest.raises(ValueError):
        Liveness(ping_interval=10, dead_after=5)


def test_liveness_reports_a_quiet_path_once_and_its_return() -> None:
    live = Liveness(ping_interval=3, dead_after=14, inactivity=0, started=0)
    assert live.quiet_after == 6.5
    assert live.due(6) == [Due.PING]
    assert Due.QUIET in live.due(6.5)
    assert Due.QUIET not in live.due(8)
    assert live.heard(9) is True and live.heard(10) is False
    assert live.due(14) == [Due.PING]  # heard again: neither quiet nor dead
    assert Liveness().dead_after == 14.0  # a 10 s blackout survives; death seen within 15 s


def test_manual_clock() -> None:
    c = ManualClock(100)
    c.advance(5)
    assert (c.now(), c.monotonic()) == (105, 5)
    c.set_wall(50)
    assert (c.now(), c.monotonic()) == (50, 5)
    with pytest.raises(ValueError):
        c.advance(-1)
    assert SystemClock().monotonic() > 0


def test_capacity_table_matches_the_qrcode_library() -> None:
    import qrcode

    rng = random.Random(5)
    for _ in range(40):
        text = alnum.encode(rng.randbytes(rng.randint(10, 400)))
        qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M)
        qr.add_data(text, optimize=0)
        qr.make(fit=True)
        assert smallest_version(text)[0] <= qr.version
    assert len(DATA_CODEWORDS_M) == 40


def test_segmenter_picks_modes() -> None:
    segs = optimal_segments("https://x.example/#" + "A1" * 40, 5)
    assert [s.mode for s in segs] == [Mode.BYTE, Mode.ALNUM]
    assert optimal_segments("0123456789" * 3, 1) == [Segment(Mode.NUMERIC, "0123456789" * 3)]
    assert segments_bits([Segment(Mode.BYTE, "é")], 1) == 4 + 8 + 16
    with pytest.raises(ValueError):
        smallest_version("x" * 3000)


def test_resources_override(monkeypatch: pytest.MonkeyPatch, tmp_path: os.PathLike[str]) -> None:
    assert (resources_dir() / "protocol" / "messages.schema.json").exists()
    monkeypatch.setenv("QRLINK_RESOURCES", str(tmp_path))
    assert resources_dir() == tmp_path


def test_ice_urls_and_rest_credentials() -> None:
    from qrlink_desktop.core.errors import QrlinkError
    from qrlink_desktop.core.turn import parse_ice_url, rest_credentials, rest_expiry

    assert parse_ice_url("stun:stun.example:3478").is_turn is False
    tcp = parse_ice_url("turn:relay.example?transport=tcp")
    assert (tcp.port, tcp.transport, tcp.is_turn) == (3478, "tcp", True)
    tls = parse_ice_url("turns:[2001:db8::1]:5349?transport=tcp")
    assert (tls.host, tls.scheme, tls.transport) == ("2001:db8::1", "turns", "tcp")
    for bad in ("http://x", "turns:x?transport=udp", "stun:x?transport=tcp", "turn:x:99999", ""):
        with pytest.raises(QrlinkError):
            parse_ice_url(bad)
    user, password = rest_credentials("secret", "cashier", 600, 1_000)
    assert user == "1600:cashier" and rest_expiry(user) == 1600 and len(password) == 28
    assert rest_expiry("static-user") is None
    with pytest.raises(ValueError):
        rest_credentials("secret", "x", 0, 0)


def test_a_listener_that_raises_does_not_stop_the_others(caplog: pytest.LogCaptureFixture) -> None:
    from qrlink_desktop.core.listeners import Listeners

    heard: list[int] = []

    def broken(value: int) -> None:
        raise RuntimeError("a bug in one reader")

    listeners: Listeners[int] = Listeners(broken)
    listeners.add(heard.append)
    listeners.tell(1)
    listeners.remove(broken)
    listeners.tell(2)
    assert heard == [1, 2]
    assert "a listener failed on int" in caplog.text
