"""The agent through real pcscd + vpcd with the emulator behind the vpcd bridge (issue 4 "Done
when"): insert, POST the credential, result event over SSE, remove, idle; every persona."""

from __future__ import annotations

import pytest
from test_service_rig import (
    CREDENTIAL_FOR,
    drive_tap,
)

from card.emulator import PERSONAS, VirtualMynaCard

pytestmark = [pytest.mark.pcsc, pytest.mark.emulator_only]
VPCD_READER = "Virtual PCD 00 00"
FLOW_FOR = {  # one flow per persona keeps this under a minute; in-process covers the matrix
    "yamada-taro": "sign", "foreign-resident": "face", "substitute-chars": "sign",
    "minor-no-sign-cert": "sign", "expired-cert": "sign", "revoked-cert": "sign",
    "sign-pin-1-left": "sign", "sign-pin-blocked": "sign", "tampered-face": "face",
    "unknown-card": "auth", "cloned-card": "auth", "building-address": "face",
}


def test_every_persona_through_pcscd(pcsc_agent):
    from card.emulator.vpcd import VpcdBridge

    assert set(FLOW_FOR) == set(PERSONAS)
    _svc, http_, sse, pcscd = pcsc_agent
    start = 0
    for persona, flow in FLOW_FOR.items():
        p = PERSONAS[persona]
        bridge = VpcdBridge(VirtualMynaCard(p), port=pcscd.port)
        credential = getattr(p.credentials, CREDENTIAL_FOR[flow])
        i, final = drive_tap(http_, sse, flow, credential, start, bridge.start)
        expected = p.outcome(flow)
        try:
            if expected == "ok":
                assert final["state"] == "result", (persona, flow, final["error"])
                assert final["verdict"]["ok"] is True
            else:
                assert final["state"] == "error", (persona, flow, final["state"])
                assert final["error"]["code"] == expected, (persona, flow)
        finally:
            bridge.remove()
        start, idle = sse.wait(lambda s: s["state"] == "idle", start=i + 1, timeout=10)
        assert idle["verdict"] is None and idle["session_id"] is None
        start += 1
