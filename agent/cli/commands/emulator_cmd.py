"""``myna emulator``: run a virtual My Number card (design §3) behind vpcd so pcscd and any
PC/SC program see it; ``--list-personas`` prints each persona's (fictional) credentials,
照合番号B and purpose; ``--export-trust DIR`` writes the test roots, CRL and CVC issuer keys.

The credentials printed are the emulator's published test values, not a holder's secrets.
``--nfc-udp`` hands the card to ``card.emulator.nfc_udp.NfcUdpCard`` (nfcpy ``udp`` driver).
"""

from __future__ import annotations

import argparse
import sys
import time

# logging, signal and threading are imported where used: `myna --help` loads this module.


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("emulator", help="run a virtual My Number card (vpcd / nfc-udp)")
    p.add_argument("--persona", default="yamada-taro", metavar="NAME", help="persona to emulate")
    p.add_argument(
        "--vpcd",
        nargs="?",
        const="127.0.0.1:35963",
        default=None,
        metavar="HOST:PORT",
        help="attach to vpcd (default 127.0.0.1:35963; the default transport)",
    )
    p.add_argument("--nfc-udp", default=None, metavar="HOST:PORT", help="answer nfcpy's udp driver")
    p.add_argument(
        "--connect-timeout",
        type=float,
        default=30.0,
        metavar="S",
        help="seconds to keep retrying until vpcd accepts (default 30)",
    )
    p.add_argument(
        "--cert-filler",
        action="store_true",
        help="serve the JPKI certificate EFs with filler after the DER (a possible real shape)",
    )
    p.add_argument("--list-personas", action="store_true", help="list personas and exit")
    p.add_argument("--export-trust", metavar="DIR", help="write test trust files and exit")
    p.set_defaults(func=cmd_emulator)


def cmd_emulator(args: argparse.Namespace) -> int:
    from card.emulator import PERSONAS, export_trust

    if args.list_personas:
        _list_personas()
        return 0
    if args.export_trust:
        for path in export_trust(args.export_trust):
            sys.stdout.write(f"{path}\n")
        return 0
    if args.persona not in PERSONAS:
        sys.stderr.write(f"unknown persona {args.persona!r}; see --list-personas\n")
        return 2
    if args.nfc_udp:
        return _run_nfc_udp(args)
    return _run_vpcd(args)


def _list_personas() -> None:
    from card.emulator import PERSONAS

    out = sys.stdout
    for p in PERSONAS.values():
        c = p.credentials
        out.write(f"{p.name}\n  {p.description}\n")
        out.write(
            f"  auth PIN {c.auth_pin}  sign password {c.sign_password}  "
            f"入力補助 PIN {c.input_helper_pin}\n"
        )
        out.write(f"  照合番号B {c.match_b}  birth key {c.birth_key}\n")
        outcomes = "  ".join(f"{flow}={p.expected[flow]}" for flow in p.expected)
        out.write(f"  expected: {outcomes}\n")


def _make_card(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from card.emulator import VirtualMynaCard

    started = time.monotonic()
    card = VirtualMynaCard.for_persona(args.persona, cert_filler=args.cert_filler)
    import logging

    logging.getLogger(__name__).info("persona %s ready in %.1f s", args.persona,
                                     time.monotonic() - started)
    return card


def _run_vpcd(args: argparse.Namespace) -> int:
    import signal
    import threading

    from card.emulator.vpcd import VpcdBridge, parse_hostport

    try:
        host, port = parse_hostport(args.vpcd or "127.0.0.1:35963")
    except ValueError as e:
        sys.stderr.write(f"{e}\n")
        return 2
    card = _make_card(args)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    bridge = VpcdBridge(card, port=port, host=host, connect_timeout_s=args.connect_timeout)
    sys.stderr.write(f"emulating {args.persona} on vpcd {host}:{port} (Ctrl-C to stop)\n")
    try:
        while not stop.is_set():
            bridge.start()
            while not bridge.wait_connected(0.2):
                if stop.is_set():
                    return 0
                if not bridge.running:
                    sys.stderr.write(f"vpcd at {host}:{port} did not accept the card\n")
                    return 1
            while bridge.running and not stop.is_set():
                stop.wait(0.2)
            if not stop.is_set():
                # vpcd dropped us or a fault pulled the card: re-insert like a user would.
                time.sleep(0.5)
                card.power_off()
                card.power_on()
    except KeyboardInterrupt:
        pass
    finally:
        bridge.remove()
    return 0


def _run_nfc_udp(args: argparse.Namespace) -> int:
    """Serve the card to nfcpy's udp driver (``card.emulator.nfc_udp``, owned by the NFC work)."""
    import signal
    import threading

    try:
        from card.emulator.nfc_udp import NfcUdpCard
        from card.emulator.vpcd import parse_hostport

        host, port = parse_hostport(args.nfc_udp, default_port=54321)
    except (ImportError, ValueError) as e:
        sys.stderr.write(f"--nfc-udp unavailable: {e}\n")
        return 2
    card = _make_card(args)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with NfcUdpCard(card, host=host, port=port) as server:
        sys.stderr.write(f"emulating {args.persona} for nfcpy at {server.path} (Ctrl-C to stop)\n")
        try:
            stop.wait()
        except KeyboardInterrupt:
            pass
    return 0
