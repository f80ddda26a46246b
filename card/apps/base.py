"""What every card application shares: selection on one channel, and the 券面 APs' own CVC,
GET CHALLENGE and challenge signature (reference §1, §8.4, §8.5, §9.4)."""

from __future__ import annotations

import re

from card import tlv
from card.channel import ApduChannel
from card.errors import BadResponseError
from card.ids import AID, TAG_CVC

TYPE_CHECKING = False  # as in card.transports: no typing import at run time (`myna status`)
if TYPE_CHECKING:
    from typing import ClassVar

MAX_RECORD_LEN = 4096
MAX_CVC_LEN = 1024
CVC_EF = 0x0004  # EF 0004 in both 券面 APs (reference §2.2, §2.3)


# Patterns as text: re compiles (and caches) each on its first match, not when `myna status`
# imports the apps.
DATE_YYYYMMDD = r"[0-9]{8}"
ONE_DIGIT = r"[0-9]"


def utf8_field(value: bytes, what: str) -> str:
    """Decode a UTF-8 record field (name, address) or raise BadResponseError."""
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError as e:
        raise BadResponseError(f"{what} is not UTF-8") from e


def ascii_field(value: bytes, pattern: str, what: str) -> str:
    """Decode an ASCII record field (dates, digits) that must fully match ``pattern``."""
    try:
        text = value.decode("ascii")
    except UnicodeDecodeError as e:
        raise BadResponseError(f"{what} is not ASCII") from e
    if not re.fullmatch(pattern, text):
        raise BadResponseError(f"{what} has an unexpected format")
    return text


def outer_tlv(data: bytes, tag: int, what: str) -> tlv.Tlv:
    """Parse the one outer TLV of a record and check its tag."""
    outer = tlv.parse_one(data)
    if outer.tag != tag:
        raise BadResponseError(f"{what}: tag {outer.tag:X}, expected {tag:X}")
    return outer


class CardApp:
    """One application (AP) on a channel. Not thread-safe.

    Methods select the AP only when it is not the channel's current one, because a re-SELECT
    clears PIN state (reference §1); ``select()`` does it unconditionally (a logout). Likewise
    an EF is selected only when it is not the channel's current one: each SELECT is a round trip.
    """

    aid: ClassVar[AID]

    def __init__(self, channel: ApduChannel) -> None:
        self.channel = channel

    def select(self) -> None:
        """SELECT this AP by AID (clears any PIN verification, reference §1)."""
        self.channel.select_aid(self.aid)

    def _ensure(self) -> None:
        self.channel.ensure_selected(self.aid)

    def _tries_left(self, ief: int) -> int:
        """Tries left of the credential in IEF ``ief`` (empty VERIFY; consumes none, §3)."""
        self._ensure()
        self.channel.ensure_ef(ief)
        return self.channel.verify_status()

    def _verify(self, ief: int, encoded: bytes) -> None:
        """VERIFY IEF ``ief`` once with an already format-checked credential."""
        self._ensure()
        self.channel.ensure_ef(ief)
        self.channel.verify(encoded)

    def _read_object(self, fid: int, max_len: int, *, personal: bool = True) -> bytes:
        """SELECT EF ``fid`` and read the one TLV object in it (never its filler)."""
        self._ensure()
        self.channel.ensure_ef(fid)
        return self.channel.read_object(max_len, personal=personal)


class CvcApp(CardApp):
    """A 券面 AP: its own card-verifiable certificate and a key that signs challenges."""

    def read_cvc(self) -> bytes:
        """Read this AP's CVC (``7F21``, reference §8.4)."""
        data = self._read_object(CVC_EF, MAX_CVC_LEN, personal=False)
        outer_tlv(data, TAG_CVC, "CVC")
        return data

    def get_challenge(self, length: int = 16) -> bytes:
        self._ensure()
        return self.channel.get_challenge(length)

    def sign_challenge(self, digest_info_bytes: bytes) -> bytes:
        """Sign with this AP's own key, ``80 2A 00 00``, no PIN (presence proof, §8.5, §9.4)."""
        self._ensure()
        return self.channel.compute_signature(0x00, 0x00, digest_info_bytes)
