"""The kiosk in real headless Chromium against the real agent and the in-process emulator.

Same wiring as ``myna demo`` (``agent.cli.demo.demo_agent``: ``AgentService`` + ``EmulatedReader``
with the emulator's exported test trust), with the kiosk UI served from a thread here so the
test can reach the virtual card's ``apdu_log``. Screenshots of the main screens go to
docs/screenshots/ (test-stack.md §8 for the Chromium launch, in conftest.py).
"""

from __future__ import annotations

import logging
import os
import re
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.kiosk_ui.helpers import PAIRING_SECRET, kiosk_server, staff_sign_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.emulator_only,
    pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="needs /usr/bin/chromium"),
]

SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
LANDSCAPE = {"width": 1920, "height": 1080}
PORTRAIT = {"width": 1080, "height": 1920}
TIMEOUT_MS = 10000


@dataclass
class Stack:
    agent: Any  # agent.cli.demo.DemoAgent
    base_url: str

    def insert(self, persona: str) -> Any:
        self.agent.service.demo.insert(persona)
        return self.agent.reader.card

    def remove(self) -> None:
        self.agent.service.demo.remove()


def verify_count(card: Any) -> int:
    """VERIFY commands that carried a credential (the empty VERIFY only reads the counter)."""
    return sum(1 for a in card.apdu_log if a.command[1:2] == b"\x20" and (a.masked_length or 0) > 0)


@pytest.fixture
def agent_config() -> dict[str, Any]:
    return {}


def _kiosk_config(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Extra kiosk server config from a module's own ``kiosk_config`` fixture, if it has one."""
    try:
        extra: dict[str, Any] = request.getfixturevalue("kiosk_config")
    except pytest.FixtureLookupError:
        return {}
    return extra


@pytest.fixture
def stack(tmp_path: Path, agent_config: dict[str, Any],
          request: pytest.FixtureRequest) -> Iterator[Stack]:
    kiosk_config = _kiosk_config(request)
    from agent.cli.demo import demo_agent
    from kiosk_ui import create_app

    with demo_agent(tmp_path, **agent_config) as agent:
        app = create_app(
            {
                "AGENT_URL": agent.url,
                "AGENT_TOKEN_FILE": str(agent.config.token_path),
                "DEMO": True,
                "PAIRING_SECRET": PAIRING_SECRET,
                **kiosk_config,
            }
        )
        with kiosk_server(app) as base_url:
            yield Stack(agent, base_url)


@pytest.fixture
def page(browser: Any, stack: Stack) -> Iterator[Any]:
    ctx = browser.new_context(locale="ja-JP", viewport=LANDSCAPE)
    pg = ctx.new_page()
    pg.set_default_timeout(TIMEOUT_MS)
    external: list[str] = []
    pg.on(
        "request",
        lambda r: None if r.url.startswith((stack.base_url, "data:")) else external.append(r.url),
    )
    pair(pg, stack.base_url)
    yield pg
    ctx.close()
    assert external == []  # the kiosk never reaches outside its own server


def pair(page: Any, base_url: str) -> None:
    """Make this browser context the kiosk's paired browser, as the launcher's URL does."""
    page.goto(f"{base_url}/pair?s={PAIRING_SECRET}")


def wait_screen(page: Any, name: str) -> None:
    page.wait_for_function(f"() => document.body.dataset.screen === {name!r}")


def type_keys(page: Any, text: str) -> None:
    for ch in text:
        page.click(f"#pad [data-key='{ch}']")


def wait_flow(stack: Stack, flow: str) -> None:
    """Until the page on show has set its flow (it asks while idle; a tap keeps its flow)."""
    deadline = time.monotonic() + 10
    while stack.agent.service.snapshot()["flow"] != flow and time.monotonic() < deadline:
        time.sleep(0.02)


def open_kiosk(page: Any, stack: Stack, path: str = "/") -> None:
    page.goto(stack.base_url + path)
    if path == "/staff":
        staff_sign_in(page)  # the staff flows run only for a signed-in member of staff
    wait_screen(page, "idle")
    wait_flow(stack, "face" if path == "/staff" else "sign")


def enter_password(page: Any, password: str) -> None:
    wait_screen(page, "entry")
    type_keys(page, password)
    page.click("#entry-ok")


def shot(page: Any, name: str) -> None:
    """Screenshot a screen. The README tour's PNGs are rewritten only on request
    (``MYNA_UPDATE_SCREENSHOTS=1``), so a test run leaves the work tree as it was."""
    if os.environ.get("MYNA_UPDATE_SCREENSHOTS") == "1":
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / name))
    else:
        assert page.screenshot()  # still render it: a blank or failing page fails here


def test_happy_sign_flow(page: Any, stack: Stack, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    open_kiosk(page, stack)
    assert page.text_content("#screen-idle h1") == "カードをかざしてください"
    shot(page, "idle.png")
    page.set_viewport_size(PORTRAIT)
    shot(page, "idle-portrait.png")
    page.set_viewport_size(LANDSCAPE)
    card = stack.insert("yamada-taro")
    wait_screen(page, "entry")
    assert "残り5回" in page.text_content("#entry-tries")
    assert page.is_visible("#test-banner")
    type_keys(page, "MYNA2026")
    assert page.text_content("#entry-display") == "●" * 8  # never echoed
    shot(page, "password-entry.png")
    page.set_viewport_size(PORTRAIT)
    shot(page, "password-entry-portrait.png")
    ok_bottom = "() => document.getElementById('entry-ok').getBoundingClientRect().bottom"
    assert page.evaluate(ok_bottom) < 1920  # the whole pad fits without scrolling
    page.set_viewport_size(LANDSCAPE)
    assert page.evaluate(ok_bottom) < 1080
    page.click("#entry-ok")
    wait_screen(page, "result")
    assert page.text_content("#r-name") == "山田　太郎"
    birth = page.text_content("#r-birth")
    assert "昭和55年2月17日" in birth and "1980年2月17日" in birth
    assert page.text_content("#r-sex") == "男"
    assert page.text_content("#r-expiry") == "2030年3月31日"
    badges = page.eval_on_selector_all("#result-badges li", "els => els.map(e => e.dataset.badge)")
    assert {"chain", "possession"} <= set(badges)
    assert page.is_visible("#test-banner") and "テスト" in page.text_content("#test-banner")
    shot(page, "result.png")
    page.set_viewport_size(PORTRAIT)
    shot(page, "result-portrait.png")
    assert verify_count(card) == 1
    # Nothing about the person in URLs, cookies or browser storage.
    assert page.evaluate("() => localStorage.length + sessionStorage.length") == 0
    cookies = page.context.cookies()
    assert sorted(c["name"] for c in cookies) == ["kiosk_csrf", "kiosk_paired"]
    assert all(c["httpOnly"] and c["sameSite"] == "Strict" for c in cookies)
    assert page.url == stack.base_url + "/"
    stack.remove()
    wait_screen(page, "idle")  # removal clears the screen at once
    assert "山田" not in page.content()
    logged = caplog.text
    for secret in ("MYNA2026", "山田", "太郎", "千代田", "1980-02-17", "昭和"):
        assert secret not in logged  # neither the kiosk nor the agent logs identity or password


def test_wrong_password_then_right(page: Any, stack: Stack) -> None:
    open_kiosk(page, stack)
    card = stack.insert("yamada-taro")
    enter_password(page, "WRONG1")
    page.wait_for_function("() => !document.getElementById('entry-error').hidden")
    assert "残り4回" in page.text_content("#entry-error")
    assert "残り4回" in page.text_content("#entry-tries")
    shot(page, "wrong-password.png")
    type_keys(page, "MYNA2026")
    page.click("#entry-ok")
    wait_screen(page, "result")
    assert verify_count(card) == 2


def test_one_try_left_needs_confirmation(page: Any, stack: Stack) -> None:
    open_kiosk(page, stack)
    card = stack.insert("sign-pin-1-left")
    wait_screen(page, "lasttry")
    assert "あと1回" in page.text_content("#screen-lasttry h1")
    shot(page, "last-try.png")
    assert verify_count(card) == 0
    page.click("#lasttry-continue")
    enter_password(page, "MYNA2026")
    wait_screen(page, "result")
    assert verify_count(card) == 1


@pytest.mark.parametrize(
    ("persona", "password", "title", "action"),
    [
        ("sign-pin-blocked", None, "ロックされています", "市区町村"),
        ("expired-cert", "MYNA2026", "有効期限が切れています", "更新"),
        ("revoked-cert", "MYNA2026", "失効しています", "市区町村"),
        ("cloned-card", "MYNA2026", "カードの確認に失敗しました", "正規"),
        ("unknown-card", None, "マイナンバーカードではありません", "マイナンバーカードをかざして"),
    ],
)
def test_failures_tell_the_person_what_to_do(
    page: Any, stack: Stack, persona: str, password: str | None, title: str, action: str
) -> None:
    open_kiosk(page, stack)
    stack.insert(persona)
    if password:
        enter_password(page, password)
    wait_screen(page, "error")
    assert title in page.text_content("#error-title")
    assert action in page.text_content("#error-action")
    text = page.inner_text("body")
    assert not re.search(r"SW|6A82|6984|Traceback|Error\b", text)
    assert page.text_content("#r-name") == ""
    if persona == "sign-pin-blocked":
        assert "コンビニ" in page.text_content("#error-action")
        shot(page, "error-blocked.png")
        page.set_viewport_size(PORTRAIT)
        shot(page, "error-blocked-portrait.png")
    page.click("#error-done")
    wait_screen(page, "awaiting_removal")
    stack.remove()
    wait_screen(page, "idle")


def test_card_removed_mid_read(page: Any, stack: Stack) -> None:
    open_kiosk(page, stack)
    card = stack.insert("yamada-taro")
    wait_screen(page, "entry")
    stack.agent.service.demo.fault(remove_after_apdus=card._apdus_since_power_on + 4)
    type_keys(page, "MYNA2026")
    page.click("#entry-ok")
    wait_screen(page, "idle")
    page.wait_for_function("() => !document.getElementById('idle-notice').hidden")
    assert "途中で離れました" in page.text_content("#idle-notice")
    assert "山田" not in page.content()


@pytest.mark.parametrize("agent_config", [{"result_s": 1.0}])
def test_result_timeout_purges_identity(page: Any, stack: Stack) -> None:
    open_kiosk(page, stack)
    stack.insert("yamada-taro")
    enter_password(page, "MYNA2026")
    wait_screen(page, "result")
    assert "山田" in page.content()
    wait_screen(page, "awaiting_removal")
    html = page.content()
    assert "山田" not in html and "1980" not in html and "昭和" not in html
    stack.remove()
    wait_screen(page, "idle")


@pytest.mark.parametrize("agent_config", [{"cvc_keys": False}])
def test_face_without_issuer_key_says_read_not_verified(page: Any, stack: Stack) -> None:
    from card.emulator import PERSONAS

    open_kiosk(page, stack, "/staff")
    stack.insert("yamada-taro")
    enter_password(page, PERSONAS["yamada-taro"].credentials.match_b)
    wait_screen(page, "confirmb")
    page.click("#confirmb-send")
    wait_screen(page, "result")
    assert "検証されていません" in page.text_content("#result-title")
    assert page.is_visible("#result-unverified")
    badges = page.eval_on_selector_all("#result-badges li", "els => els.map(e => e.dataset.badge)")
    assert "not-verified" in badges and "record-signature" not in badges
    shot(page, "staff-face-not-verified.png")


def test_staff_face_flow_shows_photo(page: Any, stack: Stack) -> None:
    from card.emulator import PERSONAS

    match_b = PERSONAS["yamada-taro"].credentials.match_b
    open_kiosk(page, stack, "/staff")
    card = stack.insert("yamada-taro")
    wait_screen(page, "entry")
    page.wait_for_function(
        "() => document.getElementById('entry-title').textContent.includes('照合番号B')"
    )
    type_keys(page, match_b[:13])
    page.click("#entry-ok")  # 13 digits: refused on the page, nothing sent
    page.wait_for_function("() => !document.getElementById('entry-error').hidden")
    assert "14桁" in page.text_content("#entry-error")
    type_keys(page, match_b[13:])
    page.click("#entry-ok")
    wait_screen(page, "confirmb")  # explicit confirmation before sending
    assert page.text_content("#confirmb-number") == f"{match_b[:6]} {match_b[6:10]} {match_b[10:]}"
    assert verify_count(card) == 0
    page.click("#confirmb-send")
    wait_screen(page, "result")
    page.wait_for_function("() => document.getElementById('result-photo').naturalWidth > 0")
    assert page.is_visible("#result-photo")
    assert page.get_attribute("#result-photo", "src").startswith("data:image/png;base64,")
    assert page.is_visible("#r-name-image") and page.is_visible("#r-address-image")
    badges = page.eval_on_selector_all("#result-badges li", "els => els.map(e => e.dataset.badge)")
    assert "record-signature" in badges and "chain" not in badges
    # Name and address as text beside the images: the text AP's 基本4情報, checked by its
    # integrity record (one more VERIFY, after the card-face AP accepted the same 照合番号B).
    assert page.text_content("#r-name") == PERSONAS["yamada-taro"].identity.name
    assert page.text_content("#r-address") == PERSONAS["yamada-taro"].identity.address
    assert page.is_hidden("#result-text-unavailable")
    shot(page, "staff-face-result.png")
    assert verify_count(card) == 2


def test_language_switch(page: Any, stack: Stack) -> None:
    open_kiosk(page, stack)
    page.click("#lang")
    page.wait_for_function(
        "() => document.querySelector('#screen-idle h1').textContent === 'Tap your card'"
    )
    assert page.evaluate("document.documentElement.lang") == "en"
    stack.insert("yamada-taro")
    wait_screen(page, "entry")
    assert "5 tries left" in page.text_content("#entry-tries")
    page.click("#lang")
    page.wait_for_function(
        "() => document.getElementById('entry-tries').textContent.includes('残り5回')"
    )
    page.click("#lang")
    enter_password(page, "MYNA2026")
    wait_screen(page, "result")
    assert page.text_content("#result-title") == "Verified"
    assert "17 Feb 1980 (Showa 55)" in page.text_content("#r-birth")
    assert page.text_content("#r-sex") == "Male"  # capitalised for display
    shot(page, "result-en.png")
    stack.remove()
    wait_screen(page, "idle")  # back to Japanese once nobody is there: test_kiosk_journeys.py


def test_double_submit_and_overlong_password_send_one_verify(page: Any, stack: Stack) -> None:
    open_kiosk(page, stack)
    card = stack.insert("yamada-taro")
    wait_screen(page, "entry")
    # An overlong password posted straight to the server (the pad stops at 16) is refused.
    status = page.evaluate(
        """async () => {
          const s = await (await fetch('/api/state')).json();
          const tok = document.querySelector('meta[name=csrf-token]').content;
          const r = await fetch('/api/credential', {method: 'POST',
            headers: {'Content-Type': 'application/json', 'X-CSRF-Token': tok},
            body: JSON.stringify({session_id: s.session_id, seq: s.seq, kind: s.credential.kind,
                                  credential: 'A'.repeat(40)})});
          return r.status; }"""
    )
    assert status == 400
    type_keys(page, "WRONG1")
    # Two clicks in the same task: the second must not send the password again.
    page.evaluate("() => { const b = document.getElementById('entry-ok'); b.click(); b.click(); }")
    page.wait_for_function("() => !document.getElementById('entry-error').hidden")
    assert verify_count(card) == 1
    # Two concurrent posts of one entry screen straight to the server: exactly one is sent.
    statuses = page.evaluate(
        """async () => {
          const s = await (await fetch('/api/state')).json();
          const tok = document.querySelector('meta[name=csrf-token]').content;
          const send = () => fetch('/api/credential', {method: 'POST',
            headers: {'Content-Type': 'application/json', 'X-CSRF-Token': tok},
            body: JSON.stringify({session_id: s.session_id, seq: s.seq, kind: s.credential.kind,
                                  credential: 'WRONG2'})});
          const rs = await Promise.all([send(), send(), send()]);
          return rs.map(r => r.status).sort(); }"""
    )
    assert statuses == [202, 409, 409]
    page.wait_for_function("() => document.getElementById('entry-tries').textContent.includes('3')")
    assert verify_count(card) == 2


def test_reload_mid_flow_sends_nothing(page: Any, stack: Stack) -> None:
    open_kiosk(page, stack)
    card = stack.insert("yamada-taro")
    wait_screen(page, "entry")
    type_keys(page, "MYNA")
    page.reload()
    wait_screen(page, "entry")
    assert page.text_content("#entry-display").strip() == ""
    assert verify_count(card) == 0
    page.go_back()
    page.go_forward()
    wait_screen(page, "entry")
    assert verify_count(card) == 0


def test_demo_panel_inserts_the_card(browser: Any, page: Any, stack: Stack) -> None:
    open_kiosk(page, stack)
    panel = page.context.new_page()
    panel.goto(stack.base_url + "/demo/")
    panel.wait_for_function("() => document.querySelectorAll('#persona option').length > 5")
    assert panel.input_value("#persona") == "yamada-taro"
    assert "MYNA2026" in panel.text_content("#creds")  # the persona's (fictional) credentials
    panel.select_option("#persona", "expired-cert")
    panel.click("#insert")
    wait_screen(page, "entry")
    panel.click("#remove")
    wait_screen(page, "idle")


def test_stale_tab_after_agent_restart(browser: Any, tmp_path: Path) -> None:
    """The agent restarts (new token, new sessions) under an open tab: clear messages, no send."""
    from agent.cli.demo import demo_agent
    from kiosk_ui import create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    token_file = tmp_path / "agent.token"
    ctx = browser.new_context(locale="ja-JP", viewport=LANDSCAPE)
    page = ctx.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    first = demo_agent(tmp_path, port=port)
    agent = first.__enter__()
    app = create_app({"AGENT_URL": agent.url, "AGENT_TOKEN_FILE": str(token_file), "DEMO": True,
                      "PAIRING_SECRET": PAIRING_SECRET})
    served = kiosk_server(app)
    base = served.__enter__()
    try:
        pair(page, base)
        page.goto(base + "/")
        wait_screen(page, "idle")
        agent.service.demo.insert("yamada-taro")
        wait_screen(page, "entry")
        type_keys(page, "MYNA2026")
        old = page.evaluate("async () => (await fetch('/api/state')).json()")
        first.__exit__(None, None, None)
        wait_screen(page, "unavailable")
        assert "ご利用いただけません" in page.text_content("#screen-unavailable h1")
        second = demo_agent(tmp_path, port=port)
        agent2 = second.__enter__()
        try:
            wait_screen(page, "idle")  # the tab follows the new agent by itself
            card = agent2.service.demo.insert("yamada-taro") or agent2.reader.card
            wait_screen(page, "entry")
            assert page.text_content("#entry-display").strip() == ""
            # The old tab's submission (old session) is refused with a clear code, not sent.
            answer = page.evaluate(
                """async (old) => {
                  const tok = document.querySelector('meta[name=csrf-token]').content;
                  const r = await fetch('/api/credential', {method: 'POST',
                    headers: {'Content-Type': 'application/json', 'X-CSRF-Token': tok},
                    body: JSON.stringify({session_id: old.session_id, seq: old.seq,
                                          kind: old.credential.kind, credential: 'MYNA2026'})});
                  return [r.status, (await r.json()).code]; }""",
                old,
            )
            assert answer == [409, "STALE_SESSION"]
            assert verify_count(card) == 0
        finally:
            second.__exit__(None, None, None)
    finally:
        served.__exit__(None, None, None)
        ctx.close()


def test_staff_number_flow_masked_until_explicit_reveal(page: Any, stack: Stack) -> None:
    from card.emulator import PERSONAS

    creds = PERSONAS["yamada-taro"].credentials
    number = creds.match_a
    open_kiosk(page, stack, "/staff")
    page.wait_for_selector("#flow-choice", state="visible")  # the demo enables "number"
    page.click("#flow-number")
    assert page.get_attribute("#flow-number", "aria-pressed") == "true"
    wait_flow(stack, "number")
    card = stack.insert("yamada-taro")
    page.wait_for_function(
        "() => document.getElementById('pad').dataset.kind === 'input_helper_pin'"
    )
    wait_screen(page, "entry")
    type_keys(page, creds.input_helper_pin)
    page.click("#entry-ok")
    wait_screen(page, "result")
    assert page.text_content("#r-number") == "•••• •••• " + number[-4:]
    assert number not in page.content()  # masked: the full number is not even in the DOM
    # The number flow checks the integrity record (reference §8.3), and its badge says so.
    badge = page.text_content("[data-badge='record-signature']")
    assert badge == "個人番号・基本4情報の署名を検証済"
    shot(page, "staff-number-masked.png")
    reveal_with_password(page)
    spaced = f"{number[:4]} {number[4:8]} {number[8:]}"
    page.wait_for_function(f"() => document.getElementById('r-number').textContent === {spaced!r}")
    assert page.get_attribute("#reveal", "aria-pressed") == "true"
    assert number not in page.url
    assert page.evaluate("() => localStorage.length + sessionStorage.length") == 0
    assert all(number not in c["value"] for c in page.context.cookies())
    # It masks itself again after a few seconds, and "Hide" masks at once.
    page.wait_for_function(
        "() => document.getElementById('r-number').textContent.startsWith('••••')", timeout=8000
    )
    reveal_with_password(page)
    page.wait_for_function(f"() => document.getElementById('r-number').textContent === {spaced!r}")
    page.click("#reveal")
    assert page.text_content("#r-number").startswith("••••")
    assert verify_count(card) == 1
    stack.remove()
    wait_screen(page, "idle")
    assert number not in page.content() and number[-4:] not in page.inner_text("body")


def reveal_with_password(page: Any, password: str | None = None) -> None:
    """Press "Show" and type the staff password again (each reveal asks for it)."""
    from agent.cli.demo import DEMO_STAFF_PASSWORD

    page.click("#reveal")
    page.wait_for_selector("#staff-reveal", state="visible")
    page.fill("#staff-reveal-password", password or DEMO_STAFF_PASSWORD)
    page.press("#staff-reveal-password", "Enter")


def test_reveal_refused_without_staff_or_current_result(page: Any, stack: Stack) -> None:
    from agent.cli.demo import DEMO_STAFF_PASSWORD

    open_kiosk(page, stack)
    call = """(body) => fetch('/api/reveal', {method: 'POST', headers: {'Content-Type':
      'application/json', 'X-CSRF-Token': document.querySelector('meta[name=csrf-token]').content},
      body: JSON.stringify(body)}).then(r => r.status)"""
    assert page.evaluate(call, {"session_id": "abc"}) == 400  # not the staff screen
    assert page.evaluate(call, {"session_id": "abc", "mode": "staff"}) == 400  # no password
    # No staff member signed in on this browser: the agent refuses, whatever the page says.
    assert page.evaluate(call, {"session_id": "abc", "mode": "staff",
                                "password": DEMO_STAFF_PASSWORD}) == 403
    assert page.query_selector("#reveal") is None  # the unattended screen has no reveal button


def test_accessibility_basics(page: Any, stack: Stack) -> None:
    open_kiosk(page, stack)
    assert page.evaluate("document.documentElement.lang") == "ja"
    assert page.get_attribute("#announce", "aria-live") == "polite"
    page.wait_for_function(
        "() => document.getElementById('announce').textContent.includes('カード')"
    )
    stack.insert("yamada-taro")
    wait_screen(page, "entry")
    page.wait_for_function(
        "() => document.getElementById('announce').textContent.includes('パスワード')"
    )
    nameless = page.evaluate(
        """() => [...document.querySelectorAll('button')].filter(b => b.offsetParent &&
             !(b.getAttribute('aria-label') || b.textContent.trim())).length"""
    )
    assert nameless == 0
    small = page.evaluate(
        """() => [...document.querySelectorAll('button')].filter(b => b.offsetParent)
             .map(b => b.getBoundingClientRect())
             .filter(r => r.width < 60 || r.height < 60).length"""
    )
    assert small == 0  # touch targets >= 60 px
    page.click("#lang")
    assert page.evaluate("document.documentElement.lang") == "en"
    page.wait_for_function("() => document.getElementById('announce').textContent !== ''")
    # Badges carry text, not only colour.
    page.click("#lang")
    enter_password(page, "MYNA2026")
    wait_screen(page, "result")
    texts = page.eval_on_selector_all("#result-badges li", "els => els.map(e => e.textContent)")
    assert texts and all(t.strip() for t in texts)


@pytest.mark.parametrize("viewport", [LANDSCAPE, PORTRAIT], ids=["landscape", "portrait"])
def test_staff_face_result_fits_without_scrolling(page: Any, stack: Stack, viewport: Any) -> None:
    from card.emulator import PERSONAS

    page.set_viewport_size(viewport)
    open_kiosk(page, stack, "/staff")
    stack.insert("yamada-taro")
    enter_password(page, PERSONAS["yamada-taro"].credentials.match_b)
    wait_screen(page, "confirmb")
    page.click("#confirmb-send")
    wait_screen(page, "result")
    page.wait_for_function("() => document.getElementById('result-photo').naturalWidth > 0")
    fits = """() => { const m = document.querySelector('main');
      const foot = document.querySelector('#screen-result .result-foot .hint');
      const hint = foot.getBoundingClientRect();
      return m.scrollHeight <= m.clientHeight + 1 && hint.bottom <= innerHeight; }"""
    assert page.evaluate(fits)
    suffix = "" if viewport is LANDSCAPE else "-portrait"
    shot(page, f"staff-face-result{suffix}.png")


def test_identity_and_typed_credentials_leave_the_page(page: Any, stack: Stack) -> None:
    """Nothing stays hidden in the page: a typed 照合番号B leaves with its screen, and the
    identity leaves when the agent becomes unreachable under a result."""
    from card.emulator import PERSONAS

    creds = PERSONAS["yamada-taro"].credentials
    open_kiosk(page, stack, "/staff")
    stack.insert("yamada-taro")
    wait_screen(page, "entry")
    type_keys(page, creds.match_b)
    page.click("#entry-ok")
    wait_screen(page, "confirmb")
    assert creds.match_b[:6] in page.text_content("#confirmb-number")
    stack.remove()
    wait_screen(page, "idle")
    assert creds.match_b[:6] not in page.content()
    open_kiosk(page, stack, "/")
    stack.insert("yamada-taro")
    enter_password(page, creds.sign_password)
    wait_screen(page, "result")
    assert "山田" in page.content()
    stack.agent.service.stop()
    wait_screen(page, "unavailable")
    assert "山田" not in page.content()
