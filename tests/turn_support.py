"""A real coturn relay for tests: on loopback, or inside a network namespace."""

from __future__ import annotations

import os
import shutil
import socket
import struct
import subprocess
import tempfile
import time
from pathlib import Path

from process_support import stop_process

REALM = "qrlink"
USER, PASSWORD = "qrlink", "relay-pass"
SECRET = "qrlink-test-secret"


def free_port() -> int:
    """A loopback port free for UDP and TCP alike: coturn listens on both, and a port
    free only for UDP (another process's TCP connection on it) kept it from starting."""
    while True:
        with (
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp,
            socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp,
        ):
            udp.bind(("127.0.0.1", 0))
            port = int(udp.getsockname()[1])
            try:
                tcp.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port


def stun_answers(host: str, port: int) -> bool:
    """Whether a STUN Binding request to host:port gets a success response."""
    request = struct.pack("!HHI12s", 0x0001, 0, 0x2112A442, os.urandom(12))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.2)
        try:
            s.sendto(request, (host, port))
            data = s.recv(2048)
        except OSError:
            return False
    return len(data) >= 20 and data[:2] == b"\x01\x01" and data[8:20] == request[8:20]


class Coturn:
    """turnserver with a static user, or with TURN REST (`rest=True`)."""

    def __init__(
        self,
        *,
        listen: tuple[str, ...] = ("127.0.0.1",),
        port: int | None = None,
        rest: bool = False,
        relay_ports: tuple[int, int] = (49300, 49400),
        netns: str | None = None,
    ) -> None:
        binary = shutil.which("turnserver")
        if binary is None:
            raise RuntimeError("coturn is not installed: apt-get install coturn (make sysdeps)")
        self.binary = binary
        self.listen = listen
        self.port = port or free_port()
        self.rest = rest
        self.relay_ports = relay_ports
        self.netns = netns
        self.dir = Path(tempfile.mkdtemp(prefix="qrlink-turn-"))
        self.proc: subprocess.Popen[bytes] | None = None

    def url(self, host: str | None = None) -> str:
        return f"turn:{host or self.listen[0]}:{self.port}?transport=udp"

    def start(self) -> Coturn:
        lines = [f"listening-ip={ip}" for ip in self.listen]
        lines += [f"relay-ip={ip}" for ip in self.listen]
        lines += [
            f"listening-port={self.port}",
            f"min-port={self.relay_ports[0]}",
            f"max-port={self.relay_ports[1]}",
            f"realm={REALM}",
            "fingerprint",
            "no-tls",
            "no-dtls",
            "no-cli",
            "allow-loopback-peers",
            "no-multicast-peers",
            f"userdb={self.dir / 'turndb'}",
            f"pidfile={self.dir / 'turn.pid'}",
            "log-file=stdout",
            "simple-log",
        ]
        if self.rest:
            lines += ["use-auth-secret", f"static-auth-secret={SECRET}"]
        else:
            lines += ["lt-cred-mech", f"user={USER}:{PASSWORD}"]
        conf = self.dir / "turnserver.conf"
        conf.write_text("\n".join(lines) + "\n")
        cmd = [self.binary, "-c", str(conf)]
        if self.netns:
            cmd = ["ip", "netns", "exec", self.netns, *cmd]
        self.proc = subprocess.Popen(
            cmd, stdout=(self.dir / "log").open("wb"), stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                log = (self.dir / "log").read_text()[-2000:]
                self.stop()
                raise RuntimeError(f"turnserver exited: {log}")
            if self.netns or stun_answers(self.listen[0], self.port):
                if self.netns:
                    time.sleep(1.0)  # no probe from outside the namespace
                return self
            time.sleep(0.1)
        log = (self.dir / "log").read_text()[-2000:]
        self.stop()  # never leave a relay running that the test will not stop
        raise RuntimeError(f"turnserver did not answer STUN within 30 s: {log}")

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)
        shutil.rmtree(self.dir, ignore_errors=True)
