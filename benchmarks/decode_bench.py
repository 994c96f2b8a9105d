"""Decode success rate and time per frame, zxing-cpp against pyzbar, on webcam-like frames.

The frames come from qrlink_desktop.scan.synthetic: a phone showing the answer QR in a
720p webcam frame (perspective, rotation, blur, noise, glare, JPEG). Both decoders see
the same frames. Version 5 is the real answer size (`QL:` + 108 base-41 characters);
the other versions are filled to capacity, their worst case.

    .venv/bin/python benchmarks/decode_bench.py              # ~2 minutes on 2 cores
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

import av
import numpy as np
from support import synthetic

from qrlink_desktop.scan.decoders import Decoder, get_decoder


@dataclass(frozen=True)
class Row:
    version: int
    chars: int
    difficulty: float
    decoder: str
    frames: int
    decoded: int
    median_ms: float
    p90_ms: float

    @property
    def rate(self) -> float:
        return 100.0 * self.decoded / self.frames


def text_for(version: int) -> str:
    if version == 5:
        return synthetic.answer_like_text(np.random.default_rng(5))  # the real answer size
    return synthetic.text_for_version(version, np.random.default_rng(version))


def measure(
    decoder: Decoder, frames: list[synthetic.SyntheticFrame], text: str
) -> tuple[int, list[float]]:
    decoded, times = 0, []
    for frame in frames:
        # As a webcam delivers it; taking its grey plane is timed with the decode.
        camera_frame = frame.camera_frame
        started = time.perf_counter()
        found = decoder.decode(camera_frame)
        times.append(1000.0 * (time.perf_counter() - started))
        decoded += any(d.text == text for d in found)
    return decoded, times


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
        f"Python {platform.python_version()}, PyAV {av.__version__} (FFmpeg "
        f"{av.ffmpeg_version_info}), zxing-cpp {metadata.version('zxing-cpp')}; "
        f"frames as {synthetic.CAMERA_FORMAT}"
    )
    return f"{cpu}, {cores} cores, no GPU; {versions}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--frames", type=int, default=120, help="frames per version and difficulty")
    parser.add_argument("--versions", default="5,6,10,13")
    parser.add_argument("--difficulties", default="0.5,0.8", help="0 easy … 1 hard")
    parser.add_argument("--decoders", default="zxing,pyzbar")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    versions = [int(v) for v in args.versions.split(",")]
    difficulties = [float(d) for d in args.difficulties.split(",")]
    decoders = [get_decoder(name) for name in args.decoders.split(",")]

    print(f"machine: {machine()}", flush=True)
    print(
        f"{args.frames} frames per row, 1280x720, seed {args.seed}; decoding in one thread\n",
        flush=True,
    )
    rows: list[Row] = []
    for difficulty in difficulties:
        for version in versions:
            text = text_for(version)
            assert synthetic.qr_version(text) == version
            frames = synthetic.make_frames(
                text, args.frames, seed=args.seed * 1000 + version, difficulty=difficulty
            )
            for decoder in decoders:
                decoded, times = measure(decoder, frames, text)
                rows.append(
                    Row(
                        version,
                        len(text),
                        difficulty,
                        decoder.name,
                        len(frames),
                        decoded,
                        statistics.median(times),
                        float(np.percentile(times, 90)),
                    )
                )
                print(
                    f"  v{version} d={difficulty} {decoder.name}: {rows[-1].rate:.0f} %",
                    file=sys.stderr,
                )

    print("| difficulty | QR version | text chars | decoder | decoded | median ms | p90 ms |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r.difficulty:.1f} | {r.version} | {r.chars} | {r.decoder} "
            f"| {r.rate:.1f} % ({r.decoded}/{r.frames}) | {r.median_ms:.1f} | {r.p90_ms:.1f} |"
        )


if __name__ == "__main__":
    main()
