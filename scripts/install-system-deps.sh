#!/usr/bin/env bash
# Debian packages the tests need (see ../shared/reference/test-stack.md §2.1). Needs root.
# vsmartcard-vpcd is for test machines only: never install it on a production kiosk.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
need=()
for pkg in pcscd vsmartcard-vpcd libpcsclite-dev pcsc-tools opensc libusb-1.0-0 chromium fonts-ipaexfont-gothic systemd python3-venv gcc; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
    $SUDO apt-get update -q
    $SUDO apt-get install -y -q --no-install-recommends "${need[@]}"
fi
