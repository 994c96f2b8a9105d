"""Test hosts in network namespaces: a laptop and a phone that reach a relay host but,
unless asked, not each other (the relay host does not forward)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True)


def netns_available() -> None:
    if shutil.which("ip") is None:
        raise RuntimeError("iproute2 is missing: apt-get install iproute2 (make sysdeps)")
    if os.geteuid() != 0:
        raise RuntimeError("network namespace tests need root (CI runs as root)")


@dataclass
class Topology:
    """laptop (10.N.1.2) -- relay (10.N.1.1 | 10.N.2.1) -- phone (10.N.2.2)."""

    tag: str = field(default_factory=lambda: f"{os.getpid() % 100000}")
    net: int = 77
    forward: bool = False  # True: the relay host routes, so laptop and phone see each other

    def __post_init__(self) -> None:
        self.laptop, self.phone, self.relay = (f"qrl-{r}-{self.tag}" for r in ("lap", "pho", "rel"))
        self.laptop_ip, self.phone_ip = f"10.{self.net}.1.2", f"10.{self.net}.2.2"
        self.relay_laptop_side, self.relay_phone_side = f"10.{self.net}.1.1", f"10.{self.net}.2.1"

    def exec(self, ns: str) -> list[str]:
        return ["ip", "netns", "exec", ns]

    def up(self) -> Topology:
        netns_available()
        for ns in (self.laptop, self.phone, self.relay):
            _ip("netns", "add", ns)
            _ip("-n", ns, "link", "set", "lo", "up")
        for end, ns, ip, gw, n in (
            (f"ql{self.tag}", self.laptop, self.laptop_ip, self.relay_laptop_side, 1),
            (f"qp{self.tag}", self.phone, self.phone_ip, self.relay_phone_side, 2),
        ):
            _ip("link", "add", end + "a", "type", "veth", "peer", "name", end + "b")
            _ip("link", "set", end + "a", "netns", ns)
            _ip("link", "set", end + "b", "netns", self.relay)
            _ip("-n", ns, "addr", "add", f"{ip}/24", "dev", end + "a")
            _ip("-n", ns, "link", "set", end + "a", "up")
            _ip("-n", self.relay, "addr", "add", f"10.{self.net}.{n}.1/24", "dev", end + "b")
            _ip("-n", self.relay, "link", "set", end + "b", "up")
            _ip("-n", ns, "route", "add", "default", "via", gw)
        subprocess.run(
            [
                *self.exec(self.relay),
                "sysctl",
                "-qw",
                f"net.ipv4.ip_forward={1 if self.forward else 0}",
            ],
            check=True,
        )
        return self

    def reachable(self, ns: str, ip: str) -> bool:
        """A TCP connect to a closed port: refused means the host answered (no ping here)."""
        probe = (
            "import socket,sys\n"
            "s=socket.socket(); s.settimeout(1)\n"
            f"try: s.connect(('{ip}', 9))\n"
            "except ConnectionRefusedError: sys.exit(0)\n"
            "except OSError: sys.exit(1)\n"
        )
        return (
            subprocess.run(
                [*self.exec(ns), sys.executable, "-c", probe], capture_output=True
            ).returncode
            == 0
        )

    def down(self) -> None:
        for ns in (self.laptop, self.phone, self.relay):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
