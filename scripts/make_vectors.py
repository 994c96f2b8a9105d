"""Writes resources/protocol/bootstrap-vectors.json: the cross-language test vectors.

Deterministic (fixed seeds, fingerprints, nonces and clock). The Python tests check that
the codec reproduces every vector; the TypeScript tests check the same file.
Run: .venv/bin/python scripts/make_vectors.py
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from qrlink_desktop.core import alnum, answer_home, bootstrap, messages, sas, sdp
from qrlink_desktop.core.bootstrap import BootstrapRecord, Candidate, CandidateType, Kind

NOW = 1_800_000_000
OUT = Path(__file__).resolve().parents[1] / "resources" / "protocol" / "bootstrap-vectors.json"


# Answers as the browsers wrote them: the page's own RTCPeerConnection, recorded on the test
# machine (tests/mobile topologies). Both codecs' reduce must keep the UDP candidates and
# drop the rest; a loopback answer is refused unless loopback is allowed.
FIREFOX_LOOPBACK_SDP = (
    "v=0\r\no=mozilla...THIS_IS_SDPARTA-99.0 6108425374116206492 0 IN IP4 0.0.0.0\r\n"
    "s=-\r\nt=0 0\r\na=sendrecv\r\na=fingerprint:sha-256 EA:4D:87:79:3D:00:36:98:BC:1F:55:"
    "3E:A3:5D:8B:D9:C7:DD:90:CB:B5:70:48:84:4C:04:6E:E8:30:B1:06:9F\r\na=group:BUNDLE 0\r\n"
    "a=ice-options:trickle\r\na=msid-semantic:WMS *\r\n"
    "m=application 48245 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 127.0.0.1\r\n"
    "a=candidate:0 1 UDP 2122187007 127.0.0.1 48245 typ host\r\n"
    "a=candidate:1 1 UDP 2122252543 ::1 60882 typ host\r\n"
    "a=candidate:2 1 TCP 2105458943 127.0.0.1 9 typ host tcptype active\r\n"
    "a=candidate:3 1 TCP 2105524479 ::1 9 typ host tcptype active\r\n"
    "a=sendrecv\r\na=end-of-candidates\r\na=ice-pwd:a3c7ea409783fb1ffc3baa08f98e2cf2\r\n"
    "a=ice-ufrag:00bf4393\r\na=mid:0\r\na=setup:active\r\na=sctp-port:5000\r\n"
    "a=max-message-size:1073741823\r\n"
)
FIREFOX_MDNS_SDP = (
    "v=0\r\no=mozilla...THIS_IS_SDPARTA-99.0 3302802664440295136 0 IN IP4 0.0.0.0\r\n"
    "s=-\r\nt=0 0\r\na=sendrecv\r\na=fingerprint:sha-256 0E:9C:08:03:50:52:EE:CB:EB:0F:28:"
    "8D:B4:FB:61:70:82:ED:84:74:17:07:51:C5:85:89:8F:4E:D2:09:AE:E8\r\na=group:BUNDLE 0\r\n"
    "a=ice-options:trickle\r\na=msid-semantic:WMS *\r\n"
    "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\n"
    "a=candidate:0 1 UDP 2122252543 d67fa5ed-eb1b-4a27-aae3-e3ca74933325.local 58306 typ host"
    "\r\na=candidate:1 1 TCP 2105524479 d67fa5ed-eb1b-4a27-aae3-e3ca74933325.local 9 typ host"
    " tcptype active\r\na=sendrecv\r\na=end-of-candidates\r\n"
    "a=ice-pwd:2ff307fc2bd626a5609136c3f135055e\r\na=ice-ufrag:df41a3f4\r\na=mid:0\r\n"
    "a=setup:active\r\na=sctp-port:5000\r\na=max-message-size:1073741823\r\n"
)
# Offers made by the page itself (phone to phone), across namespaces (mDNS host candidates).
CHROMIUM_OFFER_SDP = (
    "v=0\r\no=- 3764931288965571860 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
    "a=group:BUNDLE 0\r\na=extmap-allow-mixed\r\na=msid-semantic: WMS\r\n"
    "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\n"
    "a=candidate:2837408462 1 udp 2113937151 bef103f7-372c-4860-954c-010efb71ec84.local 52580"
    " typ host generation 0 network-cost 999\r\na=ice-ufrag:inUJ\r\n"
    "a=ice-pwd:xWuu5D8ng2x3OXSCKgTczoto\r\na=ice-options:trickle\r\n"
    "a=fingerprint:sha-256 5A:AA:EF:83:57:5B:CD:B4:BA:A7:64:9B:9B:0D:07:62:68:D2:A6:BF:E9:F5:"
    "E5:BE:E0:6A:27:B4:18:B6:85:FE\r\na=setup:actpass\r\na=mid:0\r\na=sctp-port:5000\r\n"
    "a=max-message-size:262144\r\n"
)

FIREFOX_OFFER_SDP = (
    "v=0\r\no=mozilla...THIS_IS_SDPARTA-99.0 3727766138154120890 0 IN IP4 0.0.0.0\r\ns=-\r\n"
    "t=0 0\r\na=sendrecv\r\n"
    "a=fingerprint:sha-256 04:B6:88:1F:59:A4:59:45:50:18:9E:C7:78:27:01:14:93:D6:A4:25:9D:3C:"
    "78:A6:76:A8:3A:32:07:05:44:F9\r\na=group:BUNDLE 0\r\na=ice-options:trickle\r\n"
    "a=msid-semantic:WMS *\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n"
    "c=IN IP4 0.0.0.0\r\n"
    "a=candidate:0 1 UDP 2122252543 806fcb6d-2567-41c2-a8d0-af9a88ab3bea.local 42083 typ host"
    "\r\n"
    "a=candidate:1 1 TCP 2105524479 806fcb6d-2567-41c2-a8d0-af9a88ab3bea.local 9 typ host tcp"
    "type active\r\na=sendrecv\r\na=end-of-candidates\r\n"
    "a=ice-pwd:ab58c18f82a42e2ae46519d33bd19118\r\na=ice-ufrag:4d31327b\r\na=mid:0\r\n"
    "a=setup:actpass\r\na=sctp-port:5000\r\na=max-message-size:1073741823\r\n"
)

BROWSER_OFFERS = [
    # (name, SDP, offer id, reply handle): what the merchant's page packs for its QR.
    ("Chromium 156 offer across namespaces (mDNS)", CHROMIUM_OFFER_SDP, "0ff3c0de", None),
    (
        "Firefox 153 ESR offer across namespaces (mDNS, TCP), with a reply handle",
        FIREFOX_OFFER_SDP,
        "5eedbeef",
        "0011223344556677",
    ),
]


BROWSER_ANSWERS = [
    ("Firefox 153 ESR on loopback (127.0.0.1, ::1, TCP)", FIREFOX_LOOPBACK_SDP),
    ("Firefox 153 ESR across namespaces (mDNS, TCP)", FIREFOX_MDNS_SDP),
]


def browser_answers() -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for name, text in BROWSER_ANSWERS:
        r = sdp.reduce(text)
        answer = BootstrapRecord(
            Kind.ANSWER,
            bytes.fromhex("c0ffee00"),
            r.ufrag,
            r.pwd,
            r.fingerprint,
            r.candidates,
            setup=r.setup,
        )
        out.append(
            {
                "name": name,
                "sdp": text,
                "ufrag": r.ufrag,
                "pwd": r.pwd,
                "setup": r.setup,
                "fingerprint": r.fingerprint.hex(),
                "candidates": [
                    {"type": c.type_name, "address": c.address, "port": c.port}
                    for c in r.candidates
                ],
                "dropped": len(r.dropped),
                # The answer the page would show for it (offer id c0ffee00).
                "text": bootstrap.answer_text(answer),
                "loopback": any(c.address in ("127.0.0.1", "::1") for c in r.candidates),
            }
        )
    return out


def browser_offers(page_url: str) -> list[dict[str, object]]:
    """The page's own offers (resources/mobile/src/offer.ts): the browser's SDP reduced to an
    offer record with explicit credentials and a random id (a browser sets no credentials
    from a seed), expiring five minutes after decodeNow."""
    out: list[dict[str, object]] = []
    for name, text, offer_id, reply in BROWSER_OFFERS:
        r = sdp.reduce(text)
        record = BootstrapRecord(
            Kind.OFFER,
            bytes.fromhex(offer_id),
            r.ufrag,
            r.pwd,
            r.fingerprint,
            r.candidates,
            expires_at=NOW + 300,
            setup=r.setup,
            reply_handle=None if reply is None else bytes.fromhex(reply),
        )
        out.append(
            {
                "name": name,
                "sdp": text,
                "offerId": offer_id,
                "replyHandle": reply,
                "expiresAt": NOW + 300,
                "packedHex": bootstrap.pack(record).hex(),
                "text": bootstrap.offer_text(record, page_url),
                "candidates": [
                    {"type": c.type_name, "address": c.address, "port": c.port}
                    for c in r.candidates
                ],
            }
        )
    return out


def fp(tag: str) -> bytes:
    return hashlib.sha256(tag.encode()).digest()


def valid_records() -> list[tuple[str, BootstrapRecord]]:
    host4 = Candidate(CandidateType.HOST, "192.168.1.20", 50000)
    host4b = Candidate(CandidateType.HOST, "10.0.0.7", 61234)
    host6 = Candidate(CandidateType.HOST, "2001:db8::1:2", 40404)
    srflx = Candidate(CandidateType.SRFLX, "203.0.113.9", 3478)
    relay = Candidate(CandidateType.RELAY, "198.51.100.4", 49152)
    mdns = Candidate(CandidateType.HOST, "3f0c6d0e-8e2b-4f0a-9d53-2b6f1c7a9e41.local", 54321)
    seed = bytes(range(16))
    return [
        (
            "offer, one IPv4 host",
            bootstrap.new_offer(fp("offer-1"), (host4,), NOW + 300, seed=seed),
        ),
        (
            "offer, two IPv4 hosts",
            bootstrap.new_offer(
                fp("offer-2"), (host4, host4b), NOW + 300, seed=bytes(range(1, 17))
            ),
        ),
        (
            "offer, host + srflx + relay + IPv6",
            bootstrap.new_offer(
                fp("offer-3"), (host4, host6, srflx, relay), NOW + 120, seed=bytes(range(2, 18))
            ),
        ),
        (
            "offer, relay only, reply handle",
            bootstrap.new_offer(
                fp("offer-4"),
                (relay,),
                NOW + 900,
                seed=bytes(range(3, 19)),
                relay_only=True,
                reply_handle=bytes.fromhex("0011223344556677"),
            ),
        ),
        (
            "offer, no candidates",
            bootstrap.new_offer(fp("offer-5"), (), NOW + 60, seed=bytes(range(4, 20))),
        ),
        (
            "answer, browser mDNS",
            BootstrapRecord(
                Kind.ANSWER,
                bytes.fromhex("a1b2c3d4"),
                "Ab+/",
                "0123456789abcdefABCDEF+/",
                fp("answer-1"),
                (mdns,),
                setup="active",
            ),
        ),
        (
            "answer, aiortc IPv4, passive",
            BootstrapRecord(
                Kind.ANSWER,
                bytes.fromhex("01020304"),
                "wxyz",
                "abcdefghijklmnopqrstuv",
                fp("answer-2"),
                (host4,),
                setup="passive",
            ),
        ),
        (
            "answer, hex credentials of an odd length (4 padding bits)",
            BootstrapRecord(
                Kind.ANSWER,
                bytes.fromhex("0badcafe"),
                "abcde",
                "0123456789abcdef012345",
                fp("answer-4"),
                (host4,),
                setup="active",
            ),
        ),
        (
            "answer, Firefox-style long credentials",
            BootstrapRecord(
                Kind.ANSWER,
                bytes.fromhex("deadbeef"),
                "1a2b3c4d",
                "0123456789abcdef0123456789abcdef",
                fp("answer-3"),
                (host4, host6),
                setup="active",
            ),
        ),
    ]


def invalid_texts(valid_offer: str) -> list[tuple[str, str]]:
    payload = valid_offer.split("#", 1)[1]
    raw = alnum.decode(payload)
    expired = bootstrap.new_offer(fp("x"), (), NOW - 1, seed=bytes(16))
    loop = bootstrap.new_offer(
        fp("x"), (Candidate(CandidateType.HOST, "127.0.0.1", 5000),), NOW + 60, seed=bytes(16)
    )
    loop6 = BootstrapRecord(
        Kind.ANSWER,
        bytes(4),
        "abcd",
        "a" * 22,
        fp("x"),
        (Candidate(CandidateType.HOST, "::1", 5000),),
        setup="active",
    )
    multicast = bootstrap.pack(loop)[:-6] + bytes([224, 0, 0, 1]) + (5000).to_bytes(2, "big")
    nine = (
        bootstrap.pack(
            bootstrap.new_offer(
                fp("x"),
                tuple(Candidate(CandidateType.HOST, f"10.0.0.{i + 1}", 5000 + i) for i in range(8)),
                NOW + 60,
                seed=bytes(16),
            )
        )
        + bytes([0, 10, 0, 0, 9])
        + (5008).to_bytes(2, "big")
    )
    return [
        ("empty", ""),
        ("not base-41", "QL:abc"),
        ("dangling character", "QL:" + payload[: -(len(payload) % 3 or 3)] + "0"),
        ("group out of range", "QL:***"),
        ("truncated inside fingerprint", "QL:" + alnum.encode(raw[:30])),
        ("truncated inside candidate", "QL:" + alnum.encode(raw[:-3])),
        ("wrong format version", "QL:" + alnum.encode(bytes([0x40]) + raw[1:])),
        (
            "hex-credentials bit on a seed offer",
            "QL:" + alnum.encode(bytes([raw[0] | 1]) + raw[1:]),
        ),
        (
            "reserved candidate bits",
            "QL:" + alnum.encode(raw[:-7] + bytes([raw[-7] | 1]) + raw[-6:]),
        ),
        ("expired offer", "QL:" + alnum.encode(bootstrap.pack(expired))),
        ("loopback candidate", "QL:" + alnum.encode(bootstrap.pack(loop))),
        ("IPv6 loopback candidate", "QL:" + alnum.encode(bootstrap.pack(loop6))),
        ("multicast candidate", "QL:" + alnum.encode(multicast)),
        ("nine candidates", "QL:" + alnum.encode(nine)),
        ("port zero", "QL:" + alnum.encode(raw[:-2] + b"\x00\x00")),
        ("too long", "QL:" + "0" * 3000),
    ]


def main() -> None:
    records = valid_records()
    valid = []
    for name, r in records:
        text = (
            bootstrap.offer_text(r, "http://192.168.1.20:8765/")
            if r.kind == Kind.OFFER
            else bootstrap.answer_text(r)
        )
        valid.append(
            {
                "name": name,
                "text": text,
                "packedHex": bootstrap.pack(r).hex(),
                "record": r.to_json(),
                "sdp": sdp.rebuild(r),
            }
        )
    invalid = [
        {"name": n, "text": t, "error": "BOOTSTRAP_PARSE_FAILED"}
        for n, t in invalid_texts(valid[0]["text"])
    ]
    alnum_vectors = [
        {"hex": h, "text": alnum.encode(bytes.fromhex(h))}
        for h in ("", "00", "ff", "0000", "ffff", "0102030405", "deadbeefcafe")
    ]
    nonce_o, nonce_a = hashlib.sha256(b"nonce-o").digest(), hashlib.sha256(b"nonce-a").digest()
    sas_vectors = [
        {
            "fingerprintOffer": fp("offer-1").hex(),
            "fingerprintAnswer": fp("answer-1").hex(),
            "nonceOffer": nonce_o.hex(),
            "nonceAnswer": nonce_a.hex(),
            "commitAnswer": sas.commitment(nonce_a).hex(),
            "code": sas.sas_code(fp("offer-1"), fp("answer-1"), nonce_o, nonce_a),
        }
    ]
    derive = [
        {"seed": bytes(range(16)).hex(), "offerId": d[0].hex(), "ufrag": d[1], "pwd": d[2]}
        for d in [bootstrap.derive_credentials(bytes(range(16)))]
    ]
    answer_macs = []
    for seed, answer_name in (
        (bytes(range(16)), "answer, browser mDNS"),
        (bytes(range(1, 17)), None),
    ):
        offer_id = bootstrap.derive_credentials(seed)[0]
        template = next((r for n, r in records if n == answer_name), records[-1][1])
        answer = bootstrap.answer_text(
            BootstrapRecord(
                Kind.ANSWER,
                offer_id,
                template.ufrag,
                template.pwd,
                template.fingerprint,
                template.candidates,
                setup=template.setup,
            )
        )
        request = answer_home.make_request(seed, answer)
        answer_macs.append(
            {
                "seed": seed.hex(),
                "offerId": offer_id.hex(),
                "answer": answer,
                "key": answer_home.answer_key(seed).hex(),
                "mac": request.mac.hex(),
                "request": request.to_json(),
            }
        )
    ok_messages = [
        messages.make(
            messages.MessageType.PAYMENT_REQUEST,
            {"amount": "12.50", "currency": "EUR", "reference": "INV-1"},
            now=NOW,
            message_id="req-00000001",
        ).to_dict(),
        messages.make(
            messages.MessageType.PAYMENT_RESPONSE,
            {"requestId": "req-00000001", "status": "approved"},
            now=NOW,
            message_id="res-00000001",
        ).to_dict(),
        messages.make(
            messages.MessageType.HANDSHAKE,
            {"step": "hello", "versions": [1], "commit": "00" * 32},
            now=NOW,
            message_id="hs-00000001",
        ).to_dict(),
    ]
    bad_messages = [
        {
            "name": "amount as a float",
            "message": {**ok_messages[0], "payload": {"amount": 12.5, "currency": "EUR"}},
        },
        {
            "name": "too many decimals for JPY",
            "message": {**ok_messages[0], "payload": {"amount": "1.5", "currency": "JPY"}},
        },
        {
            "name": "unknown currency",
            "message": {**ok_messages[0], "payload": {"amount": "1.00", "currency": "XXQ"}},
        },
        {
            "name": "zero amount",
            "message": {**ok_messages[0], "payload": {"amount": "0.00", "currency": "EUR"}},
        },
        {"name": "unknown type", "message": {**ok_messages[0], "type": "refund"}},
        {
            "name": "missing messageId",
            "message": {k: v for k, v in ok_messages[0].items() if k != "messageId"},
        },
        {"name": "extra envelope field", "message": {**ok_messages[0], "extra": 1}},
        {
            "name": "bad status",
            "message": {
                **ok_messages[1],
                "payload": {"requestId": "req-00000001", "status": "maybe"},
            },
        },
    ]
    doc = {
        "description": "qrlink cross-language vectors. Decode invalid texts and offers with "
        "now = decodeNow (Unix seconds) and loopback not allowed.",
        "decodeNow": NOW,
        "pageUrl": "http://192.168.1.20:8765/",
        "valid": valid,
        "invalid": invalid,
        "alnum": alnum_vectors,
        "deriveCredentials": derive,
        "answerMac": answer_macs,
        "sas": sas_vectors,
        "messagesValid": ok_messages,
        "messagesInvalid": bad_messages,
        "browserAnswers": browser_answers(),
        "browserOffers": browser_offers("http://192.168.1.20:8787/"),
    }
    OUT.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {OUT} ({len(valid)} valid, {len(invalid)} invalid)")


if __name__ == "__main__":
    main()
