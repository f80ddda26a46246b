"""Hardening figures (issue 7 "Done when"): fuzz executions and crashes, the card-removal fault
matrix, and a soak through real pcscd + vpcd with RSS / file descriptors / threads after tap 10
and after tap N.

    .venv/bin/python bench/hardening.py                      # CI-sized: 300 taps, 5 s per target
    .venv/bin/python bench/hardening.py --taps 10000 --fuzz-seconds 600   # the long run

Fuzzing uses atheris (``python -m fuzz.run``) when it is installed, else a seeded random
mutator over the same ``fuzz.targets``; "crashes fixed" counts the regression inputs kept in
tests/hardening/crashes (each was a crash once and is replayed by the test suite).
"""

from __future__ import annotations

import argparse
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support import pcscd as pcscd_support  # noqa: E402

_WORK = pcscd_support.make_workdir() if pcscd_support.pcscd_available() else None
if _WORK is not None:  # before anything imports pyscard (test-stack §3.3)
    pcscd_support.configure_client_socket(_WORK)

from card.emulator import PERSONAS, Faults, VirtualMynaCard, export_trust  # noqa: E402
from card.transports.emulated import EmulatedReader  # noqa: E402
from fuzz.targets import TARGETS, call, seeds  # noqa: E402
from tests.hardening.rig import credential, make_config, run  # noqa: E402


def _mutate(rng: random.Random, data: bytes) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        if not buf:
            return bytes(rng.randbytes(rng.randint(0, 64)))
        i = rng.randrange(len(buf))
        op = rng.randrange(4)
        if op == 0:
            buf[i] ^= 1 << rng.randrange(8)
        elif op == 1:
            del buf[i:]
        elif op == 2:
            buf[i:i] = rng.randbytes(rng.randint(1, 8))
        else:
            buf[i] = rng.choice((0x00, 0x7F, 0x80, 0x81, 0x82, 0x84, 0xFF))
    return bytes(buf)


def fuzz(seconds: float) -> tuple[str, int, int]:
    """Return (engine, executions, crashes) over every target."""
    try:
        import atheris  # noqa: F401
    except ImportError:
        atheris_ok = False
    else:
        atheris_ok = True
    executions = crashes = 0
    if atheris_ok:
        for target in sorted(TARGETS):
            with tempfile.TemporaryDirectory() as work:
                proc = subprocess.run(  # noqa: S603 - our own interpreter and module
                    # libFuzzer's -max_total_time=0 means "no limit": never pass less than 1 s.
                    [sys.executable, "-m", "fuzz.run", target, "--seconds",
                     str(max(1, round(seconds)))],
                    cwd=work, env={**os.environ, "PYTHONPATH": str(ROOT)},
                    capture_output=True, text=True, timeout=seconds + 120, check=False)
                out = proc.stdout + proc.stderr
                m = re.search(r"number_of_executed_units: (\d+)", out)
                n = int(m.group(1)) if m else 0
                found = len(list(Path(work).glob("crash-*"))) or int(proc.returncode != 0)
                for crash in Path(work).glob("crash-*"):
                    keep = ROOT / "fuzz" / "findings" / f"{target}-{crash.name[6:14]}"
                    keep.parent.mkdir(exist_ok=True)
                    keep.write_bytes(crash.read_bytes())
                print(f"  {target:14s} {n:>10,} executions, {found} crash(es)")
                executions += n
                crashes += found
        return "atheris", executions, crashes
    rng = random.Random(7)  # noqa: S311 - reproducible mutations, not crypto
    for target in sorted(TARGETS):
        pool = seeds()[target] or (b"",)
        deadline, n, found = time.monotonic() + seconds, 0, 0
        while time.monotonic() < deadline:
            try:
                call(target, _mutate(rng, rng.choice(pool)))
            except Exception:  # noqa: BLE001 - a finding, counted
                found += 1
            n += 1
        print(f"  {target:14s} {n:>10,} executions, {found} crash(es)")
        executions += n
        crashes += found
    return "random mutator", executions, crashes


def fault_matrix(trust: Path) -> tuple[int, int]:
    """Every flow x right/wrong credential x pull before every APDU, in-process run_flow."""
    from tests.hardening.test_fault_matrix import check_pulled, wrong

    config = make_config(trust)
    persona = "yamada-taro"
    size = passed = 0
    for flow in ("sign", "auth", "face", "number"):
        clean = VirtualMynaCard(PERSONAS[persona])
        run(EmulatedReader("m", clean), flow, credential(persona, flow), config)
        total = len(clean.apdu_log)
        for bad_pin in (False, True):
            for n in range(total):
                card = VirtualMynaCard(PERSONAS[persona])
                card.faults = Faults(remove_after_apdus=n)
                cred = credential(persona, flow)
                verdict = run(EmulatedReader("m", card), flow, wrong(cred) if bad_pin else cred,
                              config)
                size += 1
                try:
                    check_pulled(card, verdict.to_json(), flow, bad_pin, n)
                except AssertionError as e:
                    print(f"  FAIL {flow} bad_pin={bad_pin} n={n}: {e}")
                else:
                    passed += 1
    return size, passed


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bench/hardening.py", description=__doc__.splitlines()[0])
    p.add_argument("--taps", type=int, default=300)
    p.add_argument("--fuzz-seconds", type=float, default=5.0, help="per target")
    p.add_argument("--skip-soak", action="store_true")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        trust = tmp / "trust"
        trust.mkdir()
        export_trust(trust)

        print(f"fuzzing: {len(TARGETS)} parser targets, {args.fuzz_seconds:g} s each")
        engine, executions, crashes = fuzz(args.fuzz_seconds)
        fixed = len(list((ROOT / "tests" / "hardening" / "crashes").glob("*")))
        print(f"fuzz ({engine}): {executions:,} executions, {crashes} new crash(es) this run, "
              f"{fixed} crash(es) found earlier and fixed (regression inputs kept)")

        size, passed = fault_matrix(trust)
        print(f"fault matrix (card pulled at every APDU, 4 flows x right/wrong credential): "
              f"{passed}/{size} cells pass")

        if args.skip_soak or _WORK is None:
            print("soak: skipped" + (" (pcscd/vpcd not installed)" if _WORK is None else ""))
            return 0 if crashes == 0 and passed == size else 1
        from tests.hardening.soak import soak

        instance = pcscd_support.start_pcscd(_WORK, pcscd_support.free_port_pair())
        try:
            start = time.monotonic()
            print(f"soak: {args.taps} taps through pcscd + vpcd, one agent service")
            result = soak(tmp / "soak", trust, instance.port, args.taps,
                          sample_at=(10, 100, *range(1000, args.taps + 1, 1000)),
                          progress=lambda f: print("  " + f.line(), flush=True))
        finally:
            instance.cleanup()
        first, last = result.samples[0], result.samples[-1]
        print(f"soak: {result.taps} taps in {time.monotonic() - start:.0f} s, "
              f"{result.results} results, errors {dict(sorted(result.errors.items()))}, "
              f"{len(result.vanished)} taps repeated after vpcd dropped the card")
        print(f"  growth 10 -> {last.taps}: RSS {(last.rss_kib - first.rss_kib) / 1024:+.1f} MiB,"
              f" fds {last.fds - first.fds:+d}, threads {last.threads - first.threads:+d}")
    return 0 if crashes == 0 and passed == size else 1


if __name__ == "__main__":
    raise SystemExit(main())
