"""The shipped personas (design §4): fictional people, their credentials, how their card is
built, and the outcome every verification flow must reach with them.

Pure data, cheap to import: keys, certificates and records are built lazily by
``card.emulator.cardimage`` when a ``VirtualMynaCard`` is made. Host tests may import this
module to know the expected values (architecture "Rules"). Dates printed on the card face use
the Japanese era for Japanese nationals and the Gregorian calendar for foreign residents
(reference §5; the foreign-resident 照合番号B form is [UNCERTAIN] there).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from types import MappingProxyType

FLOWS = ("sign", "auth", "face", "number")
ISSUED = date(2025, 4, 1)  # issuance date of every ordinary persona's card and certificates

# (start date, code, kanji, English) of the Japanese eras; code as in the SAN birth date (§11.1).
ERAS = (
    (date(2019, 5, 1), 5, "令和", "Reiwa"),
    (date(1989, 1, 8), 4, "平成", "Heisei"),
    (date(1926, 12, 25), 3, "昭和", "Showa"),
    (date(1912, 7, 30), 2, "大正", "Taisho"),
    (date(1868, 1, 25), 1, "明治", "Meiji"),
)


def era_of(d: date) -> tuple[int, int]:
    """Return (era code, era year) of ``d``; (0, Gregorian year) before Meiji."""
    for start, code, _, _ in ERAS:
        if d >= start:
            return code, d.year - start.year + 1
    return 0, d.year


def my_number_check_digit(first11: str) -> str:
    """Return the check digit of an 11-digit My Number prefix (design §1, 省令85号 第5条)."""
    if len(first11) != 11 or not first11.isascii() or not first11.isdigit():
        raise ValueError("need 11 digits")
    total = 0
    for n in range(1, 12):
        p = int(first11[11 - n])
        q = n + 1 if n <= 6 else n - 5
        total += p * q
    r = total % 11
    return "0" if r <= 1 else str(11 - r)


def _number(first11: str) -> str:
    return first11 + my_number_check_digit(first11)


def card_expiry(birth: date, issued: date, minor: bool) -> date:
    """Return the card's expiry: the 10th (adult) or 5th (minor) birthday after issuance (§12)."""
    count = 5 if minor else 10
    year = issued.year if (birth.month, birth.day) > (issued.month, issued.day) else issued.year + 1
    day = birth.day if (birth.month, birth.day) != (2, 29) else 28
    return date(year + count - 1, birth.month, day)


@dataclass(frozen=True, slots=True)
class Identity:
    name: str
    name_substitute: str  # one 0/1 flag per character (§11.1 OID .2)
    address: str
    address_substitute: str
    birth_date: date
    sex: str  # "1" male, "2" female, "9" not applicable
    my_number: str
    japanese_national: bool  # face dates in the Japanese era (True) or Gregorian (False)
    prefecture_romaji: str
    city_romaji: str
    municipality_code: str  # 5-digit 全国地方公共団体コード (§9.3)

    @property
    def printed_birth_yymmdd(self) -> str:
        """YYMMDD as printed on the face: era year for nationals, Gregorian YY otherwise (§5)."""
        if self.japanese_national:
            _, year = era_of(self.birth_date)
        else:
            year = self.birth_date.year
        return f"{year % 100:02d}{self.birth_date:%m%d}"

    @property
    def san_birth_date(self) -> str:
        """The certificate's era-coded birth date ``EYYYYMMDD`` (§11.1 OID .4)."""
        code, _ = era_of(self.birth_date)
        return f"{code}{self.birth_date:%Y%m%d}"


@dataclass(frozen=True, slots=True)
class Credentials:
    auth_pin: str
    sign_password: str
    input_helper_pin: str
    match_b: str  # 照合番号B: printed YYMMDD + expiry YYYY + security code (§5)
    birth_key: str  # 券面事項確認AP EF 0011: printed YYMMDD
    match_a: str  # 照合番号A = the My Number


@dataclass(frozen=True, slots=True)
class CardProfile:
    """How the persona's card differs from an ordinary one."""

    expiry: date
    security_code: str
    my_number_card: bool = True  # False: no My Number AP answers SELECT (unknown-card)
    has_sign_cert: bool = True
    cert_not_before: date = ISSUED
    cert_not_after: date = date(2030, 3, 31)
    sign_root_generation: int = 2
    auth_root_generation: int = 2
    sign_tries_left: int = 5
    auth_tries_left: int = 3
    keys_from: str | None = None  # cloned-card: certificates of this persona, keys of another
    tampered_face: bool = False


@dataclass(frozen=True, slots=True)
class Persona:
    name: str
    description: str
    identity: Identity
    credentials: Credentials
    card: CardProfile
    expected: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    data_of: str | None = None  # the persona whose certificates/records the card carries

    def outcome(self, flow: str) -> str:
        """Return ``"ok"`` or the ``ErrorCode`` value the flow must end with."""
        return self.expected[flow]


def _persona(
    name: str,
    description: str,
    *,
    person: str,
    subst: tuple[str, str] | None = None,
    address: str,
    birth: date,
    sex: str,
    number11: str,
    national: bool = True,
    place: tuple[str, str, str],
    security_code: str,
    expected: dict[str, str] | None = None,
    minor: bool = False,
    **card: object,
) -> Persona:
    identity = Identity(
        name=person,
        name_substitute=subst[0] if subst else "0" * len(person),
        address=address,
        address_substitute=subst[1] if subst else "0" * len(address),
        birth_date=birth,
        sex=sex,
        my_number=_number(number11),
        japanese_national=national,
        prefecture_romaji=place[0],
        city_romaji=place[1],
        municipality_code=place[2],
    )
    expiry = card_expiry(birth, ISSUED, minor)
    creds = Credentials(
        auth_pin="1234",
        sign_password="MYNA2026",  # noqa: S106 - fictional default (design §4)
        input_helper_pin="1234",
        match_b=f"{identity.printed_birth_yymmdd}{expiry.year:04d}{security_code}",
        birth_key=identity.printed_birth_yymmdd,
        match_a=identity.my_number,
    )
    outcome = {flow: "ok" for flow in FLOWS}
    outcome.update(expected or {})
    profile = CardProfile(expiry=expiry, security_code=security_code, **card)  # type: ignore[arg-type]
    return Persona(name, description, identity, creds, profile, MappingProxyType(outcome))


_TOKYO = ("Tokyo-to", "Chiyoda-ku", "13101")

_ALL: list[Persona] = [
    _persona(
        "yamada-taro",
        "ordinary adult, all certificates valid",
        person="山田　太郎",
        address="東京都千代田区霞が関二丁目１番２号",
        birth=date(1980, 2, 17),
        sex="1",
        number11="12345678901",
        place=_TOKYO,
        security_code="2285",
    ),
    _persona(
        "foreign-resident",
        "Latin-script name, Gregorian birth date on the face, long address; "
        "auth certificate from the older test root generation (pick the issuer by AKI)",
        person="SMITH JOHN MICHAEL ALEXANDER",
        address="大阪府大阪市北区梅田三丁目１番３号　ノースゲートビルディング２３階"
        "インターナショナルレジデンス梅田ウエストタワー２３０５号室",
        birth=date(1992, 7, 4),
        sex="1",
        number11="48213957604",
        national=False,
        place=("Osaka-fu", "Osaka-shi Kita-ku", "27127"),
        security_code="7316",
        auth_root_generation=1,
    ),
    _persona(
        "building-address",
        "ordinary adult whose address names a building: 基本4情報 of 128-255 bytes with every "
        "field under 128 (the common real-card shape, EF 0002 starting FF 20 82 00 86)",
        person="小林　直美",
        address="東京都世田谷区太子堂四丁目１番１号　キャロットタワー２６階",
        birth=date(1986, 4, 22),
        sex="2",
        number11="64027195831",
        place=("Tokyo-to", "Setagaya-ku", "13112"),
        security_code="5903",
    ),
    _persona(
        "substitute-chars",
        "name and address use substitute characters (外字 replaced; flags set in the SAN)",
        person="高橋　花子",
        subst=("10000", "000000100000000000"),
        address="神奈川県横浜市中区吉浜町一丁目２番地",
        birth=date(1975, 11, 3),
        sex="2",
        number11="30571846629",
        place=("Kanagawa-ken", "Yokohama-shi Naka-ku", "14104"),
        security_code="5120",
    ),
    _persona(
        "minor-no-sign-cert",
        "under 15: no signature certificate (EF 0008 first byte is not 8F); card valid 5 years",
        person="佐藤　陽太",
        address="埼玉県さいたま市浦和区高砂三丁目１５番１号",
        birth=date(2014, 5, 5),
        sex="1",
        number11="57302918466",
        place=("Saitama-ken", "Saitama-shi Urawa-ku", "11107"),
        security_code="0409",
        minor=True,
        has_sign_cert=False,
        expected={"sign": "NO_SIGN_CERTIFICATE"},
    ),
    _persona(
        "expired-cert",
        "signature and auth certificates past notAfter (2019-04-01 → 2024-03-31, "
        "older test root generation); the card itself is still valid",
        person="鈴木　一郎",
        address="北海道札幌市中央区北一条西二丁目",
        birth=date(1960, 8, 20),
        sex="1",
        number11="61849203751",
        place=("Hokkaido", "Sapporo-shi Chuo-ku", "01101"),
        security_code="8842",
        cert_not_before=date(2019, 4, 1),
        cert_not_after=date(2024, 3, 31),
        sign_root_generation=1,
        auth_root_generation=1,
        expected={"sign": "CERT_EXPIRED", "auth": "CERT_EXPIRED"},
    ),
    _persona(
        "revoked-cert",
        "signature certificate listed in the exported test CRL (CERT_REVOKED when the CRL is "
        "configured; chain-only otherwise)",
        person="田中　美咲",
        address="愛知県名古屋市中区三の丸三丁目１番１号",
        birth=date(1988, 12, 1),
        sex="2",
        number11="70416385920",
        place=("Aichi-ken", "Nagoya-shi Naka-ku", "23106"),
        security_code="3057",
        expected={"sign": "CERT_REVOKED"},
    ),
    _persona(
        "sign-pin-1-left",
        "signature password has one try left (refused unless last try is allowed and confirmed)",
        person="伊藤　健",
        address="福岡県福岡市中央区天神一丁目８番１号",
        birth=date(1971, 3, 15),
        sex="1",
        number11="82930174652",
        place=("Fukuoka-ken", "Fukuoka-shi Chuo-ku", "40133"),
        security_code="6621",
        sign_tries_left=1,
        expected={"sign": "PIN_LAST_TRY_NEEDS_CONFIRMATION"},
    ),
    _persona(
        "sign-pin-blocked",
        "signature password blocked (empty VERIFY 63C0, VERIFY 6984)",
        person="渡辺　さくら",
        address="京都府京都市上京区下立売通新町西入薮ノ内町",
        birth=date(1995, 9, 30),
        sex="2",
        number11="93058271640",
        place=("Kyoto-fu", "Kyoto-shi Kamigyo-ku", "26102"),
        security_code="1948",
        sign_tries_left=0,
        expected={"sign": "PIN_BLOCKED"},
    ),
    _persona(
        "tampered-face",
        "card-face record altered after signing (photo replaced): record signature fails",
        person="中村　次郎",
        address="広島県広島市中区国泰寺町一丁目６番３４号",
        birth=date(1983, 6, 10),
        sex="1",
        number11="25817364093",
        place=("Hiroshima-ken", "Hiroshima-shi Naka-ku", "34101"),
        security_code="4470",
        tampered_face=True,
        expected={"face": "RECORD_SIGNATURE_INVALID"},
    ),
    _persona(
        "unknown-card",
        "not a My Number card: every My Number AID answers 6A82",
        person="不明　カード",
        address="東京都千代田区永田町一丁目",
        birth=date(1990, 1, 1),
        sex="9",
        number11="11111111111",
        place=_TOKYO,
        security_code="0000",
        my_number_card=False,
        expected={flow: "UNSUPPORTED_CARD" for flow in FLOWS},
    ),
]


def _cloned() -> Persona:
    """cloned-card: yamada-taro's certificates and records on a card with other private keys."""
    base = next(p for p in _ALL if p.name == "yamada-taro")
    outcome = dict(base.expected)
    outcome.update(sign="POSSESSION_FAILED", auth="POSSESSION_FAILED", face="POSSESSION_FAILED",
                   number="POSSESSION_FAILED")
    return Persona(
        "cloned-card",
        "yamada-taro's certificates and records with another card's private keys: "
        "possession (challenge signature) must fail in every flow",
        base.identity,
        base.credentials,
        CardProfile(
            expiry=base.card.expiry, security_code=base.card.security_code, keys_from="cloned-card"
        ),
        MappingProxyType(outcome),
        data_of="yamada-taro",
    )


_ALL.append(_cloned())

PERSONAS: Mapping[str, Persona] = MappingProxyType({p.name: p for p in _ALL})
