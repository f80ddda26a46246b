"""Name and address as text for the ``face`` flow, from the 券面事項入力補助AP (reference §2.2, §8).

照合番号B opens that AP's 基本4情報 EF 0002 and its integrity record EF 0003, never the My
Number EF 0001. EF 0003's signature (DF33, by the key of the AP's CVC in EF 0004) covers the
DF31‖DF32 TLVs; DF32 is the SHA-256 of EF 0002's DF22…DF25, so the text is checked without the
My Number (DF31 is taken as signed, never compared). The text must also agree with the card-face
record on birth date and sex, or it is not shown.

PIN safety: this is a second VERIFY in one tap, sent only after the card-face AP accepted the
same 照合番号B. The counter is read first; a blocked counter or one try left sends nothing (the
holder confirmed nothing for this AP); a refused or uncertain VERIFY is never sent again. A
refusal, a card error or a record that does not check out leaves the face result as it is,
with ``status: "unavailable"`` and a reason code; a card or reader that is gone ends the tap.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa

from agent.verification import cvc as cvc_mod
from agent.verification.errors import RecordError
from card.apps.input_helper import InputHelperApp
from card.channel import ApduChannel
from card.errors import CardError, InvalidPinError, PinBlockedError, TransportError

logger = logging.getLogger(__name__)

# Blocked (0) or the last try (1): the second VERIFY is never worth a holder's last try.
MIN_TRIES_FOR_TEXT = 2
StepRunner = Callable[[str, Callable[[], Any]], Any]


class _Unavailable(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def unavailable(reason: str) -> dict[str, Any]:
    return {"status": "unavailable", "reason": reason, "name": None, "address": None}


def read_face_text(channel: ApduChannel, match_b: str, run_step: StepRunner, *,
                   issuer_keys: Iterable[rsa.RSAPublicKey], face_birth_date: str,
                   face_sex: str) -> dict[str, Any]:
    """Read and check 基本4情報 with 照合番号B (already accepted by the card-face AP).

    Returns ``{"status": "verified" | "not-verified" | "unavailable", "reason", "name",
    "address"}``: name and address only when EF 0003 vouches for them (``not-verified`` when
    no CVC issuer key is configured, as for the face record itself).
    """
    app = InputHelperApp(channel)
    try:
        tries = run_step("read_text_retry_counter", app.match_b_tries_left)
        if tries < MIN_TRIES_FOR_TEXT:
            raise _Unavailable("blocked" if tries <= 0 else "last_try")
        try:
            run_step("verify_text_match_b", lambda: app.verify_match_b(match_b))
        except InvalidPinError as e:
            raise _Unavailable("refused") from e
        except PinBlockedError as e:
            raise _Unavailable("blocked") from e
        basic = run_step("read_basic_info", app.read_basic_info)
        integrity = run_step("read_integrity", app.read_integrity)
        cvc_der = run_step("read_text_cvc", app.read_cvc)
        keys = tuple(issuer_keys)

        def check() -> bool:
            cvc = cvc_mod.Cvc.parse(cvc_der)
            issuer_checked = bool(keys) and cvc_mod.verify_cvc(cvc, keys)
            if keys and not issuer_checked:
                raise RecordError("text AP CVC is not signed by a configured issuer key")
            # None: EF 0001 is never read in this flow, so DF31 is not compared.
            cvc_mod.verify_integrity_record(
                cvc.public_key, None, basic.attributes_raw, integrity.my_number_digest,
                integrity.attributes_digest, integrity.signed_data, integrity.signature)
            if basic.birth_date != face_birth_date or basic.sex != face_sex:
                raise _Unavailable("mismatch")
            return issuer_checked

        verified = run_step("verify_text_record", check)
    except _Unavailable as e:
        logger.info("face text not shown: %s", e.reason)
        return unavailable(e.reason)
    except RecordError:
        logger.info("face text not shown: record_invalid")
        return unavailable("record_invalid")
    except TransportError:
        raise  # the card or reader is gone: the tap ends as any pulled card does
    except CardError as e:
        logger.info("face text not shown: card_error (%s)", type(e).__name__)
        return unavailable("card_error")
    return {"status": "verified" if verified else "not-verified", "reason": None,
            "name": basic.name, "address": basic.address}
