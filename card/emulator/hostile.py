"""``HostileCard``: a ``VirtualMynaCard`` that lies, for the hardening tests (issue 7).

A card is an untrusted peer (docs/architecture.md "Rules"): it can answer with more bytes than
asked, headers that point past the data, endless ``61xx``/``6Cxx``, 65,535-byte frames, a
certificate that changes between two reads, signatures of the wrong size, garbage under ``9000``,
``9000`` to a wrong VERIFY, slow answers, or offset tables pointing out of range. Each ``Lie``
is built by post-processing the honest answer (``_answer``) or by editing the card image once,
so the subclass works wherever a ``VirtualMynaCard`` does (``EmulatedReader``, ``VpcdBridge``).
What a lying card cannot do is sign with a key it does not hold: the tests check that no lie
ends in a verdict whose identity is not backed by the card's own key or record signature.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from enum import StrEnum

from card.emulator.apdu import Command, SwError
from card.emulator.card import VirtualMynaCard
from card.emulator.faults import Faults
from card.emulator.filesystem import DataEF
from card.emulator.personas import PERSONAS, Persona
from card.ids import AID, INS, InputHelperEF, JpkiEF, SurfaceEF

logger = logging.getLogger(__name__)

SLOW_ANSWER_S = 0.25  # "very slow" but bounded: each answer waits this long
_HUGE = 65533  # data bytes of a 65,535-byte R-APDU (test-stack §4.1 vpcd frame cap)
_CERT_FIDS = (JpkiEF.SIGN_CERT, JpkiEF.AUTH_CERT)


class Lie(StrEnum):
    OVERLONG_READ = "overlong_read"  # READ BINARY returns more bytes than Le
    PAST_FILE = "past_file"  # DER length points past the file; reads past it return 00s
    ENDLESS_61 = "endless_61"  # every answer (and every GET RESPONSE) says 61xx: more data
    ENDLESS_6C = "endless_6c"  # every command with Le is answered 6Cxx with a new xx
    HUGE_RESPONSE = "huge_response"  # every READ BINARY answers 65,533 bytes + 9000
    CHANGING_CERT = "changing_cert"  # certificate bytes after the header come from another card
    SHORT_SIGNATURE = "short_signature"  # signature one byte short
    LONG_SIGNATURE = "long_signature"  # signature one byte long
    GARBAGE_OK = "garbage_ok"  # READ BINARY / RECORD data replaced by noise under 9000
    VERIFY_ALWAYS_OK = "verify_always_ok"  # 9000 to any VERIFY, but the key stays locked
    SLOW = "slow"  # every answer takes SLOW_ANSWER_S
    BAD_OFFSET_TABLE = "bad_offset_table"  # DF21 offset tables point out of range


class HostileCard(VirtualMynaCard):
    """A lying card of ``persona`` (``HostileCard.for_persona(name, Lie.X)``)."""

    def __init__(self, persona: Persona, lie: Lie, faults: Faults | None = None,
                 donor: str = "substitute-chars") -> None:
        super().__init__(persona, faults)
        # The image is cached and shared by every card of the persona: edit a private copy.
        self.image = dataclasses.replace(self.image, applications=dict(self.image.applications))
        self.lie = Lie(lie)
        self._reads = 0
        self._six_c = 0
        self._donor = VirtualMynaCard(PERSONAS[donor]) if lie is Lie.CHANGING_CERT else None
        if self.lie is Lie.SLOW:
            self.faults.latency_s = SLOW_ANSWER_S
        elif self.lie is Lie.PAST_FILE:
            self._edit_data(AID.JPKI, _CERT_FIDS, _claim_longer)
        elif self.lie is Lie.BAD_OFFSET_TABLE:
            self._edit_data(AID.SURFACE, (SurfaceEF.FACE,), _break_offsets)
            self._edit_data(AID.INPUT_HELPER, (InputHelperEF.BASIC_INFO,), _break_offsets)

    @classmethod
    def for_persona(cls, name: str, faults: Faults | None = None,  # type: ignore[override]
                    lie: Lie = Lie.GARBAGE_OK) -> HostileCard:
        return cls(PERSONAS[name], lie, faults)

    def _edit_data(self, aid: AID, fids: tuple[int, ...], edit: object) -> None:
        app = self.image.applications[aid.value]
        files = dict(app.files)
        for fid in fids:
            ef = files.get(int(fid))
            if isinstance(ef, DataEF):
                files[int(fid)] = dataclasses.replace(ef, data=edit(ef.data))  # type: ignore[operator]
        self.image.applications[aid.value] = dataclasses.replace(app, files=files)

    # -- the lying answer ------------------------------------------------------------------

    def _answer(self, capdu: bytes) -> bytes:
        honest = super()._answer(capdu)
        try:
            cmd = Command.parse(capdu)
        except SwError:
            return honest
        data, sw = honest[:-2], honest[-2:]
        lie = self.lie
        if lie is Lie.ENDLESS_61:
            chunk = (data or b"\x00" * 16)[:256]
            return chunk + b"\x61\x00"
        if lie is Lie.ENDLESS_6C and cmd.le is not None:
            self._six_c += 1
            return bytes([0x6C, 1 + self._six_c % 250])
        if sw != b"\x90\x00" and not (lie is Lie.PAST_FILE and cmd.ins == INS.READ_BINARY):
            if lie is Lie.VERIFY_ALWAYS_OK and cmd.ins == INS.VERIFY and cmd.data:
                # Says "right password" without opening anything: the key stays locked.
                return b"\x90\x00"
            return honest
        if cmd.ins == INS.READ_BINARY:
            return self._lie_read(cmd, data, sw)
        if cmd.ins == INS.READ_RECORD and lie is Lie.GARBAGE_OK:
            return _noise(capdu, len(data)) + sw
        if cmd.ins == INS.COMPUTE_DIGITAL_SIGNATURE:
            if lie is Lie.SHORT_SIGNATURE:
                return data[:-1] + sw
            if lie is Lie.LONG_SIGNATURE:
                return data + b"\x00" + sw
        return honest

    def _lie_read(self, cmd: Command, data: bytes, sw: bytes) -> bytes:
        lie, le = self.lie, cmd.le or 256
        self._reads += 1
        if lie is Lie.OVERLONG_READ:
            return data + b"\x00" * (le + 16 - len(data)) + b"\x90\x00"
        if lie is Lie.PAST_FILE:
            return (data + b"\x00" * le)[:le] + b"\x90\x00"  # as if the file went on for ever
        if lie is Lie.HUGE_RESPONSE:
            return (data + b"\x00" * _HUGE)[:_HUGE] + b"\x90\x00"
        if lie is Lie.GARBAGE_OK:
            return _noise(bytes([cmd.p1, cmd.p2, self._reads & 0xFF]), len(data)) + sw
        if lie is Lie.CHANGING_CERT and self._current_ef in _CERT_FIDS and self._donor:
            offset = cmd.p1 << 8 | cmd.p2
            if offset > 0:  # header from this card, the rest from the donor's certificate
                donor_app = self._donor.image.applications[AID.JPKI.value]
                donor_ef = donor_app.files[self._current_ef]
                assert isinstance(donor_ef, DataEF)
                return donor_ef.data[offset : offset + le] + sw
        return data + sw


def _claim_longer(data: bytes) -> bytes:
    """Rewrite a ``30 82 LL LL`` header to claim 0x7FF0 bytes (past the EF's end)."""
    if data[:2] == b"\x30\x82":
        return b"\x30\x82\x7f\xf0" + data[4:]
    return data


def _break_offsets(data: bytes) -> bytes:
    """Point every entry of the first DF21 offset table at 0xFFF0 (out of range)."""
    i = data.find(b"\xdf\x21")
    if i < 0 or i + 3 > len(data):
        return data
    n = data[i + 2]
    table = b"\xff\xf0" * (n // 2)
    return data[: i + 3] + table + data[i + 3 + len(table) :]


def _noise(seed: bytes, n: int) -> bytes:
    out = b""
    counter = 0
    while len(out) < n:
        out += hashlib.sha256(seed + counter.to_bytes(4, "big")).digest()
        counter += 1
    return out[:n]


__all__ = ["SLOW_ANSWER_S", "HostileCard", "Lie"]
