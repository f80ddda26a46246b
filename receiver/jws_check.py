"""The kiosk's signature on a record: a compact JWS checked against the registered kiosk key.

Only Ed25519 is accepted (RFC 9864's ``Ed25519``, and ``EdDSA`` with an Ed25519 key). The header
is read before any key is chosen, so ``alg: none``, HMAC algorithms and unknown ``kid`` values
are refused by name, and the key is looked up by ``kid`` (its RFC 7638 thumbprint) alone.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
from dataclasses import dataclass
from typing import Any

from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import OKPKey

ACCEPTED_ALGS = ("Ed25519", "EdDSA")
MAX_HEADER_BYTES = 1024
MAX_DEPTH = 16


class JwsRejected(Exception):
    """The JWS is malformed, unsigned, signed with a refused algorithm or by an unknown key."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class SignedRecord:
    header: dict[str, Any]
    payload: bytes  # the canonical JSON the kiosk signed
    record: dict[str, Any]


def _b64url(part: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    except (binascii.Error, ValueError) as e:
        raise JwsRejected("malformed_jws", "JWS part is not base64url") from e


def _depth(value: Any, level: int = 0) -> int:
    if level > MAX_DEPTH:
        return level
    if isinstance(value, dict):
        return max((_depth(v, level + 1) for v in value.values()), default=level + 1)
    if isinstance(value, list):
        return max((_depth(v, level + 1) for v in value), default=level + 1)
    return level


def strict_json(data: bytes, what: str) -> Any:
    """JSON with no duplicate keys and bounded nesting, or ``JwsRejected``."""
    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [k for k, _ in pairs]
        if len(keys) != len(set(keys)):
            raise JwsRejected("malformed_record", f"{what}: duplicate key")
        return dict(pairs)

    try:
        value = json.loads(data.decode("utf-8"), object_pairs_hook=no_duplicates)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
        raise JwsRejected("malformed_record", f"{what} is not JSON") from e
    if _depth(value) > MAX_DEPTH:
        raise JwsRejected("malformed_record", f"{what} nests too deeply")
    return value


def read_header(token: str) -> dict[str, Any]:
    parts = token.split(".")
    if len(parts) != 3 or not all(parts[:2]):
        raise JwsRejected("malformed_jws", "not a compact JWS")
    raw = _b64url(parts[0])
    if len(raw) > MAX_HEADER_BYTES:
        raise JwsRejected("malformed_jws", "JWS header too large")
    header = strict_json(raw, "JWS header")
    if not isinstance(header, dict):
        raise JwsRejected("malformed_jws", "JWS header is not an object")
    alg = header.get("alg")
    if alg not in ACCEPTED_ALGS:
        raise JwsRejected("refused_alg", f"JWS algorithm {str(alg)[:16]!r} is not accepted")
    if set(header.get("crit", [])):
        raise JwsRejected("malformed_jws", "JWS has critical header parameters")
    kid = header.get("kid")
    if not isinstance(kid, str) or not 1 <= len(kid) <= 64:
        raise JwsRejected("unknown_kid", "JWS has no usable kid")
    return header


MAX_REMEMBERED_KIOSK_KEYS = 4096


@functools.lru_cache(maxsize=MAX_REMEMBERED_KIOSK_KEYS)
def _kiosk_key(kty: str, crv: str, x: str) -> OKPKey:
    """A registered kiosk's key, imported once: a receiver hears from the same kiosks all day,
    and importing the key cost as much as a sixth of checking a record's JWS. Keyed by the
    JWK's own members, so a key replaced in the registry is imported anew."""
    key = OKPKey.import_key({"kty": kty, "crv": crv, "x": x})
    if key.as_dict().get("crv") != "Ed25519":
        raise JwsRejected("bad_kiosk_key", "the registered kiosk key is not Ed25519")
    return key


def verify(token: str, public_jwk: dict[str, Any],
           header: dict[str, Any] | None = None) -> SignedRecord:
    """Verify ``token`` with the kiosk's public JWK; the payload must be a JSON object.
    ``header``: ``read_header(token)`` when the caller has already read it (to find the key)."""
    header = header if header is not None else read_header(token)
    members = [public_jwk.get(k) for k in ("kty", "crv", "x")]
    if not all(isinstance(m, str) for m in members):
        raise JwsRejected("bad_kiosk_key", "the registered kiosk key is not usable")
    try:
        key = _kiosk_key(*members)
    except (ValueError, JoseError) as e:
        raise JwsRejected("bad_kiosk_key", "the registered kiosk key is not usable") from e
    try:
        obj = jws.deserialize_compact(token, key, algorithms=[header["alg"]])
    except (JoseError, ValueError) as e:
        raise JwsRejected("bad_signature", "the kiosk's signature does not verify") from e
    record = strict_json(obj.payload, "record")
    if not isinstance(record, dict):
        raise JwsRejected("malformed_record", "record is not a JSON object")
    return SignedRecord(header, obj.payload, record)


def thumbprint(public_jwk: dict[str, Any]) -> str:
    """RFC 7638 thumbprint of an Ed25519 public JWK (the ``kid`` a kiosk signs with)."""
    try:
        key = OKPKey.import_key({k: public_jwk[k] for k in ("kty", "crv", "x")})
    except (KeyError, ValueError, JoseError) as e:
        raise JwsRejected("bad_kiosk_key", "not an Ed25519 public JWK") from e
    if key.as_dict().get("crv") != "Ed25519" or "d" in public_jwk:
        raise JwsRejected("bad_kiosk_key", "need the kiosk's PUBLIC Ed25519 JWK")
    return str(key.thumbprint())
