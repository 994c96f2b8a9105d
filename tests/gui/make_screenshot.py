"""Take docs/screenshot.png: the window paired with a real headless peer, the code shown
and confirmed, a payment approved and acknowledged in the log, the phone in the viewfinder.

    Xvfb :99 -screen 0 1600x1000x24 &
    DISPLAY=:99 QT_QPA_PLATFORM=xcb .venv/bin/python tests/gui/make_screenshot.py OUT.png

(Not a test: pytest collects test_*.py only.) Loopback only, like the tests.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path
from typing import Any

import qasync
from gui_support import PAGE, Peer
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
from support import synthetic

from qrlink_desktop import app as app_module
from qrlink_desktop.core.session import State
from qrlink_desktop.gui.camera import CameraRequest
from qrlink_desktop.scan.sources import open_source


async def until(check: Any, timeout: float = 20.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        if loop.time() > deadline:
            raise TimeoutError(f"waited {timeout} s for {check}")
        await asyncio.sleep(0.02)


async def shoot(out: Path, workdir: Path) -> None:
    args = app_module.build_parser().parse_args(
        ["--address", "127.0.0.1", *PAGE, "--settings", str(workdir / "s.ini"),
         "--camera", str(workdir / "answer.avi")]
    )  # fmt: skip
    app = app_module.QrlinkApp(args, app_module.open_store(args.settings))
    window = app.window
    window.stored_settings = window.stored_settings.with_overrides(merchant="Corner Café")
    app.start()
    shot: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    peer: Peer | None = None
    try:
        await until(lambda: app.controller.state == State.AWAITING_ANSWER)
        peer = Peer(window.offer.text, "--approve")
        await until(lambda: peer.first("answer") is not None)
        answer = peer.first("answer")["text"]  # type: ignore[index]
        video = workdir / "answer.avi"
        frames = synthetic.phone_sequence(answer, seed=11, difficulty=0.3)
        synthetic.write_video(video, frames, 30)
        # Loop the clip so the phone is still in the picture when the shot is taken.
        window.camera.start(
            CameraRequest(
                lambda: open_source(str(video), realtime=True, loop=True),
                "zxing",
                True,
                None,
                f"video file {video.name}",
            )
        )
        await until(window.status.code_box.isVisible)
        window.status.confirm_button.click()
        await until(window.payment.amount.isEnabled)
        await until(lambda: window.status.rtt_label.text() != "—", timeout=10)  # first ping
        window.payment.amount.setText("12.50")
        window.payment.reference.setText("Receipt 4711")
        window.payment.submit()

        def on_message(event: dict[str, Any]) -> None:
            # The window closes the channel 0.2 s after the acknowledgment: take the
            # picture while the pairing is still shown as connected.
            if event.get("type") == "payment_acknowledgment" and not shot.done():
                QTimer.singleShot(40, grab)

        def grab() -> None:
            QApplication.processEvents()
            window.grab().save(str(out))
            shot.set_result(None)

        app.controller.message.connect(on_message)
        await until(lambda: bool(window.viewfinder.outlines), timeout=10)
        await asyncio.wait_for(shot, 20)
    finally:
        if peer is not None:
            peer.proc.kill()
            peer.stop()
        window.close()
        await app.shutdown()


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
