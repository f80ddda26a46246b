"""Status words of the My Number card (reference card-protocol.md §4).

Constants only: this module and ``card.ids`` are the only host modules the emulator imports.
"""

from __future__ import annotations

from enum import IntEnum


class SW(IntEnum):
    """Named status words; ``sw`` values elsewhere stay plain ints so unknown codes survive."""

    OK = 0x9000
    VERIFY_FAILED_NO_RETRY_LIMIT = 0x6300
    WARNING_END_OF_FILE = 0x6282
    WRONG_LENGTH = 0x6700
    LOGICAL_CHANNEL_NOT_SUPPORTED = 0x6881
    SECURE_MESSAGING_NOT_SUPPORTED = 0x6882
    INCOMPATIBLE_FILE_STRUCTURE = 0x6981
    SECURITY_STATUS_NOT_SATISFIED = 0x6982
    AUTH_METHOD_BLOCKED = 0x6983
    PIN_BLOCKED = 0x6984
    CONDITIONS_NOT_SATISFIED = 0x6985
    NO_CURRENT_EF = 0x6986
    SM_DATA_OBJECT_INCORRECT = 0x6988
    SM_SESSION_ERROR = 0x69FC
    INCORRECT_DATA = 0x6A80
    FUNCTION_NOT_SUPPORTED = 0x6A81
    FILE_NOT_FOUND = 0x6A82
    RECORD_NOT_FOUND = 0x6A83
    INCORRECT_P1P2 = 0x6A86
    REFERENCED_DATA_NOT_FOUND = 0x6A88
    WRONG_OFFSET = 0x6B00
    INS_NOT_SUPPORTED = 0x6D00
    CLA_NOT_SUPPORTED = 0x6E00
    INTERNAL_ERROR = 0x6F00
    SESSION_KEY_NOT_SUPPORTED = 0x66F1


# 63Cx: x tries left (VERIFY failed, or the empty-VERIFY retry query).
SW_VERIFY_TRIES_MASK = 0xFFF0
SW_VERIFY_TRIES_BASE = 0x63C0
# 61xx: xx more bytes available with GET RESPONSE; 6Cxx: repeat with Le = xx.
SW1_MORE_DATA = 0x61
SW1_WRONG_LE = 0x6C


def sw_name(sw: int) -> str:
    """Return a printable name such as ``6A82 (FILE_NOT_FOUND)`` or ``63C2 (2 tries left)``."""
    if sw & SW_VERIFY_TRIES_MASK == SW_VERIFY_TRIES_BASE:
        return f"{sw:04X} ({sw & 0x0F} tries left)"
    try:
        return f"{sw:04X} ({SW(sw).name})"
    except ValueError:
        return f"{sw:04X}"
