"""scan/ may use numpy, OpenCV, the decoders, PIL, qrcode and core, never Qt or the network."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import qrlink_desktop.scan

SCAN = Path(qrlink_desktop.scan.__file__).parent
ALLOWED = {"numpy", "cv2", "zxingcpp", "pyzbar", "PIL", "qrcode"}
ALLOWED_OWN = "qrlink_desktop.core"
FORBIDDEN_AT_RUNTIME = ["PySide6", "aiortc", "aioice", "qasync", "aiohttp"]


def _imports(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
    return names


def test_scan_imports_only_what_its_layer_allows() -> None:
    bad = []
    for path in sorted(SCAN.glob("*.py")):
        for name in _imports(path):
            top = name.split(".")[0]
            if top in sys.stdlib_module_names or top in ALLOWED:
                continue
            if name == ALLOWED_OWN or name.startswith(ALLOWED_OWN + "."):
                continue
            bad.append(f"{path.name}: {name}")
    assert bad == []


def test_importing_scan_loads_no_qt_and_no_webrtc() -> None:
    code = (
        "import sys, qrlink_desktop.scan, qrlink_desktop.scan.synthetic;"
        f"print([m for m in {FORBIDDEN_AT_RUNTIME!r} if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
