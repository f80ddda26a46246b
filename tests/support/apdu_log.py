"""Reading a virtual card's APDU log: which AP and EF each command went to, the VERIFYs that
carried a credential, and the PIN-safety rule every flow keeps."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from card.ids import AID, InputHelperEF, SurfaceEF

VERIFY_HEADER = bytes.fromhex("00200080")
_SELECT_AID = bytes.fromhex("00A4040C")
_SELECT_EF = bytes.fromhex("00A4020C")


def walk_log(card: Any) -> Iterator[tuple[bytes | None, int | None, Any]]:
    """Each logged APDU with the AP and EF selected when it was sent: (aid, ef, logged)."""
    aid: bytes | None = None
    ef: int | None = None
    for a in card.apdu_log:
        c = a.command
        if c[:4] == _SELECT_AID and a.response_sw == 0x9000:
            aid, ef = c[5:], None
        elif c[:4] == _SELECT_EF and a.response_sw == 0x9000:
            ef = int.from_bytes(c[5:7], "big")
        yield aid, ef, a


def pin_verifies(card: Any) -> list[Any]:
    """VERIFY commands that carried a credential (not the empty retry query)."""
    return [a for a in card.apdu_log if a.command[:4] == VERIFY_HEADER and a.masked_length]


def verify_targets(card: Any) -> list[tuple[bytes | None, int | None, int]]:
    """(AP, IEF, SW) of every VERIFY that carried a credential, in order."""
    return [(aid, ef, a.response_sw) for aid, ef, a in walk_log(card)
            if a.command[:4] == VERIFY_HEADER and a.masked_length]


def my_number_reads(card: Any) -> list[Any]:
    """READ BINARY of the text AP's EF 0001 (by the selected EF or a short EF id)."""
    return [a for aid, ef, a in walk_log(card)
            if aid == AID.INPUT_HELPER.value and a.command[1] == 0xB0
            and (a.command[2] == 0x80 | InputHelperEF.MY_NUMBER
                 or (not a.command[2] & 0x80 and ef == InputHelperEF.MY_NUMBER))]


def assert_verifies_are_safe(card: Any, flow: str) -> None:
    """One VERIFY per flow; the face flow may add exactly one, to the text AP's 照合番号B, and
    only after the card-face AP accepted the same value in this tap; it never reads the My
    Number."""
    targets = verify_targets(card)
    if flow != "face":
        assert len(targets) <= 1, targets
        return
    assert len(targets) <= 2, targets
    if targets:
        assert targets[0][:2] == (AID.SURFACE.value, SurfaceEF.MATCH_B), targets
    if len(targets) == 2:
        assert targets[0][2] == 0x9000, targets
        assert targets[1][:2] == (AID.INPUT_HELPER.value, InputHelperEF.MATCH_B), targets
    assert my_number_reads(card) == []
