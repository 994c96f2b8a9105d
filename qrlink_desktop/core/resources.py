"""Where the shared resources (protocol schemas, vectors, the built mobile page) live.

They sit in the repository's top-level `resources/`; a PyInstaller bundle carries them at
`<bundle>/resources`; QRLINK_RESOURCES overrides both.
"""

from __future__ import annotations

import json
import os
import sys
from functools import cache
from pathlib import Path
from typing import Any


def resources_dir() -> Path:
    override = os.environ.get("QRLINK_RESOURCES")
    if override:
        return Path(override)
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle:
        return Path(bundle) / "resources"
    return Path(__file__).resolve().parents[2] / "resources"


@cache
def load_json(relative: str) -> Any:
    with open(resources_dir() / relative, encoding="utf-8") as fh:
        return json.load(fh)
