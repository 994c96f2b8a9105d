"""`qrlink rendezvous`'s entry point: the arguments become one immutable Options, checked
once; the page is served when built, and said plainly when it is not."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from qrlink_desktop.rendezvous.command import Options, parse_options
from qrlink_desktop.rendezvous.ratelimit import RateLimit
from qrlink_desktop.rendezvous.turn_grants import hash_api_token


def test_arguments_and_environment_become_one_frozen_options(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text("<html><head></head></html>")
    env = {"QRLINK_TURN_SECRET": "s", "QRLINK_API_TOKEN": "a, b"}
    argv = ["--host", "0.0.0.0", "--port", "0", "--rate", "5", "--burst", "7"]
    argv += ["--turn-url", "turn:relay:3478", "--page-root", str(tmp_path)]
    options = parse_options(argv, env)
    assert (options.host, options.port, options.redis_url) == ("0.0.0.0", 0, None)
    service = options.service
    assert service.rate_limit == RateLimit(5, 7)
    assert service.turn_secret == "s" and service.turn_urls == ("turn:relay:3478",)
    assert service.api_token_hashes == (hash_api_token("a"), hash_api_token("b"))
    assert service.page_root == tmp_path and options.page_note is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.port = 1  # type: ignore[misc]
    assert isinstance(options, Options)


def test_rate_zero_turns_every_limit_off() -> None:
    service = parse_options(["--rate", "0", "--no-page"], {}).service
    assert service.rate_limit is None and service.turn_refusal_limit is None


def test_no_page_serves_the_api_alone_and_says_so() -> None:
    options = parse_options(["--no-page"], {})
    assert options.service.page_root is None
    assert options.page_note is not None and "--no-page" in options.page_note


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["--rate", "-1"], "--rate"),
        (["--max-wait", "0"], "--max-wait"),
        (["--turn-ttl", "5"], "--turn-ttl"),
        (["--page-root", "/nonexistent-page"], "no built page"),
        (["--no-page", "--page-root", "/tmp"], "not allowed with"),
    ],
)
def test_a_wrong_argument_is_usage_and_status_2(
    argv: list[str], said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as ended:
        parse_options(argv, {})
    assert ended.value.code == 2
    assert said in capsys.readouterr().err
