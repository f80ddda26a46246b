"""Talk APDU to the My Number card: constants, APDUs, TLV, channel, applications, transports.

Public entry points: ``open_reader(locator)`` / ``list_readers()`` to find a card,
``ApduChannel(reader.connect())`` to talk to it, and the apps in ``card.apps``.
"""

from __future__ import annotations

from card.apdu import CommandApdu, ResponseApdu
from card.channel import ApduChannel
from card.transports import CardConnection, Reader, list_readers, open_reader

__all__ = [
    "ApduChannel",
    "CardConnection",
    "CommandApdu",
    "Reader",
    "ResponseApdu",
    "list_readers",
    "open_reader",
]
