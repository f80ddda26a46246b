"""``GET /records/ID``: one record's verdict for a person (the demo's staff screen links to it).
Off unless the receiver's settings say ``record_page = "loopback"``, then only for a browser on
the receiver's machine, and never with identity: the sealed record is not opened."""

from __future__ import annotations

from typing import Any

import pytest

from receiver.settings import SettingsError, load_settings
from receiver.store import RecordStore

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


def app_with(rx: Any, record_page: str) -> Any:
    from receiver.app import create_app

    store: RecordStore = rx.store
    return create_app(store, rx.sessions, record_page=record_page).test_client()


@pytest.fixture
def stored_id(registered: Any, kiosk_key: Any, make_record: Any) -> str:
    record = make_record("yamada-taro", "sign")
    res = registered.app().test_client().post("/v1/records", data=kiosk_key.sign(record),
                                              content_type="application/jose")
    assert res.status_code == 201
    return str(record["record_id"])


def test_the_page_shows_the_verdict_and_no_identity(registered, stored_id):
    from card.emulator import PERSONAS
    from tests.support.privacy import forbidden_patterns

    res = app_with(registered, "loopback").get(f"/records/{stored_id}")
    assert res.status_code == 200 and res.content_type.startswith("text/html")
    page = res.get_data(as_text=True)
    assert stored_id in page and "accepted" in page and "kiosk-1" in page
    for label, pattern in forbidden_patterns(PERSONAS["yamada-taro"]):
        assert not pattern.search(page), label
    assert res.headers["Content-Security-Policy"] == "default-src 'none'"
    assert res.headers["Referrer-Policy"] == "no-referrer"


def test_off_by_default_and_only_for_this_machine(registered, stored_id):
    assert registered.app().test_client().get(f"/records/{stored_id}").status_code == 404
    remote = app_with(registered, "loopback").get(
        f"/records/{stored_id}", environ_base={"REMOTE_ADDR": "192.0.2.7"})
    assert remote.status_code == 404
    assert app_with(registered, "loopback").get(
        "/records/00000000-0000-4000-8000-000000000000").status_code == 404


def test_the_setting_takes_only_known_values(registered):
    assert registered.settings.record_page == "off"
    assert load_settings(None, record_page="loopback").record_page == "loopback"
    with pytest.raises(SettingsError):
        load_settings(None, record_page="everyone")
