"""Every screen at the four kiosk sizes, in both languages, in real Chromium.

A walk through the journeys stops on each screen and checks it at 1920×1080, 1080×1920,
1366×768 (a common cheap kiosk panel) and 800×1280 (a tablet), in Japanese and English: every
visible button and the verdict must be inside the viewport and not covered by anything else,
nothing may be wider than the screen, and a new screen opens at its top.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.kiosk_ui import test_kiosk_browser as kiosk_browser
from tests.kiosk_ui.test_kiosk_browser import (
    Stack,
    enter_password,
    open_kiosk,
    shot,
    type_keys,
    wait_flow,
    wait_screen,
)

# The browser tests' fixtures (real agent + emulator + kiosk server, one Chromium page).
agent_config, stack, page = kiosk_browser.agent_config, kiosk_browser.stack, kiosk_browser.page

pytestmark = [pytest.mark.browser, pytest.mark.emulator_only]

SIZES = {
    "1920x1080": {"width": 1920, "height": 1080},
    "1080x1920": {"width": 1080, "height": 1920},
    "1366x768": {"width": 1366, "height": 768},
    "800x1280": {"width": 800, "height": 1280},
}

# Returns what is wrong with the screen on display now, as readable strings (empty: all good).
LAYOUT_PROBLEMS = """(mustSee) => {
  const problems = [];
  const W = innerWidth, H = innerHeight;
  const doc = document.documentElement, main = document.querySelector('main');
  if (doc.scrollWidth > W + 1) problems.push('page wider than the screen: ' + doc.scrollWidth);
  if (main.scrollWidth > main.clientWidth + 1) {
    const wide = [...main.querySelectorAll('*')].filter((e) => e.offsetParent &&
      e.getBoundingClientRect().right > main.getBoundingClientRect().right + 1);
    problems.push('main scrolls sideways: ' +
      wide.slice(-3).map((e) => e.tagName + '#' + e.id + '.' + e.className).join(' '));
  }
  const screen = document.getElementById('screen-' + document.body.dataset.screen);
  const label = (el) => '#' + (el.id || el.dataset.key || el.dataset.flow || el.tagName) +
    ' "' + el.textContent.trim().slice(0, 20) + '"';
  const onScreen = (el, what) => {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) return;
    if (r.top < -1 || r.left < -1 || r.bottom > H + 1 || r.right > W + 1) {
      problems.push(what + ' ' + label(el) + ' outside the viewport ' +
        JSON.stringify([Math.round(r.left), Math.round(r.top), Math.round(r.right),
                        Math.round(r.bottom)]));
      return;
    }
    const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
    if (!hit || !(el === hit || el.contains(hit) || hit.contains(el))) {
      problems.push(what + ' ' + label(el) + ' covered by ' +
        (hit ? hit.tagName + '#' + hit.id : 'nothing'));
    }
  };
  const visible = (el) => el.offsetParent !== null || getComputedStyle(el).position === 'fixed';
  document.querySelectorAll('header button').forEach((b) => {
    if (visible(b)) onScreen(b, 'header button');
  });
  screen.querySelectorAll('button').forEach((b) => { if (visible(b)) onScreen(b, 'button'); });
  onScreen(screen.querySelector('h1'), 'heading');
  mustSee.forEach((sel) => {
    const el = document.querySelector(sel);
    if (el && visible(el)) onScreen(el, 'verdict');
  });
  return problems;
}"""


def set_lang(page: Any, lang: str) -> None:
    if page.evaluate("document.documentElement.lang") != lang:
        page.click("#lang")
        page.wait_for_function(f"() => document.documentElement.lang === {lang!r}")


def check_every_size(
    page: Any, must_see: tuple[str, ...] = (), shots: str | None = None
) -> None:
    """The screen on display, at each size and in each language, then back to 1920×1080 ja.

    ``shots`` names the README tour's pictures of it at the kiosk-panel and tablet sizes.
    """
    problems: list[str] = []
    for size_name, size in SIZES.items():
        page.set_viewport_size(size)
        for lang in ("ja", "en"):
            set_lang(page, lang)
            if shots and lang == "ja" and size_name in ("1366x768", "800x1280"):
                shot(page, f"{shots}-{size_name}.png")
            screen = page.evaluate("document.body.dataset.screen")
            found = page.evaluate(LAYOUT_PROBLEMS, list(must_see))
            problems += [f"{screen} {size_name} {lang}: {p}" for p in found]
    set_lang(page, "ja")
    page.set_viewport_size(SIZES["1920x1080"])
    assert not problems, "\n".join(problems)


RESULT_VERDICT = ("#result-title", "#result-badges", "#r-name", "#result-done")


def test_unattended_screens_fit_every_size(page: Any, stack: Stack) -> None:
    open_kiosk(page, stack)
    check_every_size(page)
    stack.insert("yamada-taro")
    wait_screen(page, "entry")
    type_keys(page, "MYNA")
    check_every_size(page, ("#entry-display", "#entry-tries"), shots="password-entry")
    page.click("#entry-ok")  # too short: refused on the page
    type_keys(page, "XX")
    page.click("#entry-ok")
    page.wait_for_function("() => !document.getElementById('entry-error').hidden")
    check_every_size(page, ("#entry-error", "#entry-display"))
    enter_password(page, "MYNA2026")
    wait_screen(page, "result")
    check_every_size(page, RESULT_VERDICT, shots="result")
    page.click("#result-done")
    wait_screen(page, "awaiting_removal")
    check_every_size(page)
    stack.remove()
    wait_screen(page, "idle")


def test_last_try_and_error_screens_fit_every_size(page: Any, stack: Stack) -> None:
    open_kiosk(page, stack)
    stack.insert("sign-pin-1-left")
    wait_screen(page, "lasttry")
    check_every_size(page)
    page.click("#lasttry-cancel")
    wait_screen(page, "awaiting_removal")
    stack.remove()
    wait_screen(page, "idle")
    stack.insert("sign-pin-blocked")
    wait_screen(page, "error")
    check_every_size(page, ("#error-title", "#error-action", "#error-done"))


def test_staff_screens_fit_every_size(page: Any, stack: Stack) -> None:
    from card.emulator import PERSONAS

    open_kiosk(page, stack, "/staff")
    check_every_size(page)
    stack.insert("yamada-taro")
    match_b = PERSONAS["yamada-taro"].credentials.match_b
    wait_screen(page, "entry")
    type_keys(page, match_b[:8])
    check_every_size(page, ("#mb-birth", "#mb-expiry", "#mb-code"), shots="staff-match-b")
    type_keys(page, match_b[8:])
    page.click("#entry-ok")
    wait_screen(page, "confirmb")
    check_every_size(page, ("#confirmb-number",))
    page.click("#confirmb-send")
    wait_screen(page, "result")
    page.wait_for_function("() => document.getElementById('result-photo').naturalWidth > 0")
    check_every_size(page, (*RESULT_VERDICT, "#result-photo"), shots="staff-face-result")


def test_new_screen_opens_at_its_top_with_focus_on_its_heading(page: Any, stack: Stack) -> None:
    page.set_viewport_size(SIZES["1366x768"])
    open_kiosk(page, stack, "/staff")
    stack.insert("yamada-taro")
    wait_screen(page, "entry")
    # Scroll the entry screen down as far as it goes, then let the result replace it.
    page.evaluate("() => { document.querySelector('main').scrollTop = 10000; }")
    from card.emulator import PERSONAS

    type_keys(page, PERSONAS["yamada-taro"].credentials.match_b)
    page.click("#entry-ok")
    wait_screen(page, "confirmb")
    assert page.evaluate("document.activeElement.id || document.activeElement.tagName") != "BODY"
    assert page.evaluate("document.activeElement.tagName") == "H1"
    page.click("#confirmb-send")
    wait_screen(page, "result")
    assert page.evaluate("document.querySelector('main').scrollTop") == 0
    assert page.evaluate("window.scrollY") == 0
    assert page.evaluate("document.activeElement.id") == "result-title"


# Words (split at spaces) and the unbreakable pieces (.nowrap) that a line break cut in two.
SPLIT_WORDS = """(sel) => {
  const split = [];
  const lines = (r) => new Set([...r.getClientRects()].map((q) => Math.round(q.top))).size;
  document.querySelectorAll(sel).forEach((el) => {
    const text = el.firstChild && el.firstChild.nodeType === 3 ? el.firstChild : null;
    if (text) {
      let at = 0;
      text.data.split(' ').forEach((w) => {
        const r = document.createRange();
        r.setStart(text, at); r.setEnd(text, at + w.length);
        if (w && lines(r) > 1) split.push(w);
        at += w.length + 1;
      });
    }
    el.querySelectorAll('.nowrap').forEach((s) => {
      if (lines(s) > 1) split.push(s.textContent);
    });
  });
  return split;
}"""


def test_words_names_and_dates_are_never_split(page: Any, stack: Stack) -> None:
    page.set_viewport_size(SIZES["800x1280"])
    open_kiosk(page, stack)
    assert page.evaluate("getComputedStyle(document.body).wordBreak") == "auto-phrase"
    stack.insert("foreign-resident")
    enter_password(page, "MYNA2026")
    wait_screen(page, "result")
    assert page.text_content("#r-name") == "SMITH JOHN MICHAEL ALEXANDER"
    # Make the name column narrow enough that the long name has to wrap somewhere.
    page.evaluate("() => { document.getElementById('result-facts').style.maxWidth = '600px'; }")
    for lang in ("ja", "en"):
        set_lang(page, lang)
        assert page.evaluate(SPLIT_WORDS, "#r-name, #r-birth, #r-expiry") == []
        assert page.evaluate(
            "() => document.getElementById('r-name').getClientRects().length"
        ) >= 1
    assert page.evaluate("getComputedStyle(document.body).wordBreak") in ("normal", "keep-all")


def test_time_warning_and_reminder_screens_fit_every_size(page: Any, stack: Stack) -> None:
    page.clock.install()
    open_kiosk(page, stack)
    stack.insert("yamada-taro")
    wait_screen(page, "entry")
    page.clock.run_for(16_000)
    page.wait_for_selector("#timeout-bar", state="visible")
    check_every_size(page, ("#timeout-extend", "#entry-display"))
    page.click("#entry-cancel")
    wait_screen(page, "awaiting_removal")
    page.clock.run_for(21_000)
    page.wait_for_selector("#card-left", state="visible")
    check_every_size(page, ("#card-left",))
    page.click("#call-staff")
    page.wait_for_selector("#call-status", state="visible")
    check_every_size(page, ("#call-status",))


@pytest.mark.parametrize("agent_config", [{"credential_s": 1.0}])
def test_timed_out_screen_fits_every_size(page: Any, stack: Stack) -> None:
    open_kiosk(page, stack)
    stack.insert("yamada-taro")
    wait_screen(page, "timed_out")
    check_every_size(page, ("#timed-out-body",))


def test_staff_number_result_fits_every_size(page: Any, stack: Stack) -> None:
    from card.emulator import PERSONAS

    open_kiosk(page, stack, "/staff")
    page.wait_for_selector("#flow-choice", state="visible")
    page.click("#flow-number")
    wait_flow(stack, "number")  # the agent changes flow only while idle: before the tap
    stack.insert("foreign-resident")
    pad_kind = "() => document.getElementById('pad').dataset.kind"
    page.wait_for_function(f"{pad_kind} === 'input_helper_pin'")
    enter_password(page, PERSONAS["foreign-resident"].credentials.input_helper_pin)
    wait_screen(page, "result")
    check_every_size(page, (*RESULT_VERDICT, "#reveal", "#r-number"))


def test_staff_sign_in_fits_every_size(page: Any, stack: Stack) -> None:
    # The sign-in screen covers the staff page until someone signs in; its keyboard's longest
    # row (11 keys) was wider than a tablet in portrait and clipped on both sides.
    open_kiosk(page, stack)
    staff = page.context.new_page()
    staff.goto(stack.base_url + "/staff")
    staff.wait_for_selector("#staff-signin", state="visible")
    problems = []
    for size_name, size in SIZES.items():
        staff.set_viewport_size(size)
        problems += [f"{size_name}: {p}" for p in staff.evaluate("""() => {
          const out = [], W = innerWidth;
          if (document.documentElement.scrollWidth > W + 1) out.push('page wider than the screen');
          for (const el of document.querySelectorAll('#staff-signin button, #staff-signin input')) {
            const r = el.getBoundingClientRect();
            if (r.width && (r.left < -1 || r.right > W + 1))
              out.push((el.id || el.textContent.trim()) + ' outside ' + [r.left, r.right]);
          }
          return out;
        }""")]
    assert not problems, "\n".join(problems)
