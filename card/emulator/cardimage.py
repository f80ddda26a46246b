"""Build a persona's complete card (all five APs and their files) from the persona data, the
test PKI and the CVC/record rules (reference §2, §7–§10; design §4).

Keys are derived from ``persona.card.keys_from or persona.name``; certificates and records from
``persona.data_of or persona.name``. A cloned card therefore carries another card's certificates
and records with its own private keys. The result is immutable and cached per persona.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from functools import lru_cache

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from card.emulator import cvc, images, pki
from card.emulator.filesystem import (
    DIGITS,
    FREE,
    NEVER,
    UPPER_ALNUM,
    Application,
    DataEF,
    KeyEF,
    OpaqueEF,
    PinEF,
    RecordEF,
    pad,
)
from card.emulator.personas import PERSONAS, Persona
from card.emulator.rsakeys import deterministic_rsa_key
from card.emulator.tlv import tlv
from card.ids import AID, CommonEF, InputHelperEF, JpkiEF, SurfaceEF

_DER = serialization.Encoding.DER
# GlobalPlatform card recognition data (tag 66), a generic GP 2.x value.
_GP_CARD_RECOGNITION = bytes.fromhex(
    "734A06072A864886FC6B01600B06092A864886FC6B020202630906072A864886FC6B03"
)
NO_SIGN_CERT_PRESENCE = bytes.fromhex("008F00")  # EF 0008 first byte ≠ 8F: no sign cert (§2.1)


@dataclass(frozen=True, slots=True)
class CardImage:
    persona: str
    applications: dict[bytes, Application]
    gp_data: dict[int, bytes]  # MF-level GET DATA objects (§2.5)


def _key(seed_persona: str, role: str) -> rsa.RSAPrivateKey:
    return deterministic_rsa_key(f"persona/{seed_persona}/{role}")


def token_info(serial: str) -> bytes:
    """Return the 160-byte CK_TOKEN_INFO of JPKI EF 0006 (§7.1), big-endian CK_ULONGs."""
    label = b"JPKIAPICCTOKEN2".ljust(32, b" ")
    manufacturer = b"JPKI-TEST emulator".ljust(32, b" ")
    model = b"MYNA-EMU".ljust(16, b" ")
    serial_b = serial.encode("ascii")[:16].ljust(16, b" ")
    flags = 0x0000040D  # RNG | LOGIN_REQUIRED | USER_PIN_INITIALIZED | TOKEN_INITIALIZED
    ulongs = struct.pack(">11I", flags, 0, 0, 0, 0, 16, 4, 0, 0, 0, 0)
    versions = bytes([1, 0, 1, 0])
    out = label + manufacturer + model + serial_b + ulongs + versions + b" " * 16
    if len(out) != 160:
        raise AssertionError("CK_TOKEN_INFO must be 160 bytes")
    return out


def _pin(
    fid: int,
    value: str,
    max_tries: int,
    lengths: tuple[int, int],
    charset: bytes,
    change_ins: int | None,
    tries: int | None = None,
) -> PinEF:
    return PinEF(
        fid, value.encode("ascii"), max_tries, lengths[0], lengths[1], charset, change_ins, tries
    )


def _certificate_ef(
    fid: int, cert: x509.Certificate, cert_filler: bool, opened_by: frozenset[int] | None = FREE
) -> DataEF:
    """A JPKI certificate EF: exactly the DER, or with ``cert_filler`` the DER followed by
    ``FF`` filler, a shape real cards may have (reference §13 item 13, §14)."""
    der = cert.public_bytes(_DER)
    return DataEF(fid, pad(der) if cert_filler else der, opened_by)


def _jpki(p: Persona, data: Persona, keys_of: str, cert_filler: bool) -> Application:
    sign_key, auth_key = _key(keys_of, "sign"), _key(keys_of, "auth")
    data_sign_pub = _key(data.name, "sign").public_key()
    data_auth_pub = _key(data.name, "auth").public_key()
    sign_gen, auth_gen = data.card.sign_root_generation, data.card.auth_root_generation
    files: dict[int, object] = {
        JpkiEF.SIGN_CA_CERT: _certificate_ef(
            JpkiEF.SIGN_CA_CERT, pki.root_certificate("sign", sign_gen), cert_filler
        ),
        JpkiEF.TOKEN_INFO: DataEF(JpkiEF.TOKEN_INFO, token_info(pki.opaque_cn(data.name, "auth"))),
        JpkiEF.CERT_PRESENCE: DataEF(
            JpkiEF.CERT_PRESENCE,
            bytes.fromhex("8F8F00") if p.card.has_sign_cert else NO_SIGN_CERT_PRESENCE,
        ),
        0x0009: OpaqueEF(0x0009),
        JpkiEF.AUTH_CERT: _certificate_ef(
            JpkiEF.AUTH_CERT, pki.auth_certificate(data, data_auth_pub), cert_filler
        ),
        JpkiEF.AUTH_CA_CERT: _certificate_ef(
            JpkiEF.AUTH_CA_CERT, pki.root_certificate("auth", auth_gen), cert_filler
        ),
        JpkiEF.TERMINAL_CA_KEY: OpaqueEF(JpkiEF.TERMINAL_CA_KEY),
        JpkiEF.AUTH_KEY: KeyEF(JpkiEF.AUTH_KEY, auth_key, JpkiEF.AUTH_PIN),
        JpkiEF.AUTH_PIN: _pin(
            JpkiEF.AUTH_PIN, p.credentials.auth_pin, 3, (4, 4), DIGITS, 0x24, p.card.auth_tries_left
        ),
        JpkiEF.SIGN_PIN: _pin(
            JpkiEF.SIGN_PIN,
            p.credentials.sign_password,
            5,
            (6, 16),
            UPPER_ALNUM,
            0x24,
            p.card.sign_tries_left,
        ),
    }
    if p.card.has_sign_cert:
        files[JpkiEF.SIGN_CERT] = _certificate_ef(
            JpkiEF.SIGN_CERT,
            pki.sign_certificate(data, data_sign_pub),
            cert_filler,
            frozenset({JpkiEF.SIGN_PIN}),
        )
        files[JpkiEF.SIGN_KEY] = KeyEF(JpkiEF.SIGN_KEY, sign_key, JpkiEF.SIGN_PIN)
    return Application("jpki", AID.JPKI.value, files)  # type: ignore[arg-type]


def _cvc_for(data: Persona, ap: str, prefix: str) -> tuple[bytes, rsa.RSAPrivateKey, bytes]:
    """Return (CVC bytes, record-signing key, subject key ID) of ``ap`` for ``data``'s card."""
    signer = _key(data.name, f"{ap}-records")
    tail = hashlib.sha256(f"{data.name}/{ap}".encode()).digest()[:4]
    issuer_id = cvc.key_id(prefix, "001", b"\x00\x00\x00\x00")
    subject_id = cvc.key_id(prefix[:-1] + "4", "001", tail)
    return (
        cvc.build_cvc(pki.cvc_issuer_key(ap), issuer_id, subject_id, signer.public_key()),
        signer,
        subject_id,
    )


def _input_helper(p: Persona, data: Persona, keys_of: str) -> Application:
    ident = data.identity
    cvc_bytes, signer, subject_id = _cvc_for(data, "input_helper", "6000033")
    ap_key = _key(keys_of, "input-helper-ap")
    data_ap_pub = _key(data.name, "input-helper-ap").public_key()
    ef1 = cvc.my_number_ef(ident.my_number)
    basic, attrs = cvc.basic_info(ident.name, ident.address, ident.birth_date, ident.sex)
    a_or_b = frozenset({InputHelperEF.PIN, InputHelperEF.MATCH_A, InputHelperEF.MATCH_B})
    c = p.credentials
    files = {
        InputHelperEF.MY_NUMBER: DataEF(
            InputHelperEF.MY_NUMBER, ef1, frozenset({InputHelperEF.PIN, InputHelperEF.MATCH_A})
        ),
        InputHelperEF.BASIC_INFO: DataEF(
            InputHelperEF.BASIC_INFO,
            pad(basic),
            frozenset({InputHelperEF.PIN, InputHelperEF.MATCH_B}),
        ),
        InputHelperEF.INTEGRITY: DataEF(
            InputHelperEF.INTEGRITY, cvc.integrity_record(ef1, attrs, signer), a_or_b
        ),
        InputHelperEF.CVC: DataEF(InputHelperEF.CVC, cvc_bytes),
        InputHelperEF.AP_INFO: DataEF(InputHelperEF.AP_INFO, pad(cvc.helper_ap_info(subject_id))),
        InputHelperEF.SM_KEY: DataEF(
            InputHelperEF.SM_KEY, tlv(0xA1, cvc.rsa_key_tlvs(data_ap_pub)), a_or_b
        ),
        InputHelperEF.SIGNED_KEY: DataEF(
            InputHelperEF.SIGNED_KEY, cvc.signed_key(data_ap_pub, signer), a_or_b
        ),
        InputHelperEF.UNKNOWN_FF: DataEF(InputHelperEF.UNKNOWN_FF, b"\xff" * 16, NEVER),
        InputHelperEF.PIN: _pin(InputHelperEF.PIN, c.input_helper_pin, 3, (4, 4), DIGITS, 0x24),
        InputHelperEF.BLOCKED_KEY: _pin(
            InputHelperEF.BLOCKED_KEY, "0000", 3, (4, 4), DIGITS, None, 0
        ),
        InputHelperEF.AP_KEY: KeyEF(InputHelperEF.AP_KEY, ap_key, None),
        InputHelperEF.MATCH_A: _pin(InputHelperEF.MATCH_A, c.match_a, 10, (12, 12), DIGITS, None),
        InputHelperEF.MATCH_B: _pin(InputHelperEF.MATCH_B, c.match_b, 10, (14, 14), DIGITS, None),
    }
    return Application(
        "input_helper",
        AID.INPUT_HELPER.value,
        files,  # type: ignore[arg-type]
        default_key=InputHelperEF.AP_KEY,
        allows_sm=True,
        session_key_sw=0x6982,
    )


def _surface(p: Persona, data: Persona, keys_of: str) -> Application:
    ident = data.identity
    cvc_bytes, signer, subject_id = _cvc_for(data, "surface", "6000023")
    card_key = _key(keys_of, "surface-card")
    card_pub = _key(data.name, "surface-card").public_key()
    face_date = ident.birth_date
    printed = ident.printed_birth_yymmdd
    parts = cvc.FaceParts(
        birth=face_date,
        sex=ident.sex,
        card_pub=card_pub,
        name_png=images.text_png(ident.name, 384, 48, 22),
        address_png=images.text_png(ident.address, 512, 96, 18),
        photo_jp2=images.photo_jp2(data.name),
        expiry=data.card.expiry,
        security_code_png=images.text_png(data.card.security_code, 48, 16, 12),
    )
    tampered = images.photo_jp2(data.name + "/someone-else") if p.card.tampered_face else None
    face = cvc.face_record(parts, signer, photo_after_signing=tampered)
    number_png = images.text_png(ident.my_number, 144, 16, 12)
    b_or_a = frozenset({SurfaceEF.MATCH_A, SurfaceEF.MATCH_B})
    opaque = hashlib.sha256(data.name.encode()).digest()[:16]
    ap_info = cvc.surface_ap_info(subject_id, ident.municipality_code, opaque)
    c = p.credentials
    files = {
        SurfaceEF.AGE: DataEF(
            SurfaceEF.AGE,
            pad(cvc.age_record(face_date, card_pub, signer)),
            frozenset({SurfaceEF.BIRTH_KEY}),
        ),
        SurfaceEF.FACE: DataEF(SurfaceEF.FACE, pad(face), b_or_a),
        SurfaceEF.AP_INFO: DataEF(SurfaceEF.AP_INFO, pad(ap_info)),
        SurfaceEF.CVC: DataEF(SurfaceEF.CVC, cvc_bytes),
        SurfaceEF.NUMBER_IMAGE: DataEF(
            SurfaceEF.NUMBER_IMAGE,
            pad(cvc.number_image_record(number_png, card_pub, signer)),
            frozenset({SurfaceEF.MATCH_A}),
        ),
        SurfaceEF.UNKNOWN_6: DataEF(SurfaceEF.UNKNOWN_6, b"\x00" * 32, b_or_a),
        SurfaceEF.BIRTH_KEY: _pin(SurfaceEF.BIRTH_KEY, printed, 10, (6, 6), DIGITS, None),
        SurfaceEF.MATCH_B: _pin(SurfaceEF.MATCH_B, c.match_b, 10, (14, 14), DIGITS, None),
        SurfaceEF.MATCH_A: _pin(SurfaceEF.MATCH_A, c.match_a, 10, (12, 12), DIGITS, None),
        SurfaceEF.AP_KEY: KeyEF(SurfaceEF.AP_KEY, card_key, None),
    }
    return Application(
        "surface",
        AID.SURFACE.value,
        files,  # type: ignore[arg-type]
        default_key=SurfaceEF.AP_KEY,
        session_key_sw=0x66F1,
    )


def _card_serial(data: Persona) -> str:
    return str(int(hashlib.sha256(f"serial/{data.name}".encode()).hexdigest(), 16))[:15]


def _common_and_juki(p: Persona, data: Persona, keys_of: str) -> list[Application]:
    key_ref = hashlib.sha256(f"keyref/{data.name}".encode()).digest()[:16]
    record = tlv(
        0x01,
        (
            _card_serial(data) + data.identity.municipality_code + f"{data.card.expiry:%Y%m%d}"
        ).encode("ascii"),
    )
    pin = p.credentials.auth_pin  # 住基 PIN usually set equal at issuance (§5, MUNI)
    common = {
        CommonEF.CARD_RECORD: RecordEF(CommonEF.CARD_RECORD, (record,)),
        CommonEF.KEY_REFERENCE: DataEF(CommonEF.KEY_REFERENCE, key_ref),
        CommonEF.INTERNAL_AUTH_KEY: KeyEF(
            CommonEF.INTERNAL_AUTH_KEY, _key(keys_of, "common"), None, internal_auth=True
        ),
        CommonEF.PIN: _pin(CommonEF.PIN, pin, 3, (4, 4), DIGITS, 0x32),
    }
    juki = {
        CommonEF.KEY_REFERENCE: DataEF(CommonEF.KEY_REFERENCE, key_ref),
        CommonEF.PIN: _pin(CommonEF.PIN, pin, 3, (4, 4), DIGITS, 0x32),
    }
    return [
        Application("common", AID.COMMON.value, common, session_key_sw=0x66F1),  # type: ignore[arg-type]
        Application("juki", AID.JUKI.value, juki, session_key_sw=0x6982),  # type: ignore[arg-type]
    ]


@lru_cache(maxsize=32)
def build_card_image(persona_name: str, *, cert_filler: bool = False) -> CardImage:
    """Return the immutable card of ``persona_name`` (slow the first time: RSA keys).

    ``cert_filler``: JPKI certificate EFs hold filler after the DER (reference §13 item 13).
    """
    p = PERSONAS[persona_name]
    data = PERSONAS[p.data_of] if p.data_of else p
    keys_of = p.card.keys_from or p.name
    gp = {
        0x0045: _card_serial(data).encode("ascii"),
        0x0066: _GP_CARD_RECOGNITION,
        0x00F0: data.identity.municipality_code.encode("ascii"),
        0x00F2: f"{data.card.expiry:%Y%m%d}".encode("ascii"),
        0x5F51: bytes.fromhex("E000FF8131FE4514"),  # contact ATR without TS (§2.5, §6.2)
    }
    if not p.card.my_number_card:
        return CardImage(p.name, {}, gp)
    apps = [
        _jpki(p, data, keys_of, cert_filler),
        _input_helper(p, data, keys_of),
        _surface(p, data, keys_of),
        *_common_and_juki(p, data, keys_of),
    ]
    return CardImage(p.name, {a.aid: a for a in apps}, gp)


__all__ = ["FREE", "CardImage", "build_card_image", "token_info"]
