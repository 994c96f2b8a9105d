"""What each layer may import (docs/architecture.md). Relative imports are resolved, so
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
    "scan": ({"numpy", "cv2", "zxingcpp", "pyzbar", "qrcode"}, {"core", "scan"}),
    # The page server: the built page and the laptop's answer inbox, no service in it.
    "pages": ({"aiohttp", "yarl", "multidict"}, {"core", "pages"}),
    # The service serves the same page through pages/ (one origin for page and API).
    "rendezvous": ({"aiohttp", "redis", "yarl", "multidict"}, {"core", "pages", "rendezvous"}),
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


def test_the_page_server_is_not_part_of_the_service(tmp_path: Path) -> None:
    root = _copy_of_the_package(tmp_path)
    assert _violations("pages", root) == []
    (root / "pages" / "_layering_probe.py").write_text("from ..rendezvous.store import Store\n")
    assert _violations("pages", root) == [
        "pages/_layering_probe.py imports qrlink_desktop.rendezvous.store"
    ]
    (root / "rendezvous" / "_layering_probe.py").write_text("from ..rtc.peer import Peer\n")
    assert _violations("rendezvous", root) == [
        "rendezvous/_layering_probe.py imports qrlink_desktop.rtc.peer"
    ]


def test_gui_is_the_only_layer_with_qt() -> None:
    for layer in ("core", "rtc", "scan", "pages", "rendezvous"):
        assert not [v for v in _violations(layer) if "PySide6" in v or "qasync" in v]
        for path in (ROOT / layer).rglob("*.py"):
            assert "PySide6" not in path.read_text(), path


# Imaging: OpenCV captures and decodes images, numpy holds the frames, pyzbar decodes.
# They belong to scan, and to the one place in gui that turns a frame into a QImage;
# core and rtc (and everything else) never touch them. Pillow is the tests' own.
IMAGING = {"cv2", "numpy", "pyzbar"}
IMAGING_OUTSIDE_SCAN = {ROOT / "gui" / "camera.py"}
TEST_ONLY = {"PIL"}
# cv2 and numpy as scan/imaging.py hands them out (imported on first use): the same thing.
LAZY_IMAGING = "qrlink_desktop.scan.imaging"


def _imported_names(path: Path, root: Path = ROOT) -> list[str]:
    """`_imports`, plus each name taken from a module (`from a import b` gives a and a.b)."""
    names = _imports(path, root)
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names += [f"{node.module}.{alias.name}" for alias in node.names]
    return names


def _libraries(path: Path, root: Path = ROOT) -> list[str]:
    """The imaging and test-only libraries a module imports, directly or through
    scan/imaging.py."""
    found = []
    for name in _imported_names(path, root):
        if name == LAZY_IMAGING or name.startswith(LAZY_IMAGING + "."):
            found += ["cv2", "numpy"]
        elif name.split(".")[0] in IMAGING | TEST_ONLY:
            found.append(name.split(".")[0])
    return found


def _imaging_violations(root: Path = ROOT) -> list[str]:
    allowed = {root / p.relative_to(ROOT) for p in IMAGING_OUTSIDE_SCAN}
    bad = []
    for path in sorted(root.rglob("*.py")):
        in_scan = path.relative_to(root).parts[0] == "scan"
        for name in _libraries(path, root):
            if name in TEST_ONLY or (not in_scan and path not in allowed):
                bad.append(f"{path.relative_to(root)} imports {name}")
    return bad


def test_imaging_libraries_stay_in_scan_and_the_viewfinders_conversion() -> None:
    assert _imaging_violations() == []


@pytest.mark.parametrize(
    ("probe", "line", "library"),
    [
        ("core/_probe.py", "import numpy", "numpy"),
        ("rtc/_probe.py", "import cv2", "cv2"),
        ("gui/_probe.py", "import pyzbar.pyzbar", "pyzbar"),
        ("gui/_probe.py", "from ..scan.imaging import cv2", "cv2"),
        ("rendezvous/_probe.py", "from qrlink_desktop.scan import imaging", "numpy"),
    ],
)
def test_the_imaging_rule_catches_an_import(
    probe: str, line: str, library: str, tmp_path: Path
) -> None:
    root = _copy_of_the_package(tmp_path)
    assert _imaging_violations(root) == []
    (root / probe).write_text(line + "\n")
    assert f"{probe} imports {library}" in _imaging_violations(root)


def test_capture_goes_through_opencv_and_decoding_through_both_decoders() -> None:
    # The inverse of the rule: scan really uses them (and PyAV, aiortc's, it does not).
    scan = {p.name: _libraries(p) for p in (ROOT / "scan").glob("*.py")}
    assert "cv2" in scan["sources.py"] and "cv2" in scan["opening.py"]
    assert "cv2" in scan["frames.py"]
    assert "numpy" in scan["frames.py"] and "cv2" in scan["decoders.py"]
    imaging = (ROOT / "scan" / "imaging.py").read_text()
    assert '_OnFirstUse("cv2")' in imaging and '_OnFirstUse("numpy")' in imaging
    decoders = (ROOT / "scan" / "decoders.py").read_text()  # imported by name when chosen
    assert '"zxingcpp"' in decoders and '"pyzbar.pyzbar"' in decoders
    uses_av = [p.name for p in (ROOT / "scan").glob("*.py") if "av" in _top_level_imports(p)]
    assert uses_av == []


def _top_level_imports(path: Path) -> set[str]:
    return {name.split(".")[0] for name in _imports(path)}


def test_the_window_starts_without_loading_opencv_or_numpy() -> None:
    # They load with the first frame (scan/imaging.py), after the window is shown.
    code = (
        "import sys\n"
        "import qrlink_desktop.app, qrlink_desktop.cli, qrlink_desktop.gui.main_window\n"
        "from qrlink_desktop.scan import decoders, scanner, sources, qrimage\n"
        "print(','.join(m for m in ('cv2', 'numpy') if m in sys.modules))\n"
        "qrimage.write_png('QL:A', __import__('os').devnull)\n"
        "print(','.join(m for m in ('cv2', 'numpy') if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.splitlines() == ["", "cv2,numpy"]


def test_core_and_rtc_load_no_imaging_library() -> None:
    code = (
        "import sys, pkgutil, importlib\n"
        "for layer in ('core', 'rtc'):\n"
        "    package = importlib.import_module('qrlink_desktop.' + layer)\n"
        "    for m in pkgutil.iter_modules(package.__path__):\n"
        "        importlib.import_module(f'qrlink_desktop.{layer}.{m.name}')\n"
        f"print(','.join(sorted(m for m in {sorted(IMAGING)!r} if m in sys.modules)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.strip() == ""


def test_every_app_module_loads_without_the_test_only_libraries() -> None:
    # None in sys.modules makes `import PIL` fail, as in the bundle; the test tools
    # (tests/support) are not in the package at all.
    code = (
        "import sys, pkgutil, importlib\n"
        f"for name in {sorted(TEST_ONLY)!r}:\n"
        "    sys.modules[name] = None\n"
        "import qrlink_desktop as q\n"
        "loaded = []\n"
        "for m in pkgutil.walk_packages(q.__path__, 'qrlink_desktop.'):\n"
        "    if m.name.endswith('.__main__'):\n"
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
    assert not list(ROOT.rglob("synthetic.py")) and not list(ROOT.rglob("faults.py"))
