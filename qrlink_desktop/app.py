"""The composition root: the only module that wires the session, the scanner and the window.

`main(argv)` is `qrlink gui`: it builds the QApplication and the qasync event loop (Qt's
loop running asyncio, so aiortc and the widgets share the GUI thread while capture and
decoding stay on the scanner's threads), reads the settings, applies the command-line
overrides for this run, and runs until the window closes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import QSettings, QTimer
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication

from . import logsetup
from .core.errors import ErrorCode, QrlinkError
from .core.events import OfferReady
from .core.retry import DEFAULT_RETRY, RetryPolicy
from .gui import settings as settings_store
from .gui.camera import CameraBridge
from .gui.cashier import RemoteConfig, SessionFactory
from .gui.main_window import MainWindow
from .gui.netinfo import PAGE_PORT, lan_ipv4
from .gui.notices import Problem, Where
from .gui.session import SessionController
from .gui.settings import Settings
from .options import add_ice_options
from .pages.answers import AnswerInbox, NetworkAnswer, Refusal
from .pages.server import PageServer, serve_pages
from .rendezvous.client import RendezvousClient
from .rtc.offering import OfferingSession

log = logging.getLogger("qrlink.app")

EXIT_OK, EXIT_NO_DISPLAY, EXIT_BAD_INPUT = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="qrlink gui",
        description="The cashier's window: show the offer QR, scan the customer's answer, "
        "verify the code, request payments. Options override the saved settings for this "
        "run only.",
    )
    p.add_argument(
        "--camera",
        metavar="SOURCE",
        help="camera index (0, 1, …), video file, or stream URL "
        "(Motion JPEG over HTTP, e.g. http://host:8080/video.mjpg, or rtsp://…)",
    )
    add_ice_options(p.add_argument_group("network"), keep_unset=True)
    p.add_argument(
        "--page-url",
        metavar="URL",
        help="the customer's page the offer QR points to "
        "(default: http://<this laptop's LAN address>:8765/)",
    )
    remote = p.add_argument_group("remote mode")
    remote.add_argument(
        "--rendezvous",
        metavar="URL",
        help="the rendezvous service to publish offers on for customers not at the till "
        "(e.g. http://svc:8787); remote mode is off without it",
    )
    remote.add_argument(
        "--handle",
        metavar="NAME",
        help="the name the offer is published under (3–64 letters, digits, '.', '_', '-')",
    )
    p.add_argument(
        "--turn-from",
        metavar="URL",
        help="take short-lived TURN credentials from this rendezvous service (GET /turn), "
        "refreshed before they expire; the relay's secret stays with the service, which "
        "wants the merchant's API token (Settings, or $QRLINK_API_TOKEN)",
    )
    p.add_argument(
        "--settings",
        metavar="FILE",
        help="keep the settings in this INI file instead of the user's "
        "configuration (kiosks, tests)",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="log more detail")
    return p


def overrides(args: argparse.Namespace) -> dict[str, Any]:
    """Settings fields the command line sets for this run (None: not given)."""
    return {
        "camera": args.camera,
        "ice_servers": tuple(args.ice_server) if args.ice_server is not None else None,
        "ice_username": args.ice_username,
        "ice_credential": args.ice_credential,
        "relay_only": args.relay_only,
        "page_url": args.page_url,
        "rendezvous_url": args.rendezvous,
        "handle": args.handle,
    }


def open_store(path: str | None) -> QSettings:
    if path:
        return QSettings(path, QSettings.Format.IniFormat)
    return QSettings("qrlink", "qrlink")


class QrlinkApp:
    """Everything one window needs, built and wired; `run` drives it until it closes.

    The settings are the app's: `stored` (what Settings saves), the command line's
    `overrides` for this run, and `settings`, the two together, which the window is given
    to show and the session is made from."""

    def __init__(
        self,
        args: argparse.Namespace,
        store: QSettings,
        *,
        remote_retry: RetryPolicy = DEFAULT_RETRY,
        inbox: AnswerInbox | None = None,
        served_page: str | None = None,
    ) -> None:
        self.store = store
        self.remote_retry = remote_retry  # the service's retry policy (tests shorten it)
        self.overrides = overrides(args)
        if served_page is not None:  # this laptop serves the page: the QR points there
            self.overrides["page_url"] = served_page
        self.addresses = tuple(args.address) if args.address else None
        self.stored = settings_store.load(store)
        effective = self.stored.with_overrides(**self.overrides)
        problems = effective.problems()
        if problems:
            raise QrlinkError(ErrorCode.INVALID_ARGUMENT, " ".join(problems))
        self.settings = effective
        self.turn_from: str | None = args.turn_from
        self.controller = SessionController(
            self._session_factory(effective), remote=self._remote_config(effective)
        )
        self.camera = CameraBridge()
        self.window = MainWindow(
            self.controller, self.camera, lambda: self.settings, lambda: self.stored
        )
        self.window.settingsChanged.connect(self.on_settings)
        self._tasks: set[asyncio.Task[Any]] = set()
        self.inbox = inbox
        if inbox is not None:
            self._take_answers_home(inbox)

    def _take_answers_home(self, inbox: AnswerInbox) -> None:
        """One scan: the page this window serves sends its answer back; the offer on
        screen is the one it may answer, the controller applies it like a scanned one."""

        async def sink(answer: NetworkAnswer) -> None:
            await self.controller.take_network_answer(answer.text)

        def on_offer(_event: OfferReady) -> None:
            session = self.controller.session
            if session.offer is not None:
                inbox.expect(session.offer, session.clock.now())

        def on_refused(refusal: Refusal) -> None:
            self.window.pairings.on_refused(str(refusal.code))
            self.window.diagnostics.refresh_summary()

        inbox.sink = sink
        inbox.listeners.append(on_refused)
        self.controller.offerReady.connect(on_offer)
        self.window.set_answers_home(True)

    def _session_factory(self, settings: Settings) -> SessionFactory:
        config = settings.session_config(self.addresses)
        return lambda: OfferingSession(config)

    def _remote_config(self, settings: Settings) -> RemoteConfig | None:
        if not settings.remote_enabled:
            return None
        return RemoteConfig(
            settings.rendezvous_url,
            settings.handle,
            ttl_ms=settings.remote_ttl_ms,
            retry=self.remote_retry,
        )

    def on_settings(self, stored: Settings) -> None:
        settings_store.save(self.store, stored)
        self.stored = stored
        self._apply()

    def _apply(self) -> None:
        """The stored settings and this run's overrides, in force: a new session when
        what it is made from changed, and the window shows them."""
        effective = self.stored.with_overrides(**self.overrides)
        old_config = self.settings.session_config(self.addresses)
        self.settings = effective
        self.controller.set_remote(self._remote_config(effective))
        if effective.session_config(self.addresses) != old_config:
            self.controller.replace_session(self._session_factory(effective))
        self.window.set_effective(effective)

    def start(self) -> None:
        """Show the window, gather the first offer, open the camera, look for others."""
        screen = self.window.screen() or QGuiApplication.primaryScreen()
        if screen is not None:
            self.window.fit_to(screen.availableGeometry())
        self.window.show()
        self.controller.start()
        self.window.start_camera()
        for coro in (self.window.find_cameras(), self.keep_turn_credentials()):
            task = asyncio.ensure_future(coro)
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def keep_turn_credentials(self) -> None:
        """With --turn-from: fetch TURN REST credentials now and again at 80 % of their
        lifetime; each set becomes this run's TURN override (the session is replaced as
        soon as no customer is connected). A failure is said once and retried in 30 s."""
        if not self.turn_from:
            return
        while True:
            try:
                token = self.settings.api_token or os.environ.get("QRLINK_API_TOKEN") or None
                async with RendezvousClient(self.turn_from, retry=self.remote_retry) as client:
                    creds = await client.turn_credentials(api_token=token)
                if creds is None or not creds.uris:
                    raise QrlinkError(
                        ErrorCode.REMOTE_SERVICE_ERROR,
                        f"{self.turn_from} hands out no TURN credentials",
                    )
            except QrlinkError as exc:
                log.warning("TURN credentials: %s", exc.message)
                self.window.on_failed(Problem(Where.TURN, exc.code, exc.message))
                await asyncio.sleep(30)
                continue
            stun = tuple(u for u in self.settings.ice_servers if u.startswith("stun"))
            self.overrides.update(
                ice_servers=(*stun, *creds.uris),
                ice_username=creds.username,
                ice_credential=creds.credential,
            )
            self._apply()
            await asyncio.sleep(max(30.0, creds.ttl * 0.8))

    async def shutdown(self) -> None:
        if self.inbox is not None:
            self.inbox.withdraw()
            self.inbox.sink = None
        self.camera.stop()
        for task in list(self._tasks):
            task.cancel()
        await self.controller.shutdown()

    async def run(self) -> int:
        closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def on_closing() -> None:
            if not closed.done():
                closed.set_result(None)

        self.window.closing.connect(on_closing)
        self.start()
        await closed
        await self.shutdown()
        return EXIT_OK


async def _serve_page(args: argparse.Namespace, store: QSettings) -> PageServer | None:
    """Serve the customer's page from this laptop when no page URL is configured, so a
    shop without internet works; its URL becomes this run's page URL (QrlinkApp's
    `served_page`)."""
    if args.page_url or settings_store.load(store).page_url:
        return None  # a configured page (e.g. any static HTTPS host) replaces it
    host = (args.address[0] if args.address else lan_ipv4()) or "127.0.0.1"
    inbox = AnswerInbox()  # the page served here sends its answer back here (one scan)
    try:
        pages = await serve_pages(host, PAGE_PORT, inbox=inbox)
    except FileNotFoundError as exc:  # a source checkout without `make page`
        raise QrlinkError(
            ErrorCode.INVALID_ARGUMENT,
            f"{exc}. Or set the page's address in Settings (--page-url) to use a page "
            "hosted elsewhere.",
        ) from None
    except OSError:  # the port is taken (another window?): any free port will do
        try:
            pages = await serve_pages(host, 0, inbox=inbox)
        except OSError as exc:
            raise QrlinkError(
                ErrorCode.INVALID_ARGUMENT, f"cannot serve the customer's page on {host}: {exc}"
            ) from None
    return pages


def _display_available() -> bool:
    """Qt aborts the process when it cannot reach a display; say so in a sentence instead."""
    if os.environ.get("QT_QPA_PLATFORM") or sys.platform in ("win32", "darwin"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def main(argv: Sequence[str] | None = None) -> int:
    """`qrlink gui [options]`; returns the exit status (0 closed, 2 bad options)."""
    import qasync  # imported here so `--help` and option errors need no event loop

    args = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    logsetup.setup(args.verbose, "qrlink")
    if not _display_available():
        print(
            "qrlink: no display found. Run the window in a desktop session; on a server try "
            "`qrlink demo` or `qrlink peer --help`, or set QT_QPA_PLATFORM=offscreen.",
            file=sys.stderr,
        )
        return EXIT_NO_DISPLAY
    qt_app = QApplication.instance() or QApplication([sys.argv[0] if sys.argv else "qrlink"])
    assert isinstance(qt_app, QApplication)
    qt_app.setApplicationName("qrlink")
    qt_app.setOrganizationName("qrlink")
    # The window's close ends `run`; Qt quitting on its own would stop the loop first.
    qt_app.setQuitOnLastWindowClosed(False)
    store = open_store(args.settings)
    # Refuse bad options before anything starts listening.
    problems = settings_store.load(store).with_overrides(**overrides(args)).problems()
    if problems:
        print(f"qrlink: {ErrorCode.INVALID_ARGUMENT}: {' '.join(problems)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    loop = qasync.QEventLoop(qt_app)
    asyncio.set_event_loop(loop)
    pages: PageServer | None = None
    try:
        pages = loop.run_until_complete(_serve_page(args, store))
        app = QrlinkApp(
            args,
            store,
            inbox=pages.inbox if pages is not None else None,
            served_page=pages.url if pages is not None else None,
        )
    except QrlinkError as exc:
        print(f"qrlink: {exc.code}: {exc.message}", file=sys.stderr)
        if pages is not None:
            loop.run_until_complete(pages.close())
        with contextlib.suppress(Exception):
            loop.close()
        asyncio.set_event_loop(None)
        return EXIT_BAD_INPUT

    # Ctrl+C in the terminal closes the window like the Quit menu; the timer gives the
    # Python interpreter a moment now and then to notice the signal while Qt runs.
    previous = signal.signal(signal.SIGINT, lambda *_: app.window.close())
    wake = QTimer()
    wake.start(250)
    wake.timeout.connect(lambda: None)
    try:
        return int(loop.run_until_complete(app.run()))
    finally:
        if pages is not None:
            with contextlib.suppress(Exception):
                loop.run_until_complete(pages.close())
        wake.stop()
        signal.signal(signal.SIGINT, previous)
        with contextlib.suppress(Exception):
            loop.close()
        asyncio.set_event_loop(None)


if __name__ == "__main__":
    sys.exit(main())
