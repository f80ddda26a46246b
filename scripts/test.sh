#!/usr/bin/env bash
# The project's test command: make the venv if needed, install the project with its extras, run pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/pip install -q --disable-pip-version-check -e '.[all]'
exec .venv/bin/python -m pytest "$@"
