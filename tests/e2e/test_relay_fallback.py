"""Automatic fallback: laptop and phone in two namespaces whose direct route is cut; both
reach the merchant's coturn; the pairing goes through the relay with nobody choosing it."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest
from cli_support import event_line
from netns_support import Topology
from turn_support import PASSWORD, USER, Coturn

pytestmark = pytest.mark.timeout(120)
QRLINK = [sys.executable, "-m", "qrlink_desktop.cli"]


@pytest.fixture(scope="module")
def topology() -> Iterator[tuple[Topology, Coturn]]:
    topo = Topology(net=78).up()
    turn = Coturn(
        listen=(topo.relay_laptop_side, topo.relay_phone_side),
        port=3478,
        relay_ports=(49500, 49599),
        netns=topo.relay,
    ).start()
    try:
        yield topo, turn
    finally:
        turn.stop()
        topo.down()


def _peer(topo: Topology, ns: str, *args: str, stdin: bool = False) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*topo.exec(ns), *QRLINK, "peer", *args],
        stdin=subprocess.PIPE if stdin else None,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _first(proc: subprocess.Popen[str], name: str) -> dict:
    assert proc.stdout is not None
    for line in proc.stdout:
        event = event_line(line)
        if event["event"] == name:
            return event
    raise AssertionError(f"no {name} event; stderr: {proc.stderr.read() if proc.stderr else ''}")


def test_cut_direct_path_falls_back_to_the_relay(topology: tuple[Topology, Coturn]) -> None:
    topo, turn = topology
    assert topo.reachable(topo.laptop, topo.relay_laptop_side)
    assert not topo.reachable(topo.laptop, topo.phone_ip)  # the direct path is cut
    common = ["--json", "--timeout", "60", "--ice-username", USER, "--ice-credential", PASSWORD]
    cashier = _peer(
        topo,
        topo.laptop,
        "offer",
        *common,
        "--address",
        topo.laptop_ip,
        "--ice-server",
        turn.url(topo.relay_laptop_side),
        "--request",
        "6.50",
        "EUR",
        stdin=True,
    )
    offer = _first(cashier, "offer")
    assert set(offer["candidates"]) == {"host", "relay"}
    customer = _peer(
        topo,
        topo.phone,
        "answer",
        offer["text"],
        *common,
        "--address",
        topo.phone_ip,
        "--ice-server",
        turn.url(topo.relay_phone_side),
    )
    answer = _first(customer, "answer")
    assert cashier.stdin is not None
    cashier.stdin.write(answer["text"] + "\n")
    cashier.stdin.flush()
    # The cashier types the code the customer's side shows.
    cashier.stdin.write(_first(customer, "sas")["code"] + "\n")
    cashier.stdin.flush()
    connected = _first(cashier, "state")
    while connected["state"] != "CONNECTED":
        connected = _first(cashier, "state")
    assert "relay" in (connected["local"], connected["remote"]) and connected["path"] == "relay"
    out, err = cashier.communicate(timeout=60)
    customer.communicate(timeout=60)
    assert (cashier.returncode, customer.returncode) == (0, 0), err
    assert any(event_line(x).get("type") == "payment_acknowledgment" for x in out.splitlines())
