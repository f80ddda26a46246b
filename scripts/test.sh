#!/usr/bin/env bash
# The project's one test command (README, and .ci/run): installs what this machine lacks
# (Debian packages via apt, needs root or sudo; Python packages into .venv), then runs pytest
# over the whole suite: unit, card (in-process emulator, real pcscd + vpcd, nfcpy udp),
# agent and browser tests. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-system-deps.sh
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[all]'
exec .venv/bin/python -m pytest "$@"
