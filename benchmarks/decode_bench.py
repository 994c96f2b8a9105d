"""Decode success rate and time per frame on webcam-like frames: zxing-cpp alone, pyzbar
alone, and the app's default, zxing-cpp then pyzbar on the frames zxing-cpp misses.

The frames come from tests/support/synthetic.py: a phone showing a QR code in a 720p
webcam frame (perspective, rotation, blur, noise, glare, JPEG), as BGR arrays, which is
what OpenCV's capture hands the decoders. All three decoders see the same frames, and the
time per frame includes taking the grey plane. Version 5 is the real answer size (`QL:` +
108 base-41 characters); the other versions are filled to capacity, their worst case.

The combined decoder runs as in the scanner, within its time budget for zbar, with the
frames arriving at 30 fps (a simulated clock: the budget is a share of the camera's time).

    .venv/bin/python benchmarks/decode_bench.py              # ~3 minutes on 2 cores
    .venv/bin/python benchmarks/decode_bench.py --frames 40  # a quick look
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from support import synthetic

from qrlink_desktop.scan.decoders import Decoder, ZxingThenPyzbar, get_decoder

CAMERA_FPS = 30.0
COLUMNS = ("zxing", "pyzbar", "zxing+pyzbar")


@dataclass(frozen=True)
class Cell:
    frames: int
    decoded: int
    median_ms: float
    p95_ms: float

    @property
    def rate(self) -> float:
        return 100.0 * self.decoded / self.frames

    def __str__(self) -> str:
        return f"{self.rate:.1f} % / {self.median_ms:.1f} / {self.p95_ms:.1f}"


@dataclass(frozen=True)
class Row:
    difficulty: float
    version: int
    chars: int
    cells: dict[str, Cell]
    zbar: str  # what zbar did inside the combined decoder


def text_for(version: int) -> str:
    if version == 5:
        return synthetic.answer_like_text(np.random.default_rng(5))  # the real answer size
    return synthetic.text_for_version(version, np.random.default_rng(version))


class CameraClock:
    """Frames arriving at the camera's rate: the combined decoder's budget clock."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def measure(decoder: Decoder, frames: list[np.ndarray], text: str, clock: CameraClock) -> Cell:
    decoded, times = 0, []
    for i, frame in enumerate(frames):
        clock.now = i / CAMERA_FPS
        started = time.perf_counter()
        found = decoder.decode(frame)
        times.append(1000.0 * (time.perf_counter() - started))
        decoded += any(d.text == text for d in found)
    return Cell(len(frames), decoded, statistics.median(times), float(np.percentile(times, 95)))


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    versions = (
        f"Python {platform.python_version()}, OpenCV {cv2.__version__}, "
        f"zxing-cpp {metadata.version('zxing-cpp')}, pyzbar {metadata.version('pyzbar')}"
    )
    return f"{cpu}, {cores} cores, no GPU; {versions}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--frames", type=int, default=120, help="frames per version and difficulty")
    parser.add_argument("--versions", default="5,6,10,13")
    parser.add_argument("--difficulties", default="0.5,0.8", help="0 easy … 1 hard")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    versions = [int(v) for v in args.versions.split(",")]
    difficulties = [float(d) for d in args.difficulties.split(",")]

    print(f"machine: {machine()}", flush=True)
    print(
        f"{args.frames} frames per row, 1280x720 BGR, seed {args.seed}; decoding in one thread; "
        f"zxing+pyzbar with frames at {CAMERA_FPS:.0f} fps\n",
        flush=True,
    )
    rows: list[Row] = []
    for difficulty in difficulties:
        for version in versions:
            text = text_for(version)
            assert synthetic.qr_version(text) == version
            frames = [
                f.image
                for f in synthetic.make_frames(
                    text, args.frames, seed=args.seed * 1000 + version, difficulty=difficulty
                )
            ]
            clock = CameraClock()
            combined = ZxingThenPyzbar(clock=clock)
            decoders: dict[str, Decoder] = {
                "zxing": get_decoder("zxing"),
                "pyzbar": get_decoder("pyzbar"),
                "zxing+pyzbar": combined,
            }
            cells = {name: measure(d, frames, text, clock) for name, d in decoders.items()}
            zbar = (
                f"{combined.passes} tried, {combined.rescued} read, {combined.skipped} over budget"
            )
            rows.append(Row(difficulty, version, len(text), cells, zbar))
            print(
                f"  v{version} d={difficulty}: "
                + ", ".join(f"{n} {c.rate:.0f} %" for n, c in cells.items()),
                file=sys.stderr,
            )

    print(
        "| difficulty | QR version | text chars "
        + "".join(f"| {name} decoded / median / p95 ms " for name in COLUMNS)
        + "| zbar in zxing+pyzbar |"
    )
    print("|---|---|---" + "|---" * len(COLUMNS) + "|---|")
    for r in rows:
        best_alone = max(r.cells["zxing"].decoded, r.cells["pyzbar"].decoded)
        mark = "" if r.cells["zxing+pyzbar"].decoded >= best_alone else " (below the best alone!)"
        print(
            f"| {r.difficulty:.1f} | {r.version} | {r.chars} "
            + "".join(f"| {r.cells[name]} " for name in COLUMNS)
            + f"| {r.zbar}{mark} |"
        )


if __name__ == "__main__":
    main()
