"""Turn an agent ``Snapshot`` into the minimal JSON view the browser renders.

Only what a screen shows crosses to the browser: no free-text error messages, no certificate
serials, no My Number in clear (masked to its last four digits; the ``number`` flow is
opt-in, design §2). The chip's face photo (JPEG 2000, card-protocol.md §9.1) is converted to
PNG here, in memory, with Pillow, and handed over as a ``data:`` URL that the CSP allows
(``img-src 'self' data:``); nothing is ever written to disk. Name/address images are
re-encoded the same way so that the browser only ever decodes a PNG we produced.

The bytes come from the card, so they are hostile until proven otherwise: each image is opened
with exactly the one decoder its tag calls for (Pillow ``formats=``: JPEG 2000 for the photo,
PNG for the name and address images), so EPS (Ghostscript), GIF, TIFF and Pillow's other
decoders never see them, and bytes and pixels are bounded before anything is decoded. The
decoding stays here rather than in the agent because the agent's verdict JSON (``photo_jp2_b64``
etc.) is a contract the screens depend on; the kiosk server runs as its own service user with
no access to the reader, the audit log or the agent's state.
"""

from __future__ import annotations

import base64
import binascii
import io
import logging
import re
from typing import Any

from PIL import Image, UnidentifiedImageError

from kiosk_ui.agent_client import Snapshot
from kiosk_ui.messages import known_error

log = logging.getLogger(__name__)

# The card's own images are a few KiB (card-protocol.md §9.1); these bounds leave room.
MAX_IMAGE_BYTES = 256 * 1024
MAX_IMAGE_B64 = (MAX_IMAGE_BYTES + 2) // 3 * 4
MAX_PIXELS = 1_000_000
PHOTO_FORMATS = ("JPEG2000",)
TEXT_IMAGE_FORMATS = ("PNG",)
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")
_FLOWS = ("sign", "auth", "face", "number")
_ENDINGS = ("timeout", "card_removed", "cancelled", "aborted")
_ASSURANCE = frozenset(
    {"chain", "revocation-checked", "possession", "record-signature", "not-verified"}
)


def image_to_png_data_url(b64: object, formats: tuple[str, ...]) -> str | None:
    """Decode a base64 image from the chip with only the decoders in ``formats`` (Pillow
    format names) and return it as a PNG data: URL; None for anything else."""
    if not isinstance(b64, str) or not b64 or len(b64) > MAX_IMAGE_B64:
        return None
    try:
        raw = base64.b64decode(b64, validate=True)
        if len(raw) > MAX_IMAGE_BYTES:
            return None
        with Image.open(io.BytesIO(raw), formats=formats) as im:
            if im.format not in formats or im.width * im.height > MAX_PIXELS:
                return None
            im.load()
            rgb = im.convert("RGB") if im.mode not in ("RGB", "L", "1") else im
            out = io.BytesIO()
            rgb.save(out, format="PNG")
    except (
        binascii.Error,
        ValueError,
        OSError,
        UnidentifiedImageError,
        Image.DecompressionBombError,
    ):
        log.warning("card image could not be converted")
        return None
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode("ascii")


def _s(v: object, limit: int = 512) -> str | None:
    return v[:limit] if isinstance(v, str) else None


def _identity(ident: dict[str, Any], flow: str) -> dict[str, Any]:
    era = ident.get("birth_era") if isinstance(ident.get("birth_era"), dict) else None
    sex = ident.get("sex") if isinstance(ident.get("sex"), dict) else None
    birth = _s(ident.get("birth_date"), 10)
    out: dict[str, Any] = {
        "name": _s(ident.get("name")),
        "address": _s(ident.get("address"), 1024),
        "birth_date": birth if birth and _DATE.match(birth) else None,
        "birth_era": None,
        "sex": None,
        "substitute": bool(
            (_s(ident.get("name_substitute")) or "").strip("0 ")
            or (_s(ident.get("address_substitute")) or "").strip("0 ")
        ),
    }
    if era:
        year = era.get("year")
        out["birth_era"] = {
            "name_ja": _s(era.get("name_ja"), 8),
            "name_en": _s(era.get("name_en"), 16),
            "year": year if isinstance(year, int) and not isinstance(year, bool) else None,
        }
    if sex:
        code = _s(sex.get("code"), 4)  # an unknown code is shown raw, never hidden
        out["sex"] = {
            "label_ja": _s(sex.get("label_ja"), 16) or code,
            "label_en": _s(sex.get("label_en"), 16) or code,
        }
    if flow == "face":
        out["photo"] = image_to_png_data_url(ident.get("photo_jp2_b64"), PHOTO_FORMATS)
        out["name_image"] = image_to_png_data_url(ident.get("name_png_b64"), TEXT_IMAGE_FORMATS)
        out["address_image"] = image_to_png_data_url(ident.get("address_png_b64"),
                                                     TEXT_IMAGE_FORMATS)
        out["card_expiry"] = _s(ident.get("card_expiry"), 32)
        out["verified"] = ident.get("verified") is True
        out["text"] = _face_text(ident.get("text"))
    if flow == "number":
        out["verified"] = ident.get("verified") is True
    last4 = _s(ident.get("my_number_last4"), 4)
    if last4:
        # Design §2: masked on screen. The agent's snapshots carry only the last four digits;
        # the full number comes from the agent only on a staff member's reveal (kiosk_ui.staff).
        out["my_number_masked"] = "•••• •••• " + last4
    return out


def _face_text(text: object) -> dict[str, Any]:
    """Name and address as text beside the face images: shown only when the agent says the
    text AP's integrity record vouched for them (or read them, with no issuer key)."""
    status = text.get("status") if isinstance(text, dict) else None
    if not isinstance(text, dict) or status not in ("verified", "not-verified"):
        return {"status": "unavailable", "name": None, "address": None}
    name, address = _s(text.get("name")), _s(text.get("address"), 1024)
    if not name or not address:
        return {"status": "unavailable", "name": None, "address": None}
    return {"status": status, "name": name, "address": address}


def view(snap: Snapshot) -> dict[str, Any]:
    """The browser-side view of one snapshot (safe to JSON-encode and send)."""
    cred = snap.credential
    v: dict[str, Any] = {
        "seq": snap.seq,
        "state": snap.state,
        "session_id": snap.session_id,
        "flow": snap.flow,
        "flows_enabled": [f for f in snap.flows_enabled if f in _FLOWS],
        "test_trust": snap.test_trust,
        "demo": snap.demo,
        "credential": None,
        "steps": [{"name": s.name, "status": s.status} for s in snap.steps],
        "error": None,
        "result": None,
        "timeout_s": snap.timeout_s,
        "ended": snap.ended if snap.ended in _ENDINGS else None,
        "record_id": snap.record_id,
    }
    if cred is not None:
        v["credential"] = {
            "kind": cred.kind,
            "tries_left": cred.tries_left,
            "max_tries": cred.max_tries,
            "needs_confirmation": cred.needs_confirmation,
            "min_length": cred.min_length,
            "max_length": cred.max_length,
        }
    if snap.error is not None:
        v["error"] = {"code": known_error(snap.error.code), "tries_left": snap.error.tries_left}
    verdict = snap.verdict
    if isinstance(verdict, dict):
        flow = _s(verdict.get("flow"), 16) or (snap.flow or "")
        err = verdict.get("error") if isinstance(verdict.get("error"), dict) else None
        if err is not None and v["error"] is None:
            tl = err.get("tries_left")
            v["error"] = {
                "code": known_error(str(err.get("code", "INTERNAL"))[:64]),
                "tries_left": tl if isinstance(tl, int) else None,
            }
        ident = verdict.get("identity")
        cert = verdict.get("certificate") if isinstance(verdict.get("certificate"), dict) else None
        assurance = [a for a in (verdict.get("assurance") or []) if a in _ASSURANCE]
        if verdict.get("ok") is True and isinstance(ident, dict):
            v["result"] = {
                "ok": True,
                "flow": flow,
                "assurance": assurance,
                "test_trust": verdict.get("test_trust") is True or snap.test_trust,
                "identity": _identity(ident, flow),
                "cert_not_after": _s(cert.get("not_after"), 32) if cert else None,
            }
    return v
