"""Application-level encryption of what a record says about a person (AES-256-GCM).

The database holds only ciphertext for the signed record (which carries the identity fields and
the evidence); the key lives in a 0600 file in the receiver's state directory or arrives as a
systemd credential. The record id is the associated data, so a ciphertext moved to another row
does not decrypt.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_BYTES = 32
NONCE_BYTES = 12


class SealError(Exception):
    """A sealed value does not open under this key (wrong key, wrong row, or altered bytes)."""


def load_or_create_key(path: Path) -> bytes:
    if path.exists():
        key = path.read_bytes()
        if len(key) != KEY_BYTES:
            raise SealError(f"{path}: a data key is {KEY_BYTES} bytes, found {len(key)}")
        return key
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = os.urandom(KEY_BYTES)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key)
        f.flush()
        os.fsync(f.fileno())
    return key


class Sealer:
    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    def seal(self, plaintext: bytes, record_id: str) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, plaintext, record_id.encode("ascii"))

    def open(self, sealed: bytes, record_id: str) -> bytes:
        if len(sealed) <= NONCE_BYTES:
            raise SealError("sealed value too short")
        try:
            return self._aead.decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:],
                                      record_id.encode("ascii"))
        except InvalidTag as e:
            raise SealError("sealed value does not open") from e
