"""Talk APDU to the My Number card: constants, APDUs, TLV, channel, applications, transports.

Public entry points: ``open_reader(locator)`` / ``list_readers()`` to find a card,
``ApduChannel(reader.connect())`` to talk to it, and the apps in ``card.apps``.
"""

from __future__ import annotations

from card.lazy import lazy_attributes

# Not `from typing import …`: typing costs every `myna` command a tenth of a bare Python start,
# and mypy takes any name TYPE_CHECKING as true.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from card.apdu import CommandApdu, ResponseApdu
    from card.channel import ApduChannel
    from card.transports import CardConnection, Reader, list_readers, open_reader

# Loaded on first use: importing ``card.errors`` or ``card.ids`` (every `myna` command does)
# must not pull in the channel and transports.
_LAZY = {
    "CommandApdu": "card.apdu", "ResponseApdu": "card.apdu", "ApduChannel": "card.channel",
    "CardConnection": "card.transports", "Reader": "card.transports",
    "list_readers": "card.transports", "open_reader": "card.transports",
}


__getattr__ = lazy_attributes("card", _LAZY)


__all__ = [
    "ApduChannel",
    "CardConnection",
    "CommandApdu",
    "Reader",
    "ResponseApdu",
    "list_readers",
    "open_reader",
]
