"""`qrlink gui --turn-from URL`: TURN REST credentials come from the rendezvous service,
which holds coturn's secret and hands them out for the merchant's API token (a setting);
the window's engine uses them, and a service without a secret, or a missing or wrong
token, is one sentence, not a broken window."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from gui_support import LOOPBACK, PAGE, run
from PySide6.QtCore import QSettings
from pytestqt.qtbot import QtBot

from qrlink_desktop import app as app_module
from qrlink_desktop.core.errors import ErrorCode
from qrlink_desktop.core.retry import RetryPolicy
from qrlink_desktop.core.turn import rest_expiry
from qrlink_desktop.gui import settings as store
from qrlink_desktop.gui.settings import Settings
from qrlink_desktop.rendezvous.server import ServiceConfig, create_app, serve
from qrlink_desktop.rendezvous.turn_grants import api_tokens_from

TURN_URL = "turn:127.0.0.1:3478?transport=udp"


async def _start(config: ServiceConfig) -> tuple[str, asyncio.Event, asyncio.Task[None]]:
    stop = asyncio.Event()
    ready: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    task = asyncio.ensure_future(
        serve(create_app(config=config), "127.0.0.1", 0, stop=stop, ready=ready.set_result)
    )
    return await ready, stop, task


def _service(qtbot: QtBot, config: ServiceConfig) -> Iterator[str]:
    url, stop, task = run(qtbot, _start(config))
    yield url
    stop.set()
    run(qtbot, task)


API_TOKEN = "merchant-api-token"


@pytest.fixture
def minting(qtbot: QtBot, qt_loop: asyncio.AbstractEventLoop) -> Iterator[str]:
    config = ServiceConfig(
        rate_limit=None,
        turn_secret="s3cret",
        turn_urls=(TURN_URL,),
        api_token_hashes=api_tokens_from(API_TOKEN),
    )
    yield from _service(qtbot, config)


@pytest.fixture
def secretless(qtbot: QtBot, qt_loop: asyncio.AbstractEventLoop) -> Iterator[str]:
    yield from _service(qtbot, ServiceConfig(rate_limit=None))


def _app(tmp_path: Path, url: str, api_token: str = "") -> app_module.QrlinkApp:
    store.save(_ini(tmp_path), Settings(api_token=api_token))
    argv = [
        *LOOPBACK,
        *PAGE,
        "--settings",
        str(tmp_path / "s.ini"),
        "--camera",
        str(tmp_path / "none.avi"),
        "--turn-from",
        url,
    ]
    args = app_module.build_parser().parse_args(argv)
    quick = RetryPolicy(base_delay=0.05, max_delay=0.1, retries=1)
    return app_module.QrlinkApp(args, app_module.open_store(args.settings), remote_retry=quick)


def _ini(tmp_path: Path) -> QSettings:
    return QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)


def test_the_session_takes_credentials_from_the_service(
    qtbot: QtBot, tmp_path: Path, minting: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("QRLINK_API_TOKEN", raising=False)
    app = _app(tmp_path, minting, api_token=API_TOKEN)
    task = asyncio.ensure_future(app.keep_turn_credentials())
    try:
        qtbot.waitUntil(lambda: bool(app.settings.ice_servers), timeout=5000)
        ice = app.settings.session_config(app.addresses).ice
        [server] = [s for s in ice.servers if s.urls == (TURN_URL,)]
        assert server.username is not None and rest_expiry(server.username) is not None
        assert server.credential and server.credential != "s3cret"
    finally:
        task.cancel()
        app.window.close()


def _turn_notice(qtbot: QtBot, app: app_module.QrlinkApp, timeout: int) -> str:
    """The window's notice of a TURN credential failure: its sentence."""
    qtbot.waitUntil(lambda: app.window.notice.notice is not None, timeout=timeout)
    notice = app.window.notice.notice
    assert notice is not None and notice.code == ErrorCode.REMOTE_SERVICE_ERROR
    return app.window.notice.label.text()


@pytest.mark.parametrize("token", ["", "guessed"], ids=["no-token", "wrong-token"])
def test_without_the_merchants_token_no_credential_and_a_sentence(
    qtbot: QtBot, tmp_path: Path, minting: str, monkeypatch: pytest.MonkeyPatch, token: str
) -> None:
    monkeypatch.delenv("QRLINK_API_TOKEN", raising=False)
    app = _app(tmp_path, minting, api_token=token)
    task = asyncio.ensure_future(app.keep_turn_credentials())
    try:
        notice = _turn_notice(qtbot, app, 10_000)
        assert "API token" in notice
        assert app.settings.ice_servers == ()
    finally:
        task.cancel()
        app.window.close()


def test_a_service_without_a_secret_is_said_in_a_sentence(
    qtbot: QtBot, tmp_path: Path, secretless: str
) -> None:
    app = _app(tmp_path, secretless)
    task = asyncio.ensure_future(app.keep_turn_credentials())
    try:
        _turn_notice(qtbot, app, 5_000)
        assert app.settings.ice_servers == ()
    finally:
        task.cancel()
        app.window.close()
