"""The message catalogs: both languages say the same things, and the staff screen's wording
speaks to the clerk (never "call a member of staff" to the member of staff)."""

from __future__ import annotations

import re

from kiosk_ui.messages import _ERRORS, LANGS, STAFF_PREFIX, catalog, staff_text


def test_both_languages_have_the_same_keys() -> None:
    ja, en = catalog("ja"), catalog("en")
    assert set(ja) == set(en)


def test_staff_screen_never_tells_the_clerk_to_call_staff() -> None:
    for lang in LANGS:
        cat = catalog(lang)
        # The call-staff button exists on the unattended screen only.
        public = [k for k in cat if not k.startswith((STAFF_PREFIX, "call_staff"))]
        staff = {k: staff_text(cat, k) for k in public}
        bad = {k: v for k, v in staff.items() if re.search(r"係員|member of staff", v)}
        assert bad == {}


def test_every_error_has_staff_wording() -> None:
    cat = catalog("ja")
    missing = [code for code in _ERRORS if f"{STAFF_PREFIX}error.{code}.action" not in cat
               and "係員" in cat[f"error.{code}.action"]]
    assert missing == []


def all_texts(lang: str) -> dict[str, str]:
    return catalog(lang)


def test_japanese_has_no_half_width_spaces_around_numbers() -> None:
    spaced = {k: v for k, v in all_texts("ja").items()
              if re.search(r"[0-9}] [^A-Za-z]|[^A-Za-z] [0-9{]", v)}
    assert spaced == {}


def test_no_dashes_between_sentences() -> None:
    for lang in LANGS:
        dashed = {k: v for k, v in all_texts(lang).items() if "—" in v or " - " in v}
        assert dashed == {}


def test_public_badges_are_plain_words_and_the_staff_keeps_the_terms() -> None:
    ja = catalog("ja")
    public = " ".join(v for k, v in ja.items() if k.startswith("badge."))
    assert not re.search(r"チェーン|署名|検証済|所持", public)
    assert staff_text(ja, "badge.chain") == "証明書チェーン検証済"
