"""Short coverage-guided run of every parser target (issue 7 §2): 2 s each under atheris
(``python -m fuzz.run``); skipped when atheris is not installed. No crash may be found."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from fuzz.targets import TARGETS

pytest.importorskip("atheris")
ROOT = Path(__file__).resolve().parents[2]


def run_target(target: str, seconds: int, workdir: Path) -> tuple[int, int, str]:
    """Run one target; return (exit code, executions, output tail)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "fuzz.run", target, "--seconds", str(seconds)],
        cwd=workdir, env=env, capture_output=True, text=True, timeout=seconds + 60, check=False)
    out = proc.stdout + proc.stderr
    m = re.search(r"number_of_executed_units: (\d+)", out)
    return proc.returncode, int(m.group(1)) if m else 0, out[-2000:]


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_atheris_finds_no_crash(target: str, tmp_path: Path) -> None:
    code, executions, tail = run_target(target, 2, tmp_path)
    assert code == 0, tail
    assert executions > 100, tail
    assert not list(tmp_path.glob("crash-*")), tail
