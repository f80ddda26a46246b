"""Record layouts byte-checked (reference §7.1, §8.1–§8.5, §9.1–§9.3) and their signatures
verified against the CVC chain with the exported CVC issuer keys."""

from __future__ import annotations

import hashlib
import io
import struct
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from PIL import Image

from card.emulator import VirtualMynaCard, export_trust
from tests.emulator.conftest import HELPER, JPKI, SURFACE, h, read_all, select_ap, select_ef, verify


def tlv_at(data: bytes, pos: int) -> tuple[int, int, int]:
    """Return (tag, value start, value end) of the TLV at ``pos`` (test-side mini parser)."""
    tag = data[pos]
    pos += 1
    if tag & 0x1F == 0x1F:
        tag = tag << 8 | data[pos]
        pos += 1
    n = data[pos]
    pos += 1
    if n & 0x80:
        k = n & 0x7F
        n = int.from_bytes(data[pos : pos + k], "big")
        pos += k
    return tag, pos, pos + n


def children(data: bytes, start: int, end: int) -> dict[int, tuple[int, int, int]]:
    """Map tag → (TLV start, value start, value end) for the TLVs in data[start:end]."""
    out = {}
    pos = start
    while pos < end:
        tag, vs, ve = tlv_at(data, pos)
        out[tag] = (pos, vs, ve)
        pos = ve
    return out


def rsa_from_tlvs(raw: bytes) -> rsa.RSAPublicKey:
    kids = children(raw, 0, len(raw))
    e = int.from_bytes(raw[kids[0x90][1] : kids[0x90][2]], "big")
    n = int.from_bytes(raw[kids[0x91][1] : kids[0x91][2]], "big")
    return rsa.RSAPublicNumbers(e, n).public_key()


@pytest.fixture(scope="module")
def trust(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("trust")


def issuer_key(trust: Path, ap: str) -> rsa.RSAPublicKey:
    if not (trust / f"cvc_issuer_{ap}.pem").exists():
        export_trust(trust)
    key = serialization.load_pem_public_key((trust / f"cvc_issuer_{ap}.pem").read_bytes())
    assert isinstance(key, rsa.RSAPublicKey)
    return key


def verified_cvc_key(
    card: VirtualMynaCard, trust: Path, ap: str, prefix: bytes
) -> rsa.RSAPublicKey:
    select_ef(card, 0x0004)
    cvc = read_all(card)
    assert len(cvc) == 568 and cvc[:5] == h("7F 21 82 02 33")
    assert cvc[5:10] == h("5F 4E 82 01 29")
    body = cvc[10 : 10 + 297]
    assert body[:7] == prefix and body[7:9] == b"\x08\x05" and body[16:23] != prefix
    assert cvc[307:312] == h("5F 37 82 01 00")
    issuer_key(trust, ap).verify(cvc[312:], body, padding.PKCS1v15(), hashes.SHA256())
    return rsa_from_tlvs(body[32:])


def test_token_info_and_presence(card: VirtualMynaCard) -> None:
    select_ap(card, JPKI)
    select_ef(card, 0x0006)
    token = read_all(card)
    assert len(token) == 160
    assert token[:32] == b"JPKIAPICCTOKEN2".ljust(32, b" ")
    select_ef(card, 0x0008)
    assert read_all(card) == h("8F 8F 00")


def test_input_helper_records(card: VirtualMynaCard, trust: Path) -> None:
    ident = card.persona.identity
    select_ap(card, HELPER)
    cvc_key = verified_cvc_key(card, trust, "input_helper", b"6000033")
    assert verify(card, 0x11, "1234") == "90 00"
    select_ef(card, 0x0001)
    ef1 = read_all(card)
    assert ef1 == h("FF 10 0C") + ident.my_number.encode() + h("FF FF")
    select_ef(card, 0x0002)
    ef2 = read_all(card)
    tag, vs, ve = tlv_at(ef2, 0)
    assert tag == 0xFF20 and all(b == 0xFF for b in ef2[ve:]) and len(ef2) > ve
    kids = children(ef2, vs, ve)
    table = ef2[kids[0xDF21][1] : kids[0xDF21][2]]
    offsets = struct.unpack(">4H", table)
    assert offsets == tuple(kids[t][0] for t in (0xDF22, 0xDF23, 0xDF24, 0xDF25))
    assert ef2[kids[0xDF22][1] : kids[0xDF22][2]].decode() == ident.name
    assert ef2[kids[0xDF23][1] : kids[0xDF23][2]].decode() == ident.address
    assert ef2[kids[0xDF24][1] : kids[0xDF24][2]] == f"{ident.birth_date:%Y%m%d}".encode()
    assert ef2[kids[0xDF25][1] : kids[0xDF25][2]] == ident.sex.encode()
    select_ef(card, 0x0003)
    ef3 = read_all(card)
    assert len(ef3) == 336 and ef3[:5] == h("FF 30 82 01 4B")
    assert ef3[5:8] == h("DF 31 20") and ef3[8:40] == hashlib.sha256(ef1).digest()
    attrs = ef2[kids[0xDF22][0] : kids[0xDF25][2]]
    assert ef3[40:43] == h("DF 32 20") and ef3[43:75] == hashlib.sha256(attrs).digest()
    assert ef3[75:80] == h("DF 33 82 01 00")
    cvc_key.verify(ef3[80:], ef3[5:75], padding.PKCS1v15(), hashes.SHA256())
    select_ef(card, 0x0007)
    ef7 = read_all(card)
    assert ef7[:5] == h("FF 50 82 02 13") and len(ef7) == 536
    k = children(ef7, 5, len(ef7))
    cvc_key.verify(
        ef7[k[0xDF52][1] : k[0xDF52][2]],
        ef7[k[0xDF51][0] : k[0xDF51][2]],
        padding.PKCS1v15(),
        hashes.SHA256(),
    )


def _face(card: VirtualMynaCard) -> tuple[bytes, dict[int, tuple[int, int, int]]]:
    assert verify(card, 0x12, card.persona.credentials.match_b) == "90 00"
    select_ef(card, 0x0002)
    ef = read_all(card)
    tag, vs, ve = tlv_at(ef, 0)
    assert tag == 0xFF20 and len(ef) > ve
    return ef, children(ef, vs, ve)


@pytest.mark.parametrize(("persona", "valid"), [("yamada-taro", True), ("tampered-face", False)])
def test_face_record(make_card, trust: Path, persona: str, valid: bool) -> None:  # type: ignore[no-untyped-def]
    card = make_card(persona)
    select_ap(card, SURFACE)
    cvc_key = verified_cvc_key(card, trust, "surface", b"6000023")
    ef, k = _face(card)
    tags = list(range(0xDF22, 0xDF2B))
    offsets = struct.unpack(">9H", ef[k[0xDF21][1] : k[0xDF21][2]])
    assert offsets == tuple(k[t][0] for t in tags)
    value = {t: ef[k[t][1] : k[t][2]] for t in tags}
    assert value[0xDF22] == f"{card.persona.identity.birth_date:%Y%m%d}".encode()
    assert value[0xDF29] == f"{card.persona.card.expiry:%Y%m%d}".encode()
    assert value[0xDF27][4:8] == b"jP  "  # JP2 signature box
    photo = Image.open(io.BytesIO(value[0xDF27]))
    assert photo.mode == "L" and photo.size == (120, 160)
    for t in (0xDF25, 0xDF26, 0xDF2A):
        assert value[t][:8] == b"\x89PNG\r\n\x1a\n"
        assert value[t][24:26] == b"\x01\x00"  # IHDR: bit depth 1, greyscale
    g = [ef[k[a][0] : k[b][2]] for a, b in ((0xDF22, 0xDF24), (0xDF25, 0xDF26), (0xDF27, 0xDF27))]
    digest_info = h("30 71 30 0D 06 09 60 86 48 01 65 03 04 02 01 05 00 04 60") + b"".join(
        hashlib.sha256(x).digest() for x in g
    )
    card_key = rsa_from_tlvs(value[0xDF24])
    em = pow(int.from_bytes(value[0xDF28], "big"), 65537, cvc_key.public_numbers().n)
    ok = em.to_bytes(256, "big").endswith(b"\x00" + digest_info)
    assert ok is valid
    # Card presence: the AP key answers for the key inside the record (§9.4).
    challenge = card.process(h("00 84 00 00 10"))[:-2]
    di = h("30 31 30 0D 06 09 60 86 48 01 65 03 04 02 01 05 00 04 20")
    sig = card.process(h("80 2A 00 00 33") + di + hashlib.sha256(challenge).digest() + b"\x00")
    card_key.verify(sig[:-2], challenge, padding.PKCS1v15(), hashes.SHA256())


def test_face_expiry_and_security_code_not_signed(make_card, trust: Path) -> None:  # type: ignore[no-untyped-def]
    card = make_card("yamada-taro")
    select_ap(card, SURFACE)
    ef, k = _face(card)
    covered = ef[k[0xDF22][0] : k[0xDF27][2]]
    assert ef[k[0xDF29][0] : k[0xDF2A][2]] not in covered


def test_age_record_and_ap_info(card: VirtualMynaCard, trust: Path) -> None:
    select_ap(card, SURFACE)
    cvc_key = verified_cvc_key(card, trust, "surface", b"6000023")
    select_ef(card, 0x0003)
    info = read_all(card)
    k = children(info, *tlv_at(info, 0)[1:])
    assert info[k[0xDF34][1] : k[0xDF34][2]] == card.persona.identity.municipality_code.encode()
    assert verify(card, 0x11, card.persona.credentials.birth_key) == "90 00"
    select_ef(card, 0x0001)
    age = read_all(card)
    _tag, vs, ve = tlv_at(age, 0)
    k = children(age, vs, ve)
    signed = age[k[0xDF11][0] : k[0xDF12][2]]
    cvc_key.verify(age[k[0xDF13][1] : k[0xDF13][2]], signed, padding.PKCS1v15(), hashes.SHA256())
    with pytest.raises(InvalidSignature):
        cvc_key.verify(
            age[k[0xDF13][1] : k[0xDF13][2]], signed + b"x", padding.PKCS1v15(), hashes.SHA256()
        )
