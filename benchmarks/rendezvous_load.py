"""Load benchmark for the rendezvous service: publish, then lookup, at fixed concurrency.

Starts the service itself (a separate process, pinned to one core with `taskset`) for the
memory store and for Redis (a throwaway redis-server), drives it over loopback from this
process pinned to another core, and prints requests/s, p50/p99 latency and errors.
Bounded: each phase stops at its request count or its time limit, whichever comes first.

    .venv/bin/python benchmarks/rendezvous_load.py [--stores memory,redis] [--lookups 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp

REPO = Path(__file__).resolve().parents[1]
TOKEN = "B" * 400  # about the size of a compact offer token in its text form


@dataclass
class PhaseResult:
    store: str
    operation: str
    requests: int
    seconds: float
    latencies: list[float]
    errors: int

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pinned(cpu: int | None, argv: list[str]) -> list[str]:
    if cpu is None or shutil.which("taskset") is None:
        return argv
    return ["taskset", "-c", str(cpu), *argv]


@contextmanager
def redis_server(cpu: int | None) -> Iterator[str]:
    port = free_port()
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is not installed; run with --stores memory")
    argv = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    proc = subprocess.Popen(
        pinned(cpu, [*argv, "--appendonly", "no"]),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit("redis-server did not start") from None
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(10)


@contextmanager
def service(cpu: int | None, redis_url: str | None) -> Iterator[str]:
    # Rate limiting off: every request comes from one address. Logging stays at info, one
    # access line per request, as in production; it goes to /dev/null.
    argv = [sys.executable, "-m", "qrlink_desktop.rendezvous", "--port", "0", "--rate", "0"]
    argv += ["--log-level", "info"]
    if redis_url:
        argv += ["--redis", redis_url]
    proc = subprocess.Popen(
        pinned(cpu, argv), cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    assert proc.stdout is not None
    watchdog = threading.Timer(15, proc.kill)
    watchdog.start()
    try:
        line = proc.stdout.readline()
    finally:
        watchdog.cancel()
    if not line.startswith("listening on "):
        proc.kill()
        raise SystemExit(f"the service did not start: {line!r}")
    if cpu is not None and hasattr(os, "sched_getaffinity"):
        # taskset execs the service in place, so the pid is the service's own.
        allowed = os.sched_getaffinity(proc.pid)
        if allowed != {cpu}:
            proc.kill()
            raise SystemExit(f"the service is not pinned to cpu {cpu}: {sorted(allowed)}")
    try:
        yield line.split()[-1]
    finally:
        proc.terminate()
        proc.wait(10)


async def run_phase(
    count: int,
    concurrency: int,
    time_limit: float,
    request: Callable[[int], Awaitable[bool]],
    pace: float | None = None,
) -> tuple[int, float, list[float], int]:
    """Closed loop (each worker sends as soon as its last answer came) or, with `pace`,
    a fixed arrival rate whose latency counts from the scheduled send time, so a stalled
    server is not hidden by the load generator waiting for it."""
    latencies: list[float] = []
    errors = 0
    next_index = 0
    started = time.perf_counter()
    deadline = started + time_limit

    async def worker() -> None:
        nonlocal next_index, errors
        while next_index < count and time.perf_counter() < deadline:
            index = next_index
            next_index += 1
            t0 = time.perf_counter()
            if pace is not None:
                t0 = started + index / pace
                if t0 > time.perf_counter():
                    await asyncio.sleep(t0 - time.perf_counter())
            try:
                ok = await request(index)
            except (aiohttp.ClientError, TimeoutError):
                ok = False
            latencies.append(time.perf_counter() - t0)
            if not ok:
                errors += 1

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return len(latencies), time.perf_counter() - started, latencies, errors


async def bench_store(name: str, url: str, args: argparse.Namespace) -> list[PhaseResult]:
    connector = aiohttp.TCPConnector(limit=args.concurrency)
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(url, connector=connector, timeout=timeout) as http:
        run = f"{os.getpid()}-{name}"

        async def publish(i: int) -> bool:
            body = {"username": f"b{run}-{i}", "token": TOKEN, "ttl": 300_000}
            async with http.post("/publish", json=body) as resp:
                await resp.read()
                return resp.status == 200

        async def lookup(i: int) -> bool:
            params = {"username": f"b{run}-{i % args.publishes}"}
            async with http.get("/lookup", params=params) as resp:
                await resp.read()
                return resp.status == 200

        results = []
        n, secs, lat, err = await run_phase(
            args.publishes, args.concurrency, args.time_limit, publish
        )
        results.append(PhaseResult(name, "publish", n, secs, lat, err))
        # Warm the connections and the interpreter's caches before measuring lookups.
        await run_phase(min(1000, args.lookups), args.concurrency, args.time_limit, lookup)
        n, secs, lat, err = await run_phase(args.lookups, args.concurrency, args.time_limit, lookup)
        results.append(PhaseResult(name, "lookup", n, secs, lat, err))
        if args.pace > 0:
            count = int(args.pace * args.pace_seconds)
            n, secs, lat, err = await run_phase(
                count, args.concurrency, args.pace_seconds + 5, lookup, pace=args.pace
            )
            results.append(PhaseResult(name, f"lookup at {args.pace:g}/s", n, secs, lat, err))
        return results


def table(results: list[PhaseResult], concurrency: int) -> str:
    head = "| store | operation | requests | req/s | p50 ms | p99 ms | errors |"
    rule = "|---|---|---:|---:|---:|---:|---:|"
    rows = [
        f"| {r.store} | {r.operation} | {r.requests} | {r.rate:,.0f} | "
        f"{r.percentile(0.50):.1f} | {r.percentile(0.99):.1f} | {r.errors} |"
        for r in results
    ]
    return "\n".join([f"concurrency {concurrency} (at most)", "", head, rule, *rows])


def machine() -> str:
    model = ""
    with open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return (
        f"{model or platform.processor()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, aiohttp {aiohttp.__version__}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stores", default="memory,redis")
    parser.add_argument("--publishes", type=int, default=5_000)
    parser.add_argument("--lookups", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--time-limit", type=float, default=20.0, help="seconds per phase")
    parser.add_argument(
        "--pace", type=float, default=2000.0, help="lookups/s of the fixed-rate phase (0: skip)"
    )
    parser.add_argument("--pace-seconds", type=float, default=5.0)
    parser.add_argument("--server-cpu", type=int, default=0, help="-1: do not pin")
    parser.add_argument("--client-cpu", type=int, default=1, help="-1: do not pin")
    args = parser.parse_args()
    server_cpu = None if args.server_cpu < 0 else args.server_cpu
    client_cpu = None if args.client_cpu < 0 else args.client_cpu
    if client_cpu is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {client_cpu})

    results: list[PhaseResult] = []
    for store in args.stores.split(","):
        if store == "memory":
            with service(server_cpu, None) as url:
                results += asyncio.run(bench_store(store, url, args))
        elif store == "redis":
            # Redis shares the load generator's core so the service keeps one core to itself.
            with redis_server(client_cpu) as redis_url, service(server_cpu, redis_url) as url:
                results += asyncio.run(bench_store(store, url, args))
        else:
            parser.error(f"unknown store {store!r}")
    print(machine())
    print(f"service pinned to cpu {server_cpu}, load generator to cpu {client_cpu}")
    print(table(results, args.concurrency))
    return 0 if all(r.errors == 0 for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
