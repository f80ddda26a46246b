"""Staff sign-in figures: run ``.venv/bin/python bench/staff.py [--runs N]``.

1. One argon2id verification with the shipped parameters (``agent.staff.passwords``): the
   target is 50–250 ms on the kiosk PC, so an offline guess is expensive and a sign-in quick.
2. A wrong password and an unknown staff ID through ``StaffAuthenticator``: both must cost the
   same (one verification each).
3. Sign-in to staff screen ready, through the real agent API (``POST /v1/staff/login`` then
   ``GET /v1/staff/me``), as the kiosk server does it.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PASSWORD = "Bench-pass-2026"  # noqa: S105 - bench data


def _ms(samples: list[float]) -> str:
    samples = sorted(samples)
    p95 = samples[min(len(samples) - 1, int(len(samples) * 0.95))]
    return f"median {statistics.median(samples) * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()

    from agent.staff import LoginFailedError, Role, StaffAuthenticator, StaffStore
    from agent.staff.passwords import MEMORY_COST_KIB, TIME_COST, hash_password, verify_password

    encoded = hash_password(PASSWORD)
    times = []
    for _ in range(args.runs):
        start = time.perf_counter()
        verify_password(encoded, PASSWORD)
        times.append(time.perf_counter() - start)
    print(f"argon2id verify (m={MEMORY_COST_KIB} KiB, t={TIME_COST}, p=1): {_ms(times)} "
          "(target 50–250 ms)")

    with tempfile.TemporaryDirectory() as tmp:
        store = StaffStore(Path(tmp) / "staff.db")
        store.add("bench", PASSWORD, Role.SUPERVISOR, my_number=True)
        clock = [0.0]
        auth = StaffAuthenticator(store, clock=lambda: clock[0])
        for label, staff_id in (("wrong password", "bench"), ("unknown staff ID", "nobody")):
            samples = []
            for _ in range(args.runs):
                store.unlock("bench")
                clock[0] += 3600
                start = time.perf_counter()
                try:
                    auth.authenticate(staff_id, "wrong-password")
                except LoginFailedError:
                    pass
                samples.append(time.perf_counter() - start)
            print(f"sign-in refused, {label}: {_ms(samples)}")
        store.unlock("bench")
        ready = _api_sign_in(Path(tmp), args.runs)
        print(f"sign-in to staff screen ready (agent API): {_ms(ready)}")
    return 0


def _api_sign_in(tmp: Path, runs: int) -> list[float]:
    import http.client
    import json

    from agent.cli.demo import demo_agent
    from agent.staff import Role

    samples = []
    (tmp / "demo").mkdir(mode=0o700)
    with demo_agent(tmp / "demo") as agent:
        agent.service.staff_store.add("bench2", PASSWORD, Role.CLERK)
        host, port = agent.url.removeprefix("http://").rsplit(":", 1)
        headers = {"Authorization": f"Bearer {agent.service.token}",
                   "Content-Type": "application/json"}
        for _ in range(runs):
            start = time.perf_counter()
            conn = http.client.HTTPConnection(host, int(port))
            conn.request("POST", "/v1/staff/login",
                         json.dumps({"staff_id": "bench2", "password": PASSWORD}), headers)
            token = json.loads(conn.getresponse().read())["token"]
            conn.request("GET", "/v1/staff/me", headers={**headers, "X-Myna-Staff": token})
            assert conn.getresponse().read()
            samples.append(time.perf_counter() - start)
            conn.request("POST", "/v1/staff/logout", "{}", {**headers, "X-Myna-Staff": token})
            conn.getresponse().read()
            conn.close()
    return samples


if __name__ == "__main__":
    sys.exit(main())
