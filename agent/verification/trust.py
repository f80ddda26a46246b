"""Trust anchors: pinned J-LIS root fingerprints, test roots, and the frozen ``TrustStore``.

Reference card-protocol.md §11.2: every J-LIS root generation shares one DN, so roots are
identified by SHA-256 fingerprint (and chosen by key during path building, see ``verify``).
A CA certificate read from the card (JPKI EF 0002 / 000B) or from a file becomes a trust
anchor only if its fingerprint is pinned here; the card's copy proves nothing on its own.
Test roots (the emulator's ``export_trust`` directory) and operator-chosen ``--trust-root``
files are trusted only when asked for, and every result then carries ``test_trust``.

Known gap: the 2019 user-authentication root (authca02, serial 0133C349) has no published
SHA-256 fingerprint in any source we have (reference §11.2, §14); it is listed with
``fingerprint=None`` and therefore never accepted until an operator adds it from J-LIS's
``auth_fingerprint`` PDF as an extra root. Cards whose auth certificate chains to it fail
the ``auth`` flow with CERT_UNTRUSTED (reason ``unpinned_ca``) rather than being trusted blindly.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

from asn1crypto import pem, x509

from agent.verification.errors import CertificateRejectedError, RejectReason

logger = logging.getLogger(__name__)


class Purpose(StrEnum):
    SIGN = "sign"
    AUTH = "auth"


class TrustMode(StrEnum):
    JLIS = "jlis"
    TEST = "test"


@dataclass(frozen=True, slots=True)
class PinnedRoot:
    """One J-LIS root generation (reference §11.2)."""

    purpose: Purpose
    generation: str
    fingerprint: str | None  # SHA-256 of the DER, upper-case hex; None = not known to us
    # Documentation only: the pinned certificate's own notAfter (equal, tested) is what
    # verify checks at the verification time, for every anchor alike.
    not_after: datetime
    source: str


def _utc(y: int, mo: int, d: int, h: int = 14, mi: int = 59, s: int = 59) -> datetime:
    return datetime(y, mo, d, h, mi, s, tzinfo=UTC)


PINNED_ROOTS: tuple[PinnedRoot, ...] = (
    PinnedRoot(Purpose.SIGN, "2015",
               "19645405A1FE14377434BD55957628AC4038557C542403A2243F21C706FC9355",
               _utc(2025, 10, 19), "signca01; computed from the J-LIS PEM, TA-SWIFT agrees"),
    # signca02: stated by TA-SWIFT and ZKM as J-LIS sign_fingerprint.pdf; no file to recompute.
    # notAfter known only as a date (SOL): take the end of that JST day.
    PinnedRoot(Purpose.SIGN, "2019",
               "79679C33E4CC9319440F1AD120A597FF1844E2EF217063ADB176966FD5E6FBEB",
               _utc(2029, 9, 14), "signca02; stated by TA-SWIFT/ZKM, not recomputed"),
    PinnedRoot(Purpose.SIGN, "2023",
               "D227F6CDE11D35C5252178F106F843D24651944975413B539FA2FB68DBFA365F",
               _utc(2033, 7, 15), "signca03; computed from the J-LIS PEM"),
    PinnedRoot(Purpose.AUTH, "2015",
               "4DCFC4CA0AAF9FB2A3081B3F0C991C320B3ACC008667A341EEAEC5AF1D58CA7D",
               _utc(2025, 10, 19), "authca01; computed from the J-LIS PEM"),
    PinnedRoot(Purpose.AUTH, "2019", None, _utc(2029, 9, 14),
               "authca02; fingerprint not published in any source available: gap"),
    PinnedRoot(Purpose.AUTH, "2023",
               "64114F29620C24ED2631D46476A040E7EE740D956089C00B036A6A8118C322B5",
               _utc(2033, 7, 15), "authca03; computed from the J-LIS PEM"),
)

_PINS_BY_FINGERPRINT = {p.fingerprint: p for p in PINNED_ROOTS if p.fingerprint}

MAX_CERT_FILE_BYTES = 64 * 1024


def fingerprint(der: bytes) -> str:
    """Return the SHA-256 fingerprint of a DER certificate, upper-case hex without colons."""
    return hashlib.sha256(der).hexdigest().upper()


def pinned_root_for(der: bytes) -> PinnedRoot | None:
    return _PINS_BY_FINGERPRINT.get(fingerprint(der))


@dataclass(frozen=True, slots=True)
class TrustAnchor:
    """A root the store will build paths to. ``generation`` is "2015"/"2019"/"2023" for
    J-LIS roots, "test" for emulator roots, "operator" for ``--trust-root`` files."""

    der: bytes
    generation: str
    purpose: Purpose | None
    test_trust: bool

    @property
    def certificate(self) -> x509.Certificate:
        return x509.Certificate.load(self.der)


class PinnedCaCache:
    """Pinned CA certificates already read from cards, by subjectKeyIdentifier.

    The product pins J-LIS roots by fingerprint only, so each tap must read the card's CA copy
    (EF 0002/000B, about 1.3 KB, 7 APDUs) before the chain can be built. A copy whose
    fingerprint is pinned is the same bytes on every card, so once seen it is kept here and
    later taps skip the read. Only pinned certificates enter; thread-safe; bounded.
    """

    MAX_ENTRIES = 16

    def __init__(self) -> None:
        self._by_key_id: dict[bytes, bytes] = {}
        self._lock = threading.Lock()

    def get(self, key_id: bytes) -> bytes | None:
        with self._lock:
            return self._by_key_id.get(key_id)

    def remember(self, der: bytes) -> None:
        if pinned_root_for(der) is None:
            return  # never cache what is not pinned
        key_id = x509.Certificate.load(der).key_identifier
        if key_id is None:
            return
        with self._lock:
            if len(self._by_key_id) < self.MAX_ENTRIES:
                self._by_key_id[key_id] = der


def load_certificates(data: bytes, *, limit: int = 16) -> list[bytes]:
    """Return the DER certificates in ``data`` (one DER, or one or more PEM blocks).

    :raises CertificateRejectedError: MALFORMED when nothing parses as a certificate.
    """
    if len(data) > MAX_CERT_FILE_BYTES:
        raise CertificateRejectedError(RejectReason.MALFORMED, "certificate file too large")
    ders: list[bytes] = []
    try:
        if pem.detect(data):
            for kind, _headers, der in pem.unarmor(data, multiple=True):
                if kind == "CERTIFICATE":
                    ders.append(der)
                if len(ders) > limit:
                    break
        else:
            ders.append(data)
        for der in ders:
            cert = x509.Certificate.load(der, strict=True)
            cert.native  # noqa: B018 - force a full parse now, not later inside validation
    except CertificateRejectedError:
        raise
    except Exception as e:  # asn1crypto raises ValueError/TypeError/etc. on bad DER
        raise CertificateRejectedError(RejectReason.MALFORMED, "not a DER/PEM certificate") from e
    if not ders:
        raise CertificateRejectedError(RejectReason.MALFORMED, "no certificate in file")
    return ders


def _read_file(path: Path) -> bytes:
    with path.open("rb") as f:
        data = f.read(MAX_CERT_FILE_BYTES + 1)
    return data


@dataclass(frozen=True, slots=True)
class TrustStore:
    """The anchors a verification may use. Immutable: adding a card CA returns a new store."""

    mode: TrustMode
    anchors: tuple[TrustAnchor, ...] = ()
    test_dir: Path | None = None
    extra_fingerprints: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def build(
        cls,
        mode: TrustMode | str = TrustMode.JLIS,
        *,
        test_dir: Path | str | None = None,
        extra_roots: Iterable[Path | str] = (),
        ca_files: Iterable[Path | str] = (),
    ) -> TrustStore:
        """Build a store.

        ``test_dir`` (test mode only) is the emulator's ``export_trust`` directory;
        ``extra_roots`` are operator-chosen roots (marked test_trust, and refused unless
        self-issued: subject equals issuer per RFC 5280 §7.1); ``ca_files`` are CA
        certificates (e.g. J-LIS ``signca03.cer``) accepted only if pinned.
        """
        mode = TrustMode(mode)
        anchors: list[TrustAnchor] = []
        tdir = Path(test_dir) if test_dir else None
        if mode is TrustMode.TEST and tdir is not None:
            for name, purpose in (("sign_root.pem", Purpose.SIGN), ("auth_root.pem", Purpose.AUTH)):
                path = tdir / name
                if not path.is_file():
                    logger.warning("test trust directory lacks %s", name)
                    continue
                for der in load_certificates(_read_file(path)):
                    anchors.append(TrustAnchor(der, "test", purpose, True))
        for root_file in extra_roots:
            for der in load_certificates(_read_file(Path(root_file))):
                if not x509.Certificate.load(der).self_issued:
                    # An intermediate as anchor would silently skip the checks on its own
                    # issuer; an operator who means it must pass the root instead.
                    raise CertificateRejectedError(
                        RejectReason.UNTRUSTED_ROOT, "--trust-root is not self-issued")
                anchors.append(TrustAnchor(der, "operator", None, True))
        store = cls(mode, tuple(anchors), tdir,
                    frozenset(fingerprint(a.der) for a in anchors))
        for ca_file in ca_files:
            for der in load_certificates(_read_file(Path(ca_file))):
                store = store.with_ca(der)
        return store

    @property
    def test_trust(self) -> bool:
        """True when any non-J-LIS anchor is present: results must then say TEST."""
        return self.mode is TrustMode.TEST or any(a.test_trust for a in self.anchors)

    def anchor_for(self, der: bytes) -> TrustAnchor | None:
        fp = fingerprint(der)
        for a in self.anchors:
            if fingerprint(a.der) == fp:
                return a
        return None

    def with_ca(self, der: bytes) -> TrustStore:
        """Return a store that also trusts ``der`` (a CA read from the card or a file).

        :raises CertificateRejectedError: UNPINNED_CA unless the fingerprint is a J-LIS pin
            (any mode) or one of the already-loaded test/operator roots.
        """
        if self.anchor_for(der) is not None:
            return self
        pin = pinned_root_for(der)
        if pin is None:
            raise CertificateRejectedError(
                RejectReason.UNPINNED_CA, "CA certificate fingerprint is not pinned")
        anchor = TrustAnchor(der, pin.generation, pin.purpose, False)
        return TrustStore(self.mode, (*self.anchors, anchor), self.test_dir,
                          self.extra_fingerprints)

    def anchor_by_key_id(self, key_id: bytes, purpose: Purpose) -> TrustAnchor | None:
        """The anchor whose subjectKeyIdentifier is ``key_id`` (an end-entity's AKI), if any."""
        for a in self.anchors:
            if a.purpose in (None, purpose) and a.certificate.key_identifier == key_id:
                return a
        return None

    def generation_of(self, root_der: bytes) -> str:
        a = self.anchor_for(root_der)
        return a.generation if a else "unknown"

    def file_in_test_dir(self, name: str) -> Path | None:
        if self.mode is not TrustMode.TEST or self.test_dir is None:
            return None
        p = self.test_dir / name
        return p if p.is_file() else None
