"""The kiosk's own signing key and the record's JWS (RFC 7515, compact) over RFC 8785 JSON.

Ed25519 through joserfc. The JWS ``alg`` is ``Ed25519``, the fully specified name RFC 9864 gives
to EdDSA with Ed25519 (joserfc flags the polymorphic ``EdDSA`` as deprecated); ``kid`` is the
key's RFC 7638 thumbprint, which the receiver registers for this kiosk.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import rfc8785
from joserfc import jws
from joserfc.jwk import OKPKey

from agent.records.files import write_private

JWS_ALG = "Ed25519"


class KeyMissingError(Exception):
    """No kiosk key yet: ``myna keys init``."""


class KioskKey:
    def __init__(self, key: OKPKey) -> None:
        self._key = key
        self.kid = key.thumbprint()

    @classmethod
    def generate(cls) -> KioskKey:
        return cls(OKPKey.generate_key("Ed25519"))

    @classmethod
    def load(cls, path: Path) -> KioskKey:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as e:
            raise KeyMissingError(f"no kiosk key at {path} (run: myna keys init)") from e
        return cls(OKPKey.import_key(data))

    @classmethod
    def init(cls, path: Path, *, force: bool = False) -> KioskKey:
        """Create the key file (0600); an existing key is kept unless ``force``."""
        if path.exists() and not force:
            return cls.load(path)
        key = cls.generate()
        write_private(path, json.dumps(key._key.as_dict(private=True)).encode("ascii"))
        return key

    def public_jwk(self) -> dict[str, Any]:
        return {**self._key.as_dict(private=False), "kid": self.kid, "alg": JWS_ALG,
                "use": "sig"}

    def sign(self, record: dict[str, Any]) -> str:
        header = {"alg": JWS_ALG, "kid": self.kid, "typ": "myna-record+jws"}
        return jws.serialize_compact(header, canonical(record), self._key, algorithms=[JWS_ALG])


def canonical(value: Any) -> bytes:
    return rfc8785.dumps(value)


def verify(token: str, public_jwk: dict[str, Any]) -> dict[str, Any]:
    """Check a record's JWS with a kiosk's public JWK; returns the record (tests, receiver)."""
    key = OKPKey.import_key({k: v for k, v in public_jwk.items() if k in ("kty", "crv", "x")})
    obj = jws.deserialize_compact(token, key, algorithms=[JWS_ALG])
    record: dict[str, Any] = json.loads(obj.payload)
    return record
