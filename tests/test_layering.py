"""DESIGN.md §2: what each layer may import. Relative imports are resolved, so
`from ..rtc import x` inside scan/ is caught as surely as `import qrlink_desktop.rtc`."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "qrlink_desktop"

# layer -> (third-party top-level packages allowed, own packages allowed)
RULES: dict[str, tuple[set[str], set[str]]] = {
    "core": (set(), {"core"}),
    "rtc": ({"aiortc", "aioice", "zstandard", "av"}, {"core", "rtc"}),
    "scan": ({"av", "numpy", "cv2", "zxingcpp", "pyzbar", "qrcode"}, {"core", "scan"}),
    "rendezvous": ({"aiohttp", "redis", "yarl", "multidict"}, {"core", "rendezvous"}),
}


def _imports(path: Path, root: Path = ROOT) -> list[str]:
    package = ".".join(path.relative_to(root.parent).with_suffix("").parts[:-1])
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
                names += [module] if node.module else [f"{module}.{a.name}" for a in node.names]
            elif node.module:
                names.append(node.module)
    return names


def _violations(layer: str, root: Path = ROOT) -> list[str]:
    third_party, own = RULES[layer]
    bad = []
    for path in sorted((root / layer).rglob("*.py")):
        for name in _imports(path, root):
            parts = name.split(".")
            if parts[0] == "qrlink_desktop":
                if len(parts) == 1 or parts[1] == "__init__" or parts[1] == "__version__":
                    continue
                if parts[1] not in own:
                    bad.append(f"{path.relative_to(root)} imports {name}")
            elif parts[0] not in sys.stdlib_module_names and parts[0] not in third_party:
                bad.append(f"{path.relative_to(root)} imports {name}")
    return bad


@pytest.mark.parametrize("layer", sorted(RULES))
def test_layer_imports_only_what_it_may(layer: str) -> None:
    assert list((ROOT / layer).glob("*.py")), f"{layer} has no modules"
    assert _violations(layer) == []


def _copy_of_the_package(tmp_path: Path) -> Path:
    """A copy to plant probes in: tests never write into the product tree."""
    copy = tmp_path / ROOT.name
    shutil.copytree(ROOT, copy, ignore=shutil.ignore_patterns("__pycache__"))
    return copy


def test_the_rule_catches_a_relative_import(tmp_path: Path) -> None:
    root = _copy_of_the_package(tmp_path)
    assert _violations("scan", root) == []
    (root / "scan" / "_layering_probe.py").write_text("from ..rtc import peer\n")
    assert _violations("scan", root) == ["scan/_layering_probe.py imports qrlink_desktop.rtc"]


def test_core_loads_no_third_party_module() -> None:
    code = (
        "import sys, qrlink_desktop.core as c, pkgutil, importlib\n"
        "for m in pkgutil.iter_modules(c.__path__):\n"
        "    importlib.import_module('qrlink_desktop.core.' + m.name)\n"
        "skip = ('qrlink_desktop', '__main__', '_distutils_hack', '__editable__')\n"
        "bad = [m for m in sys.modules if m.split('.')[0] not in sys.stdlib_module_names"
        " and not m.startswith(skip)]\n"
        "print(','.join(sorted(bad)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_gui_is_the_only_layer_with_qt() -> None:
    for layer in ("core", "rtc", "scan", "rendezvous"):
        assert not [v for v in _violations(layer) if "PySide6" in v or "qasync" in v]
        for path in (ROOT / layer).rglob("*.py"):
            assert "PySide6" not in path.read_text(), path


# The app does without these at run time (the bundle leaves them out, docs/packaging.md);
# only the synthetic-frame generator, a test and benchmark tool, draws with them.
DEV_ONLY = {"numpy", "cv2", "PIL"}
DEV_MODULES = {ROOT / "scan" / "synthetic.py"}


def test_the_app_imports_no_dev_only_library() -> None:
    assert _dev_only_violations() == []


def test_every_app_module_loads_with_the_dev_only_libraries_blocked() -> None:
    # None in sys.modules makes `import numpy` fail, as in the bundle.
    code = (
        "import sys, pkgutil, importlib\n"
        f"for name in {sorted(DEV_ONLY)!r}:\n"
        "    sys.modules[name] = None\n"
        "import qrlink_desktop as q\n"
        "loaded = []\n"
        "for m in pkgutil.walk_packages(q.__path__, 'qrlink_desktop.'):\n"
        "    if m.name.endswith(('.synthetic', '.__main__')):\n"
        "        continue\n"
        "    importlib.import_module(m.name)\n"
        "    loaded.append(m.name)\n"
        "print(len(loaded))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert out.returncode == 0, out.stderr
    assert int(out.stdout) > 40


def test_the_dev_only_rule_catches_an_import(tmp_path: Path) -> None:
    root = _copy_of_the_package(tmp_path)
    (root / "gui" / "_dev_only_probe.py").write_text("import numpy as np\n")
    assert _dev_only_violations(root) == ["gui/_dev_only_probe.py imports numpy"]


def _dev_only_violations(root: Path = ROOT) -> list[str]:
    dev_modules = {root / p.relative_to(ROOT) for p in DEV_MODULES}
    return [
        f"{p.relative_to(root)} imports {n}"
        for p in sorted(root.rglob("*.py"))
        if p not in dev_modules
        for n in _imports(p, root)
        if n.split(".")[0] in DEV_ONLY
    ]
