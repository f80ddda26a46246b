"""The statement the card signs: "checked at kiosk K at time T as record R".

The possession challenge of a recorded tap is not a bare nonce but the SHA-256 of a canonical
(RFC 8785) statement naming the record, so the card's own signature ties this card to this
record; a back office recomputes it from the record alone (``statement_challenge``). For the
face and number flows the card's GET CHALLENGE bytes come first (flows ``_prove_ap_possession``).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from typing import Any

import rfc8785

STATEMENT_VERSION = 1
NONCE_BYTES = 16


def subject_sha256(evidence: Mapping[str, bytes]) -> str:
    """What the statement names besides the record: the certificate's SHA-256 for sign/auth;
    otherwise the SHA-256 of the canonical map {name: SHA-256 hex} of the signed documents, so
    a receiver holding only a digest of a withheld part (the photo) can still recompute it."""
    if set(evidence) == {"certificate"}:
        return hashlib.sha256(evidence["certificate"]).hexdigest()
    return digest_map_sha256({k: hashlib.sha256(v).hexdigest() for k, v in evidence.items()})


def digest_map_sha256(digests: Mapping[str, str]) -> str:
    return hashlib.sha256(rfc8785.dumps(dict(digests))).hexdigest()


def make_statement(record_id: str, kiosk_id: str, time: str, flow: str, subject: str,
                   nonce: bytes | None = None) -> dict[str, Any]:
    return {"v": STATEMENT_VERSION, "record_id": record_id, "kiosk_id": kiosk_id,
            "time": time, "flow": flow, "subject_sha256": subject,
            "nonce": (nonce if nonce is not None else secrets.token_bytes(NONCE_BYTES)).hex()}


def statement_challenge(statement: Mapping[str, Any]) -> bytes:
    """The 32 bytes our side of the possession challenge is made of."""
    return hashlib.sha256(rfc8785.dumps(dict(statement))).digest()
