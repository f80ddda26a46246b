"""Commit records as fast as the kiosk's own code can (``RecordKeeper.commit``, sender running)
and print "C <record id>" after each commit returns, so a test can SIGKILL this process in the
middle of a burst and check that every printed record survived.

    python -m tests.support.records_burst CONFIG.json COUNT
"""

from __future__ import annotations

import json
import sys

from agent.records.keeper import RecordKeeper
from agent.service.config import config_from_mapping


def main() -> int:
    with open(sys.argv[1], encoding="utf-8") as f:
        config = config_from_mapping(json.load(f))
    keeper = RecordKeeper(config)
    keeper.start()
    for i in range(int(sys.argv[2])):
        verdict = {"ok": i % 2 == 0, "assurance": ["possession"] if i % 2 == 0 else [],
                   "identity": {"card_reference": f"{i:064x}"},
                   "error": None if i % 2 == 0 else {"code": "PIN_INVALID"}}
        record_id = keeper.commit(None, "auth", verdict, None)
        print(f"C {record_id}", flush=True)
    print("DONE", flush=True)
    sys.stdin.read()  # keep sending until the test kills us
    return 0


if __name__ == "__main__":
    sys.exit(main())
