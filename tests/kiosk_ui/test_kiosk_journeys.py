"""The kiosk as people use it, in real Chromium against the real agent and the emulator:
the keyboard, time to type, language through a visit, guidance for a card left behind.
Time-based behaviour runs on Playwright's clock (``page.clock``), never on sleeps."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.kiosk_ui import test_kiosk_browser as kiosk_browser
from tests.kiosk_ui.test_kiosk_browser import (
    Stack,
    enter_password,
    open_kiosk,
    shot,
    type_keys,
    verify_count,
    wait_screen,
)

pytestmark = [pytest.mark.browser, pytest.mark.emulator_only]

# The browser tests' fixtures (real agent + emulator + kiosk server, one Chromium page).
agent_config, stack, page = kiosk_browser.agent_config, kiosk_browser.stack, kiosk_browser.page


@pytest.mark.parametrize("button", ["#entry-cancel", "#entry-clear"])
def test_enter_on_cancel_or_clear_sends_nothing(page: Any, stack: Stack, button: str) -> None:
    open_kiosk(page, stack)
    card = stack.insert("yamada-taro")
    wait_screen(page, "entry")
    type_keys(page, "WRONG1")
    page.focus(button)
    page.keyboard.press("Enter")
    if button == "#entry-cancel":
        wait_screen(page, "awaiting_removal")  # Enter pressed Cancel, and only Cancel
    else:
        display = "() => document.getElementById('entry-display').textContent === '●●●●●'"
        page.wait_for_function(display)
    assert verify_count(card) == 0
    if button == "#entry-clear":
        type_keys(page, "2")
        page.focus("#entry-display")
        page.keyboard.press("Enter")  # Enter in the credential field itself submits
        page.wait_for_function("() => !document.getElementById('entry-error').hidden")
        assert verify_count(card) == 1


def seconds_left(page: Any) -> int:
    found = re.search(r"あと(\d+)秒で", page.text_content("#timeout-text"))
    assert found, page.text_content("#timeout-text")
    return int(found.group(1))


def test_countdown_warns_before_the_reset_and_more_time_extends_it(page: Any, stack: Stack) -> None:
    page.clock.install()
    open_kiosk(page, stack)
    stack.insert("yamada-taro")
    wait_screen(page, "entry")
    assert page.is_hidden("#timeout-bar")
    with page.expect_response("**/api/activity") as typed:
        type_keys(page, "MYNA")  # typing tells the agent the person is still there
    assert typed.value.json()["timeout_s"] == 30
    page.clock.run_for(16_000)  # 16 s without a touch, 14 s left of the 30 s window
    page.wait_for_selector("#timeout-bar", state="visible")
    shot(page, "timeout-warning.png")
    left = seconds_left(page)
    assert 0 < left <= 15  # the warning comes 15 s before the reset
    assert "秒で最初の画面に戻ります" in page.text_content("#announce")  # said once
    page.clock.run_for(2_000)
    assert seconds_left(page) <= left - 2  # it counts down on screen
    with page.expect_response("**/api/activity") as extended:
        page.click("#timeout-extend")
    assert extended.value.json()["timeout_s"] == 30
    page.wait_for_function("() => document.getElementById('timeout-bar').hidden")
    page.clock.run_for(10_000)  # the window starts again from the tap on 延長する
    assert page.is_hidden("#timeout-bar")
    assert page.evaluate("document.body.dataset.screen") == "entry"
    assert page.text_content("#entry-display") == "●●●●"  # what was typed is still there


@pytest.mark.parametrize("agent_config", [{"credential_s": 1.0}])
def test_time_ran_out_screen_says_so(page: Any, stack: Stack) -> None:
    open_kiosk(page, stack)
    card = stack.insert("yamada-taro")
    wait_screen(page, "timed_out")  # the agent's 1 s window ran out: the page says so
    assert page.text_content("#screen-timed_out h1") == "時間切れになりました"
    assert "カードをいったんお取りください" in page.text_content("#timed-out-body")
    shot(page, "timed-out.png")
    assert verify_count(card) == 0
    stack.remove()
    wait_screen(page, "idle")


def test_match_b_in_three_fields_checked_as_typed(page: Any, stack: Stack) -> None:
    from card.emulator import PERSONAS

    match_b = PERSONAS["foreign-resident"].credentials.match_b  # Gregorian YY on the card
    open_kiosk(page, stack, "/staff")
    card = stack.insert("foreign-resident")
    page.wait_for_selector("#match-b", state="visible")
    type_keys(page, match_b[:8])
    shot(page, "staff-match-b-entry.png")
    for _ in range(8):
        page.click("#entry-clear")
    hint = page.text_content("#mb-birth")
    assert "和暦" in hint and "外国籍" in hint and "西暦の下2桁" in hint
    type_keys(page, "9213")  # month 13: the 3 is refused at once
    assert "月は01から12" in page.text_content("#entry-error")
    shot(page, "staff-match-b-refused.png")
    assert page.text_content("#mb-birth-value") == "921"
    assert "bad" in page.get_attribute("#mb-birth", "class")
    page.click("#entry-clear")
    type_keys(page, match_b[2:6] + "1")  # an expiry year starts with 20
    assert "有効期限の年" in page.text_content("#entry-error")
    assert page.text_content("#mb-expiry-value").strip() == ""
    type_keys(page, match_b[6:])
    assert [page.text_content(f"#mb-{p}-value") for p in ("birth", "expiry", "code")] == [
        match_b[:6], match_b[6:10], match_b[10:]]
    page.click("#entry-ok")
    wait_screen(page, "confirmb")
    page.click("#confirmb-send")
    wait_screen(page, "result")
    assert page.text_content("#r-name") == PERSONAS["foreign-resident"].identity.name
    assert verify_count(card) == 2  # the card-face AP's, then the text AP's (name as text)


def test_staff_errors_tell_the_clerk_what_to_do(page: Any, stack: Stack) -> None:
    from card.emulator import PERSONAS

    open_kiosk(page, stack, "/staff")
    assert page.text_content("#screen-idle h1") == "お客様のカードを読み取り機に置いてください"
    stack.insert("tampered-face")
    enter_password(page, PERSONAS["tampered-face"].credentials.match_b)
    wait_screen(page, "confirmb")
    page.click("#confirmb-send")
    wait_screen(page, "error")
    assert "責任者に報告" in page.text_content("#error-action")
    assert "係員" not in page.inner_text("body")


def test_language_lasts_the_visit_and_japanese_returns_when_idle(page: Any, stack: Stack) -> None:
    page.clock.install()
    open_kiosk(page, stack)
    page.click("#lang")
    page.wait_for_function("() => document.documentElement.lang === 'en'")
    stack.insert("yamada-taro")
    wait_screen(page, "entry")
    stack.remove()  # taken away while the entry screen was up: said so, in English
    wait_screen(page, "idle")
    page.wait_for_selector("#idle-notice", state="visible")
    assert page.text_content("#idle-notice") == (
        "The card was taken away, so we stopped. To go on, place it again.")
    assert page.text_content("#screen-idle h1") == "Tap your card"
    card = stack.insert("yamada-taro")
    wait_screen(page, "entry")
    assert page.text_content("#entry-title") == "Enter your signature certificate password"
    stack.agent.service.demo.fault(remove_after_apdus=card._apdus_since_power_on + 4)
    enter_password(page, "MYNA2026")  # the card leaves mid-read
    wait_screen(page, "idle")
    page.wait_for_selector("#idle-notice", state="visible")
    assert page.text_content("#idle-notice").startswith("The card was removed too early. ")
    page.clock.run_for(20_000)
    assert page.evaluate("document.documentElement.lang") == "en"  # still the same visit
    page.clock.run_for(15_000)  # nobody there for over 30 s: the next person gets Japanese
    page.wait_for_function("() => document.documentElement.lang === 'ja'")
    assert page.text_content("#screen-idle h1") == "カードをかざしてください"


def test_call_staff_raises_a_notice_on_the_staff_screen(page: Any, stack: Stack) -> None:
    open_kiosk(page, stack)
    staff = page.context.new_page()
    staff.goto(stack.base_url + "/staff")
    wait_screen(staff, "idle")
    staff.wait_for_selector("#staff-signin", state="visible")  # nobody is signed in at the desk
    assert staff.is_hidden("#staff-call") and staff.query_selector("#call-staff") is None
    page.click("#call-staff")
    page.wait_for_selector("#call-status", state="visible")
    assert "係員を呼びました" in page.text_content("#announce")
    staff.wait_for_selector("#staff-call", state="visible")  # within one poll
    assert "お客様が呼んでいます" in staff.text_content("#staff-call-text")
    # A customer's call reaches the desk even while signed out: the notice is above the
    # sign-in screen, which starts below it, so neither hides the other.
    notice, signin = staff.locator("#staff-call").bounding_box(), \
        staff.locator("#staff-signin").bounding_box()
    assert notice["y"] == 0 and signin["y"] >= notice["height"] - 1
    shot(page, "call-staff.png")
    shot(staff, "staff-call-notice.png")
    staff.click("#staff-call-answer")  # Playwright clicks only a button nothing covers
    assert staff.is_hidden("#staff-call")
    assert staff.locator("#staff-signin").bounding_box()["y"] == 0
    staff.wait_for_function(
        "async () => (await (await fetch('/api/staff-calls')).json()).calls.length === 0")


def test_card_left_on_the_reader_gets_a_reminder_then_a_sound(page: Any, stack: Stack) -> None:
    page.clock.install()
    open_kiosk(page, stack)
    stack.insert("yamada-taro")
    wait_screen(page, "entry")
    page.click("#entry-cancel")
    wait_screen(page, "awaiting_removal")
    page.clock.run_for(21_000)
    page.wait_for_selector("#card-left", state="visible")
    shot(page, "card-left-reminder.png")
    assert "カードが読み取り機に残っています" in page.text_content("#announce")
    assert page.evaluate("document.body.dataset.beeps") is None  # a sound only after the reminder
    page.clock.run_for(20_000)
    assert page.evaluate("+document.body.dataset.beeps") == 1
    page.clock.run_for(20_000)
    assert page.evaluate("+document.body.dataset.beeps") == 2  # and again, until it is taken
    stack.remove()
    wait_screen(page, "idle")
    page.clock.run_for(1_000)
    assert page.is_hidden("#card-left")


def test_tries_left_are_announced_and_reduced_motion_is_honoured(page: Any, stack: Stack) -> None:
    page.emulate_media(reduced_motion="reduce")
    open_kiosk(page, stack)
    animation = "getComputedStyle(document.querySelector('#screen-idle .card-icon')).animationName"
    assert page.evaluate(animation) == "none"
    stack.insert("yamada-taro")
    wait_screen(page, "entry")
    page.wait_for_function("() => document.getElementById('announce').textContent.includes('残り')")
    page.emulate_media(reduced_motion="no-preference")
    page.click("#entry-cancel")
    wait_screen(page, "awaiting_removal")
    stack.remove()
    wait_screen(page, "idle")
    assert page.evaluate(animation) == "tap"


WATCH_SCREENS = """() => {
  window.seenScreens = [];
  new MutationObserver(() => window.seenScreens.push(document.body.dataset.screen))
    .observe(document.body, {attributes: true, attributeFilter: ['data-screen']});
}"""


@pytest.mark.parametrize("agent_config", [{"credential_s": 120.0}])
def test_a_screen_watched_for_60_s_never_says_unavailable(page: Any, stack: Stack) -> None:
    """Real time on purpose: the relay's socket timeouts are what this watches."""
    open_kiosk(page, stack)
    stack.insert("yamada-taro")
    wait_screen(page, "entry")
    page.evaluate(WATCH_SCREENS)
    page.wait_for_timeout(60_000)
    assert page.evaluate("window.seenScreens") == []  # not one flash of "unavailable"
    assert page.evaluate("document.body.dataset.screen") == "entry"


def test_staff_result_is_a_verification_record(page: Any, stack: Stack) -> None:
    import datetime as dt

    from card.emulator import PERSONAS

    page.clock.set_fixed_time(dt.datetime(2026, 4, 1, 1, 30, tzinfo=dt.UTC))  # 10:30 in Japan
    open_kiosk(page, stack, "/staff")
    stack.insert("yamada-taro")
    enter_password(page, PERSONAS["yamada-taro"].credentials.match_b)
    wait_screen(page, "confirmb")
    page.click("#confirmb-send")
    wait_screen(page, "result")
    session_id = page.evaluate("async () => (await (await fetch('/api/state')).json()).session_id")
    assert page.text_content("#rec-time") == "2026年4月1日10時30分（日本時間）"
    assert page.text_content("#rec-ref") == session_id
    method = page.text_content("#rec-method")
    assert "照合番号B" in method and "券面情報の署名を検証" in method and "本物のカード" in method
    assert page.text_content("#rec-visual") == "まだ確認していません"
    assert "完全性を検証" in page.text_content("#rec-text")
    assert page.text_content("#r-name") == PERSONAS["yamada-taro"].identity.name
    page.check("#visual-check")
    assert page.text_content("#rec-visual") == "本人と一致（10:30に確認）"
    shot(page, "staff-record.png")
    page.click("#lang")
    assert page.text_content("#rec-time") == "1 Apr 2026, 10:30 JST"
    page.click("#lang")
    # The print layout: the record and the data, no buttons, no photo unless configured.
    page.emulate_media(media="print")
    assert page.is_visible("#record") and page.is_visible("#r-birth")
    assert page.is_hidden("#result-done") and page.is_hidden("#result-photo")
    page.emulate_media(media="screen")
    page.click("#result-done")
    wait_screen(page, "awaiting_removal")
    assert page.text_content("#rec-ref") == "" and not page.is_checked("#visual-check")
