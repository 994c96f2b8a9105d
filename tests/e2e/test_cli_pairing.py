"""Two `qrlink peer` processes pair over loopback through the command line contract."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cli_support import event_line
from rendezvous.helpers import ServiceProcess

QRLINK = [sys.executable, "-m", "qrlink_desktop.cli"]
LOOPBACK = ["--address", "127.0.0.1"]


def _events(lines: str) -> list[dict[str, Any]]:
    return [event_line(line) for line in lines.splitlines() if line.strip()]


def _read_until(proc: subprocess.Popen[str], name: str) -> list[dict[str, Any]]:
    """Events up to and including the first named `name`."""
    assert proc.stdout is not None
    read = []
    for line in proc.stdout:
        read.append(event_line(line))
        if read[-1]["event"] == name:
            return read
    stderr = proc.stderr.read() if proc.stderr else ""
    raise AssertionError(f"process ended before a {name!r} event; {read}; stderr: {stderr}")


def _read_event(proc: subprocess.Popen[str], name: str) -> dict[str, Any]:
    return _read_until(proc, name)[-1]


def _pair(
    offer_args: list[str], answer_args: list[str], tmp_path: Path
) -> tuple[int, list[dict[str, Any]], int, list[dict[str, Any]]]:
    offer = subprocess.Popen(
        [*QRLINK, "peer", "offer", "--json", *LOOPBACK, "--timeout", "30", *offer_args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    answer: subprocess.Popen[str] | None = None
    try:
        offer_events = _read_until(offer, "offer")
        answer = subprocess.Popen(
            [
                *QRLINK,
                "peer",
                "answer",
                offer_events[-1]["text"],
                "--json",
                *LOOPBACK,
                "--timeout",
                "30",
                *answer_args,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        answer_events = _read_until(answer, "answer")
        assert offer.stdin is not None
        offer.stdin.write(answer_events[-1]["text"] + "\n")
        offer.stdin.flush()
        # The cashier types the code the customer's side shows, as read out to them.
        answer_events += _read_until(answer, "sas")
        offer.stdin.write(answer_events[-1]["code"] + "\n")
        offer.stdin.flush()
        offer_out, _ = offer.communicate(timeout=40)
        answer_out, _ = answer.communicate(timeout=40)
    finally:
        for proc in (offer, answer):
            if proc is not None and proc.poll() is None:
                proc.kill()
    return (
        offer.returncode,
        [*offer_events, *_events(offer_out)],
        answer.returncode,
        [*answer_events, *_events(answer_out)],
    )


def test_two_processes_pair_verify_and_pay(tmp_path: Path) -> None:
    png = tmp_path / "offer.png"
    o_rc, o_events, a_rc, a_events = _pair(
        ["--request", "12.50", "EUR", "--reference", "INV-7", "--qr-png", str(png)],
        ["--approve"],
        tmp_path,
    )
    assert (o_rc, a_rc) == (0, 0)
    o_sas = [e["code"] for e in o_events if e["event"] == "sas"]
    a_sas = [e["code"] for e in a_events if e["event"] == "sas"]
    assert len(o_sas) == 1 and o_sas == a_sas and len(o_sas[0]) == 6
    connected = [e for e in o_events if e["event"] == "state" and e["state"] == "CONNECTED"]
    assert (
        connected
        and connected[0]["local"] == "host"
        and connected[0]["remote"] in ("host", "prflx")
    )
    flow = [(e["direction"], e["type"]) for e in o_events if e["event"] == "message"]
    assert flow == [
        ("out", "payment_request"),
        ("in", "payment_response"),
        ("out", "payment_acknowledgment"),
    ]
    request = next(
        e for e in a_events if e["event"] == "message" and e["type"] == "payment_request"
    )
    assert request["payload"] == {"amount": "12.50", "currency": "EUR", "reference": "INV-7"}
    assert png.stat().st_size > 200


def _spec_document(text: str) -> dict[str, Any]:
    """The specification's form: base64 of (zstd-compressed) JSON."""
    import zstandard

    raw = base64.b64decode(text, validate=True)
    if raw.startswith(b"\x28\xb5\x2f\xfd"):
        raw = zstandard.ZstdDecompressor().decompress(raw, max_output_size=1 << 16)
    doc: dict[str, Any] = json.loads(raw)
    return doc


def test_two_processes_pair_in_the_specifications_format(tmp_path: Path) -> None:
    """`--format spec` on both sides: the offer URL's fragment and the answer text are the
    specification's base64 JSON (§5.1), and the pairing and the payment go through."""
    spec = ["--format", "spec"]
    o_rc, o_events, a_rc, a_events = _pair([*spec, "--request", "4.40", "EUR"], spec, tmp_path)
    assert (o_rc, a_rc) == (0, 0)
    offer = next(e for e in o_events if e["event"] == "offer")
    answer = next(e for e in a_events if e["event"] == "answer")
    assert offer["format"] == answer["format"] == "spec"
    page, _, fragment = offer["text"].partition("#")
    assert page == "http://127.0.0.1:8765/"
    offer_doc, answer_doc = _spec_document(fragment), _spec_document(answer["text"])
    assert (offer_doc["v"], offer_doc["type"], answer_doc["type"]) == (1, "offer", "answer")
    assert offer_doc["metadata"]["offerId"] == answer_doc["metadata"]["offerId"]
    assert offer_doc["sdp"].startswith("v=0") and "a=fingerprint:sha-256" in answer_doc["sdp"]
    assert not answer["text"].startswith("QL:")
    o_sas = [e["code"] for e in o_events if e["event"] == "sas"]
    assert o_sas == [e["code"] for e in a_events if e["event"] == "sas"]
    acks = [
        e for e in a_events if e["event"] == "message" and e["type"] == "payment_acknowledgment"
    ]
    assert [e["payload"]["status"] for e in acks] == ["approved"]


PAY = ["--request", "1.00", "EUR", "--timeout", "30"]


def test_skip_code_check_confirms_without_a_code_and_says_so() -> None:
    """A script that truly wants no check: only the answer on standard input, a warning on
    standard error, and the payment goes through."""
    offer = subprocess.Popen(
        [*QRLINK, "peer", "offer", "--json", *LOOPBACK, "--skip-code-check", *PAY],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    answer: subprocess.Popen[str] | None = None
    try:
        text = _read_event(offer, "offer")["text"]
        answer = subprocess.Popen(
            [*QRLINK, "peer", "answer", text, "--json", *LOOPBACK, "--timeout", "30"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        out, err = offer.communicate(_read_event(answer, "answer")["text"] + "\n", timeout=40)
        answer.communicate(timeout=40)
    finally:
        for proc in (offer, answer):
            if proc is not None and proc.poll() is None:
                proc.kill()
    assert (offer.returncode, answer.returncode) == (0, 0), err
    assert "warning: --skip-code-check" in err
    assert [e["event"] for e in _events(out)].count("confirmed") == 1


def test_declined_payment_exits_4(tmp_path: Path) -> None:
    o_rc, o_events, a_rc, _ = _pair(["--request", "3", "JPY"], ["--decline"], tmp_path)
    assert (o_rc, a_rc) == (4, 4)
    response = next(
        e for e in o_events if e["event"] == "message" and e["type"] == "payment_response"
    )
    assert response["payload"]["status"] == "declined"


@pytest.mark.parametrize(
    "text",
    ["not a code", "QL:AAAA", "HTTP://X/#" + "Z" * 90, "eyJ2IjoxfQ==", "KLUv/QBYAAA="],
)
def test_bad_offer_text_exits_2_with_code(text: str) -> None:
    proc = subprocess.run(
        [*QRLINK, "peer", "answer", text, "--json", *LOOPBACK],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    errors = [e for e in _events(proc.stdout) if e["event"] == "error"]
    assert errors and errors[-1]["code"] == "BOOTSTRAP_PARSE_FAILED"
    assert "BOOTSTRAP_PARSE_FAILED" in proc.stderr


def test_bad_answer_on_stdin_exits_2() -> None:
    proc = subprocess.Popen(
        [*QRLINK, "peer", "offer", "--json", *LOOPBACK, "--timeout", "30"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    _read_event(proc, "offer")
    out, err = proc.communicate("QL:garbage\n", timeout=30)
    assert proc.returncode == 2 and "Traceback" not in err
    assert any(
        e["event"] == "error" and e["code"] == "BOOTSTRAP_PARSE_FAILED" for e in _events(out)
    )


def test_relay_only_without_turn_is_refused() -> None:
    proc = subprocess.run(
        [*QRLINK, "peer", "offer", "--relay-only", *LOOPBACK],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 2 and "INVALID_ARGUMENT" in proc.stderr


def test_relay_only_with_credentials_from_the_service(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The service holds coturn's secret and mints TURN REST credentials at GET /turn for
    the merchant's API token; both peers show it (--turn-from, $QRLINK_API_TOKEN) and pair
    relay-only. Neither process sees the secret."""
    from turn_support import SECRET, Coturn

    turn = Coturn(rest=True, relay_ports=(49800, 49899)).start()
    service = ServiceProcess(
        "--turn-url",
        turn.url(),
        env={"QRLINK_TURN_SECRET": SECRET, "QRLINK_API_TOKEN": "merchant-token"},
    )
    monkeypatch.setenv("QRLINK_API_TOKEN", "merchant-token")  # the peers' environment
    try:
        url = service.start()
        relay = ["--relay-only", "--turn-from", url, "--allow-loopback"]
        o_rc, o_events, a_rc, a_events = _pair(
            ["--request", "2.00", "EUR", *relay], relay, tmp_path
        )
        assert (o_rc, a_rc) == (0, 0)
        offer = next(e for e in o_events if e["event"] == "offer")
        answer = next(e for e in a_events if e["event"] == "answer")
        assert offer["candidates"] == answer["candidates"] == ["relay"]
        connected = next(e for e in o_events if e["event"] == "state" and e["state"] == "CONNECTED")
        assert (connected["local"], connected["remote"], connected["path"]) == (
            "relay",
            "relay",
            "relay",
        )
    finally:
        service.stop()
        turn.stop()


def test_turn_from_a_service_without_a_secret_is_remote_service_error() -> None:
    service = ServiceProcess()
    try:
        url = service.start()
        proc = subprocess.run(
            [*QRLINK, "peer", "offer", "--turn-from", url, *LOOPBACK],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert proc.returncode == 1 and "REMOTE_SERVICE_ERROR" in proc.stderr
    finally:
        service.stop()


@pytest.mark.parametrize("as_json", [True, False], ids=["json", "prose"])
def test_a_failed_pairing_is_said_once(as_json: bool) -> None:
    """An offer whose only candidate leads nowhere: the session fails, says so once (one
    `error` event, or one sentence on standard error without --json) and exits 1."""
    import time

    from qrlink_desktop.core import bootstrap
    from qrlink_desktop.core.bootstrap import Candidate, CandidateType

    dead_end = (Candidate(CandidateType.HOST, "127.0.0.1", 9),)
    offer = bootstrap.new_offer(bytes(range(32)), dead_end, int(time.time()) + 300)
    text = bootstrap.offer_text(offer, "http://127.0.0.1:8765/")
    args = [*LOOPBACK, "--connect-timeout", "1", *(["--json"] if as_json else [])]
    proc = subprocess.run(
        [*QRLINK, "peer", "answer", text, *args], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    said = [code for code in ("TIMEOUT", "ICE_FAILED", "CONNECTION_FAILED") if code in proc.stderr]
    assert len(said) == 1 and proc.stderr.count(said[0]) == 1, proc.stderr
    if as_json:
        errors = [e for e in _events(proc.stdout) if e["event"] == "error"]
        assert [e["code"] for e in errors] == said
