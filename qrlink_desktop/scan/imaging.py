"""OpenCV and numpy, loaded the first time they are used rather than when the app starts.

Importing numpy and OpenCV takes ~0.1-0.2 s, a fifth of the window's start-up budget
(1 s), and nothing needs them until the first frame or image: the camera is opened on
the scanner's capture thread after the window is shown. So the scan modules (and the
viewfinder's conversion in gui/camera.py) use these stand-ins, which import the real
module on first attribute access; type checkers see the real modules. Only the modules
tests/test_layering.py allows to touch imaging libraries may import this one.
"""

from __future__ import annotations

import importlib
import threading
from types import ModuleType
from typing import TYPE_CHECKING, Any


class _OnFirstUse:
    """A module that is imported when one of its attributes is first asked for."""

    def __init__(self, name: str) -> None:
        self.__dict__["_name"] = name
        self.__dict__["_lock"] = threading.Lock()

    def _module(self) -> ModuleType:
        with self._lock:  # the capture thread and a camera probe may ask at once
            return importlib.import_module(self._name)

    def __getattr__(self, attr: str) -> Any:
        value = getattr(self._module(), attr)
        self.__dict__[attr] = value  # later lookups are plain attribute reads
        return value

    def __repr__(self) -> str:
        return f"<{self._name}, imported on first use>"


if TYPE_CHECKING:
    import cv2
    import numpy as np
else:
    cv2 = _OnFirstUse("cv2")
    np = _OnFirstUse("numpy")

__all__ = ["cv2", "np"]
