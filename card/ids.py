"""Application and file identifiers of the My Number card (card-protocol.md §1, §2, §8, §9, §11).

Constants only: this module and ``card.sw`` are the only host modules the emulator imports, so
a bug in shared *logic* can never hide on both sides of the wire.
"""

from __future__ import annotations

from enum import Enum, IntEnum


class AID(bytes, Enum):
    """Application identifiers (reference §1)."""

    JPKI = bytes.fromhex("D392F000260100000001")  # 公的個人認証AP
    INPUT_HELPER = bytes.fromhex("D3921000310001010408")  # 券面事項入力補助AP
    SURFACE = bytes.fromhex("D3921000310001010402")  # 券面事項確認AP
    JUKI = bytes.fromhex("D3921000310001010401")  # 住基AP
    COMMON = bytes.fromhex("D3921000310001010100")  # 共通カードAP
    GP_ISD = bytes.fromhex("A0000001510000")  # GlobalPlatform ISD (A0 00 00 01 51 00 00)


class INS(IntEnum):
    """Instruction bytes used on this card (reference §3)."""

    SELECT = 0xA4
    READ_BINARY = 0xB0
    READ_RECORD = 0xB2
    VERIFY = 0x20
    CHANGE_REFERENCE_DATA = 0x24
    CHANGE_KEY = 0x32
    COMPUTE_DIGITAL_SIGNATURE = 0x2A
    GET_CHALLENGE = 0x84
    INTERNAL_AUTHENTICATE = 0x88
    GET_DATA = 0xCA
    GET_RESPONSE = 0xC0
    SET_SESSION_KEY = 0xAE
    TERMINAL_CVC = 0xA2
    LAST_COMMAND = 0xFC


# SELECT P1/P2 (reference §1): by AID / by FID under the current DF, no FCI.
SELECT_BY_AID = 0x04
SELECT_BY_FID = 0x02
SELECT_NO_FCI = 0x0C
# VERIFY / COMPUTE SIGNATURE P2 0x80 = the currently selected IEF / key EF; 0x80|SFI names it.
P2_CURRENT_KEY = 0x80


class JpkiEF(IntEnum):
    """Files of the JPKI AP (reference §2.1)."""

    SIGN_CERT = 0x0001
    SIGN_CA_CERT = 0x0002
    TOKEN_INFO = 0x0006
    CERT_PRESENCE = 0x0008
    AUTH_CERT = 0x000A
    AUTH_CA_CERT = 0x000B
    TERMINAL_CA_KEY = 0x0016
    AUTH_KEY = 0x0017
    AUTH_PIN = 0x0018
    SIGN_KEY = 0x001A
    SIGN_PIN = 0x001B


class InputHelperEF(IntEnum):
    """Files of the 券面事項入力補助AP (reference §2.2)."""

    MY_NUMBER = 0x0001
    BASIC_INFO = 0x0002
    INTEGRITY = 0x0003
    CVC = 0x0004
    AP_INFO = 0x0005
    SM_KEY = 0x0006
    SIGNED_KEY = 0x0007
    UNKNOWN_FF = 0x0008
    PIN = 0x0011
    BLOCKED_KEY = 0x0012
    AP_KEY = 0x0013
    MATCH_A = 0x0014
    MATCH_B = 0x0015


class SurfaceEF(IntEnum):
    """Files of the 券面事項確認AP (reference §2.3)."""

    AGE = 0x0001
    FACE = 0x0002
    AP_INFO = 0x0003
    CVC = 0x0004
    NUMBER_IMAGE = 0x0005
    UNKNOWN_6 = 0x0006
    BIRTH_KEY = 0x0011
    MATCH_B = 0x0012
    MATCH_A = 0x0013
    AP_KEY = 0x001A


class CommonEF(IntEnum):
    """Files of the 共通カードAP and 住基AP (reference §2.4)."""

    CARD_RECORD = 0x0001
    KEY_REFERENCE = 0x0002
    INTERNAL_AUTH_KEY = 0x0019
    PIN = 0x001C


# Maximum tries per credential (reference §5, §7.3; 照合番号 counters are UNCERTAIN: 10 per SOL).
MAX_TRIES_AUTH_PIN = 3
MAX_TRIES_SIGN_PASSWORD = 5
MAX_TRIES_INPUT_HELPER_PIN = 3
MAX_TRIES_JUKI_PIN = 3
MAX_TRIES_MATCH_KEY = 10

# EF 0008 of the JPKI AP: both certificates present (reference §2.1).
CERT_PRESENCE_BOTH = bytes.fromhex("8F8F00")

# Token label of a physical card (reference §7.1), first 32 bytes of EF 0006, space padded.
TOKEN_LABEL_CARD = b"JPKIAPICCTOKEN2"

# Record tags (reference §8.2, §8.3, §8.4, §9.1, §9.2, §9.3).
TAG_MY_NUMBER = 0xFF10
TAG_BASIC_INFO = 0xFF20
TAG_INTEGRITY = 0xFF30
TAG_AP_INFO_HELPER = 0xFF40
TAG_SIGNED_KEY = 0xFF50
TAG_AGE = 0xFF10
TAG_FACE = 0xFF20
TAG_AP_INFO_SURFACE = 0xFF30
TAG_NUMBER_IMAGE = 0xFF40
TAG_CVC = 0x7F21
TAG_CVC_BODY = 0x5F4E
TAG_CVC_SIGNATURE = 0x5F37
TAG_RSA_EXPONENT = 0x90
TAG_RSA_MODULUS = 0x91

# subjectAltName otherName OIDs of the signature certificate (reference §11.1).
OID_SAN_NAME = "1.2.392.200149.8.5.5.1"
OID_SAN_NAME_SUBSTITUTE = "1.2.392.200149.8.5.5.2"
OID_SAN_SEX = "1.2.392.200149.8.5.5.3"
OID_SAN_BIRTH_DATE = "1.2.392.200149.8.5.5.4"
OID_SAN_ADDRESS = "1.2.392.200149.8.5.5.5"
OID_SAN_ADDRESS_SUBSTITUTE = "1.2.392.200149.8.5.5.6"

# Certificate policies (reference §11.1).
OID_POLICY_SIGN = "1.2.392.200149.8.5.1.1.20"
OID_POLICY_SIGN_TEST = "1.2.392.200149.8.5.1.0.20"
OID_POLICY_AUTH = "1.2.392.200149.8.5.1.3.30"

# DigestInfo prefixes (PKCS#1 v1.5, RFC 8017 §9.2 note 1).
DIGEST_INFO_PREFIX_SHA256 = bytes.fromhex("3031300d060960864801650304020105000420")
DIGEST_INFO_PREFIX_SHA384 = bytes.fromhex("3041300d060960864801650304020205000430")
DIGEST_INFO_PREFIX_SHA512 = bytes.fromhex("3051300d060960864801650304020305000440")
