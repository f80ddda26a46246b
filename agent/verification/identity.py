"""The identity in the signature certificate's subjectAltName (reference card-protocol.md §11.1).

The six otherName attributes ``1.2.392.200149.8.5.5.{1..6}`` (name, name substitute flags,
sex, ``EYYYYMMDD`` birth date, address, address substitute flags) each hold a UTF8String in
``[0] EXPLICIT``. Parsing is strict and all-or-nothing: a wrong string type, a missing or
duplicated attribute, an impossible date or an era that does not match the date raises
``IdentityError`` (CERT_INVALID) and no partial identity is ever returned. Unknown otherName
OIDs (e.g. the announced 旧氏 and furigana attributes) are kept in ``extra``.

One identity or none: a certificate with two subjectAltName extensions is refused, whichever
one a parser would pick. Name and address are refused (not silently cleaned) when they hold
a character of Unicode category Cc, Cf, Co, Cs, Zl or Zp: controls, bidi embeddings,
overrides and isolates (U+202A–202E, U+2066–2069), marks (U+200E/200F, U+061C), zero-width
characters (U+200B–200D, U+2060, U+FEFF), private-use and line/paragraph separators. Each
can make the staff screen show a different name than the certificate holds (an RLO reverses
part of it). 外字 never need them: JPKI replaces an out-of-JIS character by a JIS substitute
and sets that character's flag (reference §11.1), so the flags string must hold exactly one
``0``/``1`` per character of its text. ``extra`` values are kept as found; human output
escapes them (``agent.cli.commands.verify_cmds``).
"""

from __future__ import annotations

import logging
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from asn1crypto import core, x509

from agent.verification.errors import IdentityError
from card.ids import (
    OID_SAN_ADDRESS,
    OID_SAN_ADDRESS_SUBSTITUTE,
    OID_SAN_BIRTH_DATE,
    OID_SAN_NAME,
    OID_SAN_NAME_SUBSTITUTE,
    OID_SAN_SEX,
)

logger = logging.getLogger(__name__)

MAX_TEXT_CHARS = 256  # reference: address ≤ 200 characters; name shorter
MAX_EXTRA = 16

# (code, name_ja, name_en, first day). Era year 1 is the Gregorian year of the first day.
ERAS: tuple[tuple[int, str, str, date], ...] = (
    (1, "明治", "Meiji", date(1868, 1, 25)),
    (2, "大正", "Taisho", date(1912, 7, 30)),
    (3, "昭和", "Showa", date(1926, 12, 25)),
    (4, "平成", "Heisei", date(1989, 1, 8)),
    (5, "令和", "Reiwa", date(2019, 5, 1)),
)

# Reference §11.1 [CONFLICT]: 1/2/3 per one source, 1/2/9 (JIS X 0303) per another; accept all.
SEX_LABELS: dict[str, tuple[str, str]] = {
    "1": ("男", "male"),
    "2": ("女", "female"),
    "3": ("不明", "unknown"),
    "9": ("適用不能", "not applicable"),
}


@dataclass(frozen=True, slots=True)
class BirthEra:
    code: int
    name_ja: str | None
    name_en: str | None
    year: int | None

    def to_json(self) -> dict[str, Any]:
        return {"code": self.code, "name_ja": self.name_ja, "name_en": self.name_en,
                "year": self.year}


@dataclass(frozen=True, slots=True)
class Sex:
    code: str
    label_ja: str | None
    label_en: str | None

    def to_json(self) -> dict[str, Any]:
        return {"code": self.code, "label_ja": self.label_ja, "label_en": self.label_en}


@dataclass(frozen=True, slots=True)
class CertIdentity:
    """The four basic facts from a validated signature certificate."""

    name: str
    name_substitute: str | None
    address: str
    address_substitute: str | None
    birth_date: date
    birth_era: BirthEra
    sex: Sex
    extra: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name, "name_substitute": self.name_substitute,
            "address": self.address, "address_substitute": self.address_substitute,
            "birth_date": self.birth_date.isoformat(), "birth_era": self.birth_era.to_json(),
            "sex": self.sex.to_json(), "extra": dict(self.extra),
        }

    def __repr__(self) -> str:  # never print personal data by accident
        return "CertIdentity(<redacted>)"


def parse_birth_date(value: str) -> tuple[date, BirthEra]:
    """Parse ``EYYYYMMDD`` (era code + Gregorian date) and compute the era year.

    :raises IdentityError: wrong shape, impossible date, or an era that does not contain it.
    """
    if len(value) != 9 or not value.isascii() or not value.isdigit():
        raise IdentityError("birth date is not EYYYYMMDD")
    code = int(value[0])
    try:
        born = date(int(value[1:5]), int(value[5:7]), int(value[7:9]))
    except ValueError as e:
        raise IdentityError("birth date is not a calendar date") from e
    if code == 0:
        return born, BirthEra(0, None, None, None)
    for i, (c, ja, en, start) in enumerate(ERAS):
        if c != code:
            continue
        end = ERAS[i + 1][3] if i + 1 < len(ERAS) else None
        if born < start or (end is not None and born >= end):
            raise IdentityError("birth date is outside the era its code names")
        return born, BirthEra(code, ja, en, born.year - start.year + 1)
    raise IdentityError("unknown era code in birth date")


def era_for(born: date) -> BirthEra:
    """Return the era of a Gregorian date (code 0 before Meiji)."""
    for code, ja, en, start in reversed(ERAS):
        if born >= start:
            return BirthEra(code, ja, en, born.year - start.year + 1)
    return BirthEra(0, None, None, None)


def parse_sex(value: str) -> Sex:
    if len(value) != 1 or not value.isascii() or not value.isdigit():
        raise IdentityError("sex is not one digit")
    ja, en = SEX_LABELS.get(value, (None, None))  # unknown digits are shown raw
    return Sex(value, ja, en)


# Control, format (bidi, zero-width), surrogate, private-use, line and paragraph separators.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Zl", "Zp"})


def _check_text(value: str, what: str) -> str:
    if not value or len(value) > MAX_TEXT_CHARS:
        raise IdentityError(f"{what} is empty or too long")
    if any(unicodedata.category(ch) in _REFUSED_CATEGORIES for ch in value):
        raise IdentityError(f"{what} contains control, bidi, zero-width or private-use "
                            "characters")
    return value


def _check_flags(value: str, text: str, what: str) -> str:
    if set(value) - {"0", "1"}:
        raise IdentityError(f"{what} flags are not a 0/1 string")
    if len(value) != len(text):
        raise IdentityError(f"{what} flags do not match its length (one per character)")
    return value


def _san_extension_count(cert: x509.Certificate) -> int:
    return sum(1 for ext in cert["tbs_certificate"]["extensions"]
               if ext["extn_id"].native == "subject_alt_name")


def _other_name_value(raw: core.Asn1Value) -> core.Asn1Value:
    """Return the parsed inner value of an otherName's ``[0] EXPLICIT ANY``."""
    inner = raw.parsed if isinstance(raw, core.Any) else raw
    return inner


def _decode_value(oid: str, raw: core.Asn1Value, *, require_utf8: bool) -> str:
    try:
        value = _other_name_value(raw)
        plain = (core.PrintableString, core.IA5String)
        if isinstance(value, core.UTF8String) or (not require_utf8 and isinstance(value, plain)):
            text = value.native
        elif not require_utf8:
            return "hex:" + raw.dump().hex()
        else:
            raise IdentityError("identity attribute is not a UTF8String")
    except IdentityError:
        raise
    except Exception as e:  # asn1crypto errors on garbage inner values
        raise IdentityError("identity attribute does not parse") from e
    if not isinstance(text, str):
        raise IdentityError("identity attribute is not text")
    return text


def identity_from_certificate(cert: x509.Certificate) -> CertIdentity:
    """Extract the identity; all-or-nothing.

    :raises IdentityError: CERT_INVALID for anything missing, duplicated or malformed.
    """
    try:
        san_count = _san_extension_count(cert)
        san = cert.subject_alt_name_value
    except Exception as e:
        raise IdentityError("subjectAltName does not parse") from e
    if san_count > 1:
        raise IdentityError("subjectAltName appears more than once: ambiguous identity")
    if san is None:
        raise IdentityError("certificate has no subjectAltName")
    known: dict[str, str] = {}
    extra: dict[str, str] = {}
    wanted = {OID_SAN_NAME, OID_SAN_NAME_SUBSTITUTE, OID_SAN_SEX, OID_SAN_BIRTH_DATE,
              OID_SAN_ADDRESS, OID_SAN_ADDRESS_SUBSTITUTE}
    try:
        names = list(san)
    except Exception as e:
        raise IdentityError("subjectAltName does not parse") from e
    for general_name in names:
        try:
            if general_name.name != "other_name":
                continue
            other = general_name.chosen
            oid = other["type_id"].dotted
            raw = other["value"]
        except Exception as e:
            raise IdentityError("otherName does not parse") from e
        if oid in wanted:
            if oid in known:
                raise IdentityError("identity attribute appears twice")
            known[oid] = _decode_value(oid, raw, require_utf8=True)
        elif len(extra) < MAX_EXTRA:
            extra[oid] = _decode_value(oid, raw, require_utf8=False)
    for oid in (OID_SAN_NAME, OID_SAN_SEX, OID_SAN_BIRTH_DATE, OID_SAN_ADDRESS):
        if oid not in known:
            raise IdentityError("identity attribute missing")
    born, era = parse_birth_date(known[OID_SAN_BIRTH_DATE])
    name_sub = known.get(OID_SAN_NAME_SUBSTITUTE)
    addr_sub = known.get(OID_SAN_ADDRESS_SUBSTITUTE)
    name = _check_text(known[OID_SAN_NAME], "name")
    address = _check_text(known[OID_SAN_ADDRESS], "address")
    return CertIdentity(
        name=name,
        name_substitute=_check_flags(name_sub, name, "name") if name_sub is not None else None,
        address=address,
        address_substitute=(_check_flags(addr_sub, address, "address")
                            if addr_sub is not None else None),
        birth_date=born,
        birth_era=era,
        sex=parse_sex(known[OID_SAN_SEX]),
        extra=extra,
    )
