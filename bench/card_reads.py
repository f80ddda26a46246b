"""Print the APDU and byte cost of each object read, short APDUs vs extended-length reads.

Runs against the in-process emulator (``emulator:<persona>``, default yamada-taro): for each
object it prints the object's encoded length, the APDUs sent and the bytes moved (command +
response, SW included). Printed figures only; nothing is asserted.

    .venv/bin/python bench/card_reads.py [persona]
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from card.apps import CertificateKind, InputHelperApp, JpkiApp, PinKind, SurfaceApp
from card.channel import ApduChannel
from card.transports import open_reader


def _objects(
    persona: Any,
) -> tuple[list[tuple[str, Callable[[ApduChannel], bytes]]], dict[Any, str]]:
    creds = persona.credentials

    def cert(kind: CertificateKind) -> Callable[[ApduChannel], bytes]:
        return lambda ch: JpkiApp(ch).read_certificate(kind)

    return [
        ("sign cert", cert(CertificateKind.SIGN)),
        ("sign CA cert", cert(CertificateKind.SIGN_CA)),
        ("auth cert", cert(CertificateKind.AUTH)),
        ("auth CA cert", cert(CertificateKind.AUTH_CA)),
        ("token info", lambda ch: JpkiApp(ch).read_token_info().raw),
        ("my number EF", lambda ch: InputHelperApp(ch).read_my_number_record().raw),
        ("basic info", lambda ch: InputHelperApp(ch).read_basic_info().raw),
        ("integrity record", lambda ch: InputHelperApp(ch).read_integrity().raw),
        ("input-helper CVC", lambda ch: InputHelperApp(ch).read_cvc()),
        ("face record", lambda ch: SurfaceApp(ch).read_face().raw),
        ("surface CVC", lambda ch: SurfaceApp(ch).read_cvc()),
    ], {
        PinKind.SIGN: creds.sign_password,
        "helper": creds.input_helper_pin,
        "match_b": creds.match_b,
    }


def _prepare(ch: ApduChannel, name: str, secrets: dict[Any, str]) -> None:
    # Select the AP and unlock what the object needs; these APDUs are not counted.
    if name in ("face record", "surface CVC"):
        SurfaceApp(ch).select()
    elif name in ("my number EF", "basic info", "integrity record", "input-helper CVC"):
        InputHelperApp(ch).select()
    else:
        JpkiApp(ch).select()
    if name == "sign cert":
        JpkiApp(ch).verify_pin(PinKind.SIGN, secrets[PinKind.SIGN])
    elif name in ("my number EF", "basic info", "integrity record"):
        InputHelperApp(ch).verify_pin(secrets["helper"])
    elif name == "face record":
        SurfaceApp(ch).verify_match_b(secrets["match_b"])


def main(argv: list[str]) -> int:
    from card.emulator import PERSONAS

    name = argv[1] if len(argv) > 1 else "yamada-taro"
    objects, secrets = _objects(PERSONAS[name])
    print(f"persona {name}: APDUs / bytes moved per object read (after SELECT + unlock)")
    print(f"{'object':18} {'length':>7} | {'short APDUs':>11} {'bytes':>7} |"
          f" {'ext APDUs':>9} {'bytes':>7}")
    for label, read in objects:
        row = []
        length = 0
        for extended in (False, True):
            with open_reader(f"emulator:{name}").connect() as connection:
                ch = ApduChannel(connection, extended_reads=extended)
                _prepare(ch, label, secrets)
                ch.stats.reset()
                length = len(read(ch))
                row.append((ch.stats.apdus, ch.stats.bytes_sent + ch.stats.bytes_received))
        (sa, sb), (ea, eb) = row
        print(f"{label:18} {length:7} | {sa:11} {sb:7} | {ea:9} {eb:7}")
    print("(counts include the SELECT EF, not the SELECT AP or the VERIFY before it)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
