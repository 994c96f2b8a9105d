"""Writes resources/selftest/answer.{txt,png}: a real answer text and its QR image.

Two engines on loopback (127.0.0.1, no ICE servers): the cashier makes an offer, the
customer answers it; the answer text is kept, and `qrlink --self-test` decodes its image.
Answers carry no expiry, so the files stay valid. Run again only to replace them:

    .venv/bin/python packaging/make_selftest_image.py
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from qrlink_desktop.core.handshake import Role
from qrlink_desktop.rtc.engine import Engine, EngineConfig
from qrlink_desktop.rtc.peer import IceConfig
from qrlink_desktop.scan import qrimage

OUT = Path(__file__).resolve().parents[1] / "resources" / "selftest"


async def answer_text() -> str:
    cfg = EngineConfig(ice=IceConfig(servers=(), addresses=("127.0.0.1",)))
    cashier = Engine(Role.OFFERER, cfg, emit=lambda e: None)
    customer = Engine(Role.ANSWERER, cfg, emit=lambda e: None)
    try:
        return await customer.answer(await cashier.new_customer())
    finally:
        await cashier.shutdown()
        await customer.shutdown()


def main() -> None:
    text = asyncio.run(answer_text())
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "answer.txt").write_text(text + "\n", encoding="ascii")
    qrimage.write_png(text, OUT / "answer.png", scale=6)
    print(f"{OUT / 'answer.png'}: QR version {qrimage.version(text)}, {len(text)} chars")


if __name__ == "__main__":
    main()
