"""SDP reduce/rebuild for aiortc and browser SDPs; the specification's base64 form."""

from __future__ import annotations

import base64
import json

import pytest

from qrlink_desktop.core import bootstrap, compat, sdp
from qrlink_desktop.core.bootstrap import BootstrapRecord, Candidate, CandidateType, Kind
from qrlink_desktop.core.errors import ErrorCode, QrlinkError
from qrlink_desktop.rtc.zstd import TOKENS, ZSTD

NOW = 1_800_000_000
MDNS = "3f0c6d0e-8e2b-4f0a-9d53-2b6f1c7a9e41.local"

CHROME_ANSWER = (
    "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
    "a=group:BUNDLE 0\r\na=extmap-allow-mixed\r\na=msid-semantic: WMS\r\n"
    "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\n"
    "a=candidate:1467250027 1 udp 2122260223 " + MDNS + " 54321 typ host generation 0\r\n"
    "a=candidate:1467250028 1 tcp 1518280447 " + MDNS + " 9 typ host tcptype active\r\n"
    "a=candidate:842163049 1 udp 1686052607 203.0.113.7 61000 typ srflx raddr 0.0.0.0 "
    "rport 0 generation 0\r\n"
    "a=ice-ufrag:Xb3k\r\na=ice-pwd:Wq7Jm2kL9pQ4rT6vY8zA1cE3\r\na=ice-options:trickle\r\n"
    "a=fingerprint:sha-256 " + ":".join(["AB"] * 32) + "\r\n"
    "a=setup:active\r\na=mid:0\r\na=sctp-port:5000\r\na=max-message-size:262144\r\n"
)


def test_reduce_a_browser_answer() -> None:
    r = sdp.reduce(CHROME_ANSWER)
    assert (r.ufrag, r.pwd, r.setup) == ("Xb3k", "Wq7Jm2kL9pQ4rT6vY8zA1cE3", "active")
    assert r.fingerprint == bytes([0xAB]) * 32
    assert r.candidates == (
        Candidate(CandidateType.HOST, "3f0c6d0e-8e2b-4f0a-9d53-2b6f1c7a9e41.local", 54321),
        Candidate(CandidateType.SRFLX, "203.0.113.7", 61000),
    )
    assert len(r.dropped) == 1 and "tcp" in r.dropped[0]


def test_rebuilt_sdp_has_the_required_lines() -> None:
    rec = BootstrapRecord(
        Kind.ANSWER,
        bytes(4),
        "Xb3k",
        "Wq7Jm2kL9pQ4rT6vY8zA1cE3",
        bytes(32),
        sdp.reduce(CHROME_ANSWER).candidates,
        setup="active",
    )
    text = sdp.rebuild(rec)
    lines = text.split("\r\n")
    assert text.endswith("\r\n") and "\n" not in text.replace("\r\n", "")
    for needed in (
        "a=mid:0",
        "a=sctp-port:5000",
        "a=setup:active",
        "a=ice-ufrag:Xb3k",
        "m=application 61000 UDP/DTLS/SCTP webrtc-datachannel",
        "c=IN IP4 203.0.113.7",
        "a=group:BUNDLE 0",
    ):
        assert needed in lines
    assert "a=end-of-candidates" not in lines  # an mDNS name may still be resolving
    only_ip = BootstrapRecord(
        Kind.ANSWER,
        bytes(4),
        "Xb3k",
        "x" * 22,
        bytes(32),
        (Candidate(CandidateType.HOST, "10.1.2.3", 4000),),
        setup="active",
    )
    assert "a=end-of-candidates" in sdp.rebuild(only_ip).split("\r\n")
    empty = BootstrapRecord(Kind.ANSWER, bytes(4), "Xb3k", "x" * 22, bytes(32), setup="active")
    assert "a=end-of-candidates" not in sdp.rebuild(empty)


@pytest.mark.parametrize(
    "broken",
    [
        CHROME_ANSWER.replace("a=ice-ufrag:Xb3k\r\n", ""),
        CHROME_ANSWER.replace("sha-256", "sha-1"),
        CHROME_ANSWER.replace("a=setup:active", "a=setup:holdconn"),
        CHROME_ANSWER.replace("typ srflx", "typ bogus"),
        CHROME_ANSWER.replace(" 61000 typ", " sixty typ"),
    ],
)
def test_reduce_refuses_what_it_cannot_use(broken: str) -> None:
    with pytest.raises(QrlinkError) as info:
        sdp.reduce(broken)
    assert info.value.code == ErrorCode.BOOTSTRAP_GENERATION_FAILED


def _offer() -> BootstrapRecord:
    return bootstrap.new_offer(
        bytes(range(32)),
        (Candidate(CandidateType.HOST, "192.168.1.20", 50000),),
        NOW + 300,
        reply_handle=bytes(8),
    )


def test_compat_round_trip_compressed_and_plain() -> None:
    offer = _offer()
    token = TOKENS.encode_compat(offer, now=NOW)
    assert base64.b64decode(token).startswith(compat.ZSTD_MAGIC)
    back = TOKENS.decode(token, now=NOW)
    assert (
        back.offer_id,
        back.ufrag,
        back.pwd,
        back.fingerprint,
        back.candidates,
        back.expires_at,
        back.reply_handle,
    ) == (
        offer.offer_id,
        offer.ufrag,
        offer.pwd,
        offer.fingerprint,
        offer.candidates,
        offer.expires_at,
        offer.reply_handle,
    )
    plain = compat.encode(offer, None, created_at=NOW)
    doc = json.loads(base64.b64decode(plain))
    assert doc["type"] == "offer" and doc["metadata"]["offerId"] == offer.offer_id_hex
    assert doc["candidates"][0].startswith("candidate:1 1 udp")
    assert TOKENS.decode(plain, now=NOW).candidates == offer.candidates
    assert len(token) < len(plain)


def test_compat_refuses_bombs_and_bad_shapes() -> None:
    bomb = base64.b64encode(ZSTD.compress(b"{" + b" " * 100_000 + b"}")).decode()
    for text in [
        bomb,
        base64.b64encode(b'{"v":2}').decode(),
        base64.b64encode(b'{"v":1,"type":"offer","sdp":1}').decode(),
        base64.b64encode(
            json.dumps(
                {
                    "v": 1,
                    "type": "offer",
                    "sdp": "v=0",
                    "candidates": [],
                    "metadata": {"offerId": "zz"},
                }
            ).encode()
        ).decode(),
    ]:
        with pytest.raises(QrlinkError) as info:
            TOKENS.decode(text, now=NOW)
        assert info.value.code == ErrorCode.BOOTSTRAP_PARSE_FAILED


def test_compat_expired_offer_is_refused() -> None:
    token = TOKENS.encode_compat(_offer(), now=NOW)
    with pytest.raises(QrlinkError, match="expired"):
        TOKENS.decode(token, now=NOW + 301)
