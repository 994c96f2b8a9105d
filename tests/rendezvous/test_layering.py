"""DESIGN §2: `rendezvous/` imports the standard library, aiohttp, redis and
`qrlink_desktop.core` only — never aiortc, Qt or the other app packages."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import qrlink_desktop.rendezvous as package

ALLOWED_THIRD_PARTY = {"aiohttp", "redis"}
ALLOWED_OWN = ("qrlink_desktop.core", "qrlink_desktop.rendezvous")


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def test_rendezvous_imports_only_what_its_layer_may() -> None:
    files = sorted(Path(package.__file__).parent.glob("*.py"))
    assert len(files) >= 5
    for path in files:
        for name in imported_modules(path):
            top = name.split(".")[0]
            ok = (
                top in sys.stdlib_module_names
                or top in ALLOWED_THIRD_PARTY
                or name == "qrlink_desktop"
                or name.startswith(ALLOWED_OWN)
            )
            assert ok, f"{path.name} imports {name}"
