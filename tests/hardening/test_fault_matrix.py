"""Fault matrix (issue 7 §3): for each flow, the card pulled at every APDU index, through
``run_flow`` on the in-process emulator, a sample of indices through real pcscd + vpcd, and
every index through the agent session. Each ends in a clean failure with no identity, and the
PIN counter loses a try only when the card processed a VERIFY with a wrong credential."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.service.agent_service import AgentService, CardFlowBackend
from agent.verification.flows import FLOWS
from card.emulator import PERSONAS, Faults, VirtualMynaCard
from card.ids import AID, InputHelperEF, JpkiEF, SurfaceEF
from card.transports.emulated import EmulatedReader
from tests.hardening.rig import AT, SessionDriver, credential, pin_verifies, run, service_config
from tests.support.apdu_log import assert_verifies_are_safe

PERSONA = "yamada-taro"
PIN_EF = {"sign": (AID.JPKI, JpkiEF.SIGN_PIN), "auth": (AID.JPKI, JpkiEF.AUTH_PIN),
          "face": (AID.SURFACE, SurfaceEF.MATCH_B), "number": (AID.INPUT_HELPER, InputHelperEF.PIN)}
REMOVED = ("CARD_REMOVED", "TRANSPORT_ERROR")
_TOTALS: dict[str, int] = {}


def wrong(cred: str) -> str:
    return cred[:-1] + ("1" if cred[-1] != "1" else "2")


def total_apdus(flow: str, config) -> int:
    """APDUs of a clean tap of ``flow`` (the matrix's width)."""
    if flow not in _TOTALS:
        card = VirtualMynaCard(PERSONAS[PERSONA])
        verdict = run(EmulatedReader("m", card), flow, credential(PERSONA, flow), config)
        assert verdict.ok, verdict
        _TOTALS[flow] = len(card.apdu_log)
    return _TOTALS[flow]


def max_tries(card: VirtualMynaCard, flow: str) -> int:
    ap, ef = PIN_EF[flow]
    return int(card.image.applications[ap.value].files[ef].max_tries)  # type: ignore[union-attr]


def check_pulled(card: VirtualMynaCard, verdict: dict, flow: str, bad_pin: bool, n: int) -> None:
    """One matrix cell: clean failure, no identity, the right tries left."""
    assert verdict["ok"] is False, (flow, n)
    assert verdict["identity"] is None
    processed_wrong = bad_pin and any(a.response_sw & 0xFFF0 == 0x63C0
                                      for a in pin_verifies(card))
    if processed_wrong:  # the wrong VERIFY reached the card: the flow stopped right there
        assert verdict["error"]["code"] == "PIN_INVALID", (flow, n, verdict["error"])
    else:
        assert verdict["error"]["code"] in REMOVED, (flow, n, verdict["error"])
    ap, ef = PIN_EF[flow]
    assert card.tries_left(ap, ef) == max_tries(card, flow) - int(processed_wrong), (flow, n)
    assert_verifies_are_safe(card, flow)


def cell(reader_card: tuple, flow: str, n: int, bad_pin: bool, config) -> None:
    reader, card = reader_card
    card.faults = Faults(remove_after_apdus=n)
    cred = credential(PERSONA, flow)
    verdict = run(reader, flow, wrong(cred) if bad_pin else cred, config)
    check_pulled(card, verdict.to_json(), flow, bad_pin, n)


@pytest.mark.emulator_only
@pytest.mark.parametrize("bad_pin", [False, True], ids=["right_pin", "wrong_pin"])
@pytest.mark.parametrize("flow", FLOWS)
def test_pulled_at_every_apdu_in_process(flow: str, bad_pin: bool, config) -> None:
    total = total_apdus(flow, config)
    assert total > 5
    for n in range(total):  # pulled before APDU n+1 (n APDUs answered)
        card = VirtualMynaCard(PERSONAS[PERSONA])
        cell((EmulatedReader("m", card), card), flow, n, bad_pin, config)


SAMPLES = {"first": lambda t: 0, "early": lambda t: 3, "middle": lambda t: t // 2,
           "last": lambda t: t - 1}


@pytest.mark.emulator_only
@pytest.mark.parametrize("where", SAMPLES)
@pytest.mark.parametrize("flow", FLOWS)
def test_pulled_at_sampled_apdus_through_pcsc(flow: str, where: str, card_reader,
                                              config) -> None:
    """One card per test: the vpcd bridge serves one card at a time (conftest)."""
    n = SAMPLES[where](total_apdus(flow, config))
    reader, card = card_reader(PERSONA)
    cell((reader, card), flow, n, False, config)


@pytest.fixture
def service(tmp_path: Path, trust_dir: Path):
    config = service_config(tmp_path, trust_dir)
    reader = EmulatedReader("matrix")
    svc = AgentService(config, demo_reader=reader, backend=CardFlowBackend(config, at=lambda: AT))
    svc.start()
    driver = SessionDriver(svc)
    driver.wait(lambda s: s["state"] == "idle")
    yield reader, driver
    driver.close()
    svc.stop()


@pytest.mark.emulator_only
@pytest.mark.parametrize("flow", FLOWS)
def test_pulled_at_every_apdu_through_the_session(flow: str, service, config) -> None:
    reader, driver = service
    total = total_apdus(flow, config)
    for n in range(total + 8):  # the session adds identify/logout APDUs around the flow
        card = VirtualMynaCard(PERSONAS[PERSONA])
        card.faults = Faults(remove_after_apdus=n)
        driver.tap(reader, card, flow, credential(PERSONA, flow))
        final = driver.remove(reader) if reader.has_card() else driver.wait(
            lambda s: s["state"] == "idle")
        assert final["verdict"] is None and final["session_id"] is None, (flow, n)
        assert final["error"] is None and final["credential"] is None
        if any(s["verdict"] is not None for s in driver.seen):
            # Only a tap whose every flow APDU was answered may show a verdict (then the
            # pull hit the session's logout after the result).
            assert n >= total, (flow, n)
            assert all(s["verdict"]["ok"] for s in driver.seen if s["verdict"])
        ap, ef = PIN_EF[flow]
        assert card.tries_left(ap, ef) == max_tries(card, flow), (flow, n)


@pytest.mark.emulator_only
@pytest.mark.parametrize("flow", FLOWS)
def test_credential_with_a_trailing_newline_spends_no_try(flow: str, service) -> None:
    """The kiosk's '^…$' checks let 'PIN\\n' through; the agent must refuse it before any
    VERIFY (PIN_FORMAT, still awaiting the credential, counter untouched)."""
    reader, driver = service
    card = VirtualMynaCard(PERSONAS[PERSONA])
    final = driver.tap(reader, card, flow, credential(PERSONA, flow) + "\n")
    assert final["state"] == "awaiting_credential", final
    assert final["error"]["code"] == "PIN_FORMAT"
    assert not pin_verifies(card)
    ap, ef = PIN_EF[flow]
    assert card.tries_left(ap, ef) == max_tries(card, flow)
    driver.remove(reader)
