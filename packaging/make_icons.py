"""Draws the app icon, a QR-like glyph, into packaging/icons/ (PNG, ICO, ICNS).

A 21x21 module grid: the three finder squares of a QR code and a fixed pattern of data
modules, dark blue on a white rounded tile. Pillow writes every format, so the Windows
and macOS icons come from this Linux machine too:

    .venv/bin/python packaging/make_icons.py
"""

from __future__ import annotations

import random
from pathlib import Path

from PIL import Image, ImageDraw

OUT = Path(__file__).resolve().parent / "icons"
GRID = 21
INK = (20, 52, 110, 255)
ACCENT = (0, 150, 110, 255)
PAPER = (255, 255, 255, 255)
PNG_SIZES = (16, 32, 48, 64, 128, 256, 512, 1024)


def _modules() -> list[list[bool]]:
    rng = random.Random(7)  # a fixed pattern: the same icon on every run
    grid = [[rng.random() < 0.45 for _ in range(GRID)] for _ in range(GRID)]
    for top, left in ((0, 0), (0, GRID - 7), (GRID - 7, 0)):
        for r in range(-1, 8):
            for c in range(-1, 8):
                y, x = top + r, left + c
                if 0 <= y < GRID and 0 <= x < GRID:
                    ring = max(abs(r - 3), abs(c - 3))
                    grid[y][x] = ring in (0, 1, 3)
    return grid


def draw(size: int = 1024) -> Image.Image:
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    d = ImageDraw.Draw(image)
    d.rounded_rectangle((0, 0, size - 1, size - 1), radius=size // 6, fill=PAPER)
    margin = size // 8
    cell = (size - 2 * margin) / GRID
    finders = {(0, 0), (0, GRID - 7), (GRID - 7, 0)}
    for y, row in enumerate(_modules()):
        for x, dark in enumerate(row):
            if not dark:
                continue
            in_finder = any(t <= y < t + 7 and left <= x < left + 7 for t, left in finders)
            centre = any(t + 2 <= y < t + 5 and left + 2 <= x < left + 5 for t, left in finders)
            colour = ACCENT if centre else INK
            x0, y0 = margin + x * cell, margin + y * cell
            pad = 0 if in_finder else cell * 0.08
            d.rectangle((x0 + pad, y0 + pad, x0 + cell - pad, y0 + cell - pad), fill=colour)
    return image


def main() -> None:
    OUT.mkdir(exist_ok=True)
    big = draw(1024)
    for size in PNG_SIZES:
        big.resize((size, size), Image.Resampling.LANCZOS).save(OUT / f"qrlink-{size}.png")
    big.resize((256, 256), Image.Resampling.LANCZOS).save(OUT / "qrlink.png")
    big.save(OUT / "qrlink.ico", sizes=[(s, s) for s in (16, 24, 32, 48, 64, 128, 256)])
    big.save(OUT / "qrlink.icns")
    print(f"icons written to {OUT}")


if __name__ == "__main__":
    main()
