"""The card exception tree. Every failure below the agent is a ``CardError``.

Data lives in attributes; nobody parses messages. Translations use ``raise ... from e``.
"""

from __future__ import annotations


class CardError(Exception):
    """Base of every error raised by ``card``."""


class TransportError(CardError):
    """The reader or the link failed (driver error, daemon gone, timeout)."""


class NoReaderError(TransportError):
    """No reader matches the locator, or no reader is attached."""


class NoCardError(TransportError):
    """The reader exists but holds no card."""


class CardBusyError(TransportError):
    """Exclusive access was asked for and refused: another program holds the card."""


class CardRemovedError(TransportError):
    """The card left the reader (or the field) while it was in use."""


class ApduError(CardError):
    """A status word other than 9000 that the caller did not give a meaning to."""

    def __init__(self, sw: int, data: bytes = b"", command: str = "") -> None:
        from card.sw import sw_name  # here: `myna readers` imports this module, no status word

        self.sw = sw
        self.data = data
        self.command = command
        where = f" to {command}" if command else ""
        super().__init__(f"SW={sw_name(sw)}{where}")


class BadResponseError(CardError):
    """The card said 9000 but the data is malformed, truncated, oversized or unexpected."""


class ApplicationNotFoundError(CardError):
    """SELECT of an application failed: not a My Number card, or the AP is absent."""

    def __init__(self, aid: bytes, sw: int) -> None:
        from card.sw import sw_name

        self.aid = aid
        self.sw = sw
        super().__init__(f"application {aid.hex().upper()} not found (SW={sw_name(sw)})")


class PinError(CardError):
    """A credential was refused."""


class InvalidPinError(PinError):
    """VERIFY failed; ``tries_left`` tries remain (from 63Cx)."""

    def __init__(self, tries_left: int) -> None:
        self.tries_left = tries_left
        super().__init__(f"wrong PIN, {tries_left} tries left")


class PinBlockedError(PinError):
    """The credential is blocked (63C0 on the exhausting try, 6984 afterwards)."""

    def __init__(self) -> None:
        super().__init__("PIN blocked")


class PinFormatError(PinError):
    """The credential was refused locally, before any APDU, because its format is wrong."""
