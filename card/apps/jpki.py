"""``JpkiApp``: 公的個人認証AP (JPKI-AP) -- certificates, token info, PIN status, VERIFY, signing.

Implements reference §2.1 (file map), §7.1 (token info), §7.2 (certificate reads), §7.3 (PINs)
and §7.4 (COMPUTE DIGITAL SIGNATURE). PIN formats are checked locally before any APDU, a VERIFY
is sent at most once per call, and the retry query (empty VERIFY) never consumes a try.
"""

from __future__ import annotations

import re
from enum import Enum

from card.apps.base import CardApp
from card.errors import ApduError, BadResponseError, PinFormatError
from card.ids import (
    AID,
    CERT_PRESENCE_BOTH,
    DIGEST_INFO_PREFIX_SHA256,
    DIGEST_INFO_PREFIX_SHA384,
    DIGEST_INFO_PREFIX_SHA512,
    MAX_TRIES_AUTH_PIN,
    MAX_TRIES_SIGN_PASSWORD,
    P2_CURRENT_KEY,
    TOKEN_LABEL_CARD,
    JpkiEF,
)
from card.record import FrozenRecord
from card.sw import SW

MAX_CERTIFICATE_LEN = 8192  # J-LIS certificates are ~1.3 KB (reference §7.2); generous bound
TOKEN_INFO_LEN = 160  # PKCS#11 CK_TOKEN_INFO, big-endian CK_ULONGs (reference §7.1)
MAX_SIGN_INPUT = 245  # P1=00: 1-245 bytes (reference §7.4)
_AUTH_PIN_FORMAT = r"[0-9]{4}"  # patterns as text, compiled on first use (card.apps.base)
_SIGN_PASSWORD_FORMAT = r"[A-Z0-9]{6,16}"  # noqa: S105 - a format, not a password


class CertificateKind(Enum):
    """The four certificates of the JPKI AP and their EFs (reference §2.1)."""

    SIGN = JpkiEF.SIGN_CERT
    SIGN_CA = JpkiEF.SIGN_CA_CERT
    AUTH = JpkiEF.AUTH_CERT
    AUTH_CA = JpkiEF.AUTH_CA_CERT


class PinKind(Enum):
    """JPKI credentials: (PIN IEF, key EF, max tries) (reference §7.3)."""

    AUTH = (JpkiEF.AUTH_PIN, JpkiEF.AUTH_KEY, MAX_TRIES_AUTH_PIN)
    SIGN = (JpkiEF.SIGN_PIN, JpkiEF.SIGN_KEY, MAX_TRIES_SIGN_PASSWORD)

    @property
    def pin_ef(self) -> int:
        return int(self.value[0])

    @property
    def key_ef(self) -> int:
        return int(self.value[1])

    @property
    def max_tries(self) -> int:
        return int(self.value[2])


def normalize_pin(kind: PinKind, pin: str) -> bytes:
    """Check a credential's format locally and return the bytes VERIFY sends.

    The sign password is upper-cased first: the card compares bytes (reference §7.3).

    :raises PinFormatError: wrong length or characters (nothing was sent to the card).
    """
    if kind is PinKind.AUTH:
        if not re.fullmatch(_AUTH_PIN_FORMAT, pin):
            raise PinFormatError("the auth PIN is exactly 4 digits")
        return pin.encode("ascii")
    # ASCII first: Unicode case mapping folds "ſ" to "S", "ı" to "I", "ﬁ" to "FI", which would
    # send a password the holder never typed and spend a try on it.
    upper = pin.upper() if pin.isascii() else ""
    if not re.fullmatch(_SIGN_PASSWORD_FORMAT, upper):
        raise PinFormatError("the signature password is 6-16 characters A-Z and 0-9")
    return upper.encode("ascii")


_DIGEST_PREFIXES = {
    "sha256": (DIGEST_INFO_PREFIX_SHA256, 32),
    "sha384": (DIGEST_INFO_PREFIX_SHA384, 48),
    "sha512": (DIGEST_INFO_PREFIX_SHA512, 64),
}


def digest_info(hash_name: str, digest: bytes) -> bytes:
    """Wrap ``digest`` in a DER DigestInfo (RFC 8017 §9.2) for SHA-256/384/512."""
    key = hash_name.lower().replace("-", "")
    if key not in _DIGEST_PREFIXES:
        raise ValueError(f"unsupported hash {hash_name!r}")
    prefix, size = _DIGEST_PREFIXES[key]
    if len(digest) != size:
        raise ValueError(f"{hash_name} digest must be {size} bytes, got {len(digest)}")
    return prefix + bytes(digest)


def _ascii_field(raw: bytes) -> str:
    return raw.rstrip(b" \x00").decode("ascii", errors="replace")


class TokenInfo(FrozenRecord):
    """EF 0006: PKCS#11 ``CK_TOKEN_INFO`` (reference §7.1)."""

    __match_args__ = ("label", "manufacturer_id", "model", "serial_number", "flags", "max_pin_len",
                      "min_pin_len", "raw")
    __slots__ = __match_args__
    label: str
    manufacturer_id: str
    model: str
    serial_number: str
    flags: int
    max_pin_len: int
    min_pin_len: int
    raw: bytes

    def __init__(self, label: str, manufacturer_id: str, model: str, serial_number: str, flags: int,
                 max_pin_len: int, min_pin_len: int, raw: bytes) -> None:
        self._assign(label, manufacturer_id, model, serial_number, flags, max_pin_len, min_pin_len,
                     raw)

    @property
    def is_physical_card(self) -> bool:
        return self.label == TOKEN_LABEL_CARD.decode("ascii")

    @classmethod
    def parse(cls, data: bytes) -> TokenInfo:
        if len(data) != TOKEN_INFO_LEN:
            raise BadResponseError(f"token info is {len(data)} bytes, expected {TOKEN_INFO_LEN}")
        # label[32] manufacturerID[32] model[16] serialNumber[16], then 11 CK_ULONGs (BE here).
        import struct  # only here: `myna status` imports this module and reads no token info

        ulongs = struct.unpack(">11L", data[96:140])
        return cls(
            label=_ascii_field(data[0:32]),
            manufacturer_id=_ascii_field(data[32:64]),
            model=_ascii_field(data[64:80]),
            serial_number=_ascii_field(data[80:96]),
            flags=ulongs[0],
            max_pin_len=ulongs[5],
            min_pin_len=ulongs[6],
            raw=bytes(data),
        )


class JpkiApp(CardApp):
    """The JPKI AP on one channel. Not thread-safe."""

    aid = AID.JPKI

    def read_certificate(self, kind: CertificateKind) -> bytes:
        """Return one certificate as DER, reading only the bytes its header announces (§7.2).

        The signature certificate needs a prior ``verify_pin(PinKind.SIGN, ...)`` on this channel.
        """
        self._ensure()
        self.channel.ensure_ef(kind.value)
        der = self.channel.read_object(MAX_CERTIFICATE_LEN, personal=kind is CertificateKind.SIGN)
        if der[0] != 0x30:
            raise BadResponseError(f"{kind.name} certificate is not a DER SEQUENCE")
        return der

    def read_token_info(self) -> TokenInfo:
        self._ensure()
        self.channel.select_ef(JpkiEF.TOKEN_INFO)
        return TokenInfo.parse(self.channel.read_binary(0, TOKEN_INFO_LEN, personal=False))

    def has_sign_certificate(self) -> bool | None:
        """EF 0008: first byte 8F when the signature certificate is present (reference §2.1).

        None when the card has no EF 0008: its format is [UNCERTAIN] beyond one card, so its
        absence says nothing about the certificate.
        """
        self._ensure()
        try:
            self.channel.select_ef(JpkiEF.CERT_PRESENCE)
        except ApduError as e:
            if e.sw == SW.FILE_NOT_FOUND:
                return None
            raise
        flags = self.channel.read_binary(0, len(CERT_PRESENCE_BOTH), personal=False)
        return flags[0] == CERT_PRESENCE_BOTH[0]

    def tries_left(self, kind: PinKind) -> int:
        """Tries left for ``kind`` via the empty VERIFY; consumes none (reference §3)."""
        return self._tries_left(kind.pin_ef)

    def verify_pin(self, kind: PinKind, pin: str) -> None:
        """VERIFY ``kind`` once; the format is checked before any APDU.

        :raises PinFormatError: bad format (no APDU sent).
        :raises InvalidPinError: wrong PIN, with ``tries_left``.
        :raises PinBlockedError: the counter is (now) zero.
        """
        encoded = normalize_pin(kind, pin)
        self._verify(kind.pin_ef, encoded)

    def sign(self, kind: PinKind, digest_info_bytes: bytes) -> bytes:
        """Sign a DER DigestInfo with the auth or sign key (PKCS#1 v1.5 on the card, §7.4).

        Needs a prior ``verify_pin`` of the same kind on this channel. The signature's size is
        the key's, whatever that is.
        """
        if not 1 <= len(digest_info_bytes) <= MAX_SIGN_INPUT:
            raise ValueError(f"signing input must be 1..{MAX_SIGN_INPUT} bytes")
        self._ensure()
        self.channel.ensure_ef(kind.key_ef)
        return self.channel.compute_signature(0x00, P2_CURRENT_KEY, digest_info_bytes)
