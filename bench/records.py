"""Print the verification records' figures (issue "Verification records", "Figures"):

* per-tap cost of build + sign (JWS Ed25519 over RFC 8785) + encrypt (AES-256-GCM) + commit
  (SQLite WAL, synchronous=FULL, i.e. one fsync per record): p50 / p95 / max over N records
  for a real ``sign`` and a real ``face`` verdict with their evidence (emulated card);
* bytes per record (the JWS the receiver gets) for ``sign`` and ``face``;
* drain rate: N committed records posted one by one over HTTPS to a local receiver process
  (tests/support/receiver_server.py, which also checks each JWS, the schema and the evidence).

    .venv/bin/python bench/records.py [records]
"""

from __future__ import annotations

import dataclasses
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agent.records.keeper import RecordKeeper
from agent.records.record import RecordDraft, build_record
from agent.records.signing import KioskKey
from agent.verification.flows import FlowConfig, run_flow
from card.emulator import PERSONAS, VirtualMynaCard, export_trust
from card.transports.emulated import EmulatedReader
from tests.hardening.rig import AT, credential, make_config
from tests.support.configs import service_config
from tests.support.records import Receiver, make_pki, records_sections


def real_verdict(flow: str, config: FlowConfig, kiosk_id: str) -> tuple[RecordDraft, dict]:
    reader = EmulatedReader("bench")
    reader.insert(VirtualMynaCard(PERSONAS["yamada-taro"]))
    draft = RecordDraft(kiosk_id, flow)
    with reader.connect() as connection:
        verdict = run_flow(flow, connection, credential("yamada-taro", flow), at=AT,
                           config=config, statement=draft)
    assert verdict.ok, verdict
    return draft, verdict.to_json()


def pct(values: list[float], q: float) -> float:
    return sorted(values)[min(len(values) - 1, int(q * len(values)))]


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        export_trust(tmp / "trust")
        flow_config = make_config(tmp / "trust")
        pki = make_pki(tmp / "pki")
        state = tmp / "state"
        key = KioskKey.init(state / "kiosk-signing.jwk")
        receiver = Receiver(tmp / "receiver", pki, key.public_jwk()).start()
        receiver.stop()  # reserve the port; down while we commit
        config = service_config(tmp, tmp / "trust",
                                **records_sections(state, receiver.url, pki.ca_file,
                                                   max_pending=100_000, max_bytes=10**10))
        keeper = RecordKeeper(config)  # sender not started: commit cost alone
        print(f"records: {n} per flow, state dir on {state}")
        for flow in ("sign", "face"):
            draft, verdict = real_verdict(flow, flow_config, config.records.kiosk_id)
            jws = keeper.key.sign(build_record(draft, verdict, keeper.policy))
            times = []
            for _ in range(n):
                fresh = dataclasses.replace(draft, record_id=RecordDraft("", "").record_id)
                start = time.perf_counter()
                keeper.commit(fresh, flow, verdict, None)
                times.append((time.perf_counter() - start) * 1000)
            print(f"  {flow}: build+sign+encrypt+commit p50 {statistics.median(times):.2f} ms, "
                  f"p95 {pct(times, 0.95):.2f} ms, max {max(times):.2f} ms; "
                  f"record {len(jws)} bytes as JWS")
        total = keeper.stats().pending
        receiver.start()
        assert keeper.sender is not None
        start = time.perf_counter()
        keeper.sender.start()
        while keeper.stats().pending:
            time.sleep(0.01)
        took = time.perf_counter() - start
        keeper.stop()
        receiver.stop()
        print(f"  drain: {total} records in {took:.2f} s = {total / took:.0f} records/s "
              f"(HTTPS, one POST each, receiver re-checks JWS, schema and evidence)")


if __name__ == "__main__":
    main()
