#!/usr/bin/env bash
# The project's one test command (README, and .ci/run): installs what this machine lacks
# (Debian packages via apt, needs root or sudo; Python packages into .venv), then runs pytest
# over the whole suite: unit, card (in-process emulator, real pcscd + vpcd, nfcpy udp),
# agent and browser tests. Extra arguments go to pytest (every lane below).
# The suite waits on pcscd, sockets and Chromium far more than on the CPU, so three pytest
# processes ("lanes") run side by side, each with its own private pcscd per process:
#   parallel  MYNA_TEST_WORKERS (default 6) pytest-xdist workers take every test but the
#             `serial` ones (tests/conftest.py SERIAL_FILES: they kill pcscd, bound a process's
#             threads/fds/RSS or time sub-second limits);
#   serial    one process runs those one at a time, except two files minutes long, which
#             have a process each (tests/conftest.py OWN_LANES):
#   soak      the soak, and
#   matrix    the pcscd fault matrix.
# The lanes' reports follow one another; each lists its slowest tests.
# MYNA_TEST_WORKERS=0: one lane after another in this process, no workers.
# A `-m EXPR` of your own replaces the split: one pytest run (with the workers) selects it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-system-deps.sh
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
# uv installs the same packages as pip in a quarter of the time (parallel downloads, a cache
# shared between clones); pip stays the fallback when uv cannot be had. Bytecode is compiled at
# install time, ours included: with PYTHONDONTWRITEBYTECODE set (as on CI machines) every one of
# the suite's hundreds of Python processes would otherwise compile every module it imports.
pip=(.venv/bin/python -m pip install -q --disable-pip-version-check)
if { .venv/bin/python -m uv --version || "${pip[@]}" uv; } >/dev/null 2>&1; then
    .venv/bin/python -m uv pip install -q --compile-bytecode --python .venv/bin/python \
        -e '.[all]' || "${pip[@]}" -e '.[all]'
else
    "${pip[@]}" -e '.[all]'
fi
.venv/bin/python -m compileall -q -j 0 agent card kiosk_ui receiver fuzz bench >/dev/null
bash scripts/install-voice.sh .venv/bin/pip  # the Japanese HTS voice the voice tests use
workers=${MYNA_TEST_WORKERS:-6}
no_tests=5  # pytest's exit status when the arguments select no test of a lane
pytest=(.venv/bin/python -m pytest)

own_marks=0
for arg in "$@"; do
    case "$arg" in -m|-m*) own_marks=1 ;; esac
done
if [ "$own_marks" = 1 ]; then
    if [ "$workers" = 0 ]; then exec "${pytest[@]}" "$@"; fi
    exec "${pytest[@]}" -n "$workers" --dist worksteal --durations=25 "$@"
fi

parallel=(-n "$workers" --dist worksteal --durations=25 -m "not serial")
serial=(-n 0 --durations=10 -m "serial and not soak and not fault_matrix")
soak=(-n 0 --durations=5 -m soak)
matrix=(-n 0 --durations=5 -m fault_matrix)
side_lanes=(serial soak matrix)
if [ "$workers" = 0 ]; then
    parallel=(-n 0 --durations=25 -m "not serial")
fi

logs=()
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    rm -f "${logs[@]}"
}
trap cleanup EXIT

status=0
ran=0
finish() {  # finish NAME RC: fold one lane's exit status into the command's
    local rc=$2
    if [ "$rc" -eq "$no_tests" ]; then return; fi
    ran=1
    if [ "$rc" -ne 0 ]; then
        status=$rc
        echo "======== lane '$1' failed (exit $rc) ========"
    fi
}

if [ "$workers" = 0 ]; then
    for lane in parallel "${side_lanes[@]}"; do
        declare -n args=$lane
        rc=0
        "${pytest[@]}" "${args[@]}" "$@" || rc=$?
        finish "$lane" "$rc"
        unset -n args
    done
else
    for lane in "${side_lanes[@]}"; do
        declare -n args=$lane
        log=$(mktemp)
        logs+=("$log")
        "${pytest[@]}" "${args[@]}" "$@" >"$log" 2>&1 &
        pids+=($!)
        unset -n args
    done
    rc=0
    "${pytest[@]}" "${parallel[@]}" "$@" || rc=$?
    finish parallel "$rc"
    for i in "${!side_lanes[@]}"; do
        lane=${side_lanes[$i]}
        rc=0
        wait "${pids[$i]}" || rc=$?
        echo "======== lane '$lane' (run beside the others) ========"
        cat "${logs[$i]}"
        finish "$lane" "$rc"
    done
    pids=()
fi
if [ "$ran" = 0 ]; then exit "$no_tests"; fi
exit "$status"
