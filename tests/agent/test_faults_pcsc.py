"""pcscd killed and restarted, and the vpcd reader vanishing: the agent recovers by itself
(issue 4 "Done when"), then a full tap works without restarting the agent."""

from __future__ import annotations

import time

import pytest
from test_service_rig import Http, SseReader

from card.emulator import PERSONAS, VirtualMynaCard
from card.ids import AID, JpkiEF
from tests.support.pcscd import insert_card

pytestmark = [pytest.mark.pcsc, pytest.mark.emulator_only]
VPCD_READER = "Virtual PCD 00 00"
PERSONA = PERSONAS["yamada-taro"]


def _full_tap(http_: Http, sse: SseReader, port: int) -> VirtualMynaCard:
    card = VirtualMynaCard(PERSONA)
    bridge = insert_card(card, port)
    try:
        start = len(sse.events)
        i, snap = sse.wait(lambda s: s["state"] == "awaiting_credential", start=start, timeout=15)
        status, _ = http_.call("POST", "/v1/credential", {
            "session_id": snap["session_id"], "credential": PERSONA.credentials.sign_password})
        assert status == 202
        _, final = sse.wait(lambda s: s["state"] in ("result", "error"), start=i, timeout=15)
        assert final["state"] == "result", final["error"]
    finally:
        bridge.remove()
    sse.wait(lambda s: s["state"] == "idle", start=i, timeout=10)
    assert card.tries_left(AID.JPKI, JpkiEF.SIGN_PIN) == 5
    return card


def test_pcscd_restart_mid_idle(pcsc_agent):
    svc, http_, sse, pcscd = pcsc_agent
    old_pid = pcscd.proc.pid
    pcscd.restart()
    assert pcscd.proc.pid != old_pid
    # The watcher may or may not catch the short gap; either way it must be idle on the same
    # reader afterwards, and a tap must work without restarting the agent.
    polls = svc.watcher.polls
    deadline = time.monotonic() + 10
    while svc.watcher.polls < polls + 5 and time.monotonic() < deadline:
        time.sleep(0.05)
    snap = http_.state()
    assert snap["state"] == "idle" and snap["reader"] == VPCD_READER
    _full_tap(http_, sse, pcscd.port)


def test_reader_vanishing_then_recovery(pcsc_agent):
    svc, http_, sse, pcscd = pcsc_agent
    start = len(sse.events)
    pcscd.stop()  # every vpcd reader disappears with the daemon
    i, snap = sse.wait(lambda s: s["state"] == "no_reader", start=start, timeout=10)
    assert snap["reader"] is None
    time.sleep(1.0)  # a few failed polls with backoff
    assert svc.snapshot()["state"] == "no_reader"
    pcscd.restart()
    sse.wait(lambda s: s["state"] == "idle" and s["reader"] == VPCD_READER, start=i, timeout=15)
    _full_tap(http_, sse, pcscd.port)


def _pull_during_sign(pcsc_agent, indices) -> None:
    from card.emulator import Faults

    _svc, http_, sse, pcscd = pcsc_agent
    for n in indices:
        card = VirtualMynaCard(PERSONA)
        card.faults = Faults(remove_after_apdus=n)
        # The agent goes idle as soon as pcscd reports the pulled card gone, which can be
        # before pcscd's own reader thread has noticed (tests/support/pcscd.py).
        bridge = insert_card(card, pcscd.port)
        start = len(sse.events)
        try:
            try:
                i, snap = sse.wait(lambda s: s["state"] in ("awaiting_credential",
                                                             "awaiting_removal", "error", "idle")
                                   and s["seq"] > 0, start=start, timeout=15)
            except AssertionError as e:  # say whether vpcd ever took the card, or the agent
                raise AssertionError(
                    f"n={n}: {e}; vpcd connected: {bridge.connected.is_set()}, bridge error: "
                    f"{bridge.error!r}, powered by vpcd: {card._powered}, agent: "
                    f"{_svc.snapshot()['state']}, APDUs: "
                    f"{[a.command[:4].hex() for a in card.apdu_log]}") from e
            if snap["state"] == "awaiting_credential":
                http_.call("POST", "/v1/credential", {
                    "session_id": snap["session_id"],
                    "credential": PERSONA.credentials.sign_password})
            end, final = sse.wait(lambda s: s["state"] == "idle", start=i, timeout=15)
        finally:
            bridge.remove()
        events = [e for _, e in sse.events[start:end + 1]]
        assert all(e["verdict"] is None for e in events), n
        assert final["session_id"] is None and final["error"] is None
        assert card.tries_left(AID.JPKI, JpkiEF.SIGN_PIN) == 5, n
        verifies = [a for a in card.apdu_log if a.command[1:2] == b"\x20" and a.masked_length]
        assert len(verifies) <= 1, n


def test_card_pulled_mid_sign_through_pcscd(pcsc_agent):
    """A pull in the middle of the flow via vpcd: clean abort, no identity, no try spent."""
    _pull_during_sign(pcsc_agent, (1, 5, 7, 9))  # identify, around the VERIFY, reading, signing


@pytest.mark.slow
def test_card_pulled_after_every_apdu_through_pcscd(pcsc_agent):
    _svc, http_, sse, pcscd = pcsc_agent
    total = len(_full_tap(http_, sse, pcscd.port).apdu_log)
    assert total >= 10
    # Up to the signature, the tap's last APDU: once it is answered a verdict legitimately exists.
    _pull_during_sign(pcsc_agent, range(total))


def test_pcscd_killed_mid_session_purges_then_recovers(pcsc_agent):
    _svc, http_, sse, pcscd = pcsc_agent
    card = VirtualMynaCard(PERSONA)
    bridge = insert_card(card, pcscd.port)
    try:
        start = len(sse.events)
        i, snap = sse.wait(lambda s: s["state"] == "awaiting_credential", start=start, timeout=15)
        pcscd.stop()
        i, gone = sse.wait(lambda s: s["state"] == "no_reader", start=i, timeout=10)
        assert gone["session_id"] is None and gone["credential"] is None
        # The old session is gone for good: its id is refused, nothing is sent.
        status, _ = http_.call("POST", "/v1/credential", {
            "session_id": snap["session_id"], "credential": PERSONA.credentials.sign_password})
        assert status == 409
    finally:
        bridge.remove()
    assert card.tries_left(AID.JPKI, JpkiEF.SIGN_PIN) == 5
    pcscd.restart()
    sse.wait(lambda s: s["state"] == "idle" and s["reader"] == VPCD_READER, start=i, timeout=15)
    _full_tap(http_, sse, pcscd.port)
