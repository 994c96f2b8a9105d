"""The service as an operator runs it: separate processes, kill -9, Redis going away."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Iterator

import aiohttp
import pytest

from qrlink_desktop.core.errors import ErrorCode, QrlinkError
from qrlink_desktop.core.retry import RetryPolicy
from qrlink_desktop.rendezvous.client import RendezvousClient
from qrlink_desktop.rendezvous.command import main

from .helpers import REPO, RedisProcess, ServiceProcess

SHORT = RetryPolicy(base_delay=0.05, factor=2, max_delay=0.2, retries=3)


@pytest.fixture
def services() -> Iterator[list[ServiceProcess]]:
    started: list[ServiceProcess] = []
    yield started
    for service in started:
        service.stop()


def start(services: list[ServiceProcess], *args: str) -> ServiceProcess:
    service = ServiceProcess(*args)
    services.append(service)
    service.start()
    return service


async def test_kill_9_mid_long_poll_ends_as_remote_service_error(
    services: list[ServiceProcess],
) -> None:
    service = start(services)
    async with RendezvousClient(service.url, SHORT) as rv:
        poll = asyncio.create_task(rv.lookup("reply-k9", wait=20))
        await asyncio.sleep(0.3)
        assert not poll.done()
        service.kill9()
        started = time.monotonic()
        with pytest.raises(QrlinkError) as error:
            await asyncio.wait_for(poll, 10)
    assert error.value.code == ErrorCode.REMOTE_SERVICE_ERROR
    assert time.monotonic() - started < 10  # the poll's own wait was 20 s


async def test_two_service_processes_share_one_redis(
    services: list[ServiceProcess], redis_url: str
) -> None:
    a = start(services, "--redis", redis_url)
    b = start(services, "--redis", redis_url)
    async with RendezvousClient(a.url, SHORT) as on_a, RendezvousClient(b.url, SHORT) as on_b:
        poll = asyncio.create_task(on_b.lookup("reply-2p", wait=10))
        published = await on_a.publish("offer-2p", "offer-token", 60_000)
        found = await on_b.lookup("offer-2p")
        assert found is not None and found.token == "offer-token"
        await asyncio.sleep(0.1)
        await on_a.publish("reply-2p", "answer-token", 60_000)
        answer = await asyncio.wait_for(poll, 5)
        assert answer is not None and answer.token == "answer-token"
        await on_b.delete("offer-2p", published.owner_key)
        assert await on_a.lookup("offer-2p") is None


async def test_redis_stopped_and_restarted(services: list[ServiceProcess]) -> None:
    redis_server = RedisProcess()
    redis_server.start()
    try:
        service = start(services, "--redis", redis_server.url)
        async with aiohttp.ClientSession() as http, RendezvousClient(service.url, SHORT) as rv:
            await rv.publish("before", "t", 60_000)

            redis_server.stop()
            async with http.get(f"{service.url}/health") as resp:
                assert resp.status == 503
                assert await resp.json() == {"status": "unavailable"}
            body = {"username": "during", "token": "t"}
            async with http.post(f"{service.url}/publish", json=body) as resp:
                assert resp.status == 503
                assert (await resp.json())["error"]["code"] == "STORE_UNAVAILABLE"
            with pytest.raises(QrlinkError) as error:
                await rv.lookup("before")
            assert error.value.code == ErrorCode.REMOTE_SERVICE_ERROR
            async with http.get(f"{service.url}/metrics") as resp:
                assert resp.status == 200
                assert "qrlink_rendezvous_store_up 0" in await resp.text()

            redis_server.start()
            deadline = time.monotonic() + 10
            while await rv.health() != "ok":  # pragma: no cover - first try usually passes
                assert time.monotonic() < deadline
                await asyncio.sleep(0.1)
            # Tokens were in the Redis that went away (no persistence): publish afresh.
            assert await rv.lookup("before") is None
            await rv.publish("after", "t", 60_000)
            poll = asyncio.create_task(rv.lookup("reply-after", wait=10))
            await asyncio.sleep(0.2)
            async with RendezvousClient(service.url, SHORT) as other:
                await other.publish("reply-after", "answer", 60_000)
            found = await asyncio.wait_for(poll, 5)
            assert found is not None and found.token == "answer"
    finally:
        redis_server.stop()


def test_access_log_has_one_line_per_request_and_sigterm_exits_cleanly() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "qrlink_desktop.rendezvous", "--port", "0", "--log-level", "info"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().split()[-1]

        async def requests() -> None:
            async with aiohttp.ClientSession() as http:
                for path in ("/health", "/lookup?username=nobody", "/openapi.json"):
                    async with http.get(url + path) as resp:
                        await resp.read()

        asyncio.run(requests())
        proc.terminate()
        _, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0
    access = [line for line in err.splitlines() if "aiohttp.access" in line]
    assert len(access) == 3, err
    assert '"GET /lookup?username=nobody HTTP/1.1" 404' in access[1]


def test_cli_refuses_bad_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["--rate", "-1"], ["--burst", "0"], ["--max-wait", "31"], ["--port", "x"]):
        with pytest.raises(SystemExit) as exit_:
            main(argv)
        assert exit_.value.code == 2
    assert "--rate" in capsys.readouterr().err


def test_cli_reports_a_port_in_use(capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        assert main(["--port", str(port), "--log-level", "error"]) == 1
    assert "cannot listen" in capsys.readouterr().err
