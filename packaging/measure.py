"""Measures a built bundle: its size on disk and the start-up time to the first window.

Start-up is timed from just before the process is spawned to the moment the bundled
executable reports the cashier's window shown (QRLINK_STARTUP_PROBE, see
qrlink_entry.py), offscreen, with throwaway settings and loopback only; the median of a
few runs, after one warm-up run that fills the file cache. The imports the probe
adds (PySide6, the window module) are ones `qrlink gui` makes anyway.

    .venv/bin/python packaging/measure.py [dist/qrlink] [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def bundle_size(folder: Path) -> tuple[int, int]:
    """Bytes and files in the folder (symbolic links not followed, each file once)."""
    total, count, seen = 0, 0, set()
    for path in folder.rglob("*"):
        if path.is_symlink() or not path.is_file():
            continue
        st = path.stat()
        if (st.st_dev, st.st_ino) in seen:
            continue
        seen.add((st.st_dev, st.st_ino))
        total += st.st_blocks * 512
        count += 1
    return total, count


def time_to_window(executable: Path, timeout: float = 60.0) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(
            os.environ,
            QT_QPA_PLATFORM="offscreen",
            QRLINK_STARTUP_PROBE="1",
            HOME=tmp,
            XDG_CONFIG_HOME=tmp,
        )
        args = [
            str(executable),
            "gui",
            "--settings",
            f"{tmp}/settings.ini",
            "--address",
            "127.0.0.1",
        ]
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        assert proc.stdout is not None
        try:
            for line in proc.stdout:
                if line.strip() == "window shown":
                    elapsed = time.perf_counter() - t0
                    break
            else:
                raise RuntimeError(
                    f"no window; stderr: {proc.stderr.read() if proc.stderr else ''}"
                )
            proc.wait(timeout)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    return elapsed


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("bundle", nargs="?", default="dist/qrlink", type=Path)
    p.add_argument("--runs", type=int, default=5)
    args = p.parse_args(argv)
    exe = args.bundle / ("qrlink.exe" if sys.platform == "win32" else "qrlink")
    size, files = bundle_size(args.bundle)
    print(f"size: {size / 1e6:.1f} MB ({size / 2**20:.1f} MiB), {files} files")
    time_to_window(exe)  # warm-up
    runs = [time_to_window(exe) for _ in range(args.runs)]
    print(
        f"start-up to window: median {statistics.median(runs):.2f} s, "
        f"min {min(runs):.2f} s, max {max(runs):.2f} s ({args.runs} runs, offscreen)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
