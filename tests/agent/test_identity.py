"""subjectAltName identity: every attribute, era arithmetic, strictness, garbage never escapes."""

from __future__ import annotations

from datetime import date

import pytest
from asn1crypto import x509
from cryptography import x509 as cx509
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.verification.errors import ErrorCode, IdentityError
from agent.verification.identity import identity_from_certificate, parse_birth_date
from tests.support.pki import SAN_DEFAULT, make_ee, make_root, two_person_certificate, utf8_der

ROOT = None


def ident(san=SAN_DEFAULT, san_raw=None):
    global ROOT
    ROOT = ROOT or make_root()
    return identity_from_certificate(x509.Certificate.load(make_ee(ROOT, san=san,
                                                                   san_raw=san_raw)))


def with_value(oid_suffix, value):
    oid = f"1.2.392.200149.8.5.5.{oid_suffix}"
    return tuple((o, value if o == oid else v) for o, v in SAN_DEFAULT)


def test_full_identity():
    i = ident()
    j = i.to_json()
    assert j["name"] == "山田　太郎" and j["name_substitute"] == "00000"
    assert j["birth_date"] == "1980-02-17"
    assert j["birth_era"] == {"code": 3, "name_ja": "昭和", "name_en": "Showa", "year": 55}
    assert j["sex"] == {"code": "1", "label_ja": "男", "label_en": "male"}
    assert j["address"].startswith("東京都") and j["extra"] == {}
    assert "山田" not in repr(i)


@pytest.mark.parametrize(
    ("value", "iso", "era"),
    [
        ("319800217", "1980-02-17", (3, 55)),
        ("419890108", "1989-01-08", (4, 1)),
        ("319890107", "1989-01-07", (3, 64)),
        ("520190501", "2019-05-01", (5, 1)),
        ("420190430", "2019-04-30", (4, 31)),
        ("219120730", "1912-07-30", (2, 1)),
        ("118680125", "1868-01-25", (1, 1)),
        ("019700101", "1970-01-01", (0, None)),
    ],
)
def test_birth_eras(value, iso, era):
    born, e = parse_birth_date(value)
    assert born == date.fromisoformat(iso) and (e.code, e.year) == era


@pytest.mark.parametrize("value", ["399999999", "3198002170", "31980021", "619800217",
                                   "319900101", "x19800217", "３19800217", "", "420190501"])
def test_bad_birth_dates(value):
    with pytest.raises(IdentityError) as ei:
        parse_birth_date(value)
    assert ei.value.code is ErrorCode.CERT_INVALID


@pytest.mark.parametrize(("code", "label"), [("1", "male"), ("2", "female"), ("3", "unknown"),
                                             ("9", "not applicable"), ("7", None)])
def test_sex_codes(code, label):
    s = ident(with_value(3, code)).sex
    assert (s.code, s.label_en) == (code, label)


def test_unknown_oid_kept():
    i = ident(SAN_DEFAULT + (("1.2.392.200149.8.5.5.7", "ヤマダ　タロウ"),))
    assert i.extra == {"1.2.392.200149.8.5.5.7": "ヤマダ　タロウ"}


@pytest.mark.parametrize("drop", ["1", "3", "4", "5"])
def test_missing_field(drop):
    san = tuple(x for x in SAN_DEFAULT if not x[0].endswith("." + drop))
    with pytest.raises(IdentityError):
        ident(san)


def test_duplicate_field():
    with pytest.raises(IdentityError):
        ident(SAN_DEFAULT + (SAN_DEFAULT[0],))


def test_wrong_string_type():
    names = [cx509.OtherName(cx509.ObjectIdentifier(oid), utf8_der(v)) for oid, v in SAN_DEFAULT]
    names[0] = cx509.OtherName(names[0].type_id, b"\x13\x04ABCD")  # PrintableString
    with pytest.raises(IdentityError):
        ident(san_raw=names)


def test_bad_flags_and_control_chars():
    with pytest.raises(IdentityError):
        ident(with_value(2, "00x00"))
    with pytest.raises(IdentityError):
        ident(with_value(1, "山田\n太郎"))


def test_no_san():
    with pytest.raises(IdentityError):
        ident(san_raw=[])


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=40))
def test_garbage_other_name_values_give_typed_errors(blob):
    names = [cx509.OtherName(cx509.ObjectIdentifier(oid), utf8_der(v)) for oid, v in SAN_DEFAULT]
    names[1] = cx509.OtherName(names[1].type_id, blob or b"\x05\x00")
    try:
        der = make_ee(make_root(), san_raw=names)
    except Exception:  # noqa: BLE001 - cryptography refuses some blobs outright: nothing to test then
        return
    try:
        identity_from_certificate(x509.Certificate.load(der))
    except IdentityError:
        pass


@settings(max_examples=200)
@given(st.text(max_size=12))
def test_garbage_birth_dates(value):
    try:
        born, _era = parse_birth_date(value)
    except IdentityError:
        return
    assert len(value) == 9 and isinstance(born, date)


@pytest.mark.parametrize("ch", ["\u202e", "\u202a", "\u2066", "\u2069", "\u200e", "\u200f",
                                "\u061c", "\u200b", "\u200d", "\u2060", "\ufeff", "\ue000",
                                "\U000f0000", "\u2028"],
                         ids=["RLO", "LRE", "LRI", "PDI", "LRM", "RLM", "ALM", "ZWSP", "ZWJ",
                              "WJ", "BOM", "private-use", "plane-15-private-use", "LS"])
@pytest.mark.parametrize("field", [1, 5], ids=["name", "address"])
def test_invisible_and_reordering_characters_are_refused(field, ch):
    # "山田<RLO>太郎" would render reversed on the staff screen: one identity or none.
    value = "山田" + ch + "太郎" if field == 1 else "東京都" + ch + "千代田区霞が関二丁目１番２号"
    flags_oid = 2 if field == 1 else 6
    san = dict(with_value(field, value)) | {f"1.2.392.200149.8.5.5.{flags_oid}": "0" * len(value)}
    with pytest.raises(IdentityError):
        ident(tuple(san.items()))


def test_substitute_characters_still_accepted():
    # 外字 arrive as JIS substitutes with their flag set (reference §11.1).
    san = dict(with_value(1, "髙橋　一郎")) | {"1.2.392.200149.8.5.5.2": "10000"}
    assert ident(tuple(san.items())).name_substitute == "10000"


@pytest.mark.parametrize(("oid_suffix", "flags"), [(2, "0000"), (2, "000000"), (6, "0" * 16)],
                         ids=["name-short", "name-long", "address-short"])
def test_substitute_flags_must_cover_each_character(oid_suffix, flags):
    with pytest.raises(IdentityError):
        ident(with_value(oid_suffix, flags))


def test_two_subject_alt_names_are_no_identity():
    # The parser alone (before any path validation) must not pick one of two people.
    global ROOT
    ROOT = ROOT or make_root()
    with pytest.raises(IdentityError):
        identity_from_certificate(x509.Certificate.load(two_person_certificate(ROOT)))
