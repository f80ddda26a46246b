"""Fault tests (issue 4 "Done when"): the card pulled after every APDU of a sign tap, pcscd
restarted or gone, and the agent always back to a clean idle with nothing leaked."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_service_rig import AT, Http, SseReader, service_config

from agent.service.agent_service import AgentService, CardFlowBackend
from card.emulator import PERSONAS, Faults, VirtualMynaCard
from card.ids import AID, JpkiEF
from card.transports.emulated import EmulatedReader
from tests.support.staff import sign_in_staff

PERSONA = "yamada-taro"
PASSWORD = PERSONAS[PERSONA].credentials.sign_password
VERIFY_INS = 0x20


def _verifies_with_data(card: VirtualMynaCard) -> int:
    return sum(1 for a in card.apdu_log
               if len(a.command) > 1 and a.command[1] == VERIFY_INS and a.masked_length)


def _one_tap(http_: Http, sse: SseReader, start: int) -> tuple[int, list[dict[str, Any]]]:
    """After an insert: give the password when asked; return (index after idle, events)."""
    i, snap = sse.wait(lambda s: s["state"] in ("awaiting_credential", "error", "idle")
                       and s["seq"] > 0, start=start)
    if snap["state"] == "awaiting_credential":
        status, _ = http_.call("POST", "/v1/credential", {
            "session_id": snap["session_id"], "credential": PASSWORD})
        assert status in (202, 409)  # 409: the card left between the event and the POST
    end, _ = sse.wait(lambda s: s["state"] == "idle", start=i, timeout=15)
    return end + 1, [e for _, e in sse.events[start:end + 1]]


@pytest.fixture
def demo(tmp_path: Path, trust_dir: Path):
    config = service_config(tmp_path, trust_dir)
    reader = EmulatedReader("demo")
    svc = AgentService(config, demo_reader=reader, backend=CardFlowBackend(config, at=lambda: AT))
    svc.start()
    http_ = Http(svc.url, svc.token)
    sign_in_staff(svc, http_)  # face and number need a signed-in staff member
    sse = SseReader(http_)
    sse.wait(lambda s: s["state"] == "idle")
    yield svc, reader, http_, sse
    sse.close()
    svc.stop()


def _clean_apdu_count(reader: EmulatedReader, http_: Http, sse: SseReader) -> int:
    card = VirtualMynaCard(PERSONAS[PERSONA])
    start = len(sse.events)
    reader.insert(card)
    i, snap = sse.wait(lambda s: s["state"] == "awaiting_credential", start=start)
    http_.call("POST", "/v1/credential", {"session_id": snap["session_id"],
                                          "credential": PASSWORD})
    sse.wait(lambda s: s["state"] == "result", start=i)
    reader.remove()
    sse.wait(lambda s: s["state"] == "idle", start=i)
    return len(card.apdu_log)


@pytest.mark.emulator_only
def test_sign_tap_pulled_after_every_apdu(demo):
    svc, reader, http_, sse = demo
    total = _clean_apdu_count(reader, http_, sse)
    assert total >= 10  # a whole sign tap (its floor: test_apdu_floor)
    for n in range(total):
        card = VirtualMynaCard(PERSONAS[PERSONA])
        card.faults = Faults(remove_after_apdus=n)
        start = len(sse.events)
        reader.insert(card)
        svc.watcher.poke()
        _, events = _one_tap(http_, sse, start)
        final = events[-1]
        assert final["state"] == "idle", n
        assert final["verdict"] is None and final["session_id"] is None and final["error"] is None
        # Pulled before the flow finished: no event may ever have carried identity.
        if n < total - 1:
            assert all(e["verdict"] is None for e in events), n
        assert card.tries_left(AID.JPKI, JpkiEF.SIGN_PIN) == 5, n
        assert _verifies_with_data(card) <= 1, n
    # And the agent still works.
    assert _clean_apdu_count(reader, http_, sse) == total


@pytest.mark.emulator_only
def test_6f00_after_power_on_is_retried_once(demo):
    svc, reader, http_, sse = demo
    card = VirtualMynaCard(PERSONAS[PERSONA])
    card.faults = Faults(internal_error_after_power_on=True)
    start = len(sse.events)
    reader.insert(card)
    svc.watcher.poke()
    i, snap = sse.wait(lambda s: s["state"] in ("awaiting_credential", "error"), start=start)
    assert snap["state"] == "awaiting_credential", snap["error"]
    assert card.apdu_log[0].response_sw == 0x6F00
    http_.call("POST", "/v1/credential", {"session_id": snap["session_id"],
                                          "credential": PASSWORD})
    _, final = sse.wait(lambda s: s["state"] in ("result", "error"), start=i)
    assert final["state"] == "result", final["error"]


@pytest.mark.emulator_only
@pytest.mark.parametrize("fault", [{"garbage_after_apdus": 6}, {"truncate_after_apdus": 6}],
                         ids=["garbage", "truncated"])
def test_corrupt_responses_end_in_a_typed_error(demo, fault):
    svc, reader, http_, sse = demo
    card = VirtualMynaCard(PERSONAS[PERSONA])
    card.faults = Faults(**fault)
    start = len(sse.events)
    reader.insert(card)
    svc.watcher.poke()
    i, snap = sse.wait(lambda s: s["state"] in ("awaiting_credential", "error"), start=start)
    if snap["state"] == "awaiting_credential":
        http_.call("POST", "/v1/credential", {"session_id": snap["session_id"],
                                              "credential": PASSWORD})
        i, snap = sse.wait(lambda s: s["state"] in ("result", "error"), start=i)
    assert snap["state"] == "error"
    assert snap["error"]["code"] in ("CARD_ERROR", "CERT_MALFORMED", "TRANSPORT_ERROR",
                                     "POSSESSION_FAILED", "CERT_INVALID")
    assert snap["verdict"] is None
    reader.remove()
    svc.watcher.poke()
    sse.wait(lambda s: s["state"] == "idle", start=i)
