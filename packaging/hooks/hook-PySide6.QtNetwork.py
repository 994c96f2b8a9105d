"""PySide6.QtNetwork as PyInstaller's own hook collects it, less what qrlink does not use.

See qrlink_qt_trim.py for what is kept.
"""

import os
import sys

from PyInstaller.utils.hooks.qt import add_qt6_dependencies

sys.path.insert(0, os.path.dirname(__file__))
from qrlink_qt_trim import trim, trimming

hiddenimports, binaries, datas = add_qt6_dependencies(__file__)
binaries, datas = trim(binaries, datas)
if not trimming():
    # OpenSSL for Qt's TLS backends; qrlink does no TLS through Qt.
    from PyInstaller.utils.hooks.qt import pyside6_library_info

    binaries += pyside6_library_info.collect_qtnetwork_files()
