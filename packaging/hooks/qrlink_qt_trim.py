"""What the qrlink bundle keeps of Qt: shared by the hook-PySide6.*.py overrides here.

PyInstaller's own PySide6 hooks collect every plugin of a category a module may use: all
platform plugins (Wayland, EGLFS, VNC, ...), the GTK 3 and portal themes (which drag in
GTK, cairo, pango and GLib), every image format, SVG icons, TLS backends, network
information backends, and Qt's translations. qrlink draws its QR codes itself, decodes
images through OpenCV and uses QtNetwork only to list interfaces, so it keeps:

- platforms: offscreen, xcb (Linux; X11 and XWayland), windows, cocoa
- platforminputcontexts: compose (dead keys and compose sequences on X11)
- styles: the native Windows and macOS styles
- nothing of imageformats, iconengines, platformthemes, tls, networkinformation,
  xcbglintegrations, egldeviceintegrations, generic, wayland-*, nor the translations.

QRLINK_BUNDLE_UNTRIMMED=1 keeps everything (to measure what trimming saves).
"""

from __future__ import annotations

import os
from collections.abc import Iterable

KEEP = {
    "platforms": ("qoffscreen", "qxcb", "qwindows", "qcocoa"),
    "platforminputcontexts": ("composeplatforminputcontextplugin",),
    "styles": ("qmodernwindowsstyle", "qwindowsvistastyle", "qmacstyle"),
}


def trimming() -> bool:
    return os.environ.get("QRLINK_BUNDLE_UNTRIMMED") != "1"


def _plugin_name(src: str) -> str:
    name = os.path.basename(src).split(".")[0]
    return name[3:] if name.startswith("lib") else name


def keep_binary(src: str, dest: str) -> bool:
    parts = dest.replace("\\", "/").split("/")
    if "plugins" not in parts:
        return True
    category = parts[-1]
    return _plugin_name(src) in KEEP.get(category, ())


def keep_data(src: str, dest: str) -> bool:
    return "translations" not in dest.replace("\\", "/").split("/")


def trim(
    binaries: Iterable[tuple[str, str]], datas: Iterable[tuple[str, str]]
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    if not trimming():
        return list(binaries), list(datas)
    return (
        [b for b in binaries if keep_binary(*b)],
        [d for d in datas if keep_data(*d)],
    )
