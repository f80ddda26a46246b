"""Credential formats are checked locally, before any APDU (design §1, reference §7.3)."""

from __future__ import annotations

import pytest

from card.apps.jpki import PinKind, normalize_pin
from card.errors import PinFormatError


@pytest.mark.parametrize(
    ("kind", "typed", "sent"),
    [
        (PinKind.SIGN, "myna2026", b"MYNA2026"),
        (PinKind.SIGN, "ABC123", b"ABC123"),
        (PinKind.SIGN, "A" * 16, b"A" * 16),
        (PinKind.AUTH, "1234", b"1234"),
    ],
    ids=["lower-folded", "six", "sixteen", "auth"],
)
def test_accepted(kind: PinKind, typed: str, sent: bytes) -> None:
    assert normalize_pin(kind, typed) == sent


@pytest.mark.parametrize(
    ("kind", "typed"),
    [
        (PinKind.SIGN, "ﬁle2026ı"),  # folds to ASCII "FILE2026I" under Unicode upper()
        (PinKind.SIGN, "ſtraße12"),
        (PinKind.SIGN, "ＭＹＮＡ２０２６"),  # full-width
        (PinKind.SIGN, "ABC12"),
        (PinKind.SIGN, "A" * 17),
        (PinKind.SIGN, "MYNA-2026"),
        (PinKind.AUTH, "１２３４"),
        (PinKind.AUTH, "123"),
        (PinKind.AUTH, "12345"),
    ],
    ids=["ligature-dotless-i", "long-s-eszett", "full-width", "short", "long", "hyphen",
         "full-width-digits", "three", "five"],
)
def test_refused_before_any_apdu(kind: PinKind, typed: str) -> None:
    with pytest.raises(PinFormatError):
        normalize_pin(kind, typed)
