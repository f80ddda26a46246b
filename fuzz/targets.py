"""Parser fuzz targets shared by the atheris harness (``fuzz/run.py``) and the Hypothesis
tests (``tests/hardening/test_fuzz_parsers.py``).

Each target takes untrusted bytes and calls one parser. The only exceptions allowed out are the
parser's typed errors (``ALLOWED``); anything else (IndexError, struct.error, ValueError from
deep inside a library, ...) is a finding. ``seeds()`` gives well-formed inputs from the
emulator's card image, so mutation starts from the real formats.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache

from agent.verification import cvc as cvc_mod
from agent.verification.errors import VerificationError
from agent.verification.identity import identity_from_certificate
from agent.verification.verify import parse_certificate, public_key_of
from card import tlv
from card.apdu import CommandApdu, ResponseApdu
from card.apps.input_helper import (
    ApInfo,
    BasicInfo,
    IntegrityRecord,
    MyNumberRecord,
    SignedKeyRecord,
)
from card.apps.jpki import TokenInfo
from card.apps.surface import AgeRecord, CardFaceRecord
from card.errors import CardError

ALLOWED: tuple[type[BaseException], ...] = (CardError, VerificationError)
AT = datetime(2026, 11, 26, tzinfo=UTC)


def _tlv(data: bytes) -> None:
    tlv.header_length(data)
    one = tlv.parse_one(data)
    if one.constructed:
        tlv.children(one.value, unique=False)
    list(tlv.iterate(data))


def _response_apdu(data: bytes) -> None:
    ResponseApdu.parse(data)


def _command_apdu(data: bytes) -> None:
    """Host encoder round-trip through the emulator's parser (bytes → fields → bytes)."""
    from card.emulator.apdu import Command, SwError

    if len(data) < 6:
        return
    cla, ins, p1, p2, le_raw = data[0], data[1], data[2], data[3], data[4:6]
    body = data[6:]
    le = int.from_bytes(le_raw, "big") % 65537 or None
    try:
        command = CommandApdu(cla, ins, p1, p2, body, le)
    except ValueError:
        return  # the encoder refuses impossible field values: typed, before any byte is sent
    raw = command.encode()
    try:
        parsed = Command.parse(raw)
    except SwError as e:  # only INS-class SWs are acceptable for what we encode ourselves
        raise AssertionError(f"emulator refused a host-encoded APDU: {e.sw:04X}") from e
    got = (parsed.cla, parsed.ins, parsed.p1, parsed.p2, parsed.data, parsed.le)
    assert got == (cla, ins, p1, p2, body, le), (got, raw.hex())


def _emulator_parser(data: bytes) -> None:
    from card.emulator.apdu import Command, SwError

    try:
        Command.parse(data)
    except SwError:
        pass


def _certificate(data: bytes) -> None:
    cert = parse_certificate(data)
    identity_from_certificate(cert).to_json()
    public_key_of(data)


def _cvc(data: bytes) -> None:
    cvc_mod.Cvc.parse(data)


def _rsa_tlvs(data: bytes) -> None:
    cvc_mod.rsa_key_from_tlvs(data)


def _records(data: bytes) -> None:
    for parser in (CardFaceRecord.parse, AgeRecord.parse, MyNumberRecord.parse,
                   BasicInfo.parse, IntegrityRecord.parse, SignedKeyRecord.parse,
                   ApInfo.parse, TokenInfo.parse):
        try:
            parser(data)
        except ALLOWED:
            continue


TARGETS: dict[str, Callable[[bytes], None]] = {
    "tlv": _tlv, "response_apdu": _response_apdu, "command_apdu": _command_apdu,
    "emulator_apdu": _emulator_parser, "certificate": _certificate, "cvc": _cvc,
    "rsa_tlvs": _rsa_tlvs, "records": _records,
}


def call(name: str, data: bytes) -> bool:
    """Run one target; True when it accepted the input, False on a typed error. Anything
    else propagates (a crash)."""
    try:
        TARGETS[name](data)
    except ALLOWED:
        return False
    return True


@cache
def seeds() -> dict[str, tuple[bytes, ...]]:
    """Well-formed inputs per target, from the emulator's card images of two personas."""
    from card.emulator import VirtualMynaCard
    from card.emulator.filesystem import DataEF, RecordEF
    from card.ids import AID, InputHelperEF, JpkiEF, SurfaceEF

    objects: dict[tuple[bytes, int], bytes] = {}
    for persona in ("yamada-taro", "substitute-chars"):
        card = VirtualMynaCard.for_persona(persona)
        for aid, app in card.image.applications.items():
            for fid, ef in app.files.items():
                if isinstance(ef, DataEF) and ef.data:
                    try:
                        objects[(aid, fid)] = tlv.parse_one(ef.data).raw
                    except CardError:
                        objects[(aid, fid)] = ef.data
                elif isinstance(ef, RecordEF):
                    for i, rec in enumerate(ef.records):
                        objects[(aid, 0x100 * (i + 1) + fid)] = rec
    jpki, surface, helper = AID.JPKI.value, AID.SURFACE.value, AID.INPUT_HELPER.value
    certs = tuple(objects[(jpki, f)] for f in (JpkiEF.SIGN_CERT, JpkiEF.AUTH_CERT,
                                                JpkiEF.SIGN_CA_CERT) if (jpki, f) in objects)
    records = tuple(objects[(a, f)] for a, f in ((surface, SurfaceEF.FACE),
                                                  (surface, SurfaceEF.AGE),
                                                  (helper, InputHelperEF.MY_NUMBER),
                                                  (helper, InputHelperEF.BASIC_INFO),
                                                  (helper, InputHelperEF.INTEGRITY),
                                                  (helper, InputHelperEF.SIGNED_KEY),
                                                  (jpki, JpkiEF.TOKEN_INFO))
                    if (a, f) in objects)
    cvcs = tuple(objects[(a, f)] for a, f in ((surface, SurfaceEF.CVC),
                                               (helper, InputHelperEF.CVC)) if (a, f) in objects)
    face = CardFaceRecord.parse(objects[(surface, SurfaceEF.FACE)])
    apdus = (bytes.fromhex("00A4040C0AD392F000260100000001"), bytes.fromhex("00B0000000"),
             bytes.fromhex("00B00000000100"), bytes.fromhex("0020008004313233340000"))
    return {
        "tlv": records + cvcs, "response_apdu": (b"\x90\x00", b"\x01\x02\x61\x10"),
        "command_apdu": apdus, "emulator_apdu": apdus, "certificate": certs, "cvc": cvcs,
        "rsa_tlvs": (face.public_key,), "records": records,
    }
