"""Bootstrap codec: vectors shared with the page, round-trips, and hostile input."""

from __future__ import annotations

import ipaddress
import json
import random
import uuid
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qrlink_desktop.core import alnum, bootstrap, qrsize, sdp
from qrlink_desktop.core.bootstrap import BootstrapRecord, Candidate, CandidateType, Kind
from qrlink_desktop.core.errors import ErrorCode, QrlinkError
from qrlink_desktop.core.resources import load_json

VECTORS: dict[str, Any] = load_json("protocol/bootstrap-vectors.json")
NOW = VECTORS["decodeNow"]


@pytest.mark.parametrize("vector", VECTORS["valid"], ids=lambda v: v["name"])
def test_valid_vector_decodes_and_reencodes(vector: dict[str, Any]) -> None:
    record = bootstrap.decode_compact(vector["text"], now=NOW)
    assert record.to_json() == vector["record"]
    assert bootstrap.pack(record).hex() == vector["packedHex"]
    assert sdp.rebuild(record) == vector["sdp"]
    text = (
        bootstrap.offer_text(record, VECTORS["pageUrl"])
        if record.kind == Kind.OFFER
        else bootstrap.answer_text(record)
    )
    assert text == vector["text"]


@pytest.mark.parametrize("vector", VECTORS["invalid"], ids=lambda v: v["name"])
def test_invalid_vector_is_refused_with_parse_failed(vector: dict[str, Any]) -> None:
    with pytest.raises(QrlinkError) as info:
        bootstrap.decode_compact(vector["text"], now=NOW)
    assert info.value.code == ErrorCode.BOOTSTRAP_PARSE_FAILED
    assert info.value.message and not info.value.message.startswith("Traceback")


@pytest.mark.parametrize("vector", VECTORS["browserAnswers"], ids=lambda v: v["name"])
def test_browser_answer_reduces_to_its_vector(vector: dict[str, Any]) -> None:
    """A browser's own answer SDP (the page's codec reduces the same text)."""
    r = sdp.reduce(vector["sdp"])
    assert (r.ufrag, r.pwd, r.setup, r.fingerprint.hex()) == (
        vector["ufrag"],
        vector["pwd"],
        vector["setup"],
        vector["fingerprint"],
    )
    assert [
        {"type": c.type_name, "address": c.address, "port": c.port} for c in r.candidates
    ] == vector["candidates"]
    assert len(r.dropped) == vector["dropped"]
    assert all(" tcp " in d.lower() for d in r.dropped)
    decoded = bootstrap.decode_compact(vector["text"], now=NOW, allow_loopback=True)
    assert decoded.candidates == r.candidates
    if vector["loopback"]:
        with pytest.raises(QrlinkError, match="loopback"):
            bootstrap.decode_compact(vector["text"], now=NOW)
    else:
        assert bootstrap.decode_compact(vector["text"], now=NOW) == decoded


def test_firefox_loopback_answer_keeps_both_loopback_addresses() -> None:
    """Firefox with its loopback prefs answers with 127.0.0.1 and ::1 (UDP, and TCP that
    aiortc cannot use): both UDP candidates survive; only an explicit allowance accepts
    them (the page tests run the cashier on 127.0.0.1, which allows loopback)."""
    vector = next(v for v in VECTORS["browserAnswers"] if "loopback" in v["name"])
    r = sdp.reduce(vector["sdp"])
    assert r.candidates == (
        Candidate(CandidateType.HOST, "127.0.0.1", 48245),
        Candidate(CandidateType.HOST, "::1", 60882),
    )
    assert (r.ufrag, len(r.pwd)) == ("00bf4393", 32)
    ipv6_only = next(v for v in VECTORS["invalid"] if v["name"] == "IPv6 loopback candidate")
    with pytest.raises(QrlinkError, match="::1 is a loopback address"):
        bootstrap.decode_compact(ipv6_only["text"], now=NOW)
    allowed = bootstrap.decode_compact(ipv6_only["text"], now=NOW, allow_loopback=True)
    assert [c.address for c in allowed.candidates] == ["::1"]


def test_hex_credentials_pack_at_four_bits_and_keep_firefoxs_answer_at_version_5() -> None:
    """Firefox's ufrag and pwd are lower-case hex (8 + 32 characters): 20 bytes at 4 bits
    a character instead of 30 at 6, which brings its answer across a network (one mDNS
    candidate) from QR version 6 to 5."""
    vector = next(v for v in VECTORS["browserAnswers"] if "namespaces" in v["name"])
    record = bootstrap.decode_compact(vector["text"], now=NOW)
    packed = bootstrap.pack(record)
    assert packed[0] & 0x01  # the header says the credentials are hex
    assert len(packed) == 1 + 4 + 1 + 20 + 32 + 19
    assert qrsize.smallest_version(vector["text"])[0] == 5
    six_bit = replace(record, ufrag="G" + record.ufrag[1:])  # one non-hex character
    assert not bootstrap.pack(six_bit)[0] & 0x01
    assert len(bootstrap.pack(six_bit)) == len(packed) + 10
    assert bootstrap.unpack(bootstrap.pack(six_bit), now=NOW) == six_bit


@pytest.mark.parametrize("vector", VECTORS["alnum"], ids=lambda v: v["hex"] or "empty")
def test_alnum_vectors(vector: dict[str, str]) -> None:
    assert alnum.encode(bytes.fromhex(vector["hex"])) == vector["text"]
    assert alnum.decode(vector["text"]).hex() == vector["hex"]


def test_credential_derivation_vector() -> None:
    v = VECTORS["deriveCredentials"][0]
    offer_id, ufrag, pwd = bootstrap.derive_credentials(bytes.fromhex(v["seed"]))
    assert (offer_id.hex(), ufrag, pwd) == (v["offerId"], v["ufrag"], v["pwd"])
    assert len(ufrag) == 4 and len(pwd) == 22


@given(st.binary(max_size=300))
def test_alnum_round_trip(data: bytes) -> None:
    text = alnum.encode(data)
    assert len(text) == alnum.encoded_length(len(data))
    assert set(text) <= set(alnum.ALPHABET)
    assert alnum.decode(text) == data


@given(st.text(alphabet=alnum.ALPHABET + "ab%", max_size=60))
def test_alnum_decode_is_strict_and_injective(text: str) -> None:
    try:
        data = alnum.decode(text)
    except alnum.AlnumError:
        return
    assert alnum.encode(data) == text


# --- records -----------------------------------------------------------------------------

_ipv4 = st.ip_addresses(v=4).filter(
    lambda a: (
        not (
            a.is_unspecified
            or a.is_multicast
            or a.is_loopback
            or a == ipaddress.IPv4Address("255.255.255.255")
        )
    )
)
_ipv6 = st.ip_addresses(v=6).filter(
    lambda a: not (a.is_unspecified or a.is_multicast or a.is_loopback or a.ipv4_mapped)
)
_mdns = st.uuids().map(lambda u: f"{u}.local")
_address = st.one_of(_ipv4.map(str), _ipv6.map(str), _mdns)
_candidate = st.builds(
    Candidate, st.sampled_from(list(CandidateType)), _address, st.integers(1, 65535)
)
_ice = st.sampled_from(bootstrap.ICE_CHARS)


@st.composite
def records(draw: st.DrawFn) -> BootstrapRecord:
    candidates = tuple(draw(st.lists(_candidate, max_size=8, unique=True)))
    relay_only = draw(st.booleans()) and all(c.type == CandidateType.RELAY for c in candidates)
    reply = draw(st.one_of(st.none(), st.binary(min_size=8, max_size=8)))
    fingerprint = draw(st.binary(min_size=32, max_size=32))
    if draw(st.booleans()):
        return bootstrap.new_offer(
            fingerprint,
            candidates,
            NOW + draw(st.integers(1, 86400)),
            seed=draw(st.binary(min_size=16, max_size=16)),
            relay_only=relay_only,
            reply_handle=reply,
        )
    return BootstrapRecord(
        Kind.ANSWER,
        draw(st.binary(min_size=4, max_size=4)),
        "".join(draw(st.lists(_ice, min_size=4, max_size=19))),
        "".join(draw(st.lists(_ice, min_size=22, max_size=37))),
        fingerprint,
        candidates,
        setup=draw(st.sampled_from(["active", "passive"])),
        relay_only=relay_only,
        reply_handle=reply,
    )


@settings(max_examples=300)
@given(records())
def test_record_round_trips_through_qr_text(record: BootstrapRecord) -> None:
    text = (
        bootstrap.offer_text(record, "https://shop.example/pay")
        if record.kind == Kind.OFFER
        else bootstrap.answer_text(record)
    )
    decoded = bootstrap.decode_compact(text, now=NOW)
    assert decoded == record
    assert sdp.reduce(sdp.rebuild(decoded)).candidates == record.candidates


def test_sizes_meet_the_issue_targets() -> None:
    """Offer <= v6 and answer <= v5 at M with two IPv4 candidates and a 30-char URL."""
    from qrlink_desktop.core.qrsize import smallest_version

    fp = bytes(range(32))
    two = (
        Candidate(CandidateType.HOST, "192.168.1.20", 50000),
        Candidate(CandidateType.SRFLX, "203.0.113.9", 61000),
    )
    url = "https://pay.example-shop.com/q/"
    assert len(url) == 31
    offer = bootstrap.new_offer(fp, two, NOW + 300)
    answer = BootstrapRecord(Kind.ANSWER, offer.offer_id, "abcd", "a" * 24, fp, two, setup="active")
    assert smallest_version(bootstrap.offer_text(offer, url))[0] <= 6
    assert smallest_version(bootstrap.answer_text(answer))[0] <= 5
    assert len(bootstrap.pack(offer)) == 1 + 16 + 4 + 32 + 14


def test_expiry_and_loopback_rules() -> None:
    fp = bytes(32)
    loop = bootstrap.new_offer(fp, (Candidate(CandidateType.HOST, "127.0.0.1", 9),), NOW + 10)
    text = bootstrap.offer_text(loop, "http://a/")
    assert bootstrap.decode_compact(text, now=NOW, allow_loopback=True).candidates[0].port == 9
    with pytest.raises(QrlinkError, match="expired"):
        bootstrap.decode_compact(text, now=NOW + 10, allow_loopback=True)
    far = bootstrap.new_offer(fp, (), NOW + 2 * 86400)
    with pytest.raises(QrlinkError, match="more than a day"):
        bootstrap.decode_compact(bootstrap.offer_text(far, "http://a/"), now=NOW)


@pytest.mark.parametrize(
    ("record", "message"),
    [
        (
            BootstrapRecord(Kind.ANSWER, bytes(4), "ab", "x" * 22, bytes(32), setup="active"),
            "do not fit",
        ),
        (
            BootstrapRecord(Kind.ANSWER, bytes(4), "abc!", "x" * 22, bytes(32), setup="active"),
            "ice-char",
        ),
        (BootstrapRecord(Kind.ANSWER, bytes(4), "abcd", "x" * 22, bytes(31)), "32-byte"),
        (
            BootstrapRecord(Kind.ANSWER, bytes(4), "abcd", "x" * 22, bytes(32), setup="actpass"),
            "active or passive",
        ),
        (
            BootstrapRecord(
                Kind.ANSWER,
                bytes(4),
                "abcd",
                "x" * 22,
                bytes(32),
                (Candidate(CandidateType.HOST, "example.com", 1),),
                setup="active",
            ),
            "cannot be packed",
        ),
        (BootstrapRecord(Kind.OFFER, bytes(4), "abcd", "x" * 22, bytes(32)), "expiry"),
    ],
)
def test_unpackable_records_fail_generation(record: BootstrapRecord, message: str) -> None:
    with pytest.raises(QrlinkError, match=message) as info:
        bootstrap.pack(record)
    assert info.value.code == ErrorCode.BOOTSTRAP_GENERATION_FAILED


def test_page_url_is_upper_cased_only_where_case_does_not_matter() -> None:
    assert bootstrap.qr_url_base("http://10.0.0.5:8765/Pay/") == "HTTP://10.0.0.5:8765/Pay/"
    with pytest.raises(QrlinkError):
        bootstrap.qr_url_base("no-scheme")
    with pytest.raises(QrlinkError):
        bootstrap.qr_url_base("http://a/#frag")


def _mutations(rng: random.Random, seeds: list[bytes]) -> bytes:
    base = bytearray(rng.choice(seeds))
    for _ in range(rng.randint(1, 6)):
        op = rng.random()
        if op < 0.4 and base:
            base[rng.randrange(len(base))] = rng.randrange(256)
        elif op < 0.6:
            base.insert(rng.randrange(len(base) + 1), rng.randrange(256))
        elif op < 0.8 and base:
            del base[rng.randrange(len(base)) :][: rng.randint(1, 8)]
        else:
            base = base[: rng.randrange(len(base) + 1)]
    return bytes(base)


def test_fuzz_10000_hostile_inputs_never_crash() -> None:
    """Mutated records, raw noise and odd texts: every one decodes or is refused with
    BOOTSTRAP_PARSE_FAILED; nothing else escapes."""
    from qrlink_desktop.rtc.zstd import TOKENS

    rng = random.Random(20261121)
    seeds = [bytes.fromhex(v["packedHex"]) for v in VECTORS["valid"]]
    outcomes = {"decoded": 0, "refused": 0}
    for i in range(10_000):
        kind = i % 4
        if kind == 0:
            text = "QL:" + alnum.encode(_mutations(rng, seeds))
        elif kind == 1:
            text = "HTTP://X/#" + alnum.encode(rng.randbytes(rng.randint(0, 200)))
        elif kind == 2:
            text = "".join(
                rng.choice(alnum.ALPHABET + "#:Qql+=/%\x00é ") for _ in range(rng.randint(0, 300))
            )
        else:
            blob = json.dumps(
                {
                    "v": 1,
                    "type": rng.choice(["offer", "answer", 3]),
                    "sdp": rng.choice(["", "v=0", VECTORS["valid"][0]["sdp"]]),
                    "candidates": rng.choice([[], ["candidate:x"], [1]]),
                    "metadata": rng.choice(
                        [{}, {"offerId": "0011aabb", "expiresAt": (NOW + 60) * 1000}]
                    ),
                }
            )
            import base64

            text = base64.b64encode(blob.encode()).decode() + rng.choice(["", "=", "a"])
        try:
            TOKENS.decode(text, now=NOW)
            outcomes["decoded"] += 1
        except QrlinkError as exc:
            assert exc.code == ErrorCode.BOOTSTRAP_PARSE_FAILED, (text, exc)
            outcomes["refused"] += 1
    assert outcomes["refused"] > 9_000 and sum(outcomes.values()) == 10_000


def test_mdns_names_are_canonical() -> None:
    u = uuid.uuid4()
    c = Candidate(CandidateType.HOST, f"{u}.local", 5353)
    rec = BootstrapRecord(Kind.ANSWER, bytes(4), "abcd", "x" * 22, bytes(32), (c,), setup="active")
    out = bootstrap.decode_compact(bootstrap.answer_text(rec), now=NOW)
    assert out.candidates[0].address == f"{u}.local" and out.candidates[0].is_mdns


@pytest.mark.parametrize("vector", VECTORS["browserOffers"], ids=lambda v: v["name"])
def test_browser_offer_packs_to_its_vector(vector: dict[str, Any]) -> None:
    """A page's own offer (phone to phone): the browser's SDP, reduced, is the same record
    here as in the page (resources/mobile/src/offer.ts), and rebuilds to an SDP with its
    credentials, fingerprint and candidates."""
    r = sdp.reduce(vector["sdp"])
    reply = vector["replyHandle"]
    record = bootstrap.BootstrapRecord(
        Kind.OFFER,
        bytes.fromhex(vector["offerId"]),
        r.ufrag,
        r.pwd,
        r.fingerprint,
        r.candidates,
        expires_at=vector["expiresAt"],
        setup=r.setup,
        reply_handle=None if reply is None else bytes.fromhex(reply),
    )
    assert bootstrap.pack(record).hex() == vector["packedHex"]
    decoded = bootstrap.decode_compact(vector["text"], now=NOW)
    assert decoded == record and decoded.seed is None
    assert (decoded.reply_name or None) == (None if reply is None else "r-" + reply)
    rebuilt = sdp.rebuild(decoded)
    assert f"a=ice-ufrag:{r.ufrag}\r\n" in rebuilt and f"a=ice-pwd:{r.pwd}\r\n" in rebuilt
    assert sdp.format_fingerprint(r.fingerprint) in rebuilt and "a=setup:actpass" in rebuilt
    # The credentials and an id where a seeded offer has its seed (about ten bytes more),
    # and an mDNS candidate: still far below what a phone's camera reads at once.
    assert len(bootstrap.pack(record)) <= 90
