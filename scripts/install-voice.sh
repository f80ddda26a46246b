#!/usr/bin/env bash
# The Japanese voice for the kiosk's voice guidance (kiosk_ui/voice.py): the HTS voice "Mei"
# (MMDAgent Project Team, Nagoya Institute of Technology, CC BY 3.0), which Debian does not
# package (its nitech voice has no candidate here) and which ships inside the pyopenjtalk-plus
# wheel on PyPI. Takes only the voice file and its licence from that wheel into
# /usr/local/share/hts-voice/mei/ for Debian's open_jtalk; a no-op when it is there.
# Usage: scripts/install-voice.sh [PIP]   (default: .venv/bin/pip, else python3 -m pip)
set -euo pipefail
cd "$(dirname "$0")/.."
DEST=${MYNA_HTS_VOICE_DIR:-/usr/local/share/hts-voice/mei}
WHEEL=pyopenjtalk-plus==0.4.1.post10
[ -f "$DEST/mei_normal.htsvoice" ] && exit 0
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
if [ -n "${1:-}" ]; then PIP=("$1"); elif [ -x .venv/bin/pip ]; then PIP=(.venv/bin/pip); else PIP=(python3 -m pip); fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"${PIP[@]}" download -q --disable-pip-version-check --no-deps --only-binary :all: -d "$tmp" "$WHEEL"
python3 - "$tmp" <<'PY'
import sys, zipfile, pathlib
tmp = pathlib.Path(sys.argv[1])
wheel = next(tmp.glob("*.whl"))
with zipfile.ZipFile(wheel) as z:
    for name in ("mei_normal.htsvoice", "LICENSE_mei_normal.htsvoice"):
        (tmp / name).write_bytes(z.read(f"pyopenjtalk/htsvoice/{name}"))
PY
$SUDO install -d -m 0755 "$DEST"
$SUDO install -m 0644 "$tmp/mei_normal.htsvoice" "$tmp/LICENSE_mei_normal.htsvoice" "$DEST/"
