"""Print host-side CPU time, APDUs and bytes per verification flow, and a modelled tap time.

Runs each flow against a zero-latency in-process emulator (yamada-taro, test trust exported
to a temporary directory, CRL and CVC keys configured). The card's own work (including its
RSA signing) is timed inside ``VirtualMynaCard.process`` and subtracted, so "host CPU" is
the agent's parsing, path validation and signature checks. APDUs/bytes (command + response,
SW included) are shown next to the protocol minimum for the flow (the sequence listed in
``MINIMUM``). Tap-to-verdict is modelled as host CPU + ISO 14443-4 Type B air time at 106
and 424 kbit/s (the emulator's bit-rate model); it excludes the card's compute time (RSA
signing on a real card, unknown here) and reader latency. Printed figures only.

    .venv/bin/python bench/flows.py [runs]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from agent.verification.flows import FLOWS, FlowConfig, run_flow
from card.emulator import PERSONAS, VirtualMynaCard, export_trust
from card.emulator.faults import air_time_s
from card.transports.emulated import EmulatedReader

AT = datetime(2026, 11, 26, tzinfo=UTC)
PERSONA = "yamada-taro"

# The fewest APDUs each flow needs (reference §7.2, §7.4, §8, §9.4), as (name, count) with
# "reads:<object>" expanded to ceil(len/256) READ BINARYs of that object as this card has it.
MINIMUM: dict[str, list[str]] = {
    "sign": ["SELECT AP", "SELECT PIN", "VERIFY (retry query)", "VERIFY", "SELECT cert",
             "reads:cert", "SELECT key", "SIGN"],
    "auth": ["SELECT AP", "SELECT PIN", "VERIFY (retry query)", "VERIFY", "SELECT cert",
             "reads:cert", "SELECT key", "SIGN"],
    "face": ["SELECT AP", "SELECT key B", "VERIFY (retry query)", "VERIFY", "SELECT face",
             "reads:face", "SELECT CVC", "reads:cvc", "GET CHALLENGE", "SIGN"],
    "number": ["SELECT AP", "SELECT PIN", "VERIFY (retry query)", "VERIFY", "SELECT 0001",
               "READ 0001", "SELECT 0002", "reads:basic", "SELECT 0003", "reads:integrity",
               "SELECT CVC", "reads:cvc", "SELECT 0007", "reads:signed_key", "GET CHALLENGE",
               "SIGN"],
}


class CountingCard(VirtualMynaCard):
    """The emulator, with its own CPU time and every exchange's size recorded."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.card_cpu_s = 0.0
        self.exchanges: list[tuple[int, int]] = []

    def process(self, capdu: bytes) -> bytes:
        start = time.process_time()
        try:
            response = super().process(capdu)
        finally:
            self.card_cpu_s += time.process_time() - start
        self.exchanges.append((len(capdu), len(response)))
        return response


def credential(flow: str) -> str:
    c = PERSONAS[PERSONA].credentials
    return {"sign": c.sign_password, "auth": c.auth_pin, "face": c.match_b,
            "number": c.input_helper_pin}[flow]


def one_run(flow: str, config: FlowConfig) -> tuple[float, CountingCard, dict[str, float]]:
    card = CountingCard(PERSONAS[PERSONA])
    reader = EmulatedReader(PERSONA, card)
    with reader.connect() as connection:
        start = time.process_time()
        verdict = run_flow(flow, connection, credential(flow), at=AT, config=config)
        total = time.process_time() - start
    if not verdict.ok:
        raise SystemExit(f"{flow} failed: {verdict.error}")
    return total - card.card_cpu_s, card, verdict.timings_ms


def minimum(flow: str, sizes: dict[str, int]) -> int:
    count = 0
    for step in MINIMUM[flow]:
        if step.startswith("reads:"):
            count += -(-sizes[step[6:]] // 256)
        else:
            count += 1
    return count


def main(runs: int = 15) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        export_trust(d)
        config = FlowConfig.build(
            trust_mode="test", test_dir=d, crl_file=d / "test.crl",
            cvc_issuer_keys=sorted(d.glob("cvc_issuer_*.pem")), enabled=FLOWS)
        print(f"persona {PERSONA}, {runs} runs per flow, zero-latency in-process emulator")
        print(f"{'flow':7} {'host CPU ms (median/min)':>25} {'APDUs':>6} {'min':>4} "
              f"{'bytes':>7} {'tap@106k ms':>12} {'tap@424k ms':>12}")
        for flow in FLOWS:
            one_run(flow, config)  # warm-up (imports, key caches)
            cpu: list[float] = []
            card: CountingCard | None = None
            for _ in range(runs):
                host, card, _timings = one_run(flow, config)
                cpu.append(host)
            assert card is not None
            n = len(card.exchanges)
            nbytes = sum(c + r for c, r in card.exchanges)
            air = {rate: sum(air_time_s(c, r, rate) for c, r in card.exchanges)
                   for rate in (106, 424)}
            sizes = _object_sizes(card)
            med = statistics.median(cpu) * 1000
            print(f"{flow:7} {med:12.2f} / {min(cpu) * 1000:7.2f}    {n:6d} "
                  f"{minimum(flow, sizes):4d} {nbytes:7d} {med + air[106] * 1000:12.1f} "
                  f"{med + air[424] * 1000:12.1f}")
        print("min = fewest APDUs the protocol needs (see MINIMUM); our extras: the EF 0008 "
              "presence check (sign), one 8-byte header read per object (so no read touches "
              "filler), and the card's CA copy on the first tap only (PinnedCaCache; none "
              "under test trust, whose roots are anchors).")
        print("tap time = host CPU + modelled air time; excludes the card's own compute time.")


def _object_sizes(card: CountingCard) -> dict[str, int]:
    """Object sizes as this card holds them (from the persona's card, read once)."""
    from card.apps import CertificateKind, InputHelperApp, JpkiApp, PinKind, SurfaceApp
    from card.channel import ApduChannel

    reader = EmulatedReader(PERSONA, VirtualMynaCard(PERSONAS[PERSONA]))
    creds = PERSONAS[PERSONA].credentials
    with reader.connect() as connection:
        ch = ApduChannel(connection)
        jpki = JpkiApp(ch)
        jpki.select()
        jpki.verify_pin(PinKind.SIGN, creds.sign_password)
        cert = len(jpki.read_certificate(CertificateKind.SIGN))
        surface = SurfaceApp(ch)
        surface.select()
        surface.verify_match_b(creds.match_b)
        face = len(surface.read_face().raw)
        cvc = len(surface.read_cvc())
        helper = InputHelperApp(ch)
        helper.select()
        helper.verify_pin(creds.input_helper_pin)
        basic = len(helper.read_basic_info().raw)
        integrity = len(helper.read_integrity().raw)
        signed_key = len(helper.read_signed_key().raw)
    return {"cert": cert, "face": face, "cvc": cvc, "basic": basic, "integrity": integrity,
            "signed_key": signed_key}


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 15)
