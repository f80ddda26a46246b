"""Unit tests of the kiosk UI server against the fake agent: headers, CSRF, input checks,
duplicate submits, the event relay and the view model (no browser)."""

from __future__ import annotations

import base64
import io
import json
import os
import subprocess
import sys
import time
from typing import Any

import pytest
from flask.testing import FlaskClient
from PIL import Image

from kiosk_ui import create_app
from kiosk_ui.agent_client import AgentClient, AgentUnavailableError, Snapshot
from kiosk_ui.messages import LANGS, all_catalogs
from kiosk_ui.screens import validate_credential
from kiosk_ui.viewmodel import (
    MAX_IMAGE_BYTES,
    PHOTO_FORMATS,
    TEXT_IMAGE_FORMATS,
    image_to_png_data_url,
    view,
)
from tests.kiosk_ui.fake_agent import TOKEN, FakeAgent
from tests.kiosk_ui.helpers import PAIRING_SECRET, csrf, paired_client


def _wait_state(agent: FakeAgent, state: str, timeout: float = 3.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if agent.state == state:
            return
        time.sleep(0.01)
    raise AssertionError(f"agent state {agent.state!r}, wanted {state!r}")


def _post(client: FlaskClient, url: str, body: dict, token: str | None) -> tuple[int, dict]:
    headers = {"X-CSRF-Token": token} if token is not None else {}
    r = client.post(url, data=json.dumps(body), content_type="application/json", headers=headers)
    return r.status_code, r.get_json() or {}


def _kind(state: dict) -> str:
    """The credential kind the entry screen of ``state`` renders (sent back with the value)."""
    return str(state["credential"]["kind"])


def _entry(client: FlaskClient) -> dict:
    state = client.get("/api/state").get_json()
    assert state["state"] == "awaiting_credential"
    return state


def test_security_headers_on_every_response(client: FlaskClient) -> None:
    for url in ("/", "/staff", "/api/state", "/static/kiosk.js", "/demo/"):
        r = client.get(url)
        assert r.status_code == 200, url
        assert r.headers["Cache-Control"] == "no-store"
        csp = r.headers["Content-Security-Policy"]
        assert (
            "default-src 'self'" in csp
            and "script-src 'self'" in csp
            and "'unsafe-inline'" not in csp
        )
        assert "img-src 'self' data:" in csp
        r.close()


def test_page_has_no_inline_script_and_no_external_urls(client: FlaskClient) -> None:
    html = client.get("/").get_data(as_text=True)
    assert "<script>" not in html and "onclick" not in html
    assert "http://" not in html and "https://" not in html
    assert TOKEN not in html


def test_post_without_csrf_token_is_refused(client: FlaskClient, fake_agent: FakeAgent) -> None:
    client.get("/")
    status, body = _post(client, "/api/flow", {"flow": "face"}, None)
    assert status == 403 and body["code"] == "CSRF"
    status, _ = _post(client, "/api/flow", {"flow": "face"}, "wrong")
    assert status == 403
    assert fake_agent.flow == "sign"
    status, _ = _post(client, "/api/flow", {"flow": "face"}, csrf(client))
    assert status == 200 and fake_agent.flow == "face"


def test_csrf_cookie_carries_no_identity_and_is_httponly(client: FlaskClient) -> None:
    r = client.get("/")
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie


@pytest.mark.parametrize(
    ("kind", "raw", "value", "key"),
    [
        ("sign_password", "myna2026", "MYNA2026", None),
        ("sign_password", "MYNA2", None, "input.too_short"),
        ("sign_password", "A" * 17, None, "input.too_long"),
        ("sign_password", "A" * 5000, None, "input.too_long"),
        ("sign_password", "ＭＹＮＡ２０２６", None, "input.charset.sign_password"),
        ("sign_password", "MYNA-2026", None, "input.charset.sign_password"),
        ("match_b", "5502172035228", None, "input.match_b_length"),
        ("match_b", "55021720352285", "55021720352285", None),
        ("match_b", "5502172035228X", None, "input.charset.digits"),
        ("auth_pin", "1234", "1234", None),
        ("auth_pin", "12345", None, "input.too_long"),
        ("auth_pin", "１２３４", None, "input.charset.digits"),
        ("sign_password", None, None, "input.bad_request"),
        # A trailing newline must not slip past a "^…$" pattern ("$" matches before "\n").
        ("sign_password", "MYNA2026\n", None, "input.charset.sign_password"),
        ("auth_pin", "123\n", None, "input.charset.digits"),
        ("match_b", "5502172035228\n", None, "input.charset.digits"),
    ],
)
def test_validate_credential(kind: str, raw: object, value: str | None, key: str | None) -> None:
    got, msg, _ = validate_credential(kind, raw)
    assert (got, msg) == (value, key)


def test_bad_credentials_never_reach_the_agent(client: FlaskClient, fake_agent: FakeAgent) -> None:
    tok = csrf(client)
    fake_agent.insert("yamada-taro")
    st = _entry(client)
    for bad in ("A" * 40, "パスワード", "MYNA 2026", ""):
        status, body = _post(
            client,
            "/api/credential",
            {
                "session_id": st["session_id"],
                "seq": st["seq"],
                "kind": _kind(st),
                "credential": bad,
            },
            tok,
        )
        assert status == 400 and body["code"] == "INPUT"
    status, _ = _post(
        client,
        "/api/credential",
        {
            "session_id": st["session_id"],
            "seq": st["seq"],
            "kind": _kind(st),
            "credential": "MYNA2026",
            "extra": "x" * 9000,
        },
        tok,
    )
    assert status == 413
    assert fake_agent.verify_count == 0


def test_13_digit_match_b_is_refused_before_the_agent(
    client: FlaskClient, fake_agent: FakeAgent
) -> None:
    tok = csrf(client)
    fake_agent.flow = "face"
    fake_agent.insert("yamada-taro")
    st = _entry(client)
    status, body = _post(
        client,
        "/api/credential",
        {
            "session_id": st["session_id"],
            "seq": st["seq"],
            "kind": _kind(st),
            "credential": "5502172035228",
        },
        tok,
    )
    assert (
        status == 400
        and body["message_key"] == "input.match_b_length"
        and body["params"] == {"n": 13}
    )
    assert fake_agent.verify_count == 0


def test_repeated_submit_sends_one_credential(client: FlaskClient, fake_agent: FakeAgent) -> None:
    tok = csrf(client)
    fake_agent.insert("yamada-taro")
    st = _entry(client)
    body = {
        "session_id": st["session_id"],
        "seq": st["seq"],
        "kind": _kind(st),
        "credential": "WRONG1",
    }
    assert _post(client, "/api/credential", body, tok)[0] == 202
    _wait_state(fake_agent, "awaiting_credential")  # the wrong password came back quickly
    status, answer = _post(client, "/api/credential", body, tok)  # the same screen, submitted again
    assert status == 409 and answer["code"] == "DUPLICATE"
    assert fake_agent.verify_count == 1
    # the new entry screen (new seq) may send again
    st2 = _entry(client)
    assert st2["error"] == {"code": "PIN_INVALID", "tries_left": 4}
    assert (
        _post(
            client, "/api/credential", {**body, "seq": st2["seq"], "credential": "MYNA2026"}, tok
        )[0]
        == 202
    )
    _wait_state(fake_agent, "result")
    assert fake_agent.verify_count == 2


def test_stale_session_is_refused(client: FlaskClient, fake_agent: FakeAgent) -> None:
    tok = csrf(client)
    fake_agent.insert("yamada-taro")
    st = _entry(client)
    status, body = _post(
        client,
        "/api/credential",
        {
            "session_id": "old-session",
            "seq": st["seq"],
            "kind": _kind(st),
            "credential": "MYNA2026",
        },
        tok,
    )
    assert status == 409 and body["code"] == "STALE_SESSION"
    status, body = _post(
        client,
        "/api/credential",
        {
            "session_id": st["session_id"],
            "seq": st["seq"] + 50,
            "kind": _kind(st),
            "credential": "MYNA2026",
        },
        tok,
    )
    assert status == 409 and body["code"] == "STALE_SESSION"
    assert fake_agent.verify_count == 0


def test_last_try_needs_confirmation(client: FlaskClient, fake_agent: FakeAgent) -> None:
    tok = csrf(client)
    fake_agent.insert("sign-pin-1-left")
    st = _entry(client)
    assert st["credential"]["needs_confirmation"] is True
    body = {
        "session_id": st["session_id"],
        "seq": st["seq"],
        "kind": _kind(st),
        "credential": "MYNA2026",
    }
    status, answer = _post(client, "/api/credential", body, tok)
    assert status == 400 and answer["message_key"] == "input.needs_confirmation"
    assert fake_agent.verify_count == 0
    assert _post(client, "/api/credential", {**body, "confirm_last_try": True}, tok)[0] == 202


def test_agent_down_gives_503(fake_agent: FakeAgent) -> None:
    app = create_app(
        {
            "TESTING": True,
            "AGENT_URL": "http://127.0.0.1:9",
            "AGENT_TOKEN": TOKEN,
            "PAIRING_SECRET": PAIRING_SECRET,
        }
    )
    c = paired_client(app)
    r = c.get("/api/state")
    assert r.status_code == 503 and r.get_json()["code"] == "UNAVAILABLE"


def test_token_is_read_from_file_and_reread_when_it_changes(
    tmp_path, fake_agent: FakeAgent
) -> None:
    f = tmp_path / "agent.token"
    f.write_text("stale-token\n")
    client = AgentClient(fake_agent.url, token_file=f)
    with pytest.raises(AgentUnavailableError):
        client.state()
    f.write_text(TOKEN + "\n")
    assert client.state().state == "idle"


def test_event_relay_sends_the_view_not_the_raw_snapshot(
    client: FlaskClient, fake_agent: FakeAgent
) -> None:
    fake_agent.insert("expired-cert")
    r = client.get("/events")
    assert r.mimetype == "text/event-stream" and r.headers["Cache-Control"] == "no-store"
    chunks = iter(r.response)
    first = next(chunks)
    first = first.decode() if isinstance(first, bytes) else first
    assert first.startswith("retry:")
    event = next(chunks)
    event = event.decode() if isinstance(event, bytes) else event
    data = json.loads(event.split("data: ", 1)[1])
    assert data["state"] == "awaiting_credential"
    assert "message" not in json.dumps(data)  # the agent's free text never crosses
    r.close()


def test_snapshot_parser_rejects_garbage() -> None:
    for bad in (
        None,
        [],
        {"state": "exploded", "seq": 1},
        {"seq": 1},
        {"state": "idle", "seq": "x"},
    ):
        with pytest.raises(AgentUnavailableError):
            Snapshot.from_json(bad)


def _jp2() -> str:
    out = io.BytesIO()
    Image.new("RGB", (30, 40), (10, 200, 30)).save(out, format="JPEG2000")
    return base64.b64encode(out.getvalue()).decode()


def test_photo_jp2_becomes_png_data_url() -> None:
    url = image_to_png_data_url(_jp2(), PHOTO_FORMATS)
    assert url is not None and url.startswith("data:image/png;base64,")
    png = base64.b64decode(url.split(",", 1)[1])
    assert png.startswith(b"\x89PNG") and Image.open(io.BytesIO(png)).size == (30, 40)
    for bad in (
        "",
        "not base64!!",
        base64.b64encode(b"\xff\x4f\xff\x51garbage").decode(),
        12,
        "A" * (3 << 20),
    ):
        assert image_to_png_data_url(bad, PHOTO_FORMATS) is None


def _encoded(im: Image.Image, fmt: str) -> bytes:
    out = io.BytesIO()
    im.save(out, format=fmt)
    return out.getvalue()


EPS = (b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n"
       b"%%EndComments\n0 0 moveto 10 10 lineto stroke\nshowpage\n%%EOF\n")


@pytest.mark.parametrize("slot", ["photo_jp2_b64", "name_png_b64", "address_png_b64"])
@pytest.mark.parametrize("fmt", ["EPS", "GIF", "BMP", "TIFF", "JPEG", "PNG", "JPEG2000", "PCX"])
def test_hostile_card_images_reach_no_other_decoder(monkeypatch, slot: str, fmt: str) -> None:
    """Each slot is decoded by its one format only; any other bytes are refused before any
    other Pillow decoder (EPS would run Ghostscript) is even asked."""
    allowed = "JPEG2000" if slot == "photo_jp2_b64" else "PNG"
    Image.init()
    asked: list[str] = []
    for name, (factory, accept) in list(Image.OPEN.items()):
        if name == allowed:
            continue

        def spy(fp, filename=None, _name=name, _factory=factory, *args):
            asked.append(_name)
            return _factory(fp, filename, *args)

        monkeypatch.setitem(Image.OPEN, name, (spy, accept))
    small = Image.new("L", (16, 8), 200)
    data = EPS if fmt == "EPS" else _encoded(small, fmt)
    shown = view(Snapshot.from_json({
        "seq": 1, "state": "result", "flow": "face", "test_trust": True,
        "verdict": {"ok": True, "flow": "face", "assurance": ["record-signature"],
                    "identity": {slot: base64.b64encode(data).decode()}},
    }))
    image = {"photo_jp2_b64": "photo", "name_png_b64": "name_image",
             "address_png_b64": "address_image"}[slot]
    result = shown["result"]["identity"][image]
    assert asked == []
    if fmt == allowed:
        assert result is not None and result.startswith("data:image/png;base64,")
    else:
        assert result is None


def test_image_size_limits_are_checked_before_decoding() -> None:
    huge = _encoded(Image.new("1", (2000, 1000)), "PNG")  # 2 Mpx, yet a tiny file
    assert len(huge) < MAX_IMAGE_BYTES
    assert image_to_png_data_url(base64.b64encode(huge).decode(), TEXT_IMAGE_FORMATS) is None
    big = os.urandom(MAX_IMAGE_BYTES + 1)
    assert image_to_png_data_url(base64.b64encode(big).decode(), TEXT_IMAGE_FORMATS) is None


def test_view_of_a_failed_verdict_has_no_identity_and_maps_unknown_codes() -> None:
    snap = Snapshot.from_json(
        {
            "seq": 3,
            "state": "error",
            "error": {"code": "SOMETHING_NEW", "message": "SW=6A82"},
            "verdict": {"ok": False, "identity": None, "error": {"code": "X"}},
        }
    )
    v = view(snap)
    assert v["result"] is None and v["error"] == {"code": "INTERNAL", "tries_left": None}
    assert "6A82" not in json.dumps(v)


def test_view_masks_my_number() -> None:
    snap = Snapshot.from_json(
        {
            "seq": 3,
            "state": "result",
            "flow": "number",
            "verdict": {
                "ok": True,
                "flow": "number",
                "assurance": ["chain"],
                "identity": {"name": "x", "my_number": "983205673214"},
            },
        }
    )
    assert "98320567" not in json.dumps(view(snap))


def test_view_shows_an_unknown_sex_code_raw() -> None:
    sex = {"code": "7", "label_ja": None, "label_en": None}
    snap = Snapshot.from_json(
        {
            "seq": 3,
            "state": "result",
            "flow": "sign",
            "verdict": {"ok": True, "flow": "sign", "assurance": ["chain"],
                        "identity": {"name": "x", "sex": sex}},
        }
    )
    assert view(snap)["result"]["identity"]["sex"] == {"label_ja": "7", "label_en": "7"}
def test_view_shows_the_last_four_digits_the_agent_sends() -> None:
    snap = Snapshot.from_json({
        "seq": 3, "state": "result", "flow": "number",
        "verdict": {"ok": True, "flow": "number", "assurance": ["record-signature"],
                    "identity": {"name": "x", "my_number_last4": "3214"}},
    })
    assert view(snap)["result"]["identity"]["my_number_masked"] == "•••• •••• 3214"


def test_catalogs_cover_every_error_code_in_both_languages() -> None:
    codes = [
        "PIN_INVALID",
        "PIN_BLOCKED",
        "PIN_LAST_TRY_NEEDS_CONFIRMATION",
        "PIN_FORMAT",
        "CARD_REMOVED",
        "NO_READER",
        "NO_CARD",
        "UNSUPPORTED_CARD",
        "NO_SIGN_CERTIFICATE",
        "CERT_EXPIRED",
        "CERT_NOT_YET_VALID",
        "CERT_REVOKED",
        "CERT_UNTRUSTED",
        "CERT_INVALID",
        "CERT_MALFORMED",
        "REVOCATION_UNAVAILABLE",
        "POSSESSION_FAILED",
        "RECORD_SIGNATURE_INVALID",
        "FLOW_DISABLED",
        "CARD_ERROR",
        "TRANSPORT_ERROR",
        "TIMEOUT",
        "BUSY",
        "INTERNAL",
    ]
    cats = all_catalogs()
    assert set(cats) == set(LANGS)
    assert set(cats["ja"]) == set(cats["en"])
    for lang in LANGS:
        for code in codes:
            assert cats[lang][f"error.{code}.title"] and cats[lang][f"error.{code}.action"]
    assert (
        "市区町村" in cats["ja"]["error.PIN_BLOCKED.action"]
        and "コンビニ" in cats["ja"]["error.PIN_BLOCKED.action"]
    )


def test_kiosk_ui_imports_neither_card_nor_agent() -> None:
    code = (
        "import sys, kiosk_ui, kiosk_ui.screens, kiosk_ui.demo_panel, kiosk_ui.__main__;"
        "bad=[m for m in sys.modules if m.split('.')[0] in ('card','agent')];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    r = subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert r.returncode == 0, r.stdout + r.stderr


def test_demo_fault_validation(client: FlaskClient, fake_agent: FakeAgent) -> None:
    tok = csrf(client)
    assert _post(client, "/demo/api/fault", {"rm -rf": 1}, tok)[0] == 400
    assert _post(client, "/demo/api/fault", {"remove_after_apdus": "5"}, tok)[0] == 400
    assert _post(client, "/demo/api/fault", {"remove_after_apdus": 2}, tok)[0] == 200
    assert fake_agent.remove_after == 2
    assert _post(client, "/demo/api/insert", {"persona": "../etc"}, tok)[0] == 400


def test_demo_panel_absent_without_demo(fake_agent: FakeAgent) -> None:
    app = create_app(
        {
            "TESTING": True,
            "AGENT_URL": fake_agent.url,
            "AGENT_TOKEN": TOKEN,
            "PAIRING_SECRET": PAIRING_SECRET,
        }
    )
    assert paired_client(app).get("/demo/").status_code == 404


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ({"status": "verified", "name": "山田　太郎", "address": "東京都"}, "verified"),
        ({"status": "not-verified", "name": "山田　太郎", "address": "東京都"}, "not-verified"),
        ({"status": "unavailable", "reason": "refused", "name": None, "address": None}, None),
        ({"status": "verified", "name": "山田　太郎", "address": None}, None),  # never half
        ({"status": "something-new", "name": "山田　太郎", "address": "東京都"}, None),
        (None, None),
    ],
    ids=["verified", "not-verified", "unavailable", "half", "unknown-status", "absent"],
)
def test_face_text_is_shown_only_when_vouched_for(text: Any, shown: str | None) -> None:
    identity = {"birth_date": "1980-02-17", "verified": True}
    if text is not None:
        identity["text"] = text
    v = view(Snapshot.from_json({
        "seq": 1, "state": "result", "flow": "face", "test_trust": True,
        "verdict": {"ok": True, "flow": "face", "assurance": ["record-signature"],
                    "identity": identity},
    }))
    got = v["result"]["identity"]["text"]
    if shown is None:
        assert got == {"status": "unavailable", "name": None, "address": None}
    else:
        assert got == {"status": shown, "name": "山田　太郎", "address": "東京都"}
