"""Verification records through the real agent (demo reader): every flow's record is signed,
valid against docs/record.schema.json, its evidence re-verifies from the record alone (the
receiver's ``verify_evidence``), and it reaches a real HTTPS receiver that trusts only the test
CA."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from agent.records.evidence import verify_evidence
from agent.records.ids import uuid7, uuid7_ms
from agent.records.record import RecordDraft, RecordPolicy, build_record
from agent.records.signing import KioskKey, verify
from tests.hardening.rig import AT, credential
from tests.support.record_maker import flow_config_for_tests
from tests.support.records import wait_for

SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "docs" / "record.schema.json")
                    .read_text())


def test_uuid7_is_version_7_and_time_ordered():
    ids = [uuid7() for _ in range(5000)]
    assert all(u.version == 7 and u.variant == "specified in RFC 4122" for u in ids)
    assert ids == sorted(ids, key=lambda u: u.int)  # same-millisecond ids still ascend
    assert len(set(ids)) == len(ids)
    assert uuid7_ms(uuid7(now_ms=1_700_000_000_000)) >= 1_700_000_000_000


def test_failed_check_record_names_nobody_and_validates():
    record = build_record(RecordDraft("k1", "sign"),
                          {"ok": False, "error": {"code": "PIN_BLOCKED"},
                           "identity": {"name": "x"}}, RecordPolicy("k1"), staff_id="s-7")
    jsonschema.validate(record, SCHEMA)
    assert record["identity"] is None and record["evidence"] is None
    assert record["error_code"] == "PIN_BLOCKED" and record["staff_id"] == "s-7"


def test_kiosk_jws_verifies_only_with_its_key():
    key, other = KioskKey.generate(), KioskKey.generate()
    record = build_record(RecordDraft("k1", "auth"), {"ok": False}, RecordPolicy("k1"))
    token = key.sign(record)
    assert verify(token, key.public_jwk()) == record
    with pytest.raises(Exception):  # noqa: B017 - joserfc's BadSignatureError
        verify(token, other.public_jwk())


@pytest.mark.emulator_only
def test_every_flow_makes_a_signed_valid_reverifiable_record(agent_factory, receiver):
    agent = agent_factory(receiver.url)
    taps = [("yamada-taro", "sign"), ("yamada-taro", "auth"), ("yamada-taro", "face"),
            ("yamada-taro", "number"), ("expired-cert", "sign")]
    for persona, flow in taps:
        agent.tap(persona, flow, credential(persona, flow))
    got = wait_for(lambda: len(receiver.unique()) >= len(taps) and receiver.unique(),
                   what="every record delivered")
    assert len(got) == len(taps)
    for line in got:
        assert line["sig_ok"], line
        assert line["schema_errors"] == [], line
        assert line["idem"] == line["record_id"]
        assert line["staff_id"] == agent.driver.staff.staff_id  # the record names who checked
    by_flow = {(r["flow"], r["ok"]): r for r in got}
    for flow in ("sign", "auth", "face", "number"):
        assert by_flow[(flow, True)]["evidence"] == "ok", by_flow[(flow, True)]
        assert "possession" in by_flow[(flow, True)]["rechecked"]
    for flow in ("face", "number"):  # the CVC checked against the configured issuer keys
        assert "record-signature" in by_flow[(flow, True)]["rechecked"]
    assert by_flow[("sign", True)]["identity_keys"] == [
        "address", "address_substitute", "birth_date", "birth_era", "name", "name_substitute",
        "sex"]
    assert by_flow[("auth", True)]["identity_keys"] == ["card_reference"]
    assert "my_number" not in by_flow[("number", True)]["identity_keys"]  # records.my_number off
    face = by_flow[("face", True)]
    assert "photo_jp2_b64" not in face["identity_keys"]  # records.photo off
    assert face["documents"]["face_group3"] == ["sha256"]  # the photo only as its digest
    assert face["documents"]["face_group1"] == ["b64", "sha256"]
    failed = by_flow[("sign", False)]
    assert failed["identity_keys"] == [] and "evidence" not in failed
    ids = [r["record_id"] for r in got]
    assert ids == sorted(ids)  # delivered oldest first
    # The receiver logs a record before its 2xx reaches the kiosk: wait for the kiosk's side.
    wait_for(lambda: agent.keeper.stats().pending == 0, what="outbox drained")


@pytest.mark.emulator_only
def test_evidence_check_catches_another_records_statement(agent_factory, trust_dir):
    # No receiver: read the sealed JWS straight from the outbox.
    agent = agent_factory("https://127.0.0.1:9/none")
    agent.tap("yamada-taro", "auth", credential("yamada-taro", "auth"))
    agent.tap("yamada-taro", "auth", credential("yamada-taro", "auth"))
    first, second = (verify(agent.keeper.outbox._open(r.record_id, *_sealed(agent, r.record_id)),
                            agent.keeper.key.public_jwk()) for r in agent.keeper.outbox.rows())
    config = flow_config_for_tests(trust_dir)

    def verdict(record):
        got = verify_evidence(record, config, AT)
        return got.state, got.reason

    assert verdict(first) == verdict(second) == ("accepted", None)
    swapped = {**second, "evidence": first["evidence"]}
    assert verdict(swapped) == ("rejected", "statement_mismatch")
    relabelled = json.loads(json.dumps(first))
    relabelled["evidence"]["statement"] = second["evidence"]["statement"] | {
        "record_id": first["record_id"]}
    assert verdict(relabelled) == ("rejected", "statement_mismatch")  # still another time
    # Every field names the first record, but the card signed the second's (its nonce).
    forged = json.loads(json.dumps(first))
    forged["evidence"]["statement"] = second["evidence"]["statement"] | {
        "record_id": first["record_id"], "time": first["time"]}
    assert verdict(forged) == ("rejected", "challenge_mismatch")


def _sealed(agent, record_id):
    db = agent.keeper.outbox._db
    return db.execute("SELECT nonce, payload FROM outbox WHERE record_id = ?",
                      (record_id,)).fetchone()


@pytest.mark.pcsc
@pytest.mark.emulator_only
def test_records_through_pcscd_and_vpcd(agent_factory, receiver, pcscd):
    from tests.records.conftest import VPCD_READER

    agent = agent_factory(receiver.url, vpcd_port=pcscd.port)
    agent.driver.wait(lambda s: s["state"] == "idle" and s["reader"] == VPCD_READER)
    for flow in ("sign", "face"):
        assert agent.tap("yamada-taro", flow, credential("yamada-taro", flow))[
            "state"] == "result"
    got = wait_for(lambda: len(receiver.unique()) >= 2 and receiver.unique(),
                   what="both records delivered")
    assert [(r["flow"], r["evidence"], r["schema_errors"]) for r in got] == [
        ("sign", "ok", []), ("face", "ok", [])]
