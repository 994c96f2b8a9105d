"""The first minutes: --version, --help for every command, logs in a file, no display."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from qrlink_desktop import __version__, logsetup

QRLINK = [sys.executable, "-m", "qrlink_desktop.cli"]


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*QRLINK, *args], capture_output=True, text=True, timeout=60, env=env)


def test_version() -> None:
    out = _run("--version")
    assert out.returncode == 0 and out.stdout.strip() == f"qrlink {__version__}"


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["peer"],
        ["peer", "offer"],
        ["peer", "answer"],
        ["peer", "publish"],
        ["peer", "lookup"],
        ["demo"],
        ["gui"],
        ["rendezvous"],
    ],
)
def test_every_command_explains_itself(command: list[str]) -> None:
    out = _run(*command, "--help")
    assert out.returncode == 0 and "usage: qrlink" in out.stdout
    assert len(out.stdout) > 200 and "Traceback" not in out.stderr


def test_demo_writes_a_log_file(tmp_path: Path) -> None:
    env = {"QRLINK_LOG_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    out = _run("--verbose", "demo", env=env)
    assert out.returncode == 0, out.stderr
    assert "verification code" in out.stdout
    log = (tmp_path / "qrlink-cli.log").read_text()
    assert "DEBUG" in log and "session" in log


def test_the_window_without_a_display_says_so(tmp_path: Path) -> None:
    out = _run("gui", env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert out.returncode == 1 and "no display found" in out.stderr
    assert "Traceback" not in out.stderr and "Aborted" not in out.stderr


def test_log_dir_follows_the_platform_conventions(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QRLINK_LOG_DIR", raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", "/state")
    assert logsetup.log_dir() == Path("/state/qrlink/log")
    monkeypatch.setenv("QRLINK_LOG_DIR", "/elsewhere")
    assert logsetup.log_dir() == Path("/elsewhere")


def test_the_window_without_a_built_page_says_how_to_build_it(tmp_path: Path) -> None:
    # A source checkout before `make page` (make run builds it; a bare `qrlink` does not).
    resources = tmp_path / "resources"
    shutil.copytree(
        Path(__file__).resolve().parents[1] / "resources" / "protocol", resources / "protocol"
    )
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "QT_QPA_PLATFORM": "offscreen",
        "QRLINK_RESOURCES": str(resources),
        "QRLINK_LOG_DIR": str(tmp_path),
    }
    out = _run("gui", "--address", "127.0.0.1", "--settings", str(tmp_path / "s.ini"), env=env)
    assert out.returncode == 2, out.stderr
    assert "the mobile page is not built" in out.stderr and "make page" in out.stderr
    assert "--page-url" in out.stderr and "Traceback" not in out.stderr
