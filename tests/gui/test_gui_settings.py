"""Settings: QSettings round trip, validation, the dialog refusing what is invalid, and the
command line overriding them for one run."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from gui_support import decode_widget, make_app, run
from PySide6.QtCore import QSettings
from pytestqt.qtbot import QtBot

from qrlink_desktop import app as app_module
from qrlink_desktop.core import compat
from qrlink_desktop.core.bootstrap import Kind
from qrlink_desktop.core.errors import QrlinkError
from qrlink_desktop.core.tokens import TextFormat
from qrlink_desktop.gui import settings as store
from qrlink_desktop.gui.settings import Settings
from qrlink_desktop.gui.settings_dialog import SettingsDialog
from qrlink_desktop.rtc.zstd import TOKENS
from qrlink_desktop.scan.opening import CameraInfo

CUSTOM = Settings(
    camera="http://10.0.0.9:8080/video.mjpg",
    resolution="640x480",
    mirror=False,
    decoder="pyzbar",
    ice_servers=("stun:stun.example.net:3478", "turn:turn.example.net:3478"),
    ice_username="shop",
    ice_credential="s3cret",
    relay_only=True,
    page_url="https://pay.example.net/p/",
    merchant="Corner Café",
    currency="JPY",
    offer_lifetime=120,
    inactivity=45,
    text_format="spec",
    api_token="merchant-api-token",
)


def _ini(tmp_path: Path) -> QSettings:
    return QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)


def test_defaults_are_valid_and_explicit() -> None:
    s = Settings()
    assert s.problems() == []
    assert s.ice_config().servers == ()  # an explicit empty list: never a public STUN server
    assert s.effective_page_url.startswith("http://") and s.effective_page_url.endswith(":8765/")
    assert len(s.effective_currency) == 3


def test_round_trip_through_qsettings(tmp_path: Path) -> None:
    store.save(_ini(tmp_path), CUSTOM)
    assert store.load(_ini(tmp_path)) == CUSTOM  # a fresh QSettings reads the file back
    assert (
        store.load(QSettings(str(tmp_path / "none.ini"), QSettings.Format.IniFormat)) == Settings()
    )


def test_damaged_values_fall_back_to_defaults(tmp_path: Path) -> None:
    ini = _ini(tmp_path)
    ini.setValue("offer_lifetime", "soon")
    ini.setValue("inactivity", 5)  # out of range
    ini.setValue("merchant", "Kiosk 4")
    ini.sync()
    loaded = store.load(_ini(tmp_path))
    assert loaded.offer_lifetime == 300 and loaded.inactivity == 120
    assert loaded.merchant == "Kiosk 4"


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"camera": " "}, "Camera"),
        ({"resolution": "big"}, "WIDTHxHEIGHT"),
        ({"decoder": "magic"}, "Decoder"),
        ({"ice_servers": ("http://stun.example.net",)}, "stun:host:port"),
        ({"relay_only": True}, "Relay-only mode needs a TURN server"),
        ({"ice_servers": ("turn:t.example.net:3478",)}, "username and a credential"),
        ({"page_url": "pay.example.net"}, "http:// or https://"),
        ({"page_url": "https://x.example/#a"}, "'#'"),
        ({"currency": "EURO"}, "ISO 4217"),
        ({"offer_lifetime": 5}, "Offer lifetime"),
        ({"inactivity": 99999}, "Inactivity timeout"),
        ({"text_format": "base85"}, "Code format"),
    ],
)
def test_invalid_settings_are_named(change: dict[str, object], says: str) -> None:
    problems = Settings().with_overrides(**change).problems()
    assert len(problems) == 1 and says in problems[0]


def test_session_config_follows_the_settings() -> None:
    cfg = CUSTOM.session_config(("127.0.0.1",))
    assert cfg.page_url == "https://pay.example.net/p/"
    assert cfg.offer_lifetime == 120 and cfg.timers.inactivity == 45
    assert cfg.merchant == "Corner Café" and cfg.ice.relay_only
    assert cfg.ice.addresses == ("127.0.0.1",)
    assert (
        cfg.text_format == TextFormat.SPEC and Settings().session_config().text_format == "compact"
    )
    stun, turn = cfg.ice.servers
    assert stun.username is None and (turn.username, turn.credential) == ("shop", "s3cret")
    # The prepared offer still counts as fresh when the panel refreshes (at 1/4 left).
    assert cfg.min_offer_life < cfg.offer_lifetime / 4


def test_dialog_refuses_invalid_settings_with_a_message(qtbot: QtBot) -> None:
    dialog = SettingsDialog(Settings(), [CameraInfo(0, "Integrated Webcam", 1280, 720)])
    qtbot.addWidget(dialog)
    dialog.ice_servers.setPlainText("turn:turn.example.net:3478")
    dialog.relay_only.setChecked(True)
    dialog.offer_lifetime.setValue(10)
    dialog.accept()
    assert dialog.result_settings is None and not dialog.problems.isHidden()
    assert "Not saved" in dialog.problems.text()
    assert "username and a credential" in dialog.problems.text()
    assert "Offer lifetime" in dialog.problems.text()
    dialog.ice_username.setText("shop")
    dialog.ice_credential.setText("pw")
    dialog.offer_lifetime.setValue(60)
    with qtbot.waitSignal(dialog.accepted):
        dialog.accept()
    saved = dialog.result_settings
    assert saved is not None and saved.relay_only and saved.offer_lifetime == 60
    assert saved.camera == "0"  # the picked camera's index, not its label
    assert saved.text_format == "compact"
    dialog.text_format.setCurrentIndex(dialog.text_format.findData("spec"))
    assert dialog.edited().text_format == "spec"


def test_dialog_shows_every_field_it_was_given(qtbot: QtBot) -> None:
    dialog = SettingsDialog(CUSTOM, [])
    qtbot.addWidget(dialog)
    assert dialog.edited() == CUSTOM


def test_command_line_overrides_for_this_run_only(
    qtbot: QtBot, qt_loop: asyncio.AbstractEventLoop, tmp_path: Path
) -> None:
    ini = tmp_path / "settings.ini"
    store.save(
        QSettings(str(ini), QSettings.Format.IniFormat),
        Settings(merchant="Kiosk", page_url="http://10.1.1.1:8765/"),
    )
    args = app_module.build_parser().parse_args(
        [
            "--settings",
            str(ini),
            "--camera",
            str(tmp_path / "x.avi"),
            "--address",
            "127.0.0.1",
            "--ice-server",
            "turn:127.0.0.1:3478",
            "--ice-username",
            "u",
            "--ice-credential",
            "p",
            "--relay-only",
            "--page-url",
            "http://127.0.0.1:9/",
        ]
    )
    app = app_module.QrlinkApp(args, app_module.open_store(args.settings))
    qtbot.addWidget(app.window)
    s = app.settings
    assert s.relay_only and s.ice_servers == ("turn:127.0.0.1:3478",)
    assert s.page_url == "http://127.0.0.1:9/" and s.merchant == "Kiosk"
    cfg = app.controller.session.cfg
    assert cfg.ice.relay_only and cfg.ice.addresses == ("127.0.0.1",)
    # Saving from the window keeps the stored page URL, not the one-run override.
    app.on_settings(app.stored.with_overrides(merchant="Kiosk 2"))
    reread = store.load(QSettings(str(ini), QSettings.Format.IniFormat))
    assert reread.merchant == "Kiosk 2" and reread.page_url == "http://10.1.1.1:8765/"
    assert not reread.relay_only
    # New settings, new engine (no customer is connected): with the override kept.
    qtbot.waitUntil(lambda: app.controller.session.cfg.merchant == "Kiosk 2")
    assert app.controller.session.cfg.ice.relay_only
    run(qtbot, app.shutdown())


def test_the_window_can_show_its_offer_in_the_specifications_form(
    qtbot: QtBot, qt_loop: asyncio.AbstractEventLoop, tmp_path: Path
) -> None:
    """Settings → Code format → the specification's base64 JSON: the offer QR on screen
    carries the page URL with that form in its fragment, and a customer's side reads it."""
    ini = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    store.save(ini, Settings(text_format="spec"))
    app = make_app(tmp_path)  # loopback, the page at http://127.0.0.1:8765/
    qtbot.addWidget(app.window)
    app.start()
    try:
        qtbot.waitUntil(lambda: bool(app.window.offer.text), timeout=10_000)
        text = app.window.offer.text
        page, _, fragment = text.partition("#")
        assert page == "http://127.0.0.1:8765/" and compat.looks_compat(fragment)
        record = TOKENS.decode(text, now=time.time(), allow_loopback=True)
        assert record.kind == Kind.OFFER
        assert decode_widget(app.window.offer.qr) == [text]  # as the phone's camera reads it
    finally:
        run(qtbot, app.shutdown())


def test_invalid_command_line_is_refused(tmp_path: Path) -> None:
    args = app_module.build_parser().parse_args(
        ["--settings", str(tmp_path / "s.ini"), "--relay-only"]
    )
    with pytest.raises(QrlinkError, match="Relay-only mode needs a TURN server"):
        app_module.QrlinkApp(args, app_module.open_store(args.settings))
