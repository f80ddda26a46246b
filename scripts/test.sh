#!/usr/bin/env bash
# The project's one test command (README, and .ci/run): installs what this machine lacks
# (Debian packages via apt, needs root or sudo; Python packages into .venv), then runs pytest
# over the whole suite: unit, card (in-process emulator, real pcscd + vpcd, nfcpy udp),
# agent and browser tests. Extra arguments go to pytest (both passes below).
# The suite waits on pcscd, sockets and Chromium far more than on the CPU, so two pytest
# processes run side by side: MYNA_TEST_WORKERS (default 4) pytest-xdist workers, each with its
# own private pcscd, take every test but the `serial` ones (tests/conftest.py SERIAL_FILES: they
# kill pcscd, bound a process's threads/fds/RSS or time sub-second limits), which one more
# process runs one at a time; its report follows the first. Each lists its slowest tests.
# MYNA_TEST_WORKERS=0: no workers, and the serial tests run after the others, not beside them.
# A `-m EXPR` of your own replaces the split (both passes then run what it selects).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-system-deps.sh
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[all]'
bash scripts/install-voice.sh .venv/bin/pip  # the Japanese HTS voice the voice tests use
workers=${MYNA_TEST_WORKERS:-4}
no_tests=5  # pytest's exit status when the arguments select no test of a pass
serial_log=$(mktemp)
serial_pid=
trap 'rm -f "$serial_log"; [ -z "$serial_pid" ] || kill "$serial_pid" 2>/dev/null || true' EXIT
serial=(.venv/bin/python -m pytest --durations=10 -m serial "$@" -n 0)
if [ "$workers" != 0 ]; then
    "${serial[@]}" >"$serial_log" 2>&1 &
    serial_pid=$!
fi
rc_parallel=0
.venv/bin/python -m pytest -n "$workers" --dist worksteal --durations=25 -m "not serial" "$@" \
    || rc_parallel=$?
rc_serial=0
if [ -n "$serial_pid" ]; then
    wait "$serial_pid" || rc_serial=$?
    serial_pid=
    echo "======== the serial tests (-m serial), run one at a time beside the others ========"
    cat "$serial_log"
else
    "${serial[@]}" || rc_serial=$?
fi
status=0
for rc in "$rc_parallel" "$rc_serial"; do
    [ "$rc" -eq 0 ] || [ "$rc" -eq "$no_tests" ] || status=$rc
done
[ "$rc_parallel$rc_serial" != "$no_tests$no_tests" ] || status=$no_tests
exit "$status"
