"""Take docs/screenshot.png: one scan on a till's 1366×768 screen. The window serves the
customer's page; a real headless peer (the phone) answers the offer it read, and its
answer comes back over the network exactly as the page sends it (`POST /answer` with the
MAC from the offer's seed); the code is shown and confirmed, a payment approved and
acknowledged in the log. The camera, the fallback, watches the empty counter.

    Xvfb :99 -screen 0 1366x768x24 &
    DISPLAY=:99 QT_QPA_PLATFORM=xcb PYTHONPATH=tests \
        .venv/bin/python tests/gui/make_screenshot.py OUT.png

(Not a test: pytest collects test_*.py only.) Loopback only, like the tests.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path
from typing import Any

import aiohttp
import qasync
from gui_support import Peer
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
from support import synthetic

from qrlink_desktop import app as app_module
from qrlink_desktop.core import answer_home, bootstrap
from qrlink_desktop.core.events import MessageEvent
from qrlink_desktop.core.messages import MessageType
from qrlink_desktop.core.session import State
from qrlink_desktop.gui import settings as settings_store
from qrlink_desktop.gui.camera import CameraRequest
from qrlink_desktop.gui.settings import Settings
from qrlink_desktop.pages.answers import AnswerInbox
from qrlink_desktop.pages.server import serve_pages
from qrlink_desktop.scan.sources import open_source


async def until(check: Any, timeout: float = 20.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        if loop.time() > deadline:
            raise TimeoutError(f"waited {timeout} s for {check}")
        await asyncio.sleep(0.02)


async def send_home(offer_url: str, answer: str) -> None:
    """What the page does with its answer: POST it to the page's origin with its MAC."""
    record = bootstrap.decode_compact(offer_url, now=0, allow_loopback=True, check_expiry=False)
    assert record.seed is not None
    body = answer_home.make_request(record.seed, answer).to_json()
    endpoint = offer_url.split("#")[0].lower() + answer_home.ANSWER_PATH
    async with aiohttp.ClientSession() as session, session.post(endpoint, data=body) as r:
        if r.status != 202:
            raise RuntimeError(f"the window refused the answer: {r.status} {await r.text()}")


async def shoot(out: Path, workdir: Path) -> None:
    inbox = AnswerInbox()
    pages = await serve_pages("127.0.0.1", 0, inbox=inbox)
    video = workdir / "counter.avi"
    # The counter with nobody holding up a phone: the camera has nothing to do.
    room = synthetic.phone_sequence("QL:0", seed=11, empty_frames=90, enter_frames=0, hold_frames=0)
    synthetic.write_video(video, room, 30)
    args = app_module.build_parser().parse_args(
        ["--address", "127.0.0.1", "--page-url", pages.url, "--settings",
         str(workdir / "s.ini"), "--camera", str(video)]
    )  # fmt: skip
    store = app_module.open_store(args.settings)
    settings_store.save(store, Settings(merchant="Corner Café"))  # as the shop saved it
    app = app_module.QrlinkApp(args, store, inbox=inbox)
    window = app.window
    app.start()
    window.camera.start(
        CameraRequest(
            lambda: open_source(str(video), realtime=True, loop=True),
            "zxing",
            True,
            None,
            f"video file {video.name}",
        )
    )
    shot: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    peer: Peer | None = None
    try:
        await until(lambda: app.controller.state == State.AWAITING_ANSWER)
        await asyncio.sleep(1.0)  # the waiting screen, as the customer scans
        peer = Peer(window.offer.text, "--approve")
        await until(lambda: peer.first("answer") is not None)
        answer = peer.first("answer")["text"]  # type: ignore[index]
        await send_home(window.offer.text, answer)
        await until(window.status.code_box.isVisible)
        window.status.confirm_button.click()
        await until(window.payment.amount.isEnabled)
        await until(lambda: window.status.rtt_label.text() != "—", timeout=10)  # first ping
        window.payment.amount.setText("12.50")
        window.payment.reference.setText("Receipt 4711")
        window.payment.submit()

        def on_message(event: MessageEvent) -> None:
            # The window closes the channel 0.2 s after the acknowledgment: take the
            # picture while the pairing is still shown as connected.
            if event.type == MessageType.PAYMENT_ACKNOWLEDGMENT and not shot.done():
                QTimer.singleShot(40, grab)

        def grab() -> None:
            QApplication.processEvents()
            window.grab().save(str(out))
            shot.set_result(None)

        app.controller.message.connect(on_message)
        await asyncio.wait_for(shot, 20)
    finally:
        if peer is not None:
            peer.proc.kill()
            peer.stop()
        window.close()
        await app.shutdown()
        await pages.close()


def main() -> int:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshot.png")
    qt = QApplication.instance() or QApplication([])
    assert isinstance(qt, QApplication)
    qt.setQuitOnLastWindowClosed(False)
    loop = qasync.QEventLoop(qt)
    asyncio.set_event_loop(loop)
    with tempfile.TemporaryDirectory() as tmp:
        try:
            loop.run_until_complete(shoot(out, Path(tmp)))
        finally:
            loop.close()
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
