"""Print the full differential: every mutation × key family × purpose against openssl and
pyhanko-certvalidator (tests/differential/), with each disagreement and its listed reason.

Families: RSA 2048 (PKCS#1 v1.5 and PSS), 3072, 4096; ECDSA P-256, P-384, P-521; Ed25519.
Exit status 1 when our verdict crashed or a disagreement is not in the allow-list.

    .venv/bin/python bench/differential.py [--families rsa2048,p384] [--show-agreements]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.differential.allowed import ALLOWED  # noqa: E402
from tests.differential.generator import FAMILIES, MUTATIONS, cases  # noqa: E402
from tests.differential.oracles import ORACLES, judge  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", default=",".join(FAMILIES))
    parser.add_argument("--show-agreements", action="store_true")
    args = parser.parse_args()
    families = args.families.split(",")

    started = time.perf_counter()
    total = 0
    crashes: list[str] = []
    oracle_crashes: Counter[tuple[str, str, str]] = Counter()
    agree_all = 0
    by_pair: dict[tuple[str, str], list[str]] = defaultdict(list)
    unexplained: list[str] = []
    verdicts_of_ours: Counter[str] = Counter()
    for case in cases(families):
        total += 1
        v = judge(case)
        ours = v["ours"]
        verdicts_of_ours["accept" if ours.accept else "reject"] += 1
        if ours.crashed:
            crashes.append(f"{case.id}: {ours.detail}")
        for oracle in ORACLES:
            if v[oracle].crashed:
                oracle_crashes[(oracle, case.mutation, v[oracle].detail)] += 1
        differing = [o for o in ORACLES if v[o].accept != ours.accept]
        if not differing:
            agree_all += 1
            if args.show_agreements:
                print(f"  agree  {case.id}: {ours.detail}")
        for oracle in differing:
            by_pair[(case.mutation, oracle)].append(case.id)
            if (case.mutation, oracle) not in ALLOWED:
                unexplained.append(f"{case.id}: ours {ours.detail} vs {oracle} "
                                   f"{v[oracle].detail}")
    elapsed = time.perf_counter() - started

    print(f"cases: {total} ({len(MUTATIONS)} mutations × {len(families)} key families × "
          f"sign/auth, identity mutations sign only, family-independent shapes once)")
    print(f"oracles: ours (validate_certificate + identity), {', '.join(ORACLES)}")
    print(f"ours: {verdicts_of_ours['accept']} accepted, {verdicts_of_ours['reject']} "
          f"rejected, {len(crashes)} untyped exceptions")
    print(f"oracle crashes (counted as rejections): {sum(oracle_crashes.values())}")
    for (oracle, mutation, detail), n in sorted(oracle_crashes.items()):
        print(f"  {oracle} {detail} on {mutation}: {n}")
    print(f"all three agree: {agree_all}/{total}")
    for oracle in ORACLES:
        n = sum(len(ids) for (m, o), ids in by_pair.items() if o == oracle)
        print(f"disagreements with {oracle}: {n} cases in "
              f"{sum(1 for (_m, o) in by_pair if o == oracle)} mutations")
    print("\nexplained disagreements (tests/differential/allowed.py):")
    for (mutation, oracle), ids in sorted(by_pair.items()):
        reason = ALLOWED.get((mutation, oracle), "NOT EXPLAINED")
        print(f"  {mutation} vs {oracle} ({len(ids)}): {reason}")
    print(f"\nunexplained: {len(unexplained)}")
    for line in unexplained:
        print(f"  {line}")
    for line in crashes:
        print(f"  CRASH {line}")
    print(f"\ntime: {elapsed:.1f} s ({elapsed / max(total, 1) * 1000:.0f} ms per case)")
    return 1 if crashes or unexplained else 0


if __name__ == "__main__":
    sys.exit(main())
