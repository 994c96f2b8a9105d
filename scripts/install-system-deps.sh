#!/usr/bin/env bash
# Installs the Debian packages the tests use (real browsers, Redis, coturn, libzbar, Xvfb,
# nftables) when any is missing. Needs root; prints what to install otherwise.
set -euo pipefail
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
# The page tests run on both engines; Playwright drives this Firefox over WebDriver BiDi.
command -v firefox-esr >/dev/null 2>&1 || need+=(firefox-esr)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v turnserver >/dev/null 2>&1 || need+=(coturn)
ldconfig -p 2>/dev/null | grep -q 'libzbar\.so\.0' || need+=(libzbar0)
command -v Xvfb >/dev/null 2>&1 || need+=(xvfb)
# Qt's xcb platform under Xvfb (tests/gui/make_screenshot.py) needs these two besides.
ldconfig -p 2>/dev/null | grep -q 'libxcb-icccm\.so\.4' || need+=(libxcb-icccm4)
ldconfig -p 2>/dev/null | grep -q 'libxcb-keysyms\.so\.1' || need+=(libxcb-keysyms1)
command -v ip >/dev/null 2>&1 || need+=(iproute2)
command -v strip >/dev/null 2>&1 || need+=(binutils)   # PyInstaller's objdump, strip
command -v unshare >/dev/null 2>&1 || need+=(util-linux)
command -v nft >/dev/null 2>&1 || [ -x /usr/sbin/nft ] || need+=(nftables)   # a guest network's filter, in tests
command -v node >/dev/null 2>&1 || need+=(nodejs npm)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "Missing system packages: ${need[*]}. Install them with: sudo apt-get install ${need[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
