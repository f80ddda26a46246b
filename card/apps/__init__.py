"""Card applications (APs) of the My Number card: one module per AP, each on an ``ApduChannel``."""

from __future__ import annotations

from card.apps.input_helper import (
    ApInfo,
    BasicInfo,
    InputHelperApp,
    IntegrityRecord,
    MyNumberRecord,
    SignedKeyRecord,
)
from card.apps.jpki import CertificateKind, JpkiApp, PinKind, TokenInfo, digest_info
from card.apps.surface import AgeRecord, CardFaceRecord, SurfaceApp, SurfaceKey

__all__ = [
    "AgeRecord",
    "ApInfo",
    "BasicInfo",
    "CardFaceRecord",
    "CertificateKind",
    "InputHelperApp",
    "IntegrityRecord",
    "JpkiApp",
    "MyNumberRecord",
    "PinKind",
    "SignedKeyRecord",
    "SurfaceApp",
    "SurfaceKey",
    "TokenInfo",
    "digest_info",
]
