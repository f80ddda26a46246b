"""``VirtualMynaCard``: bytes in, bytes out, answering like the My Number card (reference §13).

``process`` parses strictly (``apdu.Command``), checks CLA, dispatches on INS to one handler,
and turns ``SwError`` into a status word in one place. Faults (design §4) wrap that core:
removal after N APDUs, latency, air-time model, truncated/garbage answers, ``6F00`` after
power-on. Thread-safe: one lock serialises ``process`` and power changes (the vpcd bridge
thread and a test thread may share a card).
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, utils

from card.emulator.apdu import Command, SwError
from card.emulator.cardimage import CardImage, build_card_image
from card.emulator.faults import CardPulled, Faults, LoggedApdu, air_time_s
from card.emulator.filesystem import Application, DataEF, KeyEF, OpaqueEF, PinEF, RecordEF
from card.emulator.personas import PERSONAS, Persona
from card.emulator.pins import PinState
from card.emulator.rsakeys import pkcs1_sign_raw
from card.ids import AID, INS
from card.sw import SW

logger = logging.getLogger(__name__)

# Contactless-style ATR synthesized by PC/SC readers from ATQB (reference §6.3, §13 item 10).
ATR = bytes.fromhex("3B888001000005E0B381A1007F")
_MASKED_INS = (INS.VERIFY, INS.CHANGE_REFERENCE_DATA, INS.CHANGE_KEY)
_DIGEST_INFO_SHA256 = bytes.fromhex("3031300d060960864801650304020105000420")
_CLA_ISO, _CLA_PROPRIETARY = 0x00, 0x80
_Handler = Callable[["VirtualMynaCard", Command], bytes]


class VirtualMynaCard:
    """One virtual My Number card of one persona. See docs/architecture.md for the API."""

    atr = ATR

    def __init__(
        self, persona: Persona, faults: Faults | None = None, *, cert_filler: bool = False
    ) -> None:
        self.persona = persona
        self.image: CardImage = build_card_image(persona.name, cert_filler=cert_filler)
        self.faults = faults or Faults()
        self.apdu_log: list[LoggedApdu] = []
        self.air_time_s = 0.0
        self._lock = threading.RLock()
        self._pins: dict[tuple[bytes, int], PinState] = {
            (app.aid, pin.fid): PinState.fresh(pin)
            for app in self.image.applications.values()
            for pin in app.pins()
        }
        self._powered = False
        self._pulled = False
        self._apdus_since_power_on = 0
        self._first_after_power_on = False
        self._clear_state()
        self._ap_selected_since_reset = False

    @classmethod
    def for_persona(
        cls, name: str, faults: Faults | None = None, *, cert_filler: bool = False
    ) -> VirtualMynaCard:
        return cls(PERSONAS[name], faults, cert_filler=cert_filler)

    # -- power -----------------------------------------------------------------------------

    def power_on(self) -> None:
        """Cold start: clear DF and security state; a pulled card counts as re-inserted."""
        with self._lock:
            self._powered = True
            self._pulled = False
            self._apdus_since_power_on = 0
            self._first_after_power_on = True
            self._clear_state()

    def power_off(self) -> None:
        with self._lock:
            self._powered = False
            self._clear_state()

    def reset(self) -> None:
        """Warm reset: clear DF and security state (test-stack §4.1)."""
        with self._lock:
            self._clear_state()

    @property
    def pulled(self) -> bool:
        return self._pulled

    def _clear_state(self) -> None:
        self._current_ap: Application | None = None
        self._isd_selected = False
        self._current_ef: int | None = None
        self._verified: set[int] = set()
        self._ap_selected_since_reset = False

    def tries_left(self, ap: AID | bytes, ef: int) -> int:
        """Return the counter of IEF ``ef`` in AP ``ap`` without an APDU (tests)."""
        aid = ap.value if isinstance(ap, AID) else bytes(ap)
        return self._pins[(aid, int(ef))].tries

    def set_tries_left(self, ap: AID | bytes, ef: int, tries: int) -> None:
        """Set the counter of IEF ``ef`` in AP ``ap`` (tests: a card someone already tried)."""
        aid = ap.value if isinstance(ap, AID) else bytes(ap)
        with self._lock:
            state = self._pins[(aid, int(ef))]
            state.tries = max(0, min(tries, state.spec.max_tries))

    # -- the APDU path ---------------------------------------------------------------------

    def process(self, capdu: bytes) -> bytes:
        """Answer one C-APDU with a full R-APDU (data + SW).

        :raises CardPulled: when a removal fault fired (until ``power_on``).
        """
        with self._lock:
            if self._pulled:
                raise CardPulled("card removed")
            if not self._powered:
                self.power_on()  # a transport that skips power-on still gets a cold card
            f = self.faults
            self._apdus_since_power_on += 1
            n = self._apdus_since_power_on
            if f.remove_after_apdus is not None and n > f.remove_after_apdus:
                self._pulled = True
                self._powered = False
                self._clear_state()
                logger.info("fault: card pulled after %d APDUs", f.remove_after_apdus)
                raise CardPulled("card removed (fault)")
            fault: str | None = None
            if self._first_after_power_on and f.internal_error_after_power_on:
                response, fault = SW.INTERNAL_ERROR.to_bytes(2, "big"), "internal_error"
            else:
                response = self._answer(bytes(capdu))
            self._first_after_power_on = False
            if f.garbage_after_apdus is not None and n > f.garbage_after_apdus:
                response, fault = self._garbage(capdu, n), "garbage"
            elif f.truncate_after_apdus is not None and n > f.truncate_after_apdus:
                response, fault = response[: max(1, len(response) // 2)], "truncated"
            self._log(bytes(capdu), response, fault)
            delay = f.latency_s
            if f.bitrate is not None:
                air = air_time_s(len(capdu), len(response), f.bitrate)
                self.air_time_s += air
                if f.sleep_for_air_time:
                    delay += air
        if delay > 0:
            time.sleep(delay)
        return response

    @staticmethod
    def _garbage(capdu: bytes, n: int) -> bytes:
        seed = hashlib.sha256(bytes(capdu) + n.to_bytes(4, "big")).digest()
        return seed[: 1 + seed[0] % 31]

    def _log(self, capdu: bytes, response: bytes, fault: str | None) -> None:
        sw = int.from_bytes(response[-2:], "big") if len(response) >= 2 else -1
        masked = None
        if len(capdu) > 5 and capdu[1] in _MASKED_INS:
            masked, capdu = len(capdu) - 5, capdu[:4]  # never keep PIN bytes (design §2)
        self.apdu_log.append(LoggedApdu(capdu, sw, len(response), masked, fault))

    def _answer(self, capdu: bytes) -> bytes:
        try:
            cmd = Command.parse(capdu)
            handler = self._route(cmd)
            return handler(self, cmd) + b"\x90\x00"
        except SwError as e:
            return e.sw.to_bytes(2, "big")

    def _route(self, cmd: Command) -> _Handler:
        cla = cmd.cla
        if cla & 0x70 or cla & 0x80 and cla & 0x60:
            raise SwError(SW.CLA_NOT_SUPPORTED)
        if cla & 0x03:  # logical channel ≠ 0 (reference §6.6)
            raise SwError(SW.LOGICAL_CHANNEL_NOT_SUPPORTED)
        if cla & 0x0C:  # secure messaging indicated (reference §6.6)
            if cmd.ins == INS.SELECT and not self._in_sm_ap():
                raise SwError(SW.SECURE_MESSAGING_NOT_SUPPORTED)
            raise SwError(SW.SM_SESSION_ERROR)  # no SM session is ever established here
        entry = _HANDLERS.get(cmd.ins)
        if entry is None:
            raise SwError(SW.INS_NOT_SUPPORTED)
        cla_class, handler = entry
        if cla & 0xF0 != cla_class:
            raise SwError(SW.CLA_NOT_SUPPORTED)
        return handler

    def _in_sm_ap(self) -> bool:
        return self._current_ap is not None and self._current_ap.allows_sm

    # -- helpers ---------------------------------------------------------------------------

    def _ap(self) -> Application:
        if self._current_ap is None:
            raise SwError(SW.FILE_NOT_FOUND)
        return self._current_ap

    def _file_by_p2(self, p2: int) -> PinEF | KeyEF | DataEF | RecordEF | OpaqueEF:
        """Resolve P2 ``80`` (current EF) or ``80|SFI`` (reference §1)."""
        app = self._ap()
        if p2 == 0x80:
            if self._current_ef is None:
                raise SwError(SW.NO_CURRENT_EF)
            return app.files[self._current_ef]
        if p2 & 0xE0 != 0x80:
            raise SwError(SW.INCORRECT_P1P2)
        ef = app.files.get(p2 & 0x1F)
        if ef is None:
            raise SwError(SW.REFERENCED_DATA_NOT_FOUND)
        return ef

    def _pin_state(self, pin: PinEF) -> PinState:
        return self._pins[(self._ap().aid, pin.fid)]

    def _opened(self, opened_by: frozenset[int] | None) -> bool:
        return opened_by is None or bool(opened_by & self._verified)

    # -- handlers (one per INS) -----------------------------------------------------------

    def _select(self, cmd: Command) -> bytes:
        if cmd.p1 == 0x04:
            if cmd.p2 not in (0x0C, 0x00) or not cmd.data:
                raise SwError(SW.INCORRECT_P1P2 if cmd.data else SW.WRONG_LENGTH)
            app = self.image.applications.get(cmd.data)
            if app is None and cmd.data != AID.GP_ISD.value:
                raise SwError(SW.FILE_NOT_FOUND)
            self._clear_state()  # re-selecting an AP is OpenSC's logout (§1)
            self._current_ap = app
            self._isd_selected = app is None
            self._ap_selected_since_reset = app is not None
            return b""
        if cmd.p1 == 0x02:
            if cmd.p2 not in (0x0C, 0x00) or len(cmd.data) != 2:
                raise SwError(SW.WRONG_LENGTH if cmd.p2 in (0x0C, 0x00) else SW.INCORRECT_P1P2)
            fid = int.from_bytes(cmd.data, "big")
            app = self._ap()
            if fid not in app.files:
                raise SwError(SW.FILE_NOT_FOUND)
            self._current_ef = fid
            return b""
        if cmd.p1 == 0x00:
            # SELECT MF: 6A86 after reset, 9000 without state change once an AP is selected (§1).
            if cmd.data:
                raise SwError(SW.FILE_NOT_FOUND if cmd.data == b"\x3f\x00" else SW.INCORRECT_P1P2)
            if not self._ap_selected_since_reset:
                raise SwError(SW.INCORRECT_P1P2)
            return b""
        raise SwError(SW.INCORRECT_P1P2)

    def _read_binary(self, cmd: Command) -> bytes:
        if cmd.case != 2:
            raise SwError(SW.WRONG_LENGTH)
        app = self._ap()
        if cmd.p1 & 0x80:  # short EF identifier in P1, 8-bit offset in P2 (§1)
            if cmd.p1 & 0x60:
                raise SwError(SW.INCORRECT_P1P2)
            fid = cmd.p1 & 0x1F
            if fid not in app.files:
                raise SwError(SW.FILE_NOT_FOUND)
            self._current_ef, offset = fid, cmd.p2
        else:
            if self._current_ef is None:
                raise SwError(SW.NO_CURRENT_EF)
            offset = cmd.p1 << 8 | cmd.p2
        ef = app.files[self._current_ef]
        if not isinstance(ef, DataEF):
            raise SwError(SW.INCOMPATIBLE_FILE_STRUCTURE)
        if not self._opened(ef.opened_by):
            raise SwError(SW.SECURITY_STATUS_NOT_SATISFIED)
        if offset >= len(ef.data):
            raise SwError(SW.WRONG_OFFSET)
        le = min(cmd.le or 256, 65533)  # 65,535-byte frames at most (test-stack §4.1)
        return ef.data[offset : offset + le]

    def _read_record(self, cmd: Command) -> bytes:
        if cmd.case != 2:
            raise SwError(SW.WRONG_LENGTH)
        app = self._ap()
        sfi, mode = cmd.p2 >> 3, cmd.p2 & 0x07
        if sfi:
            if sfi not in app.files:
                raise SwError(SW.FILE_NOT_FOUND)
            self._current_ef = sfi
        if self._current_ef is None:
            raise SwError(SW.NO_CURRENT_EF)
        ef = app.files[self._current_ef]
        if not isinstance(ef, RecordEF):
            raise SwError(SW.INCOMPATIBLE_FILE_STRUCTURE)
        if mode != 0x04:
            raise SwError(SW.FUNCTION_NOT_SUPPORTED)  # "from record P1 to last" (§3): 6A81
        if not self._opened(ef.opened_by):
            raise SwError(SW.SECURITY_STATUS_NOT_SATISFIED)
        if not 1 <= cmd.p1 <= len(ef.records):
            raise SwError(SW.RECORD_NOT_FOUND)
        return ef.records[cmd.p1 - 1][: cmd.le]

    def _pin_for(self, cmd: Command) -> PinEF:
        if cmd.p1 not in (0x00, 0x01):
            raise SwError(SW.INCORRECT_P1P2)
        ef = self._file_by_p2(cmd.p2)
        if not isinstance(ef, PinEF):
            raise SwError(SW.INCOMPATIBLE_FILE_STRUCTURE)
        return ef

    def _verify(self, cmd: Command) -> bytes:
        if cmd.p1 != 0x00:
            raise SwError(SW.INCORRECT_P1P2)
        if cmd.le is not None:
            raise SwError(SW.WRONG_LENGTH)
        pin = self._pin_for(cmd)
        state = self._pin_state(pin)
        if not cmd.data:  # retry query: never consumes a try (§4)
            raise SwError(state.query_sw())
        try:
            state.verify(cmd.data)
        except SwError:
            self._verified.discard(pin.fid)
            raise
        self._verified.add(pin.fid)
        return b""

    def _change(self, cmd: Command, ins: int) -> bytes:
        if cmd.le is not None or not cmd.data:
            raise SwError(SW.WRONG_LENGTH)
        expected_p1 = 0x01 if ins == INS.CHANGE_REFERENCE_DATA else 0x00
        if cmd.p1 != expected_p1:
            raise SwError(SW.INCORRECT_P1P2)
        pin = self._pin_for(cmd)
        if pin.change_ins != ins:
            raise SwError(SW.CONDITIONS_NOT_SATISFIED)
        if pin.fid not in self._verified:
            raise SwError(SW.SECURITY_STATUS_NOT_SATISFIED)
        self._pin_state(pin).change(cmd.data)
        return b""

    def _change_reference_data(self, cmd: Command) -> bytes:
        return self._change(cmd, INS.CHANGE_REFERENCE_DATA)

    def _change_key(self, cmd: Command) -> bytes:
        return self._change(cmd, INS.CHANGE_KEY)

    def _compute_signature(self, cmd: Command) -> bytes:
        if not cmd.data:
            raise SwError(SW.WRONG_LENGTH)
        app = self._ap()
        if app.default_key is not None:  # 券面 APs: own key, no PIN (§8.5, §9.4)
            if cmd.p1 != 0x00 or cmd.p2 != 0x00:
                raise SwError(SW.INCORRECT_P1P2)
            key_ef = app.files[app.default_key]
        else:
            if cmd.p2 == 0x00:
                raise SwError(SW.INCORRECT_P1P2)
            key_ef = self._file_by_p2(cmd.p2)
            if not isinstance(key_ef, KeyEF) or key_ef.internal_auth:
                raise SwError(SW.CONDITIONS_NOT_SATISFIED)
            if cmd.p1 > 0x05:
                raise SwError(SW.INCORRECT_P1P2)
            if key_ef.pin is None or key_ef.pin not in self._verified:
                raise SwError(SW.SECURITY_STATUS_NOT_SATISFIED)
        assert isinstance(key_ef, KeyEF)
        return _sign(key_ef, cmd.p1, cmd.data)

    def _get_challenge(self, cmd: Command) -> bytes:
        if cmd.extended:
            raise SwError(SW.CONDITIONS_NOT_SATISFIED)  # §6.5
        if cmd.case != 2:
            raise SwError(SW.WRONG_LENGTH)
        if cmd.p1 or cmd.p2:
            raise SwError(SW.INCORRECT_P1P2)
        assert cmd.le is not None
        return os.urandom(cmd.le)

    def _internal_authenticate(self, cmd: Command) -> bytes:
        if not cmd.data or len(cmd.data) > 255:
            raise SwError(SW.WRONG_LENGTH)
        if cmd.p1 != 0x00:
            raise SwError(SW.INCORRECT_P1P2)
        ef = self._file_by_p2(cmd.p2)
        if not isinstance(ef, KeyEF) or not ef.internal_auth:
            raise SwError(SW.CONDITIONS_NOT_SATISFIED)
        return ef.key.sign(cmd.data, padding.PKCS1v15(), hashes.SHA256())

    def _get_data(self, cmd: Command) -> bytes:
        if cmd.case != 2:
            raise SwError(SW.WRONG_LENGTH)
        if self._current_ap is not None:  # only in the power-on state or under the ISD (§2.5)
            raise SwError(SW.REFERENCED_DATA_NOT_FOUND)
        obj = self.image.gp_data.get(cmd.p1 << 8 | cmd.p2)
        if obj is None:
            raise SwError(SW.REFERENCED_DATA_NOT_FOUND)
        assert cmd.le is not None
        if len(obj) > cmd.le:
            raise SwError(SW.WRONG_LENGTH)
        return obj

    def _get_response(self, cmd: Command) -> bytes:
        raise SwError(SW.CONDITIONS_NOT_SATISFIED)  # this card never answers 61xx

    def _set_session_key(self, cmd: Command) -> bytes:
        app = self._current_ap
        if app is None or app.session_key_sw is None:
            raise SwError(SW.CONDITIONS_NOT_SATISFIED)
        if app.allows_sm and 0x0011 in self._verified:
            raise SwError(SW.INCORRECT_DATA)  # secure messaging itself is not emulated
        raise SwError(app.session_key_sw)

    def _terminal_cvc(self, cmd: Command) -> bytes:
        raise SwError(SW.SECURITY_STATUS_NOT_SATISFIED)  # needs J-LIS terminal certificates

    def _last_command(self, cmd: Command) -> bytes:
        raise SwError(SW.WRONG_LENGTH)  # physical card answers 6700 (§3)


def _sign(key_ef: KeyEF, scheme: int, data: bytes) -> bytes:
    """COMPUTE DIGITAL SIGNATURE schemes P1 00–05 (reference §7.4)."""
    key = key_ef.key
    k = (key.key_size + 7) // 8
    if scheme == 0x00:
        if len(data) > k - 11:
            raise SwError(SW.WRONG_LENGTH)
        return pkcs1_sign_raw(key, data)
    if scheme in (0x02, 0x04) and len(data) != 32:
        raise SwError(SW.WRONG_LENGTH)
    if scheme in (0x01, 0x03, 0x05) and len(data) > 255:
        raise SwError(SW.WRONG_LENGTH)
    digest = data if scheme in (0x02, 0x04) else hashlib.sha256(data).digest()
    if scheme == 0x01:
        return pkcs1_sign_raw(key, digest)
    if scheme in (0x02, 0x03):
        return pkcs1_sign_raw(key, _DIGEST_INFO_SHA256 + digest)
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
    return key.sign(digest, pss, utils.Prehashed(hashes.SHA256()))


_HANDLERS: dict[int, tuple[int, _Handler]] = {
    INS.SELECT: (_CLA_ISO, VirtualMynaCard._select),
    INS.READ_BINARY: (_CLA_ISO, VirtualMynaCard._read_binary),
    INS.READ_RECORD: (_CLA_ISO, VirtualMynaCard._read_record),
    INS.VERIFY: (_CLA_ISO, VirtualMynaCard._verify),
    INS.CHANGE_REFERENCE_DATA: (_CLA_ISO, VirtualMynaCard._change_reference_data),
    INS.CHANGE_KEY: (_CLA_PROPRIETARY, VirtualMynaCard._change_key),
    INS.COMPUTE_DIGITAL_SIGNATURE: (_CLA_PROPRIETARY, VirtualMynaCard._compute_signature),
    INS.GET_CHALLENGE: (_CLA_ISO, VirtualMynaCard._get_challenge),
    INS.INTERNAL_AUTHENTICATE: (_CLA_ISO, VirtualMynaCard._internal_authenticate),
    INS.GET_DATA: (_CLA_ISO, VirtualMynaCard._get_data),
    INS.GET_RESPONSE: (_CLA_ISO, VirtualMynaCard._get_response),
    INS.SET_SESSION_KEY: (_CLA_PROPRIETARY, VirtualMynaCard._set_session_key),
    INS.TERMINAL_CVC: (_CLA_PROPRIETARY, VirtualMynaCard._terminal_cvc),
    INS.LAST_COMMAND: (_CLA_PROPRIETARY, VirtualMynaCard._last_command),
}
