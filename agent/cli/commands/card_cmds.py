"""``myna readers``, ``myna status`` and ``myna read cert``: direct card commands.

``status`` reads every PIN counter with the empty VERIFY, which consumes no try (reference §3).
``read cert --type sign`` needs the signature password: from ``--pin-file``, ``MYNA_PIN`` or a
getpass prompt; it is never echoed or logged, and a last try is refused unless
``--allow-last-try`` is given. Typed card errors become one line on stderr and an exit code.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

# Only the light error types at import time: `myna --help` must not load the card stack.
from card.errors import (
    ApplicationNotFoundError,
    CardError,
    CardRemovedError,
    InvalidPinError,
    NoCardError,
    NoReaderError,
    PinBlockedError,
    PinError,
    PinFormatError,
)

TYPE_CHECKING = False  # mypy takes any name TYPE_CHECKING as true; no typing import at run time
if TYPE_CHECKING:
    from collections.abc import Callable

EXIT_CARD_ERROR = 1
EXIT_NO_READER = 3
EXIT_PIN = 4
EXIT_REMOVED = 5

_CERT_TYPES = {"sign": "SIGN", "auth": "AUTH", "sign-ca": "SIGN_CA", "auth-ca": "AUTH_CA"}


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
             only: str | None = None) -> None:
    """Add ``readers``, ``status`` and ``read``; with ``only``, just that one (a command line
    that runs it needs no other, and each parser costs `myna status` a little)."""
    for command, add in (("readers", _add_readers), ("status", _add_status), ("read", _add_read)):
        if only in (None, command):
            add(subparsers)


def _add_readers(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("readers", help="list card readers and whether a card is present")
    # Its transports log at DEBUG only (nfcpy's loggers are held at INFO): logging only with -v.
    p.set_defaults(func=cmd_readers, needs_logging=False)


def _add_status(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("status", help="tries left for every PIN (consumes none)")
    p.add_argument("--reader", default="pcsc", metavar="LOC", help="reader locator (default pcsc)")
    p.add_argument("--config", metavar="FILE", help="also show the records outbox of this config")
    # The card stack logs nothing above INFO, shown only with -v: logging only then (or with
    # --config, whose records outbox may warn).
    p.set_defaults(func=_guarded(cmd_status), needs_logging=False)


def _add_read(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("read", help="read an object from the card")
    what = p.add_subparsers(dest="object", metavar="OBJECT", required=True)
    c = what.add_parser("cert", help="read a JPKI certificate")
    c.add_argument("--type", required=True, choices=sorted(_CERT_TYPES), dest="cert_type")
    c.add_argument("--format", default="pem", choices=["pem", "der", "text"], dest="fmt")
    c.add_argument("--reader", default="pcsc", metavar="LOC", help="reader locator (default pcsc)")
    c.add_argument("--pin-file", type=Path, help="file holding the signature password")
    c.add_argument("--allow-last-try", action="store_true",
                   help="send the password even when only one try is left")
    c.add_argument("-o", "--output", type=Path, help="write to this file instead of stdout")
    c.set_defaults(func=_guarded(cmd_read_cert))


def _error(message: str, code: int) -> int:
    print(f"myna: {message}", file=sys.stderr)
    return code


def _guarded(func: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Turn typed card errors into one line and an exit code (no traceback)."""

    def run(args: argparse.Namespace) -> int:
        try:
            return func(args)
        except (NoReaderError, NoCardError) as e:
            return _error(str(e), EXIT_NO_READER)
        except CardRemovedError:
            return _error("the card was removed", EXIT_REMOVED)
        except ApplicationNotFoundError:
            return _error("this is not a My Number card (the application is missing)",
                          EXIT_CARD_ERROR)
        except InvalidPinError as e:
            return _error(f"wrong password: {e.tries_left} tries left", EXIT_PIN)
        except PinBlockedError:
            return _error("the password is blocked (reset it at the municipal office)", EXIT_PIN)
        except PinError as e:
            return _error(str(e), EXIT_PIN)
        except CardError as e:
            return _error(f"card error: {e}", EXIT_CARD_ERROR)

    return run


def cmd_readers(args: argparse.Namespace) -> int:
    from card.transports import list_readers

    readers = list_readers()
    if not readers:
        print("no readers found (is pcscd running and a reader attached?)")
    for reader in readers:
        try:
            state = "card present" if reader.has_card() else "no card"
        except CardError as e:
            state = f"unavailable ({e})"
        print(f"{reader.locator}\t{state}")
    print("hint: --reader emulator:<persona> (e.g. emulator:yamada-taro) uses a virtual card")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    if getattr(args, "config", None):
        from agent.cli.commands.records_cmds import status_line
        from agent.cli.main import configure_logging
        from agent.service.config import load_config

        configure_logging(getattr(args, "verbose", 0))
        config = load_config(args.config)
        if config.records.enabled:
            print(f"records: {status_line(config)}")
    from card.apps import InputHelperApp, JpkiApp, PinKind
    from card.channel import ApduChannel
    from card.transports import open_reader

    reader = open_reader(args.reader)
    with reader.connect(exclusive=True) as connection:
        channel = ApduChannel(connection)
        jpki = JpkiApp(channel)
        rows = [
            ("auth PIN (利用者証明用)", jpki.tries_left(PinKind.AUTH), PinKind.AUTH.max_tries),
            ("sign password (署名用)", jpki.tries_left(PinKind.SIGN), PinKind.SIGN.max_tries),
        ]
        helper_tries: int | str
        try:
            helper_tries = InputHelperApp(channel).tries_left()
        except ApplicationNotFoundError:
            helper_tries = "n/a"
        rows.append(("券面事項入力補助 PIN", helper_tries, 3))  # type: ignore[arg-type]
    for label, tries, most in rows:
        suffix = " (blocked)" if tries == 0 else ""
        print(f"{label}: {tries} / {most}{suffix}")
    return 0


def _read_password(args: argparse.Namespace) -> str:
    if args.pin_file:
        try:
            return args.pin_file.read_text(encoding="utf-8").strip()
        except OSError as e:
            raise PinFormatError(f"cannot read the password file ({e.strerror})") from e
    from_env = os.environ.get("MYNA_PIN")
    if from_env:
        return from_env
    import getpass

    return getpass.getpass("signature password (署名用パスワード): ")


def _describe(der: bytes) -> str:
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    try:
        cert = x509.load_der_x509_certificate(der)
    except ValueError as e:
        raise CardError("the card returned a malformed certificate") from e
    key = cert.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        key_text = f"RSA {key.key_size} bits"
    elif isinstance(key, ec.EllipticCurvePublicKey):
        key_text = f"EC {key.curve.name}"
    else:
        key_text = type(key).__name__
    return "\n".join([
        f"subject:    {cert.subject.rfc4514_string()}",
        f"issuer:     {cert.issuer.rfc4514_string()}",
        f"serial:     {cert.serial_number:X}",
        f"not before: {cert.not_valid_before_utc.isoformat()}",
        f"not after:  {cert.not_valid_after_utc.isoformat()}",
        f"key:        {key_text}",
    ]) + "\n"


def cmd_read_cert(args: argparse.Namespace) -> int:
    from card.apps import CertificateKind, JpkiApp, PinKind
    from card.channel import ApduChannel
    from card.transports import open_reader

    kind = CertificateKind[_CERT_TYPES[args.cert_type]]
    password = _read_password(args) if kind is CertificateKind.SIGN else None
    reader = open_reader(args.reader)
    with reader.connect(exclusive=True) as connection:
        # One extended READ for the whole certificate where the link carries it.
        app = JpkiApp(ApduChannel(connection, extended_reads=connection.extended_apdus))
        if password is not None:
            tries = app.tries_left(PinKind.SIGN)
            if tries == 0:
                raise PinBlockedError()
            if tries == 1 and not args.allow_last_try:
                return _error("only one password try is left; re-run with --allow-last-try "
                              "if you are sure", EXIT_PIN)
            app.verify_pin(PinKind.SIGN, password)
        der = app.read_certificate(kind)
    if args.fmt == "der":
        out: bytes = der
    elif args.fmt == "pem":
        import base64

        body = base64.encodebytes(der).decode("ascii").replace("\n", "")
        lines = [body[i : i + 64] for i in range(0, len(body), 64)]
        out = ("-----BEGIN CERTIFICATE-----\n" + "\n".join(lines)
               + "\n-----END CERTIFICATE-----\n").encode("ascii")
    else:
        out = _describe(der).encode("utf-8")
    if args.output:
        args.output.write_bytes(out)
    else:
        sys.stdout.buffer.write(out)
        sys.stdout.flush()
    return 0
