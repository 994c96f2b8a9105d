"""Remote mode in the cashier's window: the settings, publishing under a handle on a real
in-process rendezvous service, a headless customer answering through it, the same code
on both sides, a payment; withdrawing the publication; an unreachable service.

Loopback only: the service listens on 127.0.0.1, gathering is restricted to 127.0.0.1,
no ICE servers are configured.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from engine_support import Side, auto_respond, make_side
from gui_support import LOOPBACK, PAGE, run
from PySide6.QtCore import QSettings, Qt
from pytestqt.qtbot import QtBot

from qrlink_desktop import app as app_module
from qrlink_desktop.core.errors import ErrorCode
from qrlink_desktop.core.events import Published
from qrlink_desktop.core.handshake import Role, Verified
from qrlink_desktop.core.retry import DEFAULT_RETRY, RetryPolicy
from qrlink_desktop.core.session import State
from qrlink_desktop.gui import session as session_module
from qrlink_desktop.gui import settings as store
from qrlink_desktop.gui.settings import Settings
from qrlink_desktop.gui.settings_dialog import SettingsDialog
from qrlink_desktop.remote import lookup_and_answer
from qrlink_desktop.rendezvous.client import LookupResult, RendezvousClient
from qrlink_desktop.rendezvous.server import ServiceConfig, create_app, serve

pytestmark = pytest.mark.timeout(60)

QUICK = RetryPolicy(base_delay=0.05, max_delay=0.1, retries=2)
HANDLE = "corner-shop"


# -- settings -------------------------------------------------------------------------------


def test_remote_settings_round_trip(tmp_path: Path) -> None:
    ini = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    remote = Settings(rendezvous_url="http://svc.example.net:8787", handle=HANDLE)
    assert remote.problems() == [] and remote.remote_enabled
    store.save(ini, remote)
    loaded = store.load(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    assert (loaded.rendezvous_url, loaded.handle) == ("http://svc.example.net:8787", HANDLE)
    assert not Settings().remote_enabled  # off by default
    # A damaged value elsewhere does not turn remote mode off.
    ini.setValue("offer_lifetime", 5)
    ini.sync()
    kept = store.load(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    assert kept.remote_enabled and kept.offer_lifetime == 300
    # The service keeps a token 60 s to 15 min; the offer's lifetime decides within that.
    assert Settings(offer_lifetime=30).remote_ttl_ms == 60_000
    assert Settings(offer_lifetime=300).remote_ttl_ms == 300_000
    assert Settings(offer_lifetime=3600).remote_ttl_ms == 900_000


@pytest.mark.parametrize(
    ("url", "handle", "says"),
    [
        ("http://svc:8787", "ab", "Handle 'ab'"),
        ("http://svc:8787", "corner shop", "Handle 'corner shop'"),
        ("http://svc:8787", "x" * 65, "3 to 64"),
        ("http://svc:8787", "", "needs a handle"),
        ("ftp://svc", HANDLE, "Rendezvous service 'ftp://svc'"),
        ("svc:8787", HANDLE, "http:// or https://"),
    ],
)
def test_bad_remote_settings_are_refused_in_a_sentence(url: str, handle: str, says: str) -> None:
    problems = Settings(rendezvous_url=url, handle=handle).problems()
    assert len(problems) == 1 and says in problems[0]
    assert problems[0].endswith(".")


def test_dialog_refuses_a_bad_handle_and_saves_a_good_one(qtbot: QtBot) -> None:
    dialog = SettingsDialog(Settings(), [])
    qtbot.addWidget(dialog)
    dialog.rendezvous_url.setText("http://127.0.0.1:8787")
    dialog.handle.setText("a b")
    dialog.accept()
    assert dialog.result_settings is None
    assert "Handle 'a b'" in dialog.problems.text()
    dialog.handle.setText(HANDLE)
    dialog.accept()
    assert dialog.result_settings is not None
    assert dialog.result_settings.rendezvous_url == "http://127.0.0.1:8787"
    assert dialog.result_settings.handle == HANDLE


def test_command_line_overrides_remote_mode_for_a_run(tmp_path: Path) -> None:
    args = app_module.build_parser().parse_args(
        ["--rendezvous", "http://svc:8787", "--handle", HANDLE]
    )
    over = app_module.overrides(args)
    assert (over["rendezvous_url"], over["handle"]) == ("http://svc:8787", HANDLE)
    none = app_module.overrides(app_module.build_parser().parse_args([]))
    assert none["rendezvous_url"] is None and none["handle"] is None
    bad = Settings().with_overrides(rendezvous_url="http://svc:8787", handle="!").problems()
    assert bad and "Handle '!'" in bad[0]


# -- the window with a real service -----------------------------------------------------------


class Service:
    """The rendezvous service in-process on the window's loop, on 127.0.0.1."""

    def __init__(self) -> None:
        self.stop = asyncio.Event()
        self.ready: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self.task = asyncio.ensure_future(
            serve(
                create_app(config=ServiceConfig(rate_limit=None)),
                "127.0.0.1",
                0,
                stop=self.stop,
                ready=self.ready.set_result,
            )
        )

    async def lookup(self, username: str) -> LookupResult | None:
        async with RendezvousClient(await self.ready) as client:
            return await client.lookup(username)

    async def close(self) -> None:
        self.stop.set()
        await self.task


async def _service() -> tuple[Service, str]:
    service = Service()
    return service, await service.ready


@pytest.fixture
def service(qtbot: QtBot, qt_loop: asyncio.AbstractEventLoop) -> Iterator[tuple[Service, str]]:
    svc, url = run(qtbot, _service())
    yield svc, url
    run(qtbot, svc.close())


def remote_app(
    tmp_path: Path, url: str, retry: RetryPolicy = DEFAULT_RETRY
) -> app_module.QrlinkApp:
    """`qrlink gui --rendezvous URL --handle corner-shop` on loopback, no camera."""
    argv = [
        *LOOPBACK,
        *PAGE,
        "--settings",
        str(tmp_path / "settings.ini"),
        "--camera",
        str(tmp_path / "no-camera.avi"),
        "--rendezvous",
        url,
        "--handle",
        HANDLE,
    ]
    args = app_module.build_parser().parse_args(argv)
    app = app_module.QrlinkApp(args, app_module.open_store(args.settings), remote_retry=retry)
    assert app.settings.ice_servers == ()  # no STUN/TURN: host candidates on 127.0.0.1 only
    assert app.settings.session_config(app.addresses).ice.addresses == ("127.0.0.1",)
    return app


async def _customer(side: Side, url: str) -> Verified:
    async with RendezvousClient(url) as client:
        return await lookup_and_answer(side.session, client, HANDLE)


def _start(qtbot: QtBot, app: app_module.QrlinkApp) -> None:
    qtbot.addWidget(app.window)
    app.start()
    qtbot.waitUntil(lambda: app.controller.state == State.AWAITING_ANSWER, timeout=10_000)


def test_remote_customer_pairs_and_pays_through_the_service(
    qtbot: QtBot, qt_loop: asyncio.AbstractEventLoop, tmp_path: Path, service: Any
) -> None:
    svc, url = service
    app = remote_app(tmp_path, url)
    window = app.window
    customer = make_side(Role.ANSWERER)
    auto_respond(customer, approve=True)
    on_service: list[Published] = []
    app.controller.published.connect(on_service.append)
    try:
        _start(qtbot, app)
        plain = window.offer.text
        assert window.offer.remote_button.isVisible() and window.offer.remote_button.isEnabled()
        assert window.remote_action.isEnabled()

        # Remote customer: a fresh offer is published under the handle and shown.
        qtbot.mouseClick(window.offer.remote_button, Qt.MouseButton.LeftButton)
        assert not window.offer.remote_button.isEnabled()  # one publication at a time

        def published() -> bool:
            return window.offer.remote_label.text().startswith(
                f"Published as {HANDLE} — waiting for the customer (until "
            )

        qtbot.waitUntil(published, timeout=10_000)
        assert window.offer.remote_label.isVisible()
        assert window.offer.text != plain and window.offer.waiting
        found = run(qtbot, svc.lookup(HANDLE))
        assert found is not None and found.token == window.offer.text

        # The customer finds it and answers through the service; both show one code.
        task = asyncio.ensure_future(_customer(customer, url))
        qtbot.waitUntil(window.status.code_box.isVisible, timeout=15_000)
        qtbot.waitUntil(task.done, timeout=10_000)
        verified = task.result()
        assert window.status.code_label.text().replace(" ", "") == verified.code
        assert window.offer.remote_label.text() == f"Answered through the service as {HANDLE}"
        assert not window.offer.remote_button.isEnabled()  # a customer is connected

        # The cashier confirms; the payment is approved and acknowledged.
        qtbot.mouseClick(window.status.confirm_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: window.payment.amount.isEnabled(), timeout=5_000)
        window.payment.amount.setFocus()
        qtbot.keyClicks(window.payment.amount, "9.90")
        qtbot.keyClick(window.payment.amount, Qt.Key.Key_Return)
        qtbot.waitUntil(lambda: window.payment.outcome_status == "approved", timeout=10_000)
        qtbot.waitUntil(lambda: app.controller.state == State.CLOSED, timeout=5_000)
        assert window.offer.remote_button.isEnabled()  # ready for the next one

        # Nothing is left on the service: the handle and the reply handle are gone.
        assert run(qtbot, svc.lookup(HANDLE)) is None
        reply = on_service[-1].reply_to
        assert reply is not None and run(qtbot, svc.lookup(reply)) is None
        pairing = window.pairings.pairings[-1]
        assert pairing.source == "remote" and pairing.outcome == "success"
    finally:
        run(qtbot, customer.session.shutdown())
        run(qtbot, app.shutdown())


def test_new_customer_and_closing_withdraw_the_publication(
    qtbot: QtBot,
    qt_loop: asyncio.AbstractEventLoop,
    tmp_path: Path,
    service: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    svc, url = service
    clients: list[RendezvousClient] = []
    closed: list[RendezvousClient] = []

    class Recorded(RendezvousClient):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            clients.append(self)

        async def close(self) -> None:
            closed.append(self)
            await super().close()

    monkeypatch.setattr(session_module, "RendezvousClient", Recorded)
    app = remote_app(tmp_path, url)
    window = app.window
    try:
        _start(qtbot, app)
        window.remote_action.trigger()
        qtbot.waitUntil(lambda: run(qtbot, svc.lookup(HANDLE)) is not None, timeout=10_000)
        # Ctrl+N: the publication is cancelled, its handle deleted, a plain offer shown.
        window.new_action.trigger()
        qtbot.waitUntil(lambda: not app.controller.remote_active, timeout=10_000)
        assert run(qtbot, svc.lookup(HANDLE)) is None
        qtbot.waitUntil(lambda: app.controller.state == State.AWAITING_ANSWER, timeout=10_000)
        assert window.offer.remote_label.text() == ""
        assert window.offer.remote_button.isEnabled()
        assert closed == clients and len(clients) == 1

        # Published again, then the window closes: the handle goes with it.
        window.remote_action.trigger()
        qtbot.waitUntil(lambda: run(qtbot, svc.lookup(HANDLE)) is not None, timeout=10_000)
    finally:
        run(qtbot, app.shutdown())
    assert run(qtbot, svc.lookup(HANDLE)) is None
    assert closed == clients and len(clients) == 2


def test_unreachable_service_says_so_and_the_qr_code_still_works(
    qtbot: QtBot, qt_loop: asyncio.AbstractEventLoop, tmp_path: Path
) -> None:
    app = remote_app(tmp_path, "http://127.0.0.1:9", retry=QUICK)
    window = app.window
    customer = make_side(Role.ANSWERER)
    try:
        _start(qtbot, app)
        qtbot.mouseClick(window.offer.remote_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(window.notice.isVisible, timeout=10_000)
        notice = window.notice.notice
        assert notice is not None and notice.code == ErrorCode.REMOTE_SERVICE_ERROR
        text = window.notice.label.text()
        assert "127.0.0.1:9" in text and "REMOTE_SERVICE_ERROR" in text
        assert "Try again, or let the customer scan the QR code" in text
        assert [b.text() for b in window.notice.buttons] == ["Try again", "Use the QR code"]
        assert window.offer.remote_label.text().startswith(f"Not published as {HANDLE}")
        assert app.controller.state == State.AWAITING_ANSWER and window.offer.waiting
        assert window.offer.remote_button.isEnabled()

        # Try again: the same sentence, quickly (the retry policy is the test's).
        qtbot.mouseClick(window.notice.buttons[0], Qt.MouseButton.LeftButton)
        qtbot.waitUntil(window.notice.isVisible, timeout=10_000)
        assert window.notice.notice is not None
        assert window.notice.notice.code == ErrorCode.REMOTE_SERVICE_ERROR

        # Use the QR code: the code on screen is answered and paired as usual.
        offer = window.offer.text
        qtbot.mouseClick(window.notice.buttons[1], Qt.MouseButton.LeftButton)
        assert not window.notice.isVisible()
        answer = run(qtbot, customer.session.answer(offer))
        assert answer is not None
        connecting = asyncio.ensure_future(customer.session.connect())
        window.answers.paste_field.setText(answer.text)
        qtbot.keyClick(window.answers.paste_field, Qt.Key.Key_Return)
        qtbot.waitUntil(window.status.code_box.isVisible, timeout=15_000)
        qtbot.waitUntil(connecting.done, timeout=10_000)
        assert window.status.code_label.text().replace(" ", "") == connecting.result().code
    finally:
        run(qtbot, customer.session.shutdown())
        run(qtbot, app.shutdown())
