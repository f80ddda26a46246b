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
        public = [k for k in cat if not k.startswith(STAFF_PREFIX)]
        staff = {k: staff_text(cat, k) for k in public}
        bad = {k: v for k, v in staff.items() if re.search(r"係員|member of staff", v)}
        assert bad == {}


def test_every_error_has_staff_wording() -> None:
    cat = catalog("ja")
    missing = [code for code in _ERRORS if f"{STAFF_PREFIX}error.{code}.action" not in cat
               and "係員" in cat[f"error.{code}.action"]]
    assert missing == []
