"""Writes resources/selftest/answer.{txt,png,avi}: a real answer text, its QR image, and a
short Motion-JPEG video of it (what a USB webcam sends).

Two sessions on loopback (127.0.0.1, no ICE servers): the cashier makes an offer, the
customer answers it; the answer text is kept, and `qrlink --self-test` decodes its image
and plays the video through the camera path. Answers carry no expiry, so the files stay
valid. Run again only to replace them (`--video` rewrites only the video, from answer.txt):

    .venv/bin/python packaging/make_selftest_image.py [--video]
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import cv2
import numpy as np

from qrlink_desktop.rtc.answering import AnsweringSession
from qrlink_desktop.rtc.config import SessionConfig
from qrlink_desktop.rtc.offering import OfferingSession
from qrlink_desktop.rtc.peer import IceConfig
from qrlink_desktop.scan import qrimage

OUT = Path(__file__).resolve().parents[1] / "resources" / "selftest"


async def answer_text() -> str:
    cfg = SessionConfig(ice=IceConfig(servers=(), addresses=("127.0.0.1",)))
    cashier, customer = OfferingSession(cfg), AnsweringSession(cfg)
    try:
        offer = await cashier.new_customer()
        assert offer is not None
        answer = await customer.answer(offer.text)
        assert answer is not None
        return answer.text
    finally:
        await cashier.shutdown()
        await customer.shutdown()


VIDEO_SIZE = 320
VIDEO_FRAMES = 8


def write_video(text: str, path: Path) -> None:
    """A few frames of the QR drifting across a grey background, MJPEG in AVI."""
    code = qrimage.render_grey(text, scale=4)
    size = code.shape[0]
    writer = cv2.VideoWriter(
        str(path), cv2.VideoWriter.fourcc(*"MJPG"), 15.0, (VIDEO_SIZE, VIDEO_SIZE)
    )
    if not writer.isOpened():
        raise SystemExit(f"OpenCV cannot write {path}")
    try:
        for i in range(VIDEO_FRAMES):
            canvas = np.full((VIDEO_SIZE, VIDEO_SIZE), 0x80, np.uint8)
            x0 = y0 = 8 + 4 * i
            canvas[y0 : y0 + size, x0 : x0 + size] = code
            writer.write(cv2.cvtColor(canvas, cv2.COLOR_GRAY2BGR))
    finally:
        writer.release()


def main() -> None:
    if "--video" in sys.argv[1:]:
        text = (OUT / "answer.txt").read_text(encoding="ascii").strip()
        write_video(text, OUT / "answer.avi")
        print(f"{OUT / 'answer.avi'}: {VIDEO_FRAMES} frames")
        return
    text = asyncio.run(answer_text())
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "answer.txt").write_text(text + "\n", encoding="ascii")
    qrimage.write_png(text, OUT / "answer.png", scale=6)
    write_video(text, OUT / "answer.avi")
    print(f"{OUT / 'answer.png'}: QR version {qrimage.version(text)}, {len(text)} chars")


if __name__ == "__main__":
    main()
