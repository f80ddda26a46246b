#!/usr/bin/env bash
# Debian packages the tests need (../shared/reference/test-stack.md §2.1); a no-op when all are there.
# vsmartcard-vpcd is for test machines only: never install it on a production kiosk (its port
# listens on every interface and would let anyone insert a fake card).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"

missing() {
    local out=()
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || out+=("$pkg")
    done
    echo "${out[@]:-}"
}

plain=$(missing pcscd vsmartcard-vpcd libpcsclite-dev pcsc-tools opensc libusb-1.0-0 \
    fonts-ipaexfont-gothic systemd gcc openssl postgresql util-linux xvfb xdotool \
    espeak-ng open-jtalk open-jtalk-mecab-naist-jdic python3)
browser=$(missing chromium)
if ! python3 -m venv --help >/dev/null 2>&1; then plain="$plain python3-venv python3-dev"; fi

if [ -n "${plain// /}${browser// /}" ]; then
    $SUDO apt-get update -q
    # shellcheck disable=SC2086
    [ -z "${plain// /}" ] || $SUDO apt-get install -y -q --no-install-recommends $plain
    # Chromium with its recommends, as tested in test-stack.md §2.1 (fonts, udev: harmless).
    # shellcheck disable=SC2086
    [ -z "${browser// /}" ] || $SUDO apt-get install -y -q $browser
fi
