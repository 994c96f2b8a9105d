"""PySide6.QtCore as PyInstaller's own hook collects it, less what qrlink does not use.

See qrlink_qt_trim.py for what is kept.
"""

import os
import sys

from PyInstaller.utils.hooks.qt import add_qt6_dependencies

sys.path.insert(0, os.path.dirname(__file__))
from qrlink_qt_trim import trim

hiddenimports, binaries, datas = add_qt6_dependencies(__file__)
binaries, datas = trim(binaries, datas)
