"""Re-verify a record's card evidence from the record alone, trusting nothing the kiosk says.

The one evidence verifier of the project (the receiver stores its verdict; the records tests'
stand-in receiver uses it too). Everything is recomputed with the verification core: the
statement must name this very record and the documents carried, the challenge must be derived
from that statement, the certificate must chain to the pinned roots at the record's time
(sign/auth), the card-face record's signature must verify with the CVC key, and the CVC with a
configured issuer key (face/number), and the card's signature over the challenge must verify
with the card's key (the certificate's; the face record's DF24 key; the CVC-certified AP key).
A record that fails any of this is ``rejected`` with a typed reason: the business must see it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from agent.records.statement import digest_map_sha256, statement_challenge
from agent.verification import cvc as cvc_mod
from agent.verification.errors import (
    CertificateRejectedError,
    PossessionError,
    RecordError,
    RevocationUnavailableError,
)
from agent.verification.flows import FlowConfig
from agent.verification.trust import Purpose
from agent.verification.verify import (
    public_key_of,
    validate_certificate,
    verify_challenge_signature,
)
from card import tlv
from card.errors import CardError

CARD_CHALLENGE_BYTES = 16
STATEMENT_CHALLENGE_BYTES = 32
_HEX64 = re.compile(r"[0-9a-f]{64}")
_PURPOSE = {"sign": Purpose.SIGN, "auth": Purpose.AUTH}


class EvidenceRejected(Exception):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class EvidenceVerdict:
    state: str  # accepted | rejected
    reason: str | None = None
    rechecked: tuple[str, ...] = field(default=())


def _b64(value: Any, what: str) -> bytes:
    if not isinstance(value, str):
        raise EvidenceRejected("malformed_evidence", f"{what} is not base64 text")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as e:
        raise EvidenceRejected("malformed_evidence", f"{what} is not base64") from e


def _documents(evidence: Mapping[str, Any]) -> tuple[dict[str, str], dict[str, bytes]]:
    """(name -> sha256 hex, name -> bytes for the parts the record carries), digests checked."""
    docs = evidence.get("documents")
    if not isinstance(docs, Mapping) or not docs:
        raise EvidenceRejected("malformed_evidence", "evidence has no documents")
    digests: dict[str, str] = {}
    parts: dict[str, bytes] = {}
    for name, doc in docs.items():
        if not isinstance(doc, Mapping) or not _HEX64.fullmatch(str(doc.get("sha256", ""))):
            raise EvidenceRejected("malformed_evidence", f"document {name[:32]!r} malformed")
        digests[name] = doc["sha256"]
        if "b64" in doc:
            raw = _b64(doc["b64"], f"document {name[:32]!r}")
            if not hmac.compare_digest(hashlib.sha256(raw).hexdigest(), doc["sha256"]):
                raise EvidenceRejected("document_digest_mismatch",
                                       f"document {name[:32]!r} does not match its digest")
            parts[name] = raw
    return digests, parts


def _need(parts: Mapping[str, bytes], name: str) -> bytes:
    if name not in parts:
        raise EvidenceRejected("malformed_evidence", f"evidence lacks the {name} bytes")
    return parts[name]


def _check_statement(record: Mapping[str, Any], evidence: Mapping[str, Any],
                     digests: Mapping[str, str]) -> bytes:
    """The statement names this record and these documents; returns its 32-byte challenge."""
    statement = evidence.get("statement")
    if not isinstance(statement, Mapping):
        raise EvidenceRejected("malformed_evidence", "evidence has no statement")
    for key in ("record_id", "kiosk_id", "time", "flow"):
        if statement.get(key) != record.get(key):
            raise EvidenceRejected("statement_mismatch", f"statement names another {key}")
    if record["flow"] in _PURPOSE:
        subject = digests.get("certificate")
    else:
        subject = digest_map_sha256(digests)
    if statement.get("subject_sha256") != subject:
        raise EvidenceRejected("statement_mismatch", "statement names other documents")
    try:
        return statement_challenge(statement)
    except Exception as e:  # canonicalisation refuses floats out of range, bad strings, ...
        raise EvidenceRejected("malformed_evidence", "statement cannot be canonicalised") from e


def _check_challenge(flow: str, challenge: bytes, expected: bytes) -> None:
    if flow in _PURPOSE:
        ok = hmac.compare_digest(challenge, expected)
    else:  # the card's GET CHALLENGE bytes come first, then ours
        ok = (len(challenge) == CARD_CHALLENGE_BYTES + STATEMENT_CHALLENGE_BYTES
              and hmac.compare_digest(challenge[CARD_CHALLENGE_BYTES:], expected))
    if not ok:
        raise EvidenceRejected("challenge_mismatch",
                               "the signed challenge is not derived from this record")


def _cvc_key(parts: Mapping[str, bytes], config: FlowConfig) -> tuple[Any, bool]:
    cvc = cvc_mod.Cvc.parse(_need(parts, "cvc"))
    if not config.cvc_issuer_keys:
        return cvc.public_key, False
    if not cvc_mod.verify_cvc(cvc, config.cvc_issuer_keys):
        raise EvidenceRejected("cvc_untrusted", "CVC is not signed by a configured issuer key")
    return cvc.public_key, True


def _face(parts: Mapping[str, bytes], digests: Mapping[str, str], challenge: bytes,
          signature: bytes, config: FlowConfig) -> list[str]:
    key, issuer_checked = _cvc_key(parts, config)
    groups = ("face_group1", "face_group2", "face_group3")
    if not all(g in digests for g in groups):
        raise EvidenceRejected("malformed_evidence", "face record digests missing")
    try:
        cvc_mod.verify_face_digests(key, [bytes.fromhex(digests[g]) for g in groups],
                                    _need(parts, "face_signature"))
    except RecordError as e:
        raise EvidenceRejected("record_signature", "card-face record signature fails") from e
    rechecked = ["record-signature"] if issuer_checked else ["record-consistent"]
    if "face_group1" in parts:  # the card's key (DF24) travels in group 1
        items = {i.tag: i for i in tlv.iterate(parts["face_group1"])}
        if 0xDF24 not in items:
            raise EvidenceRejected("malformed_evidence", "face group 1 has no card key")
        card_key = cvc_mod.rsa_key_from_tlvs(items[0xDF24].value)
        verify_challenge_signature(card_key, challenge, signature)
        rechecked.append("possession")
    return rechecked


def _number(parts: Mapping[str, bytes], challenge: bytes, signature: bytes,
            config: FlowConfig) -> list[str]:
    key, issuer_checked = _cvc_key(parts, config)
    signed = _need(parts, "signed_key")
    cvc_mod.verify_sha256(key, _need(parts, "signed_key_signature"), signed)
    ap_key = cvc_mod.rsa_key_from_tlvs(tlv.parse_one(signed).value)
    verify_challenge_signature(ap_key, challenge, signature)
    return (["record-signature"] if issuer_checked else ["record-consistent"]) + ["possession"]


def _jpki(flow: str, parts: Mapping[str, bytes], challenge: bytes, signature: bytes,
          config: FlowConfig, at: datetime) -> list[str]:
    cert = _need(parts, "certificate")
    validated = validate_certificate(cert, config.trust, purpose=_PURPOSE[flow], at=at,
                                     revocation=config.revocation, fetcher=config.fetcher)
    verify_challenge_signature(public_key_of(cert), challenge, signature)
    return list(validated.assurance) + ["possession"]


def verify_evidence(record: Mapping[str, Any], config: FlowConfig,
                    at: datetime) -> EvidenceVerdict:
    """The receiver's own verdict on ``record`` (already known to be signed by its kiosk)."""
    flow = record.get("flow")
    evidence = record.get("evidence")
    if not record.get("ok"):
        if record.get("identity") is not None:
            return EvidenceVerdict("rejected", "failed_check_with_identity")
        return EvidenceVerdict("accepted")  # a failed check: recorded, nothing to prove
    if not isinstance(evidence, Mapping):
        return EvidenceVerdict("rejected", "no_evidence")
    try:
        digests, parts = _documents(evidence)
        expected = _check_statement(record, evidence, digests)
        challenge = _b64(evidence.get("challenge_b64"), "challenge")
        signature = _b64(evidence.get("signature_b64"), "signature")
        _check_challenge(str(flow), challenge, expected)
        if flow in _PURPOSE:
            rechecked = _jpki(str(flow), parts, challenge, signature, config, at)
        elif flow == "face":
            rechecked = _face(parts, digests, challenge, signature, config)
        elif flow == "number":
            rechecked = _number(parts, challenge, signature, config)
        else:
            return EvidenceVerdict("rejected", "unknown_flow")
    except EvidenceRejected as e:
        return EvidenceVerdict("rejected", e.reason)
    except CertificateRejectedError as e:
        return EvidenceVerdict("rejected", f"certificate_{e.reason}")
    except RevocationUnavailableError:
        return EvidenceVerdict("rejected", "revocation_unavailable")
    except PossessionError:
        return EvidenceVerdict("rejected", "possession_signature")
    except (RecordError, CardError):
        return EvidenceVerdict("rejected", "record_signature")
    return EvidenceVerdict("accepted", None, tuple(rechecked))
