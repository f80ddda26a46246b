"""Staff sign-in on /staff in real headless Chromium against the real agent: sign-in with the
on-screen and the physical keyboard, wrong password and unknown ID answered alike, lockout and
a supervisor's unlock, the idle lock wiping a shown result (page clock and agent clock moved,
never slept), sign-out, and the My Number reveal (refused for a clerk without the permission;
the password asked again)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from card.emulator import PERSONAS
from tests.kiosk_ui.helpers import PAIRING_SECRET, kiosk_server, staff_sign_in
from tests.kiosk_ui.test_kiosk_browser import (
    LANDSCAPE,
    TIMEOUT_MS,
    Stack,
    enter_password,
    pair,
    shot,
    type_keys,
    verify_count,
    wait_flow,
    wait_screen,
)
from tests.support.clock import ManualClock

pytestmark = [
    pytest.mark.browser,
    pytest.mark.emulator_only,
    pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="needs /usr/bin/chromium"),
]

CLERK_PASSWORD = "Clerk-pass-77"  # noqa: S105 - test data
LOGIN_FAILED = "職員IDまたはパスワードが違います"
LOCKED = "このアカウントはロックされています。管理者に解除を依頼してください"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(2_000_000.0)


@pytest.fixture
def stack(tmp_path: Path, clock: ManualClock) -> Iterator[Stack]:
    from agent.cli.demo import demo_agent
    from agent.staff import Role
    from kiosk_ui import create_app

    with demo_agent(tmp_path, staff_clock=clock) as agent:
        agent.service.staff_store.add("sato", CLERK_PASSWORD, Role.CLERK)
        app = create_app({"AGENT_URL": agent.url,
                          "AGENT_TOKEN_FILE": str(agent.config.token_path), "DEMO": True,
                          "PAIRING_SECRET": PAIRING_SECRET})
        with kiosk_server(app) as base_url:
            yield Stack(agent, base_url)


@pytest.fixture
def page(browser: Any, stack: Stack) -> Iterator[Any]:
    ctx = browser.new_context(locale="ja-JP", viewport=LANDSCAPE)
    pg = ctx.new_page()
    pg.set_default_timeout(TIMEOUT_MS)
    pair(pg, stack.base_url)
    yield pg
    ctx.close()


def osk_type(page: Any, text: str, board: str = "#staff-osk") -> None:
    """Type on the sign-in screen's own keyboard (shift for capitals, as a finger would)."""
    shifted = False
    for ch in text:
        want = ch.isupper()
        if want != shifted:
            page.click(f"{board} [data-k='shift']")
            shifted = want
        page.click(f"{board} [data-k='{ch.lower()}']")
    if shifted:
        page.click(f"{board} [data-k='shift']")


def sign_in_error(page: Any) -> str:
    page.wait_for_selector("#staff-signin-error", state="visible")
    return str(page.text_content("#staff-signin-error"))


def try_sign_in(page: Any, staff_id: str, password: str) -> str:
    page.evaluate("() => { const e = document.getElementById('staff-signin-error');"
                  " e.hidden = true; e.textContent = ''; }")
    page.fill("#staff-id", staff_id)
    page.fill("#staff-password", password)
    page.click("#staff-signin-ok")
    page.wait_for_function("() => document.body.dataset.staff === 'signed-in' || "
                           "!document.getElementById('staff-signin-error').hidden")
    return "OK" if page.evaluate("document.body.dataset.staff") == "signed-in" else \
        str(page.text_content("#staff-signin-error"))


def agent_flow(stack: Stack) -> str:
    return str(stack.agent.service.snapshot()["flow"])


def show_face_result(page: Any, stack: Stack) -> str:
    ident = PERSONAS["yamada-taro"]
    wait_screen(page, "idle")
    wait_flow(stack, "face")  # the sign-in asks for it; the agent changes flow only while idle
    stack.insert("yamada-taro")
    enter_password(page, ident.credentials.match_b)
    wait_screen(page, "confirmb")
    page.click("#confirmb-send")
    wait_screen(page, "result")
    page.wait_for_function("() => document.getElementById('result-photo').naturalWidth > 0")
    birth = str(page.text_content("#r-birth"))  # the face check shows the name as an image
    assert "1980" in birth
    return birth


def test_sign_in_covers_the_staff_screen_until_a_member_signs_in(page: Any, stack: Stack,
                                                                 clock: ManualClock) -> None:
    page.goto(stack.base_url + "/staff")
    page.wait_for_selector("#staff-signin", state="visible")
    assert page.evaluate("getComputedStyle(document.querySelector('main')).visibility") == "hidden"
    assert agent_flow(stack) == "sign"  # the page asked for "face"; the agent said no
    shot(page, "staff-sign-in.png")
    # Wrong password and unknown ID: one message, the password field emptied each time.
    assert try_sign_in(page, "demo", "Wrong-guess-1") == LOGIN_FAILED
    assert page.input_value("#staff-password") == ""
    assert try_sign_in(page, "nobody", "Wrong-guess-1") == LOGIN_FAILED
    clock.now += 60
    # The on-screen keyboard alone signs in (ID, "Next", password, "Sign in").
    page.fill("#staff-id", "")
    page.click("#staff-id")
    osk_type(page, "demo")
    page.click("#staff-next")
    osk_type(page, "Demo-staff-2026")
    page.click("#staff-signin-ok")
    page.wait_for_function("() => document.body.dataset.staff === 'signed-in'")
    assert "demo" in page.text_content("#staff-who")
    wait_screen(page, "idle")
    page.wait_for_function("() => true")
    assert page.evaluate("getComputedStyle(document.querySelector('main')).visibility") == "visible"
    wait_flow(stack, "face")
    stack.insert("yamada-taro")
    page.wait_for_function("() => document.getElementById('pad').dataset.kind === 'match_b'")
    assert agent_flow(stack) == "face"


def test_lockout_then_unlock_by_a_supervisor(page: Any, stack: Stack, clock: ManualClock) -> None:
    page.goto(stack.base_url + "/staff")
    page.wait_for_selector("#staff-signin", state="visible")
    answers = []
    for _ in range(5):
        answers.append(try_sign_in(page, "sato", "Wrong-guess-1"))
        clock.now += 60  # past each growing delay
    assert answers == [LOGIN_FAILED] * 4 + [LOCKED]
    assert try_sign_in(page, "sato", CLERK_PASSWORD) == LOCKED  # the right one does not open it
    # A supervisor unlocks the account on the same screen.
    staff_sign_in(page)
    page.click("#staff-admin")
    page.wait_for_selector("tr[data-staff-id='sato'] .staff-unlock")
    shot(page, "staff-accounts.png")
    page.click("tr[data-staff-id='sato'] .staff-unlock")
    page.wait_for_selector("tr[data-staff-id='sato'] .staff-unlock", state="detached")
    page.click("#staff-admin-close")
    page.click("#staff-signout")
    page.wait_for_function("() => document.body.dataset.staff === 'signed-out'")
    assert try_sign_in(page, "sato", CLERK_PASSWORD) == "OK"
    assert "担当者" in page.text_content("#staff-who")
    assert page.is_hidden("#staff-admin")  # a clerk has no account panel


def test_idle_lock_wipes_the_shown_result(page: Any, stack: Stack) -> None:
    page.clock.install()
    page.goto(stack.base_url + "/staff")
    staff_sign_in(page)
    name = show_face_result(page, stack)
    page.clock.fast_forward(299_000)
    assert page.evaluate("document.body.dataset.staff") == "signed-in"
    page.clock.fast_forward(2_000)  # past staff.idle_lock_s (300 s) without a touch or a key
    page.wait_for_function("() => document.body.dataset.staff === 'signed-out'")
    assert page.text_content("#staff-signin-error") == "操作がなかったため、画面をロックしました"
    assert name not in page.content()
    assert page.get_attribute("#result-photo", "src") is None
    # The agent ended the tap that member ran: the identity is gone there too.
    page.wait_for_function("() => document.body.dataset.screen === 'awaiting_removal'")
    snap = stack.agent.service.snapshot()
    assert snap["verdict"] is None and snap["state"] == "awaiting_removal"


def test_sign_out_ends_everything(page: Any, stack: Stack) -> None:
    page.goto(stack.base_url + "/staff")
    staff_sign_in(page)
    name = show_face_result(page, stack)
    page.click("#staff-signout")
    page.wait_for_function("() => document.body.dataset.staff === 'signed-out'")
    assert name not in page.content()
    page.wait_for_function("() => document.body.dataset.screen === 'awaiting_removal'")
    stack.remove()
    wait_screen(page, "idle")
    status = page.evaluate("""() => fetch('/api/flow', {method: 'POST', headers: {'Content-Type':
      'application/json', 'X-CSRF-Token': document.querySelector('meta[name=csrf-token]').content},
      body: JSON.stringify({flow: 'face'})}).then(r => r.status)""")
    assert status == 403 and agent_flow(stack) == "sign"


def test_sign_out_wipes_a_typed_match_b_at_once(page: Any, stack: Stack) -> None:
    match_b = PERSONAS["yamada-taro"].credentials.match_b
    page.goto(stack.base_url + "/staff")
    staff_sign_in(page)
    wait_screen(page, "idle")
    wait_flow(stack, "face")
    stack.insert("yamada-taro")
    wait_screen(page, "entry")
    type_keys(page, match_b)
    assert match_b[:6] in page.content()
    # The sign-out click itself wipes it, before any event from the agent reaches the page.
    html = page.evaluate("() => { document.getElementById('staff-signout').click();"
                         " return document.documentElement.outerHTML; }")
    assert match_b[:6] not in html
    stack.remove()


REVEAL = """(password) => fetch('/api/reveal', {method: 'POST', headers: {'Content-Type':
  'application/json', 'X-CSRF-Token': document.querySelector('meta[name=csrf-token]').content},
  body: JSON.stringify({session_id: 'abc', mode: 'staff', password: password})})
  .then(r => r.json().then(j => [r.status, j.code]))"""


def test_clerk_without_my_number_gets_no_number(page: Any, stack: Stack) -> None:
    page.goto(stack.base_url + "/staff")
    staff_sign_in(page, "sato", CLERK_PASSWORD)
    wait_screen(page, "idle")
    page.click("#flow-number")
    wait_flow(stack, "face")  # the sign-in's face flow; the clerk's number flow is refused
    assert page.evaluate(REVEAL, CLERK_PASSWORD) == [403, "STAFF_FORBIDDEN"]
    card = stack.insert("yamada-taro")
    # The agent refused the number flow for this clerk: the card is asked for the face check.
    page.wait_for_function("() => document.getElementById('pad').dataset.kind === 'match_b'")
    assert agent_flow(stack) == "face" and verify_count(card) == 0


def test_reveal_asks_for_the_password_again(page: Any, stack: Stack, clock: ManualClock) -> None:
    creds = PERSONAS["yamada-taro"].credentials
    number = creds.match_a
    page.goto(stack.base_url + "/staff")
    staff_sign_in(page)
    wait_screen(page, "idle")
    page.click("#flow-number")
    wait_flow(stack, "number")  # the agent changes flow only while idle: before the tap
    stack.insert("yamada-taro")
    page.wait_for_function(
        "() => document.getElementById('pad').dataset.kind === 'input_helper_pin'")
    wait_screen(page, "entry")
    type_keys(page, creds.input_helper_pin)
    page.click("#entry-ok")
    wait_screen(page, "result")
    page.click("#reveal")
    page.wait_for_selector("#staff-reveal", state="visible")
    shot(page, "staff-reveal-password.png")
    osk_type(page, "wrong-pass", "#staff-reveal-osk")
    page.click("#staff-reveal-ok")
    page.wait_for_selector("#staff-reveal-error", state="visible")
    assert page.text_content("#staff-reveal-error") == "パスワードが違います"
    assert number not in page.content()
    clock.now += 5  # past the delay the wrong password earned
    page.fill("#staff-reveal-password", "Demo-staff-2026")
    page.press("#staff-reveal-password", "Enter")
    spaced = f"{number[:4]} {number[4:8]} {number[8:]}"
    page.wait_for_function(f"() => document.getElementById('r-number').textContent === {spaced!r}")
    assert page.is_hidden("#staff-reveal")
    audit = Path(stack.agent.config.log.audit_file).read_text()
    assert number not in audit and '"event":"reveal"' in audit and '"staff_id":"demo"' in audit


def test_the_unattended_screen_cannot_start_a_staff_flow(page: Any, stack: Stack) -> None:
    from card.ids import AID, MAX_TRIES_MATCH_KEY, SurfaceEF

    page.goto(stack.base_url + "/")
    wait_screen(page, "idle")
    status = page.evaluate("""() => fetch('/api/flow', {method: 'POST', headers: {'Content-Type':
      'application/json', 'X-CSRF-Token': document.querySelector('meta[name=csrf-token]').content},
      body: JSON.stringify({flow: 'face'})}).then(r => r.status)""")
    assert status == 403
    card = stack.insert("yamada-taro")
    page.wait_for_function("() => document.getElementById('pad').dataset.kind === 'sign_password'")
    assert agent_flow(stack) == "sign"
    # Nothing reached the card-face AP: not even a SELECT, and its counter is full.
    assert card.tries_left(AID.SURFACE, SurfaceEF.MATCH_B) == MAX_TRIES_MATCH_KEY
    assert not any(AID.SURFACE.value in a.command for a in card.apdu_log)


def test_sign_in_with_ones_own_card(page: Any, stack: Stack) -> None:
    from agent.cli.commands.staff_cmds import card_reference
    from agent.staff import Role

    stack.agent.service.staff_store.add("kato", CLERK_PASSWORD, Role.CLERK,
                                        card_ref=card_reference("emulator:yamada-taro"))
    page.goto(stack.base_url + "/staff")
    page.wait_for_selector("#staff-signin", state="visible")
    page.click("#staff-card")
    wait_flow(stack, "auth")
    stack.insert("yamada-taro")
    page.wait_for_function("() => document.getElementById('pad').dataset.kind === 'auth_pin'")
    enter_password(page, PERSONAS["yamada-taro"].credentials.auth_pin)
    page.wait_for_function("() => document.body.dataset.staff === 'signed-in'")
    assert "kato" in page.text_content("#staff-who")
    wait_screen(page, "awaiting_removal")  # the member's own card: its tap ends at once
    stack.remove()
    page.wait_for_function("() => document.body.dataset.screen === 'idle'")
    wait_flow(stack, "face")  # back from the sign-in's auth flow, once the card is gone
    stack.insert("yamada-taro")
    page.wait_for_function("() => document.getElementById('pad').dataset.kind === 'match_b'")
