"""Records made by the product's own path (a flow on the emulator with a ``RecordDraft`` as its
possession statement, then ``build_record``), for the receiver's tests and bench/receiver.py."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

AT = datetime(2026, 11, 26, tzinfo=UTC)
RecordMaker = Callable[..., dict[str, Any]]


def credential(persona: Any, flow: str) -> str:
    c = persona.credentials
    return str({"sign": c.sign_password, "auth": c.auth_pin, "face": c.match_b,
                "number": c.input_helper_pin}[flow])


def flow_config_for_tests(trust_dir: Path) -> Any:
    from agent.verification.flows import FLOWS, FlowConfig

    return FlowConfig.build(trust_mode="test", test_dir=trust_dir,
                            crl_file=trust_dir / "test.crl",
                            cvc_issuer_keys=[trust_dir / "cvc_issuer_surface.pem",
                                             trust_dir / "cvc_issuer_input_helper.pem"],
                            enabled=FLOWS)


def record_maker(flow_config: Any) -> RecordMaker:
    """``make(persona, flow, kiosk_id="kiosk-1", policy=..., at=..., staff_id=...)`` → the record
    dict a kiosk builds after a real flow on the emulator (not yet signed)."""
    from agent.records.record import RecordDraft, RecordPolicy, build_record, utc_text
    from agent.verification.flows import run_flow
    from card.emulator import PERSONAS, VirtualMynaCard
    from card.transports.emulated import EmulatedReader

    def make(persona: str = "yamada-taro", flow: str = "sign", *, kiosk_id: str = "kiosk-1",
             policy: Any = None, at: datetime = AT, staff_id: str | None = None) -> dict[str, Any]:
        reader = EmulatedReader(card=VirtualMynaCard.for_persona(persona))
        draft = RecordDraft(kiosk_id, flow, time=utc_text(at))
        with reader.connect() as connection:
            verdict = run_flow(flow, connection, credential(PERSONAS[persona], flow), at=at,
                               config=flow_config, statement=draft)
        return build_record(draft, verdict.to_json(), policy or RecordPolicy(kiosk_id),
                            staff_id=staff_id)

    return make


def receiver_settings(state_dir: Path, db_url: str, trust_dir: Path, **extra: Any) -> Any:
    from receiver.settings import load_settings

    values: dict[str, Any] = {
        "state_dir": str(state_dir), "db_url": db_url, "trust_mode": "test",
        "test_dir": str(trust_dir), "crl_file": str(trust_dir / "test.crl"),
        "cvc_issuer_keys": [str(trust_dir / "cvc_issuer_surface.pem"),
                            str(trust_dir / "cvc_issuer_input_helper.pem")]}
    return load_settings(None, **(values | extra))


def record_from_another_card(template: dict[str, Any], card_number: int) -> dict[str, Any]:
    """A sign-flow record like ``template`` (made by ``record_maker``) but from another card of
    the same test CA: its own RSA key, a certificate with its own serial, subject, key and
    subjectAltName (another birth date, so another person's identity), and the card's signature
    over a statement naming a new record. A fleet's receiver sees a new card and a new person
    in almost every record; ``bench/receiver.py`` uses this so no per-certificate work is
    repeated across records."""
    import dataclasses
    from datetime import timedelta

    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    from agent.records.record import RecordDraft, RecordPolicy, build_record
    from card.emulator import PERSONAS, pki

    if template["flow"] != "sign":
        raise ValueError("only sign-flow records are re-issued")
    persona = PERSONAS["yamada-taro"]
    person = dataclasses.replace(persona.identity, birth_date=persona.identity.birth_date
                                 - timedelta(days=card_number))
    card = dataclasses.replace(persona, name=f"fleet-card-{card_number}", identity=person)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    der = pki.sign_certificate(card, key.public_key()).public_bytes(serialization.Encoding.DER)
    draft = RecordDraft(template["kiosk_id"], "sign", time=template["time"])
    challenge = draft.challenge({"certificate": der})
    draft.signed(challenge, key.sign(challenge, padding.PKCS1v15(), hashes.SHA256()))
    verdict = {k: template[k] for k in ("ok", "assurance", "test_trust", "identity")}
    return build_record(draft, verdict | {"certificate": None},
                        RecordPolicy(template["kiosk_id"]), staff_id=template["staff_id"])
