"""The agent with its demo (emulated) reader as its own process, for the records fault tests:
``AgentService`` exactly as ``myna agent`` runs it, plus ``/v1/demo/*`` so a test can insert
cards over the API, and the emulator's fixed test time so the test PKI validates.

    python -m tests.support.records_agent CONFIG.json   # prints "READY <url>", SIGKILL-able
"""

from __future__ import annotations

import json
import signal
import sys
import threading
from datetime import UTC, datetime

from agent.records.keeper import RecordKeeper
from agent.service.agent_service import AgentService, CardFlowBackend
from agent.service.config import config_from_mapping
from card.transports.emulated import EmulatedReader

AT = datetime(2026, 11, 26, tzinfo=UTC)


def main() -> int:
    with open(sys.argv[1], encoding="utf-8") as f:
        config = config_from_mapping(json.load(f))
    reader = EmulatedReader("Myna demo reader")
    records = RecordKeeper(config)
    # The emulator's certificates are valid at AT; records still carry the wall-clock time.
    service = AgentService(config, demo_reader=reader, records=records,
                           backend=CardFlowBackend(config, at=lambda: AT, records=records))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    service.start()
    print(f"READY {service.url}", flush=True)
    stop.wait()
    service.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
