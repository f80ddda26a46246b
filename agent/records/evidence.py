"""Re-check a record's evidence from the record alone, trusting nothing the kiosk says: the
statement names this record, its subject is the documents carried, our part of the challenge is
the statement's SHA-256, and the card's signature over the challenge verifies with the key of
those documents (the certificate's; the face record's DF24 key; the CVC-certified AP key).

What this does not do is the receiver's job (next to it, with its own pinned roots and CVC
issuer keys): the certificate chain at the record's time, and the CVC/face-record signatures.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

from agent.records.statement import digest_map_sha256, statement_challenge
from agent.verification import cvc as cvc_mod
from agent.verification.verify import public_key_of, verify_challenge_signature
from card import tlv


class EvidenceError(ValueError):
    """The evidence does not prove what the record claims (the reason says which part)."""


def _doc(docs: Mapping[str, Any], name: str) -> bytes:
    part = docs.get(name)
    if not isinstance(part, Mapping) or "b64" not in part:
        raise EvidenceError(f"evidence lacks the {name} bytes")
    raw = base64.b64decode(part["b64"], validate=True)
    if hashlib.sha256(raw).hexdigest() != part.get("sha256"):
        raise EvidenceError(f"{name} does not match its digest")
    return raw


def check_evidence(record: Mapping[str, Any]) -> None:
    """:raises EvidenceError: with the first reason the evidence fails."""
    ev = record.get("evidence")
    if not isinstance(ev, Mapping):
        raise EvidenceError("record carries no evidence")
    st, docs = ev["statement"], ev["documents"]
    for name in ("record_id", "kiosk_id", "time", "flow"):
        if st.get(name) != record.get(name):
            raise EvidenceError(f"statement names another {name}")
    flow = record["flow"]
    if flow in ("sign", "auth"):
        subject = docs["certificate"]["sha256"]
    else:
        subject = digest_map_sha256({k: v["sha256"] for k, v in docs.items()})
    if not hmac.compare_digest(subject, st["subject_sha256"]):
        raise EvidenceError("statement names other documents")
    challenge = base64.b64decode(ev["challenge_b64"], validate=True)
    if not hmac.compare_digest(challenge[-32:], statement_challenge(st)):
        raise EvidenceError("challenge is not this record's statement")
    signature = base64.b64decode(ev["signature_b64"], validate=True)
    if flow in ("sign", "auth"):
        key: Any = public_key_of(_doc(docs, "certificate"))
    elif flow == "face":
        group1 = tlv.children(_doc(docs, "face_group1"))
        key = cvc_mod.rsa_key_from_tlvs(group1[0xDF24].value)
    else:
        signed = _doc(docs, "signed_key")
        key = cvc_mod.rsa_key_from_tlvs(tlv.parse_one(signed).value)
    try:
        verify_challenge_signature(key, challenge, signature)
    except Exception as e:
        raise EvidenceError("the card's signature over the statement does not verify") from e
