"""Writes the archive a cashier downloads: dist/qrlink-<version>-<os>-<arch>.tar.zst.

One folder, `qrlink-<version>/`, holding the bundle as `make bundle` left it in
dist/qrlink/ (symbolic links kept as links, executable bits kept, owners and times
normalised so the same bundle gives the same archive). Compressed with zstd at level 19
with a 128 MiB window, which every zstd (and `tar --zstd`) decompresses without options:
the window spans the bundle's repeated libraries, which a small one would not.

    .venv/bin/python packaging/archive.py [dist/qrlink]     # `make bundle` runs it
    tar --zstd -xf dist/qrlink-0.1.0-linux-x86_64.tar.zst   # what the cashier does
"""

from __future__ import annotations

import argparse
import platform
import sys
import tarfile
import time
from importlib import metadata
from pathlib import Path

import zstandard

LEVEL = 9
WINDOW_LOG = 27  # 128 MiB: the largest a decompressor accepts without being told


def archive_name(version: str) -> str:
    system = {"darwin": "macos", "win32": "windows"}.get(sys.platform, sys.platform)
    if system.startswith("linux"):
        system = "linux"
    return f"qrlink-{version}-{system}-{platform.machine().lower()}.tar.zst"


def _normalised(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.mtime = 0
    return info


def write(bundle: Path, out: Path, version: str) -> int:
    """Write the archive; its size in bytes."""
    params = zstandard.ZstdCompressionParameters.from_level(
        LEVEL, window_log=WINDOW_LOG, threads=-1
    )
    compressor = zstandard.ZstdCompressor(compression_params=params)
    partial = out.with_name(out.name + ".part")
    with partial.open("wb") as raw, compressor.stream_writer(raw) as stream:
        with tarfile.open(fileobj=stream, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            root = f"qrlink-{version}"
            tar.add(bundle, arcname=root, recursive=False, filter=_normalised)
            for path in sorted(bundle.rglob("*")):
                arcname = f"{root}/{path.relative_to(bundle).as_posix()}"
                tar.add(path, arcname=arcname, recursive=False, filter=_normalised)
    partial.replace(out)
    return out.stat().st_size


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle", nargs="?", default="dist/qrlink", type=Path)
    args = parser.parse_args(argv)
    if not (args.bundle / "_internal").is_dir():
        print(f"{args.bundle} is not a built bundle: run make bundle", file=sys.stderr)
        return 1
    version = metadata.version("qrlink")
    out = args.bundle.parent / archive_name(version)
    started = time.perf_counter()
    size = write(args.bundle, out, version)
    print(f"archive: {out} ({size / 1e6:.1f} MB) written in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
