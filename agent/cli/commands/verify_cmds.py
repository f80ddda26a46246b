"""``myna verify`` (one flow on a card) and ``myna verify-cert`` (offline path validation).

Both print the verdict (human text, or ``--json`` with the stable keys of design §3) and exit
0 only when it is ok. The credential comes from ``--pin-file``, ``MYNA_PIN`` or a getpass
prompt and is never echoed or logged. For ``emulator:<persona>`` readers the trust defaults to
the emulator's exported test trust (roots, CRL, CVC issuer keys, written to a temporary
directory) and the output says TEST loudly. ``verify-cert --ca FILE`` adds a CA certificate
that is accepted only if its fingerprint is a pinned J-LIS root.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from datetime import datetime
# json, tempfile, getpass and datetime are imported where used: `myna --help` loads this module.

EXIT_OK = 0
EXIT_REJECTED = 1
EXIT_USAGE = 2
MAX_PIN_FILE = 256
MAX_CERT_FILE = 64 * 1024
_UNPRINTABLE = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("verify", help="run one verification flow on a card")
    p.add_argument("--flow", required=True, choices=["sign", "auth", "face", "number"])
    p.add_argument("--reader", default="pcsc", metavar="LOC", help="reader locator (default pcsc)")
    _common(p)
    p.add_argument("--cvc-key", action="append", default=[], metavar="PEM",
                   help="CVC issuer public key (repeatable)")
    p.add_argument("--enable-number", action="store_true", help="allow the number flow")
    p.add_argument("--allow-last-try", action="store_true",
                   help="send the credential even with one try left (you confirm by passing it)")
    p.add_argument("--pin-file", type=Path, help="file holding the credential")
    p.set_defaults(func=cmd_verify)

    c = subparsers.add_parser("verify-cert", help="path-validate a certificate file offline")
    c.add_argument("cert", type=Path, metavar="CERT", help="certificate (DER or PEM)")
    c.add_argument("--purpose", choices=["auto", "sign", "auth"], default="auto")
    c.add_argument("--ca", action="append", default=[], type=Path, metavar="FILE",
                   help="CA certificate, accepted only if its fingerprint is pinned")
    _common(c)
    c.set_defaults(func=cmd_verify_cert)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print the verdict as JSON")
    p.add_argument("--at", metavar="ISO-TIME", help="verification time (default: now)")
    p.add_argument("--trust", choices=["test", "jlis"], default=None,
                   help="trust mode (default jlis; test for emulator readers)")
    p.add_argument("--trust-root", action="append", default=[], type=Path, metavar="PEM",
                   help="operator-chosen root; must be self-issued (marks results test_trust)")
    p.add_argument("--trust-dir", type=Path, metavar="DIR",
                   help="directory written by `myna emulator --export-trust` (test trust)")
    p.add_argument("--crl", type=Path, metavar="FILE", help="CRL (DER or PEM) to check against")


def _parse_at(text: str | None) -> datetime:
    from datetime import UTC, datetime


    if not text:
        return datetime.now(UTC)
    try:
        at = datetime.fromisoformat(text)
    except ValueError as e:
        raise SystemExit(f"myna: --at: not an ISO time: {text!r}") from e
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)  # naive = UTC


def _read_credential(args: argparse.Namespace) -> str:
    if args.pin_file:
        with args.pin_file.open("rb") as f:
            raw = f.read(MAX_PIN_FILE + 1)
        if len(raw) > MAX_PIN_FILE:
            raise SystemExit("myna: --pin-file is too large")
        return raw.decode("utf-8", errors="replace").strip()
    env = os.environ.get("MYNA_PIN")
    if env is not None:
        return env.strip()
    import getpass

    prompts = {"sign": "signature password: ", "auth": "auth PIN: ",
               "face": "照合番号B (14 digits): ", "number": "券面事項入力補助 PIN: "}
    return getpass.getpass(prompts[args.flow])


def _emulator_trust(tmp: Path) -> Path:
    from card.emulator import export_trust  # CLI wiring only (docs/architecture.md "Rules")

    export_trust(tmp)
    return tmp


def _printable(value: object) -> str:
    """``value`` as text safe for a terminal: controls (ESC sequences would retitle and
    recolour it), bidi and zero-width format characters, private-use characters and
    separators appear as ``\\uXXXX`` escapes. Card-supplied text (``extra`` SAN values, the
    identity) goes through here before any human output; ``--json`` escapes on its own."""
    import unicodedata

    text = str(value)
    return "".join(
        f"\\u{ord(ch):04x}" if unicodedata.category(ch) in _UNPRINTABLE or ch == "\\" else ch
        for ch in text)


def _print(verdict: dict[str, Any], as_json: bool) -> None:
    if as_json:
        import json

        json.dump(verdict, sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
        return
    out = sys.stdout
    if verdict.get("test_trust"):
        out.write("*** TEST TRUST: not verified against J-LIS production roots ***\n")
    if not verdict["ok"]:
        err = verdict["error"] or {}
        extra = f" ({err['tries_left']} tries left)" if "tries_left" in err else ""
        out.write(f"REJECTED {verdict['flow']}: {err.get('code')}{extra}: "
                  f"{err.get('message', '')}\n")
        return
    out.write(f"OK {verdict['flow']}: {', '.join(verdict['assurance'])}\n")
    cert = verdict.get("certificate")
    if cert:
        out.write(f"  certificate serial {cert['serial']}, not after {cert['not_after']}, "
                  f"root generation {cert['issuer_generation']}\n")
    for key, value in (verdict.get("identity") or {}).items():
        if key.endswith("_b64"):
            value = f"<{len(value) * 3 // 4} bytes>"
        elif key == "my_number":
            value = "********" + str(value)[-4:]  # masked on screen (design §2)
        elif key == "extra":
            if not value:
                continue
            value = ", ".join(f"{k}={v}" for k, v in value.items())
        elif isinstance(value, dict):
            value = value.get("label_en") or value.get("name_en") or value.get("code")
        out.write(f"  {key}: {_printable(value)}\n")


def cmd_verify(args: argparse.Namespace) -> int:

    import tempfile

    from agent.verification.errors import VerificationError, error_code_for
    from agent.verification.flows import FlowConfig, run_flow
    from card.errors import CardError
    from card.transports import open_reader

    at = _parse_at(args.at)
    is_emulator = args.reader.startswith("emulator:")
    mode = args.trust or ("test" if is_emulator else "jlis")
    with tempfile.TemporaryDirectory(prefix="myna-trust-") as tmp:
        trust_dir = args.trust_dir
        cvc_keys = list(args.cvc_key)
        crl = args.crl
        if mode == "test" and trust_dir is None and is_emulator:
            trust_dir = _emulator_trust(Path(tmp))
        if mode == "test" and trust_dir is not None:
            # The exported directory carries its CRL and CVC issuer keys: use them by default.
            if crl is None and (trust_dir / "test.crl").is_file():
                crl = trust_dir / "test.crl"
            if not cvc_keys:
                cvc_keys = [str(p) for p in sorted(trust_dir.glob("cvc_issuer_*.pem"))]
        enabled = ["sign", "auth", "face"] + (["number"] if args.enable_number else [])
        try:
            config = FlowConfig.build(trust_mode=mode, test_dir=trust_dir,
                                      extra_roots=args.trust_root, crl_file=crl,
                                      cvc_issuer_keys=cvc_keys, enabled=enabled,
                                      allow_last_try=args.allow_last_try)
        except (VerificationError, OSError) as e:
            print(f"myna: trust configuration: {e}", file=sys.stderr)
            return EXIT_USAGE
        if mode == "test" and not args.json:
            print("*** TEST TRUST MODE ***", file=sys.stderr)
        credential = _read_credential(args)
        try:
            reader = open_reader(args.reader)
            with reader.connect() as connection:
                verdict = run_flow(args.flow, connection, credential, at=at, config=config,
                                   confirm_last_try=args.allow_last_try).to_json()
        except CardError as e:
            code, message, extra = error_code_for(e)
            verdict = {"ok": False, "flow": args.flow, "assurance": [],
                       "test_trust": config.trust.test_trust, "identity": None,
                       "certificate": None, "error": {"code": str(code), "message": message,
                                                      **extra}, "timings_ms": {}}
        finally:
            credential = ""  # drop our reference as early as we can
    _print(verdict, args.json)
    return EXIT_OK if verdict["ok"] else EXIT_REJECTED


def cmd_verify_cert(args: argparse.Namespace) -> int:

    from datetime import UTC

    from agent.verification.errors import ErrorCode, VerificationError, error_code_for
    from agent.verification.identity import identity_from_certificate
    from agent.verification.revocation import RevocationSource
    from agent.verification.trust import Purpose, TrustStore, load_certificates
    from agent.verification.verify import parse_certificate, purpose_of, validate_certificate

    at = _parse_at(args.at)
    mode = args.trust or "jlis"
    purpose_name = args.purpose
    verdict: dict[str, Any] = {"ok": False, "flow": purpose_name, "assurance": [],
                               "test_trust": False, "identity": None, "certificate": None,
                               "error": None, "timings_ms": {}}
    try:
        try:
            with args.cert.open("rb") as f:
                data = f.read(MAX_CERT_FILE + 1)
        except OSError as e:
            print(f"myna: cannot read {args.cert}: {e.strerror}", file=sys.stderr)
            return EXIT_USAGE
        der = load_certificates(data, limit=1)[0]
        cert = parse_certificate(der)
        if purpose_name == "auto":
            purpose_name = str(purpose_of(cert))
        verdict["flow"] = purpose_name
        purpose = Purpose(purpose_name)
        store = TrustStore.build(mode, test_dir=args.trust_dir, extra_roots=args.trust_root,
                                 ca_files=args.ca)
        verdict["test_trust"] = store.test_trust
        revocation = RevocationSource.crl_file(args.crl) if args.crl else None
        validated = validate_certificate(der, store, purpose=purpose, at=at,
                                         revocation=revocation)
        identity = None
        if purpose is Purpose.SIGN:
            identity = identity_from_certificate(validated.certificate).to_json()
        verdict.update(ok=True, assurance=validated.assurance, identity=identity,
                       certificate={"serial": validated.serial_hex,
                                    "not_after": validated.not_after.astimezone(UTC).strftime(
                                        "%Y-%m-%dT%H:%M:%SZ"),
                                    "issuer_generation": validated.anchor.generation})
    except (VerificationError, OSError, ValueError) as e:
        code, message, extra = error_code_for(e)
        if code is ErrorCode.INTERNAL:
            message = "could not read a trust file or process the certificate"
        verdict["error"] = {"code": str(code), "message": message, **extra}
    _print(verdict, args.json)
    return EXIT_OK if verdict["ok"] else EXIT_REJECTED
