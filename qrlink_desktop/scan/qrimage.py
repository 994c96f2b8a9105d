"""QR images for qrlink texts: the optimal segments of `core.qrsize`, error correction M.

The same symbol serves the window (drawn from the module matrix, so it stays crisp at any
size), `--qr-png` files and the demo, which decodes it back from pixels.
"""

from __future__ import annotations

from pathlib import Path

import qrcode
import qrcode.util

from ..core.qrsize import Mode, smallest_version
from .frames import Frame, png_bytes
from .imaging import np

QUIET_ZONE = 4
_QR_MODE = {
    Mode.NUMERIC: qrcode.util.MODE_NUMBER,
    Mode.ALNUM: qrcode.util.MODE_ALPHA_NUM,
    Mode.BYTE: qrcode.util.MODE_8BIT_BYTE,
}

Modules = tuple[tuple[bool, ...], ...]


def build(text: str, *, border: int = QUIET_ZONE) -> qrcode.QRCode:
    version, segments = smallest_version(text)
    qr = qrcode.QRCode(
        version=version, error_correction=qrcode.constants.ERROR_CORRECT_M, border=border
    )
    for seg in segments:
        qr.add_data(
            qrcode.util.QRData(seg.text.encode("utf-8"), mode=_QR_MODE[seg.mode], check_data=False)
        )
    qr.make(fit=False)
    return qr


def modules(text: str, *, border: int = QUIET_ZONE) -> Modules:
    """Square matrix of rows, True = dark, quiet zone included."""
    return tuple(tuple(bool(m) for m in row) for row in build(text, border=border).get_matrix())


def version(text: str) -> int:
    return smallest_version(text)[0]


def render_grey(text: str, *, scale: int = 8, border: int = QUIET_ZONE) -> Frame:
    """Black modules on white, each `scale` pixels square: a grey frame."""
    dark = np.array(modules(text, border=border), dtype=bool)
    image = np.where(dark, np.uint8(0), np.uint8(255)).astype(np.uint8)
    return np.repeat(np.repeat(image, scale, axis=0), scale, axis=1)


def write_png(text: str, path: str | Path, *, scale: int = 8) -> Path:
    path = Path(path)
    path.write_bytes(png_bytes(render_grey(text, scale=scale)))
    return path
