"""The window's page server on loopback, the answer sent home exactly as the page sends it
(`POST /answer` with the MAC from the offer's seed), by a real headless peer's answer:
the first valid answer wins — over the network or pasted — and the other is ignored with
a note in the log; refused requests are counted in the diagnostics."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from gui_support import LOOPBACK, Peer, run
from pytestqt.qtbot import QtBot

from qrlink_desktop import app as app_module
from qrlink_desktop.core import answer_home, bootstrap
from qrlink_desktop.core.session import State
from qrlink_desktop.pages.answers import AnswerInbox
from qrlink_desktop.pages.server import PageServer, serve_pages


@pytest.fixture
def window_app(
    qtbot: QtBot, qt_loop: asyncio.AbstractEventLoop, tmp_path: Path
) -> Iterator[tuple[app_module.QrlinkApp, PageServer]]:
    inbox = AnswerInbox()
    pages = run(qtbot, serve_pages("127.0.0.1", 0, inbox=inbox))
    argv = [*LOOPBACK, "--page-url", pages.url, "--settings", str(tmp_path / "s.ini")]
    args = app_module.build_parser().parse_args([*argv, "--camera", str(tmp_path / "none.avi")])
    app = app_module.QrlinkApp(args, app_module.open_store(args.settings), inbox=inbox)
    qtbot.addWidget(app.window)
    try:
        yield app, pages
    finally:
        run(qtbot, app.shutdown())
        run(qtbot, pages.close())


async def _send_home(offer_url: str, answer: str, mac: bytes | None = None) -> tuple[int, Any]:
    record = bootstrap.decode_compact(offer_url, now=0, allow_loopback=True, check_expiry=False)
    assert record.seed is not None
    request = answer_home.make_request(record.seed, answer)
    if mac is not None:
        request = answer_home.AnswerRequest(request.offer_id, answer, mac)
    endpoint = offer_url.split("#")[0].lower() + answer_home.ANSWER_PATH
    async with aiohttp.ClientSession() as s, s.post(endpoint, data=request.to_json()) as r:
        return r.status, await r.json()


def _answer_of_a_peer(qtbot: QtBot, offer_url: str) -> tuple[Peer, str]:
    peer = Peer(offer_url)
    qtbot.waitUntil(lambda: peer.first("answer") is not None, timeout=15_000)
    answer = peer.first("answer")
    assert answer is not None
    return peer, str(answer["text"])


def _stop(peer: Peer) -> None:
    if peer.proc.poll() is None:
        peer.proc.kill()
    peer.stop()


def test_network_first_then_the_pasted_answer_is_ignored(
    qtbot: QtBot,
    window_app: tuple[app_module.QrlinkApp, PageServer],
    caplog: pytest.LogCaptureFixture,
) -> None:
    app, _ = window_app
    window = app.window
    app.start()
    qtbot.waitUntil(lambda: app.controller.state == State.AWAITING_ANSWER, timeout=10_000)
    url = window.offer.text
    peer, answer = _answer_of_a_peer(qtbot, url)
    try:
        # A forged request first: refused, counted, the offer still waiting.
        assert run(qtbot, _send_home(url, answer, mac=bytes(32)))[0] == 403
        assert app.controller.state == State.AWAITING_ANSWER
        assert window.pairings.refused == {"VERIFICATION_FAILED": 1}
        assert "answers refused: 1" in window.diagnostics.summary.text()
        status, body = run(qtbot, _send_home(url, answer))
        assert (status, body) == (202, {"status": "accepted"})
        with caplog.at_level(logging.INFO):
            window.answers.paste_field.setText(answer)
            window.answers.use_pasted()
        qtbot.waitUntil(window.status.code_box.isVisible, timeout=15_000)
        assert "an answer from the paste came after the first one; ignored" in caplog.text
        assert [p.source for p in window.pairings.pairings] == ["network"]
        assert window.pairings.pairings[0].outcome == "success"
    finally:
        _stop(peer)


def test_pasted_first_then_the_network_answer_is_refused(
    qtbot: QtBot, window_app: tuple[app_module.QrlinkApp, PageServer]
) -> None:
    app, _ = window_app
    window = app.window
    app.start()
    qtbot.waitUntil(lambda: app.controller.state == State.AWAITING_ANSWER, timeout=10_000)
    url = window.offer.text
    peer, answer = _answer_of_a_peer(qtbot, url)
    try:
        window.answers.paste_field.setText(answer)
        window.answers.use_pasted()
        qtbot.waitUntil(lambda: app.controller.state != State.AWAITING_ANSWER, timeout=10_000)
        status, body = run(qtbot, _send_home(url, answer))
        assert (status, body["error"]["code"]) == (409, "INVALID_ARGUMENT")
        qtbot.waitUntil(window.status.code_box.isVisible, timeout=15_000)
        assert [p.source for p in window.pairings.pairings] == ["paste"]
        assert window.pairings.refused == {"INVALID_ARGUMENT": 1}
    finally:
        _stop(peer)
