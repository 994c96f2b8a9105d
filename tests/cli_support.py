"""`qrlink peer ...` processes driven from async tests: JSON events as they come, a line
on standard input, the exit status. Loopback only (`--address 127.0.0.1`)."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from qrlink_desktop.core.events import check_json

QRLINK = [sys.executable, "-m", "qrlink_desktop.cli"]
LOOPBACK = ["--address", "127.0.0.1"]


def event_line(line: str | bytes) -> dict[str, Any]:
    """One line of `qrlink peer --json`, checked against resources/protocol/
    events.schema.json: every event the command line's tests read is one of its forms."""
    event = json.loads(line)
    check_json(event)
    assert isinstance(event, dict)
    return event


class CliPeer:
    def __init__(self, proc: asyncio.subprocess.Process, argv: list[str]) -> None:
        self.proc = proc
        self.argv = argv
        self.events: list[dict[str, Any]] = []
        self._seen = 0  # events already returned by `event`, so one is never returned twice
        self._stderr = asyncio.ensure_future(self._read_stderr())
        self._stdout_done = False

    @classmethod
    async def start(cls, *args: str, env: dict[str, str] | None = None) -> CliPeer:
        """`qrlink peer ARGS`; `env` replaces the environment ($QRLINK_API_TOKEN...)."""
        argv = [*QRLINK, "peer", *args]
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
        )
        return cls(proc, argv)

    async def _read_stderr(self) -> str:
        assert self.proc.stderr is not None
        return (await self.proc.stderr.read()).decode()

    async def _next_line(self) -> bool:
        assert self.proc.stdout is not None
        line = await self.proc.stdout.readline()
        if not line:
            self._stdout_done = True
            return False
        self.events.append(event_line(line))
        return True

    def of(self, name: str, **match: Any) -> list[dict[str, Any]]:
        return [
            e
            for e in self.events
            if e.get("event") == name and all(e.get(k) == v for k, v in match.items())
        ]

    async def event(self, name: str, timeout: float = 60.0, **match: Any) -> dict[str, Any]:
        """The next event named `name` (matching `match`) not returned before."""

        async def scan() -> dict[str, Any]:
            while True:
                for i in range(self._seen, len(self.events)):
                    e = self.events[i]
                    if e.get("event") == name and all(e.get(k) == v for k, v in match.items()):
                        self._seen = i + 1
                        return e
                if self._stdout_done or not await self._next_line():
                    raise AssertionError(
                        f"{' '.join(self.argv[3:5])} ended before a {name!r} event; "
                        f"events {self.events}; stderr {await self.stderr()}"
                    )

        return await asyncio.wait_for(scan(), timeout)

    async def write_line(self, text: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write((text + "\n").encode())
        await self.proc.stdin.drain()

    def close_stdin(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()

    async def finish(self, timeout: float = 60.0) -> int:
        """Wait for the process to end, keeping every event it printed; its exit status."""

        async def drain() -> int:
            while not self._stdout_done and await self._next_line():
                pass
            return await self.proc.wait()

        return await asyncio.wait_for(drain(), timeout)

    async def stderr(self) -> str:
        if self.proc.returncode is None:
            return "(still running)"
        return await self._stderr

    async def kill(self) -> None:
        if self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()
        self._stderr.cancel()
