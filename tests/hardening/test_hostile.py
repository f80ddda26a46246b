"""Lying cards (issue 7 §1): every ``Lie`` through ``run_flow`` and through the agent session
ends in a typed error code and a clean idle, never a crash, a hang, unbounded memory or a
verdict whose identity is not backed by the card's own key / record signature."""

from __future__ import annotations

import time
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from agent.service.agent_service import AgentService, CardFlowBackend
from agent.verification.errors import ErrorCode
from agent.verification.flows import FLOWS
from card.emulator import PERSONAS, VirtualMynaCard
from card.emulator.hostile import HostileCard, Lie
from card.ids import AID, InputHelperEF, JpkiEF, SurfaceEF
from card.transports.emulated import EmulatedReader
from tests.hardening.rig import AT, SessionDriver, credential, pin_verifies, run, service_config
from tests.support.apdu_log import assert_verifies_are_safe
from tests.support.links import ShortApduReader

PERSONA = "yamada-taro"
CODES = {str(c) for c in ErrorCode} - {str(ErrorCode.INTERNAL)}
# Flows a lie actually touches (the others never read what it corrupts, and may succeed).
MATTERS: dict[Lie, tuple[str, ...]] = {
    Lie.OVERLONG_READ: FLOWS, Lie.PAST_FILE: ("sign", "auth"), Lie.ENDLESS_61: FLOWS,
    Lie.ENDLESS_6C: FLOWS, Lie.HUGE_RESPONSE: FLOWS, Lie.CHANGING_CERT: ("sign", "auth"),
    Lie.SHORT_SIGNATURE: FLOWS, Lie.LONG_SIGNATURE: FLOWS,
    Lie.GARBAGE_OK: FLOWS, Lie.VERIFY_ALWAYS_OK: (), Lie.SLOW: (),
    Lie.BAD_OFFSET_TABLE: ("face", "number"),
}
PIN_EF = {"sign": (AID.JPKI, JpkiEF.SIGN_PIN), "auth": (AID.JPKI, JpkiEF.AUTH_PIN),
          "face": (AID.SURFACE, SurfaceEF.MATCH_B), "number": (AID.INPUT_HELPER, InputHelperEF.PIN)}
FAST_LIES = [lie for lie in Lie if lie is not Lie.SLOW]


def wrong(cred: str) -> str:
    return cred[:-1] + ("1" if cred[-1] != "1" else "2")


def check_failed(verdict: dict, flow: str) -> None:
    assert verdict["ok"] is False, flow
    assert verdict["identity"] is None
    assert verdict["error"]["code"] in CODES, verdict["error"]


@pytest.mark.emulator_only
@pytest.mark.parametrize("lie", FAST_LIES, ids=[lie.value for lie in FAST_LIES])
@pytest.mark.parametrize("flow", FLOWS)
def test_lie_through_run_flow(lie: Lie, flow: str, config) -> None:
    card = HostileCard(PERSONAS[PERSONA], lie)
    reader: Any = EmulatedReader("hostile", card)
    if lie is Lie.CHANGING_CERT:
        reader = ShortApduReader(reader)  # the lie needs a certificate read in pieces
    tracemalloc.start()
    start = time.monotonic()
    try:
        verdict = run(reader, flow, credential(PERSONA, flow), config)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert time.monotonic() - start < 10
    assert peak < 32 * 1024 * 1024, peak  # bounded: 65,535-byte frames never pile up
    if flow in MATTERS[lie]:
        check_failed(verdict.to_json(), flow)
    elif not verdict.ok:
        assert verdict.error is not None and verdict.error["code"] in CODES
    assert_verifies_are_safe(card, flow)  # a VERIFY is never resent, whatever the card says


@pytest.mark.emulator_only
@pytest.mark.parametrize("lie", FAST_LIES, ids=[lie.value for lie in FAST_LIES])
@pytest.mark.parametrize("flow", FLOWS)
def test_lie_with_wrong_credential_never_verifies(lie: Lie, flow: str, config) -> None:
    card = HostileCard(PERSONAS[PERSONA], lie)
    verdict = run(EmulatedReader("hostile", card), flow, wrong(credential(PERSONA, flow)), config)
    check_failed(verdict.to_json(), flow)
    # The honest core spent at most the one try the wrong VERIFY cost.
    ap, ef = PIN_EF[flow]
    before = card.image.applications[ap.value].files[ef].max_tries  # type: ignore[union-attr]
    assert card.tries_left(ap, ef) >= before - 1


@pytest.mark.emulator_only
@pytest.mark.parametrize("flow", FLOWS)
def test_9000_to_a_wrong_verify_never_opens_the_key(flow: str, config) -> None:
    """A card that says 'right password' to anything gains nothing: its key / records stay
    locked, so the flow ends in CARD_ERROR with no identity (the cloned-card persona covers a
    card that signs with a key of its own: POSSESSION_FAILED)."""
    card = HostileCard(PERSONAS[PERSONA], Lie.VERIFY_ALWAYS_OK)
    verdict = run(EmulatedReader("hostile", card), flow, wrong(credential(PERSONA, flow)), config)
    check_failed(verdict.to_json(), flow)
    assert verdict.error is not None and verdict.error["code"] == "CARD_ERROR"
    assert any(a.response_sw == 0x9000 for a in pin_verifies(card))


@pytest.mark.emulator_only
def test_changing_certificate_never_yields_the_other_identity(config) -> None:
    """Header from one card, body from another (valid, trusted) certificate: the chain may
    validate for the donor, but possession with this card's key fails."""
    card = HostileCard(PERSONAS[PERSONA], Lie.CHANGING_CERT)
    reader = ShortApduReader(EmulatedReader("hostile", card))  # read in pieces, as the lie needs
    verdict = run(reader, "auth", credential(PERSONA, "auth"), config)
    check_failed(verdict.to_json(), "auth")
    assert verdict.error is not None
    assert verdict.error["code"] in ("POSSESSION_FAILED", "CERT_MALFORMED")


@pytest.mark.emulator_only
def test_number_flow_possession_catches_a_short_signature(config) -> None:
    """The number flow proves possession of the AP key certified in EF 0007 (reference §8.5),
    so a card whose challenge signature is wrong fails instead of passing on replayed records."""
    card = HostileCard(PERSONAS[PERSONA], Lie.SHORT_SIGNATURE)
    verdict = run(EmulatedReader("hostile", card), "number", credential(PERSONA, "number"), config)
    assert not verdict.ok and verdict.identity is None
    assert verdict.to_json()["error"]["code"] == "POSSESSION_FAILED"


@pytest.fixture
def service(tmp_path: Path, trust_dir: Path):
    config = service_config(tmp_path, trust_dir, timeouts={"card_s": 1.0})
    reader = EmulatedReader("hostile")
    svc = AgentService(config, demo_reader=reader, backend=CardFlowBackend(config, at=lambda: AT))
    svc.start()
    driver = SessionDriver(svc)
    driver.wait(lambda s: s["state"] == "idle")
    yield svc, reader, driver
    driver.close()
    svc.stop()


@pytest.mark.emulator_only
def test_every_lie_through_the_session(service) -> None:
    _svc, reader, driver = service
    for lie in Lie:
        if lie is Lie.CHANGING_CERT:
            continue  # needs a certificate read in pieces: a short-APDU link, tested above
        for flow in MATTERS[lie] or ("sign",):
            card = HostileCard(PERSONAS[PERSONA], lie)
            cred = credential(PERSONA, flow)
            if lie is Lie.VERIFY_ALWAYS_OK:
                cred = wrong(cred)
            final = driver.tap(reader, card, flow, cred)
            if lie is Lie.SLOW:  # 0.25 s per APDU against card_s = 1 s
                assert final["state"] == "error", final
                assert final["error"]["code"] == "TIMEOUT", final["error"]
            else:
                assert final["state"] in ("error", "idle"), (lie, flow, final)
            assert final["verdict"] is None or final["verdict"]["ok"] is False
            if final["error"] is not None:
                assert final["error"]["code"] in CODES, (lie, flow, final["error"])
            assert all(s["verdict"] is None or s["verdict"].get("identity") is None
                       for s in driver.seen), (lie, flow)
            idle = driver.remove(reader)
            assert idle["session_id"] is None and idle["verdict"] is None
            assert idle["error"] is None and idle["credential"] is None
    # The agent still works after all of that.
    honest = VirtualMynaCard(PERSONAS[PERSONA])
    final = driver.tap(reader, honest, "number", credential(PERSONA, "number"))
    assert final["state"] == "result", final
    driver.remove(reader)


PCSC_LIES = [Lie.HUGE_RESPONSE, Lie.ENDLESS_61, Lie.OVERLONG_READ, Lie.CHANGING_CERT,
             Lie.VERIFY_ALWAYS_OK, Lie.GARBAGE_OK]


@pytest.mark.pcsc
@pytest.mark.emulator_only
@pytest.mark.parametrize("lie", PCSC_LIES, ids=[lie.value for lie in PCSC_LIES])
def test_lies_through_pcscd_and_vpcd(lie: Lie, pcscd, config) -> None:
    """The same lies behind the vpcd bridge: pcscd and pyscard carry 65,535-byte frames and
    endless 61xx to the host, which still ends in a typed error."""
    from card.emulator.vpcd import VpcdBridge
    from card.transports import open_reader

    card = HostileCard(PERSONAS[PERSONA], lie)
    bridge = VpcdBridge(card, port=pcscd.port).start()
    reader: Any = open_reader("pcsc:Virtual PCD 00 00")
    if lie is Lie.CHANGING_CERT:
        reader = ShortApduReader(reader)  # the lie needs a certificate read in pieces
    try:
        deadline = time.monotonic() + 5
        while not reader.has_card():
            assert time.monotonic() < deadline, "pcscd did not see the card"
            time.sleep(0.05)
        flow = "auth"
        cred = credential(PERSONA, flow)
        verdict = run(reader, flow, wrong(cred) if lie is Lie.VERIFY_ALWAYS_OK else cred, config)
        check_failed(verdict.to_json(), flow)
    finally:
        bridge.remove()
        deadline = time.monotonic() + 5
        while reader.has_card() and time.monotonic() < deadline:
            time.sleep(0.05)


@pytest.mark.emulator_only
def test_one_very_slow_answer_is_bounded_by_the_session(service) -> None:
    """A card that holds one answer for 2 s (card_s = 1 s): the session reports TIMEOUT once
    the answer comes (the flow is checked between steps), then returns to idle."""
    _svc, reader, driver = service
    card = HostileCard(PERSONAS[PERSONA], Lie.SLOW)
    card.faults.latency_s = 0.0
    slow_once = {"left": 1}
    original = card.process

    def process(capdu: bytes) -> bytes:
        answer = original(capdu)
        if capdu[1] == 0x2A and slow_once["left"]:  # COMPUTE DIGITAL SIGNATURE
            slow_once["left"] = 0
            time.sleep(2.0)
        return answer

    card.process = process  # type: ignore[method-assign]
    start = time.monotonic()
    final = driver.tap(reader, card, "auth", credential(PERSONA, "auth"))
    assert final["state"] == "error" and final["error"]["code"] == "TIMEOUT", final
    assert time.monotonic() - start < 6
    assert driver.remove(reader)["session_id"] is None
