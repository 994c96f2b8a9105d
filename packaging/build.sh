#!/usr/bin/env bash
# Builds the one-folder bundle dist/qrlink/ with PyInstaller (`make bundle` calls this),
# then the archive a cashier downloads, dist/qrlink-<version>-<os>-<arch>.tar.zst
# (packaging/archive.py). Needs the mobile page built first (`make page`). Prints both sizes.
#   PYTHON=...                    the interpreter with qrlink and pyinstaller installed
#   QRLINK_BUNDLE_UNTRIMMED=1     build without the trimming (to measure what it saves)
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-.venv/bin/python}"
start=$(date +%s)
"$PYTHON" -m PyInstaller --noconfirm --log-level WARN \
  --distpath dist --workpath build/pyinstaller packaging/qrlink.spec

# Linux: strip the symbols the extension modules, libpython and Qt's ICU ship with
# (~80 MB). Not the wheels' vendored libraries in *.libs/: auditwheel rewrote them with
# patchelf, and once stripped they no longer load ("ELF load command ... not page-aligned").
if [ "$(uname -s)" = Linux ] && [ "${QRLINK_BUNDLE_UNTRIMMED:-0}" != 1 ] && command -v strip >/dev/null; then
  find dist/qrlink/_internal -type f \( -name '*.so' -o -name '*.so.*' \) -not -path '*.libs/*' \
    -print0 | xargs -0 -r strip --strip-unneeded
fi
echo "bundle: dist/qrlink ($(du -sh dist/qrlink | cut -f1), $(find dist/qrlink -type f | wc -l) files)" \
  "built in $(( $(date +%s) - start )) s"
rm -f dist/qrlink-*.tar.zst
"$PYTHON" packaging/archive.py dist/qrlink
