"""PyInstaller hook for pyzbar: collect the zbar library it loads at run time.

Linux and macOS: the library the system's loader finds for "zbar" goes to `zbar/` in the
bundle (its own dependencies are collected beside the other libraries by PyInstaller's
dependency analysis), and the runtime hook `pyi_rth_qrlink_zbar.py` loads it from there.
Windows: the pyzbar wheel carries libzbar-64.dll and libiconv.dll in the package folder.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

from PyInstaller.utils.hooks import collect_dynamic_libs, logger


def _zbar_path() -> str | None:
    name = ctypes.util.find_library("zbar")
    if not name:
        return None
    if os.path.isabs(name):
        return os.path.realpath(name)
    ctypes.CDLL(name)  # load it, then read which file the loader chose
    with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
        for line in maps:
            parts = line.split(maxsplit=5)
            if len(parts) == 6 and os.path.basename(parts[5].strip()).startswith("libzbar"):
                return parts[5].strip()
    return None


if sys.platform == "win32":
    binaries = collect_dynamic_libs("pyzbar")
else:
    found = _zbar_path()
    if found is None:
        logger.warning("pyzbar: no zbar library found; the bundle's pyzbar decoder will not load")
        binaries = []
    else:
        logger.info("pyzbar: bundling %s", found)
        binaries = [(found, "zbar")]
