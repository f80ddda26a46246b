"""The virtual card as an ISO/IEC 14443-B card on nfcpy's ``udp`` driver (test-stack.md §7.2).

``NfcUdpCard`` binds a UDP port and answers the datagrams nfcpy's ``udp:HOST:PORT`` reader
sends (``"<brty> <hex>"``, or ``RFOFF``): SENSB_REQ with a SENSB_RES carrying a fresh random
PUPI and the protocol info of a real card (card-protocol.md §6.3), ATTRIB, then ISO-DEP
(ISO/IEC 14443-4) blocks: I-blocks with chaining in both directions, R(ACK)/R(NAK) under the
PICC block-number rules, S(WTX) while the card's ``process`` is slower than FWT, S(DESELECT).
``RFOFF`` from the reader powers the card off; ``remove()`` sends ``RFOFF`` to the reader (the
card leaves the field). Link-level faults (``LinkFaults``) and frame counters (``LinkStats``)
serve the fault tests and the NFC benchmark. Only ``card.ids``/``card.sw`` may be imported from
the host side, so this module knows nothing of ``card.transports`` or ``card.apdu``.
"""

from __future__ import annotations

import binascii
import logging
import os
import select
import socket
import threading
from dataclasses import dataclass, field
from typing import Protocol, Self

from card.emulator.faults import CardPulled

log = logging.getLogger(__name__)

# SENSB_RES = 50 | PUPI(4) | application data(4) | protocol info(3) (ISO/IEC 14443-3 §7.9).
# Reference §6.3: ATR 3B 88 80 01 00 00 05 E0 B3 81 A1 00 7F → AppData 00 00 05 E0, protocol
# info B3 81 A1 = 106/212/424 kbit/s, FSCI 8 (256-byte frames), ISO 14443-4, FWI 10 (~309 ms).
APP_DATA = bytes.fromhex("000005E0")
PROTOCOL_INFO = bytes.fromhex("B381A1")
_BRTYS = frozenset({"106B", "212B", "424B"})
_FSC_TABLE = (16, 24, 32, 40, 48, 64, 96, 128, 256)  # FSCI/FSDI → bytes (ISO/IEC 14443-3)
_MAX_COMMAND = 65_535 + 9  # largest extended C-APDU (header 7 + Lc data + Le 2)
_MAX_DATAGRAM = 1024  # nfcpy's own recvfrom buffer; frames are ≤ 256 bytes = 518 characters
_WTXM = 4  # each S(WTX) asks for 4 × FWT more (ISO/IEC 14443-4 §7.3: WTXM 1..59)
_RFOFF = "RFOFF"

# PCB coding (ISO/IEC 14443-4 §7.1.1.1); CID and NAD are never used by nfcpy.
_PCB_I = 0x02
_PCB_CHAIN = 0x10
_PCB_R_ACK = 0xA2
_PCB_R_NAK = 0xB2
_PCB_S_DESELECT = 0xC2
_PCB_S_WTX = 0xF2


class CardLike(Protocol):
    """What the bridge needs from ``VirtualMynaCard`` (docs/architecture.md)."""

    def power_on(self) -> None: ...

    def power_off(self) -> None: ...

    def process(self, capdu: bytes) -> bytes: ...


@dataclass
class LinkFaults:
    """Air-interface faults, counted in frames the card sends after activation."""

    remove_after_frames: int | None = None  # card leaves the field instead of frame N+1
    silent_after_frames: int | None = None  # card stays but never answers again
    corrupt_frame: int | None = None  # frame N+1 arrives damaged once (reader sees a bad frame)
    duplicate_frame: int | None = None  # frame N+1 is sent twice
    garble_frame: int | None = None  # frame N+1 carries an invalid PCB
    wtx_storm: bool = False  # answer every command with S(WTX), forever
    ignore_attribs: int = 0  # stay silent to this many ATTRIBs (a card at the edge of the field)


@dataclass
class LinkStats:
    """Frame counters; ``frames`` lists (sender, PCB+INF length) for air-time models."""

    apdus: int = 0
    apdu_bytes_in: int = 0
    apdu_bytes_out: int = 0
    frames_in: int = 0
    frames_out: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    wtx: int = 0
    activations: int = 0
    frames: list[tuple[str, int]] = field(default_factory=list)


class NfcUdpCard:
    """Serve ``card`` on ``host:port`` to nfcpy's udp reader until ``stop()``.

    Thread-safety: the server runs in its own thread; ``insert``/``remove``/``stop`` and the
    ``faults`` fields may be set from any thread.
    """

    def __init__(
        self,
        card: CardLike,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        protocol_info: bytes = PROTOCOL_INFO,
        app_data: bytes = APP_DATA,
        present: bool = True,
    ) -> None:
        if len(protocol_info) != 3 or len(app_data) != 4:
            raise ValueError("protocol info is 3 bytes, application data 4")
        self.card = card
        self.faults = LinkFaults()
        self.stats = LinkStats()
        self.pupi = b""
        self._protocol_info = protocol_info
        self._app_data = app_data
        fwi = min(protocol_info[2] >> 4, 14)
        self.fwt = 4096 / 13.56e6 * 2**fwi  # ISO/IEC 14443-4 §7.2
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind((host, port))
        self.host, self.port = self._sock.getsockname()[:2]
        self._lock = threading.Lock()
        self._present = present
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._reader: tuple[str, int] | None = None
        self._reset_link()

    # -- life cycle -------------------------------------------------------------------------

    @property
    def path(self) -> str:
        """The nfcpy device path that reaches this card."""
        return f"udp:{self.host}:{self.port}"

    @property
    def present(self) -> bool:
        return self._present

    def start(self) -> Self:
        self._thread = threading.Thread(target=self.serve, name="nfc-udp-card", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._sock.close()
        self._power_off()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def insert(self) -> None:
        """Put the card (back) into the field; it answers the next SENSB_REQ."""
        with self._lock:
            self._present = True
            self._reset_link()

    def remove(self) -> None:
        """Take the card out of the field: RFOFF to the reader, then silence."""
        with self._lock:
            was_active = self._present and self._state != "idle"
            self._present = False
            self._reset_link()
        if was_active and self._reader is not None:
            self._send_raw(_RFOFF.encode(), self._reader)
        self._power_off()

    # -- server loop ----------------------------------------------------------------------

    def serve(self) -> None:
        while not self._stopping.is_set():
            got = self._recv(0.1)
            if got is None:
                continue
            brty, frame, addr = got
            try:
                self._handle(brty, frame, addr)
            except OSError as e:  # the socket closed under us during stop()
                if not self._stopping.is_set():
                    log.warning("nfc-udp card: send failed: %s", e)
            except Exception:  # a card bug must not kill the field: stay silent, keep serving
                log.exception("nfc-udp card: error while answering a frame")

    def _recv(self, timeout: float) -> tuple[str, bytes, tuple[str, int]] | None:
        """One datagram, parsed strictly; ``None`` on timeout or a malformed datagram."""
        try:
            ready, _, _ = select.select([self._sock], [], [], timeout)
            if not ready:
                return None
            raw, addr = self._sock.recvfrom(_MAX_DATAGRAM + 1)
        except (OSError, ValueError):
            return None
        if raw.startswith(b"RFOFF"):
            return _RFOFF, b"", addr
        parts = raw.split(b" ")
        if len(raw) > _MAX_DATAGRAM or len(parts) != 2:
            log.debug("nfc-udp card: dropped a malformed datagram (%d bytes)", len(raw))
            return None
        try:
            brty = parts[0].decode("ascii")
            frame = binascii.unhexlify(parts[1])
        except (UnicodeDecodeError, binascii.Error):
            log.debug("nfc-udp card: dropped a datagram with bad hex")
            return None
        if brty not in _BRTYS or not frame:
            return None
        return brty, frame, addr

    def _handle(self, brty: str, frame: bytes, addr: tuple[str, int]) -> None:
        if brty == _RFOFF:
            # The reader switched its field off (test-stack §7.2): power off, forget everything.
            if addr == self._reader:
                with self._lock:
                    self._reset_link()
                self._power_off()
            return
        if not self._present:
            return
        self._brty = brty
        if frame[0] == 0x05 and len(frame) == 3:
            self._on_sensb_req(addr)
        elif frame[0] == 0x1D and len(frame) >= 9:
            self._on_attrib(frame, addr)
        elif frame[0] == 0x50 and len(frame) == 5 and frame[1:] == self.pupi:
            # HLTB (ISO/IEC 14443-3 §7.12): answer 00 and halt until the next power cycle.
            self._send(b"\x00", addr, count=False)
            self._state = "halt"
        elif self._state == "active" and addr == self._reader:
            self._on_block(frame, addr)

    # -- activation (ISO/IEC 14443-3) ---------------------------------------------------------

    def _on_sensb_req(self, addr: tuple[str, int]) -> None:
        # nfcpy mutes (RFOFF, new socket) before every sense, so a SENSB_REQ always starts a new
        # field: power-cycle the card and draw a fresh one-time PUPI (reference §6.3).
        with self._lock:
            self._reset_link()
            self.pupi = os.urandom(4)
            self._reader = addr
            self._state = "ready"
        self._power_off()
        self.card.power_on()
        self._powered = True
        res = b"\x50" + self.pupi + self._app_data + self._protocol_info
        self._send(res, addr, count=False)

    def _on_attrib(self, frame: bytes, addr: tuple[str, int]) -> None:
        if self._state != "ready" or frame[1:5] != self.pupi or addr != self._reader:
            return
        if self.faults.ignore_attribs > 0:
            self.faults.ignore_attribs -= 1
            return
        fsdi = frame[6] & 0x0F  # param 2, low nibble: the reader's maximum frame size
        self._fsd = _FSC_TABLE[min(fsdi, 8)]
        cid = frame[8] & 0x0F
        self._state = "active"
        self._block = 1  # ISO/IEC 14443-4 §7.5.3.2 rule C: the PICC block number starts at 1
        self.stats.activations += 1
        self._send(bytes([cid]), addr, count=False)  # MBLI 0, CID

    # -- ISO-DEP (ISO/IEC 14443-4 §7.5) ------------------------------------------------------

    def _on_block(self, frame: bytes, addr: tuple[str, int]) -> None:
        pcb = frame[0]
        self.stats.frames_in += 1
        self.stats.bytes_in += len(frame)
        self.stats.frames.append(("pcd", len(frame)))
        if pcb & 0xEE == _PCB_I:  # I-block without CID/NAD
            self._on_i_block(pcb, frame[1:], addr)
        elif pcb & 0xEE == 0xA2:  # R-block without CID (ACK A2, NAK B2)
            self._on_r_block(pcb, addr)
        elif pcb == _PCB_S_DESELECT:
            self._send(bytes([_PCB_S_DESELECT]), addr)
            self._state = "halt"
        else:  # unknown PCB, CID/NAD blocks, stray S(WTX) answers: stay silent (rule 10)
            log.debug("nfc-udp card: ignored block with PCB %02X", pcb)

    def _on_i_block(self, pcb: int, inf: bytes, addr: tuple[str, int]) -> None:
        number = pcb & 0x01
        if number == self._block:
            return  # a duplicate of a block already answered: ignore it (rule 10)
        self._block = number  # rule D: toggle, then answer with the reader's number
        self._response = b""
        if len(self._command) + len(inf) > _MAX_COMMAND:
            self._command = b""
            return
        self._command += inf
        if pcb & _PCB_CHAIN:
            self._send(bytes([_PCB_R_ACK | self._block]), addr)  # command chaining
            return
        apdu, self._command = self._command, b""
        rapdu = self._run(apdu, addr)
        if rapdu is None:
            return
        self.stats.apdus += 1
        self.stats.apdu_bytes_in += len(apdu)
        self.stats.apdu_bytes_out += len(rapdu)
        self._response = rapdu
        self._send_next_chunk(addr)

    def _on_r_block(self, pcb: int, addr: tuple[str, int]) -> None:
        number = pcb & 0x01
        if number == self._block:
            if self._last:
                self._send(self._last, addr)  # rule 11: the reader lost our last block
        elif pcb & 0x10:
            self._send(bytes([_PCB_R_ACK | self._block]), addr)  # rule 12: R(NAK) → R(ACK)
        elif self._response:
            self._block = number  # rule 13: R(ACK) continues response chaining
            self._send_next_chunk(addr)

    def _send_next_chunk(self, addr: tuple[str, int]) -> None:
        size = self._fsd - 3  # PCB + CRC_B (ISO/IEC 14443-4 §7.1.1)
        chunk, self._response = self._response[:size], self._response[size:]
        pcb = _PCB_I | self._block | (_PCB_CHAIN if self._response else 0)
        self._send(bytes([pcb]) + chunk, addr)

    def _run(self, apdu: bytes, addr: tuple[str, int]) -> bytes | None:
        """``card.process`` in a worker; S(WTX) while it runs longer than half an FWT."""
        result: list[bytes] = []
        failure: list[BaseException] = []
        done = threading.Event()

        def work() -> None:
            try:
                result.append(self.card.process(apdu))
            except BaseException as e:  # noqa: BLE001 - handed to the server thread
                failure.append(e)
            finally:
                done.set()

        threading.Thread(target=work, name="nfc-udp-process", daemon=True).start()
        wait = self.fwt / 2
        while not done.wait(wait) or self.faults.wtx_storm:
            wtxm = 1 if self.faults.wtx_storm else _WTXM
            if not self._send(bytes([_PCB_S_WTX, wtxm]), addr):
                done.wait(10)
                return None
            self.stats.wtx += 1
            answer = self._recv(wtxm * self.fwt + 1.0)
            if answer is None or answer[0] == _RFOFF or answer[1] != bytes([_PCB_S_WTX, wtxm]):
                # Reader gone or off protocol: drop the command; RFOFF handled after the card.
                done.wait(10)
                if answer is not None:
                    self._handle(*answer)
                return None
            self.stats.frames_in += 1
            self.stats.bytes_in += 2
            self.stats.frames.append(("pcd", 2))
            wait = wtxm * self.fwt / 2
        if failure:
            if isinstance(failure[0], CardPulled):
                log.info("nfc-udp card: the card was pulled by a fault")
                self.remove()
                return None
            raise failure[0]
        return result[0]

    def _send(self, frame: bytes, addr: tuple[str, int], *, count: bool = True) -> bool:
        """Send one frame, applying link faults; False when the card has gone silent."""
        if not self._present or self._stopping.is_set():
            return False
        n = self.stats.frames_out
        faults = self.faults
        if count and faults.silent_after_frames is not None and n >= faults.silent_after_frames:
            return False
        if count and faults.remove_after_frames is not None and n >= faults.remove_after_frames:
            faults.remove_after_frames = None
            self.remove()
            return False
        wire = frame
        if count:
            self._last = frame  # what rule 11 retransmits: ISO-DEP blocks only
            self.stats.frames_out += 1
            self.stats.bytes_out += len(frame)
            self.stats.frames.append(("picc", len(frame)))
            if faults.garble_frame == n:
                faults.garble_frame = None
                wire = bytes([0x0F]) + frame[1:]
            if faults.corrupt_frame == n:
                # A CRC error as the reader's driver reports it: a datagram without data.
                faults.corrupt_frame = None
                self._send_raw(self._brty.encode(), addr)
                return True
        datagram = f"{self._brty} {wire.hex()}".encode()
        self._send_raw(datagram, addr)
        if count and faults.duplicate_frame == n:
            faults.duplicate_frame = None
            self._send_raw(datagram, addr)
        return True

    def _send_raw(self, datagram: bytes, addr: tuple[str, int]) -> None:
        try:
            self._sock.sendto(datagram, addr)
        except OSError as e:
            log.debug("nfc-udp card: sendto failed: %s", e)

    _command: bytes
    _response: bytes

    def _reset_link(self) -> None:
        self._state = "idle"
        self._brty = "106B"
        self._block = 1
        self._fsd = 256
        self._command = b""
        self._response = b""
        self._last = b""
        if not hasattr(self, "_powered"):
            self._powered = False

    def _power_off(self) -> None:
        if self._powered:
            self._powered = False
            self.card.power_off()
