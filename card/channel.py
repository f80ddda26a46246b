"""``ApduChannel``: APDU exchanges with the card (reference §3, §4, §6.5, §7.2).

It resolves 61xx (GET RESPONSE, bounded) and 6Cxx (resend once with the card's Le), turns every
other non-9000 status into ``ApduError``, selects APs and EFs, pages READ BINARY at ≤ 256 bytes
(or one extended-Le read when asked), reads a TLV object by its header without touching the EF's
filler, and runs VERIFY. It is also the only TRAFFIC-level logger: VERIFY/CHANGE payloads are
logged as ``<redacted N bytes>`` and personal-data responses only as lengths. Not thread-safe:
one channel per connection per thread.
"""

from __future__ import annotations

import sys

from card import tlv
from card.apdu import MAX_SHORT_LE, CommandApdu
from card.errors import (
    ApduError,
    ApplicationNotFoundError,
    BadResponseError,
    InvalidPinError,
    PinBlockedError,
)
from card.ids import INS, P2_CURRENT_KEY, SELECT_BY_AID, SELECT_BY_FID, SELECT_NO_FCI
from card.record import Record
from card.sw import SW, SW1_MORE_DATA, SW1_WRONG_LE, SW_VERIFY_TRIES_BASE, SW_VERIFY_TRIES_MASK
from card.transports import CardConnection

TYPE_CHECKING = False  # mypy takes any name TYPE_CHECKING as true; no typing import at run time
if TYPE_CHECKING:
    import logging

TRAFFIC = 5  # below DEBUG: hex APDUs (agent's logging names the level and warns when it is on)
_LOGGER: logging.Logger | None = None  # set on first use once logging is loaded


def _logger() -> logging.Logger | None:
    """This module's logger, or None while nothing has imported logging.

    This module logs at INFO and TRAFFIC only, and until a level or a handler is set through
    logging such records go nowhere: so a command that never configures logging (`myna status`)
    goes without importing it (a third of a bare Python start), and every process that does
    configure it (the agent, ``-v``, pytest) gets each record as before.
    """
    global _LOGGER
    if _LOGGER is None:
        logging = sys.modules.get("logging")
        if logging is None:
            return None
        logging.addLevelName(TRAFFIC, "TRAFFIC")
        _LOGGER = logging.getLogger(__name__)
    return _LOGGER


# INS whose command data is a secret (VERIFY, CHANGE REFERENCE DATA, CHANGE KEY, SET SESSION KEY).
_SECRET_INS = frozenset(
    {INS.VERIFY, INS.CHANGE_REFERENCE_DATA, INS.CHANGE_KEY, INS.SET_SESSION_KEY}
)
MAX_GET_RESPONSE_ROUNDS = 64  # 64 × 256 = 16 KiB, far more than any single answer on this card
MAX_OFFSET = 0x7FFF  # READ BINARY P1-P2 is a 15-bit offset (reference §3)
MAX_EXTENDED_READ = 65533  # vpcd frames cap an R-APDU at 65535 bytes incl. SW (test-stack §4.1)
# What a card or reader answers to an extended APDU it cannot take: wrong length, or the
# command (as it arrived, cut short) not understood.
_EXTENDED_REFUSED = frozenset({SW.WRONG_LENGTH, SW.INS_NOT_SUPPORTED, SW.CLA_NOT_SUPPORTED})
HEADER_PROBE = 8  # enough for any tag (≤ 3 bytes) + length (≤ 4 bytes) the card uses


class TrafficStats(Record):
    """Counters for the benchmark and for tests that assert how much a read cost."""

    __match_args__ = ("apdus", "bytes_sent", "bytes_received")
    __slots__ = __match_args__
    apdus: int
    bytes_sent: int
    bytes_received: int

    def __init__(self, apdus: int = 0, bytes_sent: int = 0, bytes_received: int = 0) -> None:
        self.apdus, self.bytes_sent, self.bytes_received = apdus, bytes_sent, bytes_received

    def reset(self) -> None:
        self.apdus = self.bytes_sent = self.bytes_received = 0


def tries_from_sw(sw: int) -> int | None:
    """Return x for 63Cx, 0 for 6984, else None."""
    if sw & SW_VERIFY_TRIES_MASK == SW_VERIFY_TRIES_BASE:
        return sw & 0x0F
    if sw == SW.PIN_BLOCKED:
        return 0
    return None


class ApduChannel:
    """APDU exchanges over one ``CardConnection``.

    :param extended_reads: read objects with one extended-Le READ BINARY instead of 256-byte pages
        (the card accepts it, reference §6.5; many readers do not).
    """

    def __init__(self, connection: CardConnection, *, extended_reads: bool = False) -> None:
        self.connection = connection
        self.extended_reads = extended_reads
        self.stats = TrafficStats()
        self.current_aid: bytes | None = None  # the AP selected last on this channel
        self.current_ef: int | None = None  # the EF selected last in that AP

    # -- raw exchange -------------------------------------------------------------------------

    def _exchange(self, command: CommandApdu, personal: bool) -> tuple[bytes, int]:
        encoded = command.encode()
        logger = _logger()
        if logger is not None and logger.isEnabledFor(TRAFFIC):
            if command.ins in _SECRET_INS and command.data:
                shown = f"{encoded[:5].hex(' ').upper()} <redacted {len(command.data)} bytes>"
            else:
                shown = encoded.hex(" ").upper()
            logger.log(TRAFFIC, "> %s", shown)
        data, sw = self.connection.transmit(encoded)
        self.stats.apdus += 1
        self.stats.bytes_sent += len(encoded)
        self.stats.bytes_received += len(data) + 2
        if logger is not None and logger.isEnabledFor(TRAFFIC):
            body = f"<{len(data)} bytes> " if personal and data else data.hex(" ").upper() + " "
            logger.log(TRAFFIC, "< %s%04X", body if data else "", sw)
        return data, sw

    def transmit_sw(self, command: CommandApdu, *, personal: bool = False) -> tuple[bytes, int]:
        """Send ``command``, resolve 61xx/6Cxx, and return (data, final SW) without judging it."""
        data, sw = self._exchange(command, personal)
        if sw >> 8 == SW1_WRONG_LE and command.le is not None:
            # 6Cxx: resend once with Le = xx (00 means 256); never loop on it.
            new_le = (sw & 0xFF) or 256
            retry = CommandApdu(
                command.cla, command.ins, command.p1, command.p2, command.data, new_le
            )
            data, sw = self._exchange(retry, personal)
        chunks = [data]
        rounds = 0
        while sw >> 8 == SW1_MORE_DATA:
            rounds += 1
            if rounds > MAX_GET_RESPONSE_ROUNDS:
                raise BadResponseError("too many 61xx rounds")
            get = CommandApdu(0x00, INS.GET_RESPONSE, 0x00, 0x00, le=(sw & 0xFF) or 256)
            data, sw = self._exchange(get, personal)
            chunks.append(data)
        return b"".join(chunks), sw

    def transmit(self, command: CommandApdu, *, name: str = "", personal: bool = False) -> bytes:
        """Send ``command`` and return its data; any final SW but 9000 raises ``ApduError``."""
        data, sw = self.transmit_sw(command, personal=personal)
        if sw != SW.OK:
            raise ApduError(sw, data, name or f"INS {command.ins:02X}")
        return data

    # -- selection ----------------------------------------------------------------------------

    def select_aid(self, aid: bytes) -> None:
        """SELECT an AP by its full AID (reference §1); this also clears its PIN state.

        :raises ApplicationNotFoundError: the card refused the AID.
        """
        command = CommandApdu(0x00, INS.SELECT, SELECT_BY_AID, SELECT_NO_FCI, bytes(aid))
        self.current_aid = self.current_ef = None
        _, sw = self.transmit_sw(command)
        if sw != SW.OK:
            raise ApplicationNotFoundError(bytes(aid), sw)
        self.current_aid = bytes(aid)

    def ensure_selected(self, aid: bytes) -> None:
        """SELECT ``aid`` unless it is already current (a re-SELECT would clear PIN state)."""
        if self.current_aid != bytes(aid):
            self.select_aid(aid)

    def select_ef(self, fid: int) -> None:
        """SELECT an EF or IEF of the current AP by FID (reference §1)."""
        command = CommandApdu(
            0x00, INS.SELECT, SELECT_BY_FID, SELECT_NO_FCI, fid.to_bytes(2, "big")
        )
        self.current_ef = None
        self.transmit(command, name=f"SELECT EF {fid:04X}")
        self.current_ef = fid

    def ensure_ef(self, fid: int) -> None:
        """SELECT EF ``fid`` unless this channel selected it last (the card keeps it current)."""
        if self.current_ef != fid:
            self.select_ef(fid)

    # -- reading ------------------------------------------------------------------------------

    def _read_chunk(self, offset: int, length: int, personal: bool) -> bytes:
        if not 0 <= offset <= MAX_OFFSET:
            raise BadResponseError(f"read offset {offset} outside the 15-bit range")
        command = CommandApdu(0x00, INS.READ_BINARY, offset >> 8, offset & 0xFF, le=length)
        data = self.transmit(command, name="READ BINARY", personal=personal)
        if len(data) != length:
            raise BadResponseError(f"asked for {length} bytes at {offset}, card sent {len(data)}")
        return data

    def read_binary(self, offset: int, length: int, *, personal: bool = True) -> bytes:
        """Read exactly ``length`` bytes of the current EF from ``offset``.

        Pages of ≤ 256 bytes with short APDUs (reference §6.5), or extended-Le pages when the
        channel was built with ``extended_reads``.

        :raises BadResponseError: the card sent more or fewer bytes than asked.
        """
        if length < 0 or offset < 0:
            raise ValueError("negative offset or length")
        page = MAX_EXTENDED_READ if self.extended_reads else MAX_SHORT_LE
        chunks = []
        done = 0
        while done < length:  # bounded by the caller's length, never by card data
            n = min(page, length - done)
            chunks.append(self._read_chunk(offset + done, n, personal))
            done += n
        return b"".join(chunks)

    def read_object(self, max_len: int, *, personal: bool = True) -> bytes:
        """Read the BER-TLV object at the start of the current EF, and nothing after it.

        Reads the first bytes to learn the header (reference §7.2 step 4), then only the
        remaining bytes of the object, so the EF's filler is never transferred.

        :raises BadResponseError: malformed header, or the object is longer than ``max_len``.
        """
        if self.extended_reads:
            whole = self._read_whole_object(max_len, personal)
            if whole is not None:
                return whole
        probe_len = min(HEADER_PROBE, max_len)
        head = self.read_binary(0, probe_len, personal=personal)
        header_len, value_len = tlv.header_length(head)
        total = header_len + value_len
        if total > max_len:
            raise BadResponseError(f"object of {total} bytes exceeds the {max_len}-byte limit")
        if total <= len(head):
            return head[:total]
        rest = self.read_binary(len(head), total - len(head), personal=personal)
        return head + rest

    def _read_whole_object(self, max_len: int, personal: bool) -> bytes | None:
        """One extended-Le READ BINARY of up to ``max_len`` bytes (the card sends what the EF
        holds, reference §3), trimmed to the object; None when the link refuses extended APDUs
        (the channel then stays with short reads)."""
        command = CommandApdu(0x00, INS.READ_BINARY, 0x00, 0x00, le=max_len, extended=True)
        try:
            data = self.transmit(command, name="READ BINARY", personal=personal)
        except ApduError as e:
            if e.sw not in _EXTENDED_REFUSED:
                raise
            logger = _logger()
            if logger is not None:
                logger.info("extended READ BINARY refused (%04X): short reads from now on", e.sw)
            self.extended_reads = False
            return None
        if len(data) > max_len:
            raise BadResponseError(f"asked for at most {max_len} bytes, card sent {len(data)}")
        header_len, value_len = tlv.header_length(data)
        total = header_len + value_len
        if total > max_len:
            raise BadResponseError(f"object of {total} bytes exceeds the {max_len}-byte limit")
        if total <= len(data):
            return data[:total]
        # The link delivered less than the object (a reader's buffer): read on from there.
        return data + self.read_binary(len(data), total - len(data), personal=personal)

    # -- credentials --------------------------------------------------------------------------

    def verify_status(self) -> int:
        """Query the selected IEF's counter with an empty VERIFY; consumes no try (reference §3).

        Returns tries left (63Cx → x, 6984 → 0).

        :raises BadResponseError: the card answered 9000, an "already verified" reading some cards
            may give (reference §4 [CONFLICT]). It says nothing about the counter, so callers
            must not guess "full": a guess could send a PIN on its last try (design §1).
        """
        command = CommandApdu(0x00, INS.VERIFY, 0x00, P2_CURRENT_KEY)
        data, sw = self.transmit_sw(command)
        if sw == SW.OK:
            raise BadResponseError("the card answered 9000 to the retry query: tries left unknown")
        tries = tries_from_sw(sw)
        if tries is None:
            raise ApduError(sw, data, "VERIFY (retry query)")
        return tries

    def verify(self, pin: bytes) -> None:
        """VERIFY the selected IEF with ``pin`` once; never retries.

        :raises InvalidPinError: 63Cx with x > 0.
        :raises PinBlockedError: 63C0 or 6984.
        """
        if not pin:
            raise ValueError("empty PIN: use verify_status() to query the counter")
        command = CommandApdu(0x00, INS.VERIFY, 0x00, P2_CURRENT_KEY, bytes(pin))
        _, sw = self.transmit_sw(command)
        if sw == SW.OK:
            return
        tries = tries_from_sw(sw)
        if tries is None:
            raise ApduError(sw, b"", "VERIFY")
        if tries == 0:
            raise PinBlockedError()
        raise InvalidPinError(tries)

    def get_challenge(self, length: int) -> bytes:
        """GET CHALLENGE of 1..256 bytes (short form: the card refuses extended, reference §3)."""
        if not 1 <= length <= MAX_SHORT_LE:
            raise ValueError("challenge length must be 1..256")
        command = CommandApdu(0x00, INS.GET_CHALLENGE, 0x00, 0x00, le=length, extended=False)
        data = self.transmit(command, name="GET CHALLENGE")
        if len(data) != length:
            raise BadResponseError(f"asked for a {length}-byte challenge, got {len(data)}")
        return data

    def compute_signature(self, p1: int, p2: int, data: bytes) -> bytes:
        """COMPUTE DIGITAL SIGNATURE ``80 2A P1 P2 Lc data 00`` (reference §7.4); no fixed size."""
        command = CommandApdu(0x80, INS.COMPUTE_DIGITAL_SIGNATURE, p1, p2, bytes(data), le=256)
        signature = self.transmit(command, name="COMPUTE DIGITAL SIGNATURE")
        if not signature:
            raise BadResponseError("empty signature")
        return signature
