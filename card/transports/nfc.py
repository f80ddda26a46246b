"""nfcpy adapter: contactless Type B readers (Sony RC-S380 class) and nfcpy's ``udp`` driver.

Locators: ``nfc:usb`` (first USB reader nfcpy drives), ``nfc:usb:VID:PID`` and
``nfc:udp:HOST:PORT`` (the emulator, test-stack.md §7.2). A connection activates one ISO/IEC
14443-B card as nfcpy's ``Type4BTag`` and carries raw APDUs with ``tag.transceive``, because
``send_apdu`` refuses extended lengths (test-stack §7.3). nfcpy honours S(WTX) but loops on it
without a bound, and its per-frame retries multiply any timeout, so every APDU also runs under an
overall deadline enforced in a thin wrapper around nfcpy's frontend. nfcpy is imported lazily.
"""

from __future__ import annotations

import errno
import re
import time

from card.errors import CardRemovedError, NoCardError, NoReaderError, TransportError
from card.transports import CardConnection, Interface, Reader, Transport

TYPE_CHECKING = False  # as in card.transports: no typing import at run time
if TYPE_CHECKING:
    import logging
    from typing import Any, ClassVar


def _log() -> logging.Logger:
    """This module's logger; logging is imported on first use, so `myna readers` goes without."""
    import logging

    return logging.getLogger(__name__)

# Reference §7.4: on-card RSA; Android stacks allow 5 s for the signing APDU. Real cards ask
# for more time with S(WTX), which nfcpy honours; these bound one frame and one whole APDU.
SLOW_INS = frozenset({0x2A, 0x88, 0x86, 0x46, 0x47})  # sign, internal auth, key generation
SLOW_FRAME_TIMEOUT_S = 3.0
DEADLINE_S = 5.0
SLOW_DEADLINE_S = 12.0
CONNECT_ATTEMPTS = 3
_MAX_RESPONSE = 65_536 + 2  # extended Le maximum plus SW
_PATH_USB = re.compile(r"usb(?::[0-9a-fA-F]{4}:[0-9a-fA-F]{4})?")
_PATH_UDP = re.compile(r"udp:([A-Za-z0-9.\-]{1,253}|\[[0-9a-fA-F:]{2,39}\]):(\d{1,5})")


class _DeadlineExceeded(Exception):
    """Raised inside nfcpy's ISO-DEP loop; nfcpy catches only its own error types."""


def nfcpy_path(locator: str) -> str:
    """Translate ``nfc:…`` to an nfcpy device path, strictly.

    :raises NoReaderError: not an nfc locator this adapter understands.
    """
    if not locator.startswith("nfc:"):
        raise NoReaderError(f"not an nfc locator: {locator!r}")
    path = locator[4:]
    if _PATH_USB.fullmatch(path):
        return path.lower()
    m = _PATH_UDP.fullmatch(path)
    if m and 0 < int(m.group(2)) < 65536:
        return path
    raise NoReaderError(f"bad nfc locator {locator!r}: use nfc:usb, nfc:usb:VID:PID or "
                        "nfc:udp:HOST:PORT")


def _import_nfc() -> Any:
    try:
        import nfc
        import nfc.clf
        import nfc.tag.tt4
    except ImportError as e:
        raise NoReaderError("nfcpy is not installed (pip install 'myna-kiosk[nfc]')") from e
    import logging

    # nfcpy logs every frame and APDU in hex at DEBUG (nfc.tag.tt4, nfc.clf), VERIFY data
    # included: keep its loggers at INFO so a debug log can never carry a PIN (architecture.md).
    nfc_logger = logging.getLogger("nfc")
    if nfc_logger.level < logging.INFO:  # NOTSET included: it would inherit the root's DEBUG
        nfc_logger.setLevel(logging.INFO)
    return nfc


class _BoundedFrontend:
    """Stands in for the frontend inside nfcpy's ISO-DEP initiator: clamps every frame's timeout
    to the APDU's deadline and caps the bytes a chaining card may pour in."""

    def __init__(self, clf: Any) -> None:
        self._clf = clf
        self.deadline = float("inf")
        self.received = 0
        self.frames = 0

    def exchange(self, data: bytes, timeout: float) -> Any:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise _DeadlineExceeded
        rsp = self._clf.exchange(data, min(timeout, remaining))
        self.frames += 1
        self.received += len(rsp) if rsp is not None else 0
        if self.received > _MAX_RESPONSE + 2 * self.frames:
            raise _DeadlineExceeded("response longer than any R-APDU")
        return rsp

    def __getattr__(self, name: str) -> Any:
        return getattr(self._clf, name)


class NfcConnection(CardConnection):
    """An activated Type 4B tag. Not thread-safe (one flow per connection)."""

    transport: ClassVar[Transport] = Transport.NFC

    def __init__(self, reader: NfcReader, tag: Any) -> None:
        self._reader = reader
        self._tag = tag
        self._bounded = _BoundedFrontend(tag._dep.clf)
        # nfcpy keeps its frontend in the ISO-DEP initiator; wrapping it is the only way to bound
        # the WTX loop in nfc/tag/tt4.py (IsoDepInitiator.exchange).
        tag._dep.clf = self._bounded
        self._broken: TransportError | None = None
        self._closed = False
        sensb = bytes(tag.target.sensb_res or b"")
        # PC/SC Part 3 style ATR from ATQB (reference §6.3), PUPI left out: it is random.
        self._atr = _synth_atr(sensb)

    @property
    def interface(self) -> Interface:
        return Interface.CONTACTLESS

    @property
    def atr(self) -> bytes:
        return self._atr

    @property
    def extended_apdus(self) -> bool:
        return True  # transceive() chains ISO-DEP frames for extended APDUs (test-stack §7.3)

    @property
    def broken(self) -> bool:
        return self._broken is not None or self._closed

    def transmit(self, apdu: bytes) -> tuple[bytes, int]:
        if self._closed:
            raise TransportError("connection closed")
        if self._broken is not None:  # ISO-DEP block numbers are lost: only a new activation helps
            raise type(self._broken)(f"connection unusable: {self._broken}")
        if len(apdu) < 4 or len(apdu) > 65_535 + 9:
            raise ValueError("APDU length out of range")
        nfc = _import_nfc()
        slow = apdu[1] in SLOW_INS
        deadline = self._reader.slow_deadline_s if slow else self._reader.deadline_s
        timeout = SLOW_FRAME_TIMEOUT_S if slow else None
        self._bounded.deadline = time.monotonic() + deadline
        self._bounded.received = self._bounded.frames = 0
        with self._reader._busy:
            try:
                rsp = self._tag.transceive(bytes(apdu), timeout=timeout)
            except nfc.clf.BrokenLinkError as e:
                raise self._fail(CardRemovedError("card left the field")) from e
            except nfc.tag.tt4.Type4TagCommandError as e:
                raise self._fail(self._lost(f"ISO-DEP error: {e}")) from e
            except nfc.clf.TimeoutError as e:  # raised from nfcpy's WTX loop
                raise self._fail(self._lost("no answer after S(WTX)")) from e
            except _DeadlineExceeded as e:
                raise self._fail(TransportError(f"no complete answer within {deadline:.1f} s"
                                                f" ({str(e) or 'deadline'})")) from e
            except (nfc.clf.CommunicationError, ValueError) as e:  # ValueError: bad hex (udp)
                raise self._fail(TransportError(f"link error: {type(e).__name__}")) from e
            except OSError as e:
                err = NoReaderError if e.errno == errno.ENODEV else TransportError
                raise self._fail(err(f"reader failed: {e.strerror or e}")) from e
            finally:
                self._bounded.deadline = float("inf")
        if rsp is None or len(rsp) < 2 or len(rsp) > _MAX_RESPONSE:
            raise self._fail(TransportError("malformed R-APDU from the card"))
        rsp = bytes(rsp)
        return rsp[:-2], int.from_bytes(rsp[-2:], "big")

    def _lost(self, what: str) -> TransportError:
        """A timeout on the air: a card that left the field looks like this on real readers."""
        self._bounded.deadline = time.monotonic() + 1.0
        try:
            present = bool(self._tag.is_present)
        except Exception:  # noqa: BLE001 - the presence probe is best effort
            present = False
        if not present:
            return CardRemovedError(f"card left the field ({what})")
        return TransportError(what)

    def _fail(self, error: TransportError) -> TransportError:
        _log().info("nfc: %s", error)
        self._broken = error
        return error

    def is_present(self) -> bool:
        """R(NAK) presence check (nfcpy ``tag.is_present``)."""
        if self.broken:
            return False
        self._bounded.deadline = time.monotonic() + 1.0
        try:
            return bool(self._tag.is_present)
        except Exception:  # noqa: BLE001 - treat any failure as absence
            return False
        finally:
            self._bounded.deadline = float("inf")

    def close(self) -> None:
        """Switch the field off: the card powers down and forgets PIN state (reference §6.4)."""
        if self._closed:
            return
        self._closed = True
        self._reader._release(self)


def _synth_atr(sensb_res: bytes) -> bytes:
    if len(sensb_res) < 12:
        return b""
    body = bytes([0x3B, 0x88, 0x80, 0x01]) + sensb_res[5:9] + sensb_res[9:12] + b"\x00"
    tck = 0
    for b in body[1:]:
        tck ^= b
    return body + bytes([tck])


class NfcReader(Reader):
    """One nfcpy reader. The frontend opens on first use; ``close()`` releases it.

    Thread-safety: ``has_card`` may be polled from a watcher thread while a flow runs; it then
    reports the busy connection as present instead of touching the link.
    """

    transport: ClassVar[Transport] = Transport.NFC

    def __init__(
        self,
        locator: str,
        *,
        deadline_s: float = DEADLINE_S,
        slow_deadline_s: float = SLOW_DEADLINE_S,
    ) -> None:
        import threading  # here, not at the top: listing readers creates none

        self._path = nfcpy_path(locator)
        self._locator = locator
        self.deadline_s = deadline_s
        self.slow_deadline_s = slow_deadline_s
        self._clf: Any = None
        self._conn: NfcConnection | None = None
        self._busy = threading.Lock()
        self._lock = threading.RLock()

    @property
    def name(self) -> str:
        # Stable for the reader's lifetime: the agent's watcher keys readers by name.
        return f"nfcpy {self._path}"

    @property
    def device(self) -> str | None:
        """nfcpy's description of the opened device (e.g. ``Sony RC-S380/P on usb:001:005``)."""
        clf = self._clf
        return str(clf.device) if clf is not None and clf.device is not None else None

    @property
    def locator(self) -> str:
        return self._locator

    def _frontend(self) -> Any:
        if self._clf is None:
            nfc = _import_nfc()
            try:
                self._clf = nfc.ContactlessFrontend(self._path)
            except OSError as e:
                hint = ""
                if e.errno == errno.EBUSY:
                    hint = " (busy: blacklist the port100 kernel module, see udev/README.md)"
                elif e.errno == errno.EACCES:
                    hint = " (permission denied: install udev/60-myna-nfc.rules)"
                raise NoReaderError(f"no nfcpy reader at {self._path}: "
                                    f"{e.strerror or e}{hint or ' (no reader attached)'}") from e
            _log().info("nfc: opened %s", self._clf.device)
        return self._clf

    def has_card(self) -> bool:
        with self._lock:
            conn = self._conn
            if conn is not None and not conn.broken:
                if not self._busy.acquire(blocking=False):
                    return True  # a flow is exchanging frames with it right now
                try:
                    return conn.is_present()
                finally:
                    self._busy.release()
            clf = self._frontend()
            nfc = _import_nfc()
            try:
                # sense() switches the field off first: a bare poll power-cycles the card.
                return clf.sense(nfc.clf.RemoteTarget("106B"), iterations=1) is not None
            except nfc.clf.CommunicationError:
                return False
            except OSError as e:
                raise TransportError(f"reader failed: {e.strerror or e}") from e

    def connect(self, exclusive: bool = False) -> NfcConnection:
        """Activate the card in the field (a new activation: fresh PUPI, card state reset)."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
            clf = self._frontend()
            nfc = _import_nfc()
            tries = 0
            seen = False

            def on_discover(target: Any) -> bool:
                nonlocal seen
                seen = True
                return True

            def terminate() -> bool:
                # connect() loops until terminate(): one sense, plus up to two more when a card
                # answered SENSB_REQ but its activation failed (ATTRIB has only 30 ms, §7.1).
                nonlocal tries, seen
                if tries == 0 or (seen and tries < CONNECT_ATTEMPTS):
                    tries += 1
                    seen = False
                    return False
                return True

            try:
                tag = clf.connect(
                    rdwr={"targets": ["106B"], "on-connect": lambda tag: False,
                          "on-discover": on_discover, "iterations": 1, "interval": 0.05,
                          "beep-on-connect": False},
                    terminate=terminate,
                )
            except nfc.clf.CommunicationError as e:
                raise NoCardError(f"activation failed: {type(e).__name__}") from e
            if tag is False:
                raise TransportError(f"reader {self._path} failed during activation")
            if tag is None:
                raise NoCardError(f"no Type B card on {self._path}")
            if not isinstance(tag, nfc.tag.tt4.Type4BTag):
                raise NoCardError(f"not an ISO-DEP Type B card: {type(tag).__name__}")
            self._conn = NfcConnection(self, tag)
            _log().info("nfc: card activated on %s", self._path)
            return self._conn

    def _release(self, conn: NfcConnection) -> None:
        with self._lock:
            if self._conn is conn:
                self._conn = None
            if self._clf is not None and self._clf.device is not None:
                try:
                    self._clf.device.mute()  # field off (udp: RFOFF to the card)
                except OSError as e:
                    _log().debug("nfc: mute failed: %s", e)

    def close(self) -> None:
        """Close the connection (if any) and the frontend."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
            if self._clf is not None:
                self._clf.close()
                self._clf = None


def usb_devices() -> list[tuple[int, int, int, int]]:
    """(vid, pid, bus, address) of attached USB devices that nfcpy has a driver for.

    Enumerates through libusb without claiming anything, so a reader in use is still listed.
    """
    _import_nfc()
    from nfc.clf import device, transport

    try:
        found = transport.USB.find("usb") or []
    except Exception as e:  # noqa: BLE001 - libusb errors vary by platform; no bus means none
        _log().debug("nfc: USB enumeration failed: %s", e)
        return []
    known = device.usb_device_map
    return [(vid, pid, bus, dev) for vid, pid, bus, dev in found if (vid, pid) in known]


# Vendors of the USB readers nfcpy drives (its usb_device_map): Sony, NXP, SCM, ACS.
NFC_USB_VENDORS = frozenset({0x054C, 0x04CC, 0x04E6, 0x072F})
SYSFS_USB = "/sys/bus/usb/devices"
USBFS = "/dev/bus/usb"


def _no_candidate_usb_device() -> bool:
    """True when no attached USB device could be an nfcpy reader, known without importing
    nfcpy (half a second): no USB bus at all, or sysfs lists no device of those vendors."""
    import glob
    import os

    if not os.path.isdir(SYSFS_USB):
        return not os.path.isdir(USBFS)  # libusb opens devices through usbfs
    for path in glob.glob(os.path.join(SYSFS_USB, "*", "idVendor")):
        try:
            with open(path, encoding="ascii") as f:
                if int(f.read().strip(), 16) in NFC_USB_VENDORS:
                    return False
        except (OSError, ValueError):
            return False  # unreadable: let nfcpy look
    return True


def list_nfc_readers() -> list[NfcReader]:
    """USB readers nfcpy could drive right now (none on machines without a USB bus)."""
    if _no_candidate_usb_device():
        return []
    try:
        devices = usb_devices()
    except NoReaderError:
        return []
    return [NfcReader(f"nfc:usb:{vid:04x}:{pid:04x}") for vid, pid, _bus, _dev in devices]

