"""``POST /v1/records`` on SQLite and PostgreSQL: the kiosk's JWS, the evidence re-verified,
stored exactly once, and every kind of bad input refused with a typed reason."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from sqlalchemy import func, select

from receiver.models import Record
from tests.support.privacy import forbidden_patterns
from tests.support.record_maker import record_from_another_card

JOSE = "application/jose"


def post(client: Any, token: str | bytes, **headers: str) -> Any:
    return client.post("/v1/records", data=token, content_type=headers.pop("ctype", JOSE),
                       headers=headers)


def count(rx: Any) -> int:
    with rx.sessions() as s:
        return int(s.scalar(select(func.count()).select_from(Record)) or 0)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


@pytest.fixture
def client(registered: Any) -> Any:
    return registered.app().test_client()


@pytest.mark.parametrize("persona,flow", [("yamada-taro", "sign"), ("yamada-taro", "auth"),
                                          ("foreign-resident", "sign"),
                                          ("yamada-taro", "face"),
                                          ("yamada-taro", "number")])
def test_a_real_record_is_accepted_and_stored_once(client, registered, kiosk_key, make_record,
                                                   persona, flow):
    record = make_record(persona, flow)
    assert record["ok"] and record["evidence"]
    token = kiosk_key.sign(record)
    first = post(client, token, **{"Idempotency-Key": record["record_id"]})
    assert first.status_code == 201, first.get_json()
    assert first.get_json()["state"] == "accepted"
    assert "possession" in first.get_json()["rechecked"]
    # Sent again, without and with the key (which fetches the stored record with the kiosk).
    for headers in ({}, {"Idempotency-Key": record["record_id"]}):
        again = post(client, token, **headers)
        assert again.status_code == 200 and again.get_json()["state"] == "accepted"
        assert again.get_json()["received_at"] == first.get_json()["received_at"]
    assert count(registered) == 1


def test_records_from_distinct_cards_are_accepted_and_not_interchangeable(client, registered,
                                                                           kiosk_key,
                                                                           make_record):
    # bench/receiver.py's fleet: every record from its own card; one card's certificate in
    # another card's record names documents the statement does not.
    template = make_record("yamada-taro", "sign")
    first, second = (record_from_another_card(template, n) for n in (1, 2))
    docs = [r["evidence"]["documents"]["certificate"] for r in (first, second)]
    assert docs[0]["sha256"] != docs[1]["sha256"]
    for record in (first, second):
        res = post(client, kiosk_key.sign(record), **{"Idempotency-Key": record["record_id"]})
        assert res.status_code == 201 and res.json["state"] == "accepted"
    swapped = record_from_another_card(template, 3)
    swapped["evidence"]["documents"]["certificate"] = docs[0]
    res = post(client, kiosk_key.sign(swapped))
    assert (res.json["state"], res.json["reason"]) == ("rejected", "statement_mismatch")


def test_failed_check_is_recorded_without_evidence(client, registered, kiosk_key, make_record):
    record = make_record("revoked-cert", "sign")
    assert not record["ok"] and record["identity"] is None
    res = post(client, kiosk_key.sign(record))
    assert res.status_code == 201 and res.get_json()["state"] == "accepted"


def test_same_id_other_content_is_a_conflict(client, registered, kiosk_key, make_record):
    record = make_record()
    assert post(client, kiosk_key.sign(record)).status_code == 201
    altered = dict(record, staff_id="someone-else")
    for headers in ({}, {"Idempotency-Key": record["record_id"]}):
        res = post(client, kiosk_key.sign(altered), **headers)
        assert res.status_code == 409 and res.get_json()["error"]["code"] == "conflict"
    assert count(registered) == 1


def test_identity_is_not_in_the_database_in_plaintext(client, registered, kiosk_key,
                                                      make_record, settings):
    from card.emulator import PERSONAS

    record = make_record("yamada-taro", "sign")
    assert post(client, kiosk_key.sign(record)).status_code == 201
    with registered.engine.connect() as conn:
        dump = repr([tuple(r) for r in conn.exec_driver_sql("SELECT * FROM records")])
    for label, pattern in forbidden_patterns(PERSONAS["yamada-taro"]):
        if label.split("-")[0] in ("name", "address", "birth", "my_number"):
            assert not pattern.search(dump), label
    # and the stored record still opens, identity and all
    with registered.sessions() as s:
        row = s.scalars(select(Record)).one()
        name = registered.store.open_record(row)["identity"]["name"]
        assert name == PERSONAS["yamada-taro"].identity.name


# ---- forged evidence: stored as rejected with a reason, answered 2xx -------------------------

def _forge(record: dict[str, Any], path: list[str], value: Any) -> dict[str, Any]:
    forged = json.loads(json.dumps(record))
    node = forged
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return forged


def test_signature_over_another_records_statement_is_rejected(client, registered, kiosk_key,
                                                              make_record):
    one, two = make_record(), make_record()
    forged = _forge(two, ["evidence"], one["evidence"])
    res = post(client, kiosk_key.sign(forged))
    assert res.status_code == 201
    assert res.get_json()["state"] == "rejected"
    assert res.get_json()["reason"] == "statement_mismatch"


def test_replayed_signature_with_a_new_statement_is_rejected(client, registered, kiosk_key,
                                                             make_record):
    from agent.records.statement import statement_challenge

    record = make_record()
    statement = dict(record["evidence"]["statement"], nonce="00" * 16)
    forged = _forge(record, ["evidence", "statement"], statement)
    forged["evidence"]["challenge_b64"] = base64.b64encode(
        statement_challenge(statement)).decode()
    res = post(client, kiosk_key.sign(forged))
    assert res.get_json()["state"] == "rejected"
    assert res.get_json()["reason"] == "possession_signature"


def test_certificate_from_an_unpinned_root_is_rejected(client, registered, kiosk_key,
                                                       make_record, tmp_path):
    from receiver.service import open_receiver
    from tests.support.record_maker import receiver_settings

    # The same record, re-verified by a receiver that trusts only J-LIS: the test root is not
    # pinned there, so the chain fails although everything else is genuine.
    record = make_record()
    jlis = open_receiver(receiver_settings(tmp_path / "jlis", registered.settings.database_url,
                                           tmp_path, trust_mode="jlis", test_dir="",
                                           crl_file="", cvc_issuer_keys=[]))
    res = jlis.app().test_client().post("/v1/records", data=kiosk_key.sign(record),
                                        content_type=JOSE)
    assert res.status_code == 201
    assert res.get_json()["state"] == "rejected"
    assert res.get_json()["reason"].startswith("certificate_")
    jlis.engine.dispose()


def test_face_record_from_another_card_is_rejected(client, registered, kiosk_key, make_record):
    mine, other = make_record("yamada-taro", "face"), make_record("foreign-resident", "face")
    docs = mine["evidence"]["documents"]
    docs["face_group3"] = other["evidence"]["documents"]["face_group3"]
    res = post(client, kiosk_key.sign(mine))
    assert res.get_json()["state"] == "rejected"
    assert res.get_json()["reason"] in ("statement_mismatch", "record_signature")


def test_tampered_face_persona_cannot_pass(client, registered, kiosk_key, make_record):
    record = make_record("tampered-face", "face")
    assert not record["ok"]
    assert post(client, kiosk_key.sign(record)).get_json()["state"] == "accepted"  # recorded


# ---- refused outright: nothing stored ---------------------------------------------------------

def _unsigned(record: dict[str, Any], header: dict[str, Any]) -> str:
    return (b64url(json.dumps(header).encode()) + "." +
            b64url(json.dumps(record).encode()) + ".")


def test_alg_none_and_hmac_are_refused(client, registered, kiosk_key, make_record):
    record = make_record()
    none = _unsigned(record, {"alg": "none", "kid": kiosk_key.kid})
    res = post(client, none)
    assert res.status_code == 401 and res.get_json()["error"]["code"] == "refused_alg"
    import hashlib
    import hmac as hmac_mod

    header = {"alg": "HS256", "kid": kiosk_key.kid}
    signing_input = (b64url(json.dumps(header).encode()) + "." +
                     b64url(json.dumps(record).encode()))
    mac = hmac_mod.new(kiosk_key.kid.encode(), signing_input.encode(), hashlib.sha256).digest()
    res = post(client, signing_input + "." + b64url(mac))
    assert res.status_code == 401 and res.get_json()["error"]["code"] == "refused_alg"
    assert count(registered) == 0


def test_unknown_kid_disabled_kiosk_and_another_kiosks_key(client, registered, kiosk_key,
                                                           make_record):
    from agent.records.signing import KioskKey
    from receiver import admin

    stranger = KioskKey.generate()
    res = post(client, stranger.sign(make_record()))
    assert res.status_code == 401 and res.get_json()["error"]["code"] == "unknown_kid"

    admin.add_kiosk(registered, "kiosk-2", json.dumps(stranger.public_jwk()))
    res = post(client, stranger.sign(make_record(kiosk_id="kiosk-1")))
    assert res.status_code == 401 and res.get_json()["error"]["code"] == "kiosk_mismatch"

    admin.set_kiosk_enabled(registered, "kiosk-1", False)
    res = post(client, kiosk_key.sign(make_record()))
    assert res.status_code == 401 and res.get_json()["error"]["code"] == "kiosk_disabled"
    assert count(registered) == 0


def test_bad_bodies(client, registered, kiosk_key, make_record):
    token = kiosk_key.sign(make_record())
    assert post(client, token, ctype="application/json").status_code == 415
    assert post(client, b"x" * (2 * 1024 * 1024)).status_code == 413
    assert post(client, "not.a.jws").status_code in (400, 401)
    assert post(client, "\xff\xfe").status_code == 400
    head, payload, sig = token.split(".")
    flipped = head + "." + payload + "." + ("A" if sig[0] != "A" else "B") + sig[1:]
    res = post(client, flipped)
    assert res.status_code == 401 and res.get_json()["error"]["code"] == "bad_signature"
    res = post(client, token, **{"Idempotency-Key": "another-id"})
    assert res.status_code == 400
    assert count(registered) == 0


def test_deep_nesting_and_duplicate_keys_are_refused(client, registered, kiosk_key,
                                                     make_record):
    from joserfc import jws

    record = make_record()
    for payload in (b'{"a":' * 100 + b"1" + b"}" * 100,
                    json.dumps(record)[:-1].encode() + b', "ok": false}'):
        token = jws.serialize_compact({"alg": "Ed25519", "kid": kiosk_key.kid}, payload,
                                      kiosk_key._key, algorithms=["Ed25519"])
        res = post(client, token)
        assert res.status_code == 400, res.get_json()
        assert res.get_json()["error"]["code"] == "malformed_record"
    assert count(registered) == 0


def test_registered_key_is_checked_every_time_and_remembered_only_when_usable(kiosk_key):
    """The kiosk's key is imported once, but a refused key stays refused, a tampered token
    stays refused after its kiosk's key was remembered, and another key is not mixed up."""
    from agent.records.signing import KioskKey
    from receiver import jws_check

    record = {"record_id": "r", "n": 1}
    token = kiosk_key.sign(record)
    public = kiosk_key.public_jwk()
    unusable = [public | {"crv": "X25519"}, public | {"x": 7}, {"kty": "OKP", "crv": "Ed25519"},
                public | {"x": "not base64url!"}]
    for _ in range(2):
        assert jws_check.verify(token, public).record == record
        head, payload, signature = token.split(".")
        flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
        for bad in (f"{head}.{payload}.{flipped}", token):
            other = KioskKey.generate().public_jwk() if bad == token else public
            with pytest.raises(jws_check.JwsRejected) as e:
                jws_check.verify(bad, other)
            assert e.value.reason == "bad_signature"
        for jwk in unusable:
            with pytest.raises(jws_check.JwsRejected) as e:
                jws_check.verify(token, jwk)
            assert e.value.reason == "bad_kiosk_key"
