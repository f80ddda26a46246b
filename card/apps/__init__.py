"""Card applications (APs) of the My Number card: one module per AP, each on an ``ApduChannel``."""

from __future__ import annotations

from card.lazy import lazy_attributes

# mypy takes any name TYPE_CHECKING as true; no typing import at run time.
TYPE_CHECKING = False
if TYPE_CHECKING:
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

# Each AP's module loads on first use: `myna status` needs two of the three.
_LAZY = {
    "ApInfo": "card.apps.input_helper", "BasicInfo": "card.apps.input_helper",
    "InputHelperApp": "card.apps.input_helper", "IntegrityRecord": "card.apps.input_helper",
    "MyNumberRecord": "card.apps.input_helper", "SignedKeyRecord": "card.apps.input_helper",
    "CertificateKind": "card.apps.jpki", "JpkiApp": "card.apps.jpki", "PinKind": "card.apps.jpki",
    "TokenInfo": "card.apps.jpki", "digest_info": "card.apps.jpki",
    "AgeRecord": "card.apps.surface", "CardFaceRecord": "card.apps.surface",
    "SurfaceApp": "card.apps.surface", "SurfaceKey": "card.apps.surface",
}


__getattr__ = lazy_attributes("card.apps", _LAZY)


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
