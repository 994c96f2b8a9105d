"""PyInstaller runtime hook: pyzbar loads the zbar library shipped in the bundle.

pyzbar finds zbar with `ctypes.util.find_library("zbar")`, which on Linux and macOS means
the system's copy (or none at all). The bundle carries its own copy under `zbar/`; this
hook points pyzbar's loader at that file by absolute path, before the app imports pyzbar.
Without a bundled copy (a build without pyzbar), nothing changes. On Windows pyzbar's own
loader already looks beside itself, where the bundle puts its DLLs.
"""


def _use_bundled_zbar() -> None:
    import ctypes
    import os
    import sys

    if sys.platform == "win32":
        return
    folder = os.path.join(getattr(sys, "_MEIPASS", ""), "zbar")
    try:
        names = sorted(n for n in os.listdir(folder) if n.startswith("libzbar"))
    except OSError:
        return
    if not names:
        return
    path = os.path.join(folder, names[0])
    os.environ["QRLINK_ZBAR_LIBRARY"] = path
    try:
        from pyzbar import zbar_library
    except ImportError:
        return

    def load() -> tuple[ctypes.CDLL, list[ctypes.CDLL]]:
        return ctypes.cdll.LoadLibrary(path), []

    zbar_library.load = load


_use_bundled_zbar()
