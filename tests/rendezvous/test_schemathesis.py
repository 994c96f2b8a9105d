"""Property-based run of schemathesis against `/openapi.json`: every check passes,
so no 5xx and every answer matches the document (statuses, bodies, headers)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from .helpers import ServiceProcess

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")


@pytest.fixture(params=["memory", "redis"])
def service_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    # No rate limit (one client sends everything) and a short longest wait, so generated
    # long polls cannot stretch the run; both limits are what /openapi.json then states.
    args = ["--rate", "0", "--max-wait", "0.2"]
    if request.param == "redis":
        args += ["--redis", request.getfixturevalue("redis_url")]
    # With a TURN secret, so GET /turn's refusals (401, 403, 400) are exercised too.
    args += ["--turn-url", "turn:127.0.0.1:3478?transport=udp"]
    env = {"QRLINK_TURN_SECRET": "schemathesis-secret", "QRLINK_API_TOKEN": "a-token"}
    service = ServiceProcess(*args, env=env)
    service.start()
    yield service.url
    service.stop()


def test_schemathesis_finds_nothing(service_url: str, tmp_path: Path) -> None:
    assert SCHEMATHESIS.exists(), f"schemathesis is not installed at {SCHEMATHESIS}"
    result = subprocess.run(
        [
            str(SCHEMATHESIS),
            "run",
            f"{service_url}/openapi.json",
            "--checks",
            "all",
            # That check wants 401 for a missing Authorization header; the service answers
            # 403, as issue 5 specifies, and documents it.
            "--exclude-checks",
            "missing_required_header",
            "--max-examples",
            "25",
            "--seed",
            "20261121",
            "--request-timeout",
            "5",
            "--max-failures",
            "5",
        ],
        cwd=tmp_path,  # it writes a cache directory where it runs
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "NO_COLOR": "1"},
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "passed" in result.stdout
