"""The card's CA copy is read only when no anchor or earlier pinned copy has the issuer's key."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from agent.verification import trust
from agent.verification.flows import FlowConfig, run_flow
from agent.verification.trust import PinnedRoot, Purpose, fingerprint
from card.emulator import PERSONAS, VirtualMynaCard, export_trust
from card.ids import JpkiEF
from card.transports.emulated import EmulatedReader

AT = datetime(2026, 11, 26, tzinfo=UTC)
SELECT_SIGN_CA = bytes.fromhex("00A4020C02") + JpkiEF.SIGN_CA_CERT.to_bytes(2, "big")

pytestmark = pytest.mark.emulator_only


def _tap(config: FlowConfig, persona: str = "yamada-taro") -> tuple[str, bool]:
    """Run one sign flow; return (result: "ok" or the error reason/code, whether the card's
    sign-CA EF was selected)."""
    card = VirtualMynaCard(PERSONAS[persona])
    with EmulatedReader(persona, card).connect() as connection:
        verdict = run_flow("sign", connection, "MYNA2026", at=AT, config=config).to_json()
    result = "ok" if verdict["ok"] else verdict["error"].get("reason") or verdict["error"]["code"]
    return result, any(a.command == SELECT_SIGN_CA for a in card.apdu_log)


def test_test_roots_are_anchors_so_the_card_ca_is_not_read(tmp_path):
    export_trust(tmp_path)
    config = FlowConfig.build(trust_mode="test", test_dir=tmp_path)
    assert _tap(config) == ("ok", False)


def test_a_pinned_card_ca_is_read_once_then_reused(tmp_path, monkeypatch):
    # Pretend the emulator's sign CA is a J-LIS pin: in jlis mode the store then has no anchor
    # certificates, only fingerprints, and must read the CA copy from the first card.
    card = VirtualMynaCard(PERSONAS["yamada-taro"])
    with EmulatedReader("x", card).connect() as connection:
        from card.apps.jpki import CertificateKind, JpkiApp
        from card.channel import ApduChannel

        ca_der = JpkiApp(ApduChannel(connection)).read_certificate(CertificateKind.SIGN_CA)
    pin = PinnedRoot(Purpose.SIGN, "test-pin", fingerprint(ca_der), datetime(2045, 1, 1,
                     tzinfo=UTC), "test")
    monkeypatch.setitem(trust._PINS_BY_FINGERPRINT, pin.fingerprint, pin)

    # The chain to the pinned CA is built; the certificate then fails only on its JPKI-TEST
    # policy, which production (jlis) trust refuses.
    config = FlowConfig.build(trust_mode="jlis")
    assert _tap(config) == ("policy", True)  # first card: CA copy read, pinned, cached
    assert _tap(config) == ("policy", False)  # later cards: the cached pinned copy
    assert _tap(FlowConfig.build(trust_mode="jlis")) == ("policy", True)  # fresh config reads


def test_an_unpinned_card_ca_is_neither_trusted_nor_cached():
    config = FlowConfig.build(trust_mode="jlis")
    for _ in range(2):
        assert _tap(config) == ("unpinned_ca", True)
    assert config.ca_cache.get(b"anything") is None
