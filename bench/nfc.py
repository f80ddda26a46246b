"""Print APDU round trips, bytes and ISO-DEP frames per flow over NFC, and modelled air time.

Runs nfcpy's real Type 4B stack over its ``udp`` driver against the emulator (``NfcUdpCard`` →
``VirtualMynaCard``, default persona yamada-taro), counting every ISO-DEP frame in the card
bridge. Flows: ``auth cert + tries`` (read the auth certificate, both retry counters) and
``sign`` (SELECT, VERIFY the signature password, read the sign certificate, COMPUTE DIGITAL
SIGNATURE), each with 256-byte short reads and with one extended-Le read. Printed figures only.

Air-time model, ISO/IEC 14443-2/-3 Type B at 106 kbit/s (fc = 13.56 MHz, 1 etu = 128/fc = 9.44 µs):
every frame is PCB + INF + CRC_B (2 bytes); a character is 10 etu (start, 8 bits, stop; EGT 0);
SOF 12 etu (10 low + 2 high), EOF 10 etu (the minima). A card frame is preceded by TR0 = 1024/fc
(guard time) and TR1 = 1280/fc (unmodulated subcarrier), and the reader waits 14 etu after the
card's EOF before its next SOF. Card computing time (RSA) is not air time and is left out; S(WTX)
frames are counted. The raw-bits minimum is the same C- and R-APDU bytes at 8 bits each and
106 kbit/s with no framing at all.

    .venv/bin/python bench/nfc.py [persona]
"""

from __future__ import annotations

import hashlib
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# Run as a script, this file's directory heads sys.path and "nfc.py" would shadow nfcpy's "nfc".
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]

from card.apps import CertificateKind, JpkiApp, PinKind  # noqa: E402
from card.apps.jpki import digest_info  # noqa: E402
from card.channel import ApduChannel  # noqa: E402
from card.emulator.nfc_udp import LinkStats, NfcUdpCard  # noqa: E402
from card.transports.nfc import NfcReader  # noqa: E402

FC = 13.56e6
ETU = 128 / FC
BITRATE = FC / 128  # 105.9 kbit/s
SOF_ETU, EOF_ETU, CHAR_ETU = 12, 10, 10
TR0, TR1 = 1024 / FC, 1280 / FC
PCD_TURNAROUND = 14 * ETU
CRC_B = 2


@dataclass(frozen=True, slots=True)
class AirTime:
    frames_s: float
    guard_s: float

    @property
    def total_s(self) -> float:
        return self.frames_s + self.guard_s


def air_time(frames: list[tuple[str, int]]) -> AirTime:
    """The model in the module docstring over (sender, PCB+INF length) frames."""
    on_air = guard = 0.0
    for sender, length in frames:
        on_air += (SOF_ETU + CHAR_ETU * (length + CRC_B) + EOF_ETU) * ETU
        guard += TR0 + TR1 if sender == "picc" else PCD_TURNAROUND
    return AirTime(on_air, guard)


def raw_bits_s(apdu_bytes: int) -> float:
    return apdu_bytes * 8 / BITRATE


def _flows(creds: Any) -> list[tuple[str, Callable[[JpkiApp], object]]]:
    digest = digest_info("sha256", hashlib.sha256(b"myna-kiosk bench").digest())

    def auth_and_tries(app: JpkiApp) -> object:
        app.read_certificate(CertificateKind.AUTH)
        return app.tries_left(PinKind.AUTH), app.tries_left(PinKind.SIGN)

    def sign(app: JpkiApp) -> object:
        app.select()
        app.verify_pin(PinKind.SIGN, creds.sign_password)
        app.read_certificate(CertificateKind.SIGN)
        return app.sign(PinKind.SIGN, digest)

    return [("auth cert + tries", auth_and_tries), ("sign", sign)]


def _row(name: str, stats: LinkStats, wall_s: float) -> str:
    apdu_bytes = stats.apdu_bytes_in + stats.apdu_bytes_out
    frame_bytes = stats.bytes_in + stats.bytes_out + CRC_B * (stats.frames_in + stats.frames_out)
    air = air_time(stats.frames)
    raw = raw_bits_s(apdu_bytes)
    frames = f"{stats.frames_in:>4}/{stats.frames_out:<4}"
    return (f"{name:<40} {stats.apdus:>5} {apdu_bytes:>7} {frames}"
            f" {frame_bytes:>7} {frame_bytes - apdu_bytes:>6} {stats.wtx:>4}"
            f" {air.total_s * 1e3:>8.1f} {raw * 1e3:>7.1f} {air.total_s / raw:>5.2f}x"
            f" {wall_s * 1e3:>7.1f}")


def main(argv: list[str]) -> int:
    from card.emulator import PERSONAS, VirtualMynaCard

    persona = PERSONAS[argv[0] if argv else "yamada-taro"]
    print(f"NFC (nfcpy udp → emulator, persona {persona.name}); air model ISO 14443-B 106 kbit/s")
    print(f"{'flow':<40} {'APDUs':>5} {'APDU B':>7} {'frm in/out':>9} {'frame B':>7}"
          f" {'ovhd B':>6} {'WTX':>4} {'air ms':>8} {'raw ms':>7} {'ratio':>6} {'udp ms':>7}")
    for extended in (False, True):
        for name, flow in _flows(persona.credentials):
            card = VirtualMynaCard(persona)
            with NfcUdpCard(card) as bridge:
                reader = NfcReader(f"nfc:udp:127.0.0.1:{bridge.port}")
                try:
                    with reader.connect() as conn:
                        bridge.stats = LinkStats()  # count the flow, not the activation
                        started = time.perf_counter()
                        flow(JpkiApp(ApduChannel(conn, extended_reads=extended)))
                        wall = time.perf_counter() - started
                        stats = bridge.stats
                finally:
                    reader.close()
            label = f"{name} ({'extended Le' if extended else 'short, 256-B pages'})"
            print(_row(label, stats, wall))
    print("APDU B: C-APDU + R-APDU bytes (SW included). frame B: PCB+INF+CRC_B of every ISO-DEP "
          "frame,\nincluding R(ACK)s of response/command chaining and S(WTX). ovhd B = frame B - "
          "APDU B.\nair ms: modelled air time; raw ms: APDU bytes × 8 bits at 106 kbit/s; "
          "udp ms: wall time here.")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
