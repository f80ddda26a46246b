"""One verification record (確認記録): what was checked, by whom, when, and proof a back office
can re-check without trusting the kiosk. Layout: docs/record.schema.json.

``RecordDraft`` is made when a flow starts: it fixes the record id and time and, as the flow's
``PossessionStatement``, turns the possession challenge into a statement naming the record and
keeps what the card signed. ``build_record`` then adds the verdict, filtered by ``RecordPolicy``.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from agent.records.ids import uuid7
from agent.records.statement import make_statement, statement_challenge, subject_sha256

RECORD_VERSION = 1
# Identity keys each policy field admits (verdict identity JSON -> record identity).
_FIELD_KEYS: dict[str, tuple[str, ...]] = {
    "name": ("name", "name_substitute", "name_png_b64"),
    "address": ("address", "address_substitute", "address_png_b64"),
    "birth_date": ("birth_date", "birth_era"),
    "sex": ("sex",),
    "card_reference": ("card_reference",),
    "card_expiry": ("card_expiry",),
}


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def utc_text(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True, slots=True)
class RecordPolicy:
    """What the operator allows into a record (``[records]``)."""

    kiosk_id: str
    identity_fields: frozenset[str] = frozenset(
        {"name", "address", "birth_date", "sex", "card_reference"})
    my_number: bool = False
    photo: bool = False

    @classmethod
    def from_config(cls, records: Any) -> RecordPolicy:
        return cls(records.kiosk_id, frozenset(records.identity_fields), records.my_number,
                   records.photo)

    def allowed_keys(self) -> set[str]:
        keys = {"verified"}
        for name in self.identity_fields:
            keys.update(_FIELD_KEYS.get(name, ()))
        if self.photo:
            keys.add("photo_jp2_b64")
        if self.my_number:
            keys.add("my_number")
        return keys


@dataclass(slots=True)
class RecordDraft:
    """A record being made: id and time fixed up front; the card's proof collected by the flow."""

    kiosk_id: str
    flow: str
    record_id: str = field(default_factory=lambda: str(uuid7()))
    time: str = field(default_factory=lambda: utc_text(datetime.now(UTC)))
    statement: dict[str, Any] | None = None
    documents: dict[str, bytes] = field(default_factory=dict, repr=False)
    challenge_bytes: bytes | None = None
    signature: bytes | None = field(default=None, repr=False)

    # ---- agent.verification.flows.PossessionStatement -------------------------------------
    def challenge(self, evidence: Mapping[str, bytes]) -> bytes:
        self.documents = dict(evidence)
        self.statement = make_statement(self.record_id, self.kiosk_id, self.time, self.flow,
                                        subject_sha256(evidence))
        self.signature = None
        return statement_challenge(self.statement)

    def signed(self, challenge: bytes, signature: bytes) -> None:
        self.challenge_bytes, self.signature = challenge, signature


def _identity(verdict: Mapping[str, Any], policy: RecordPolicy) -> dict[str, Any] | None:
    identity = verdict.get("identity")
    if not verdict.get("ok") or not isinstance(identity, Mapping):
        return None  # a failed check names nobody
    allowed = policy.allowed_keys()
    return {k: v for k, v in identity.items() if k in allowed}


def _part(name: str, raw: bytes, include: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"sha256": hashlib.sha256(raw).hexdigest()}
    if include:
        out["b64"] = b64(raw)
    return {name: out}


def _documents(draft: RecordDraft, policy: RecordPolicy) -> dict[str, Any]:
    """The signed documents, each as its SHA-256 and (where policy allows) its bytes; the
    statement names them by these digests, so a withheld part still verifies."""
    fields, docs = policy.identity_fields, draft.documents
    include = {
        "certificate": True, "cvc": True, "face_signature": True, "signed_key": True,
        "signed_key_signature": True,
        # group 1 holds birth date, sex and the card's key; 2 the name and address images;
        # 3 the photo (reference §9.1).
        "face_group1": {"birth_date", "sex"} <= fields,
        "face_group2": {"name", "address"} <= fields,
        "face_group3": policy.photo,
    }
    out: dict[str, Any] = {}
    for name, raw in sorted(docs.items()):
        out.update(_part(name, raw, include.get(name, False)))
    return out


def build_record(draft: RecordDraft, verdict: Mapping[str, Any], policy: RecordPolicy, *,
                 staff_id: str | None = None) -> dict[str, Any]:
    """The record for one finished check (ok or failed): a JSON-ready dict."""
    error = verdict.get("error")
    evidence: dict[str, Any] | None = None
    if verdict.get("ok") and draft.statement is not None and draft.signature is not None:
        evidence = {
            "statement": dict(draft.statement),
            "challenge_b64": b64(draft.challenge_bytes or b""),
            "signature_b64": b64(draft.signature),
            "documents": _documents(draft, policy),
        }
    certificate = verdict.get("certificate")
    return {
        "version": RECORD_VERSION,
        "record_id": draft.record_id,
        "kiosk_id": draft.kiosk_id,
        "time": draft.time,
        "flow": draft.flow,
        "ok": bool(verdict.get("ok")),
        "assurance": list(verdict.get("assurance") or []),
        "test_trust": bool(verdict.get("test_trust")),
        "error_code": error.get("code") if isinstance(error, Mapping) else None,
        "staff_id": staff_id,
        "document": "my_number_card",
        "certificate": dict(certificate) if isinstance(certificate, Mapping) else None,
        "identity": _identity(verdict, policy),
        "evidence": evidence,
    }


def identity_keys(records: Iterable[Mapping[str, Any]]) -> set[str]:
    """Every identity key present in ``records`` (tests and docs)."""
    return {k for r in records for k in (r.get("identity") or {})}
