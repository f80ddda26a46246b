"""axe-core on every main screen, in real Chromium: no serious or critical violations.

axe.min.js is vendored under tests/kiosk_ui/vendor (axe-core, MPL-2.0) and injected by
Playwright into a context that bypasses the kiosk's CSP, which allows only the kiosk's own
scripts. The kiosk itself never loads it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.kiosk_ui import test_kiosk_browser as kiosk_browser
from tests.kiosk_ui.test_kiosk_browser import (
    LANDSCAPE,
    TIMEOUT_MS,
    Stack,
    enter_password,
    open_kiosk,
    pair,
    type_keys,
    wait_screen,
)

pytestmark = [pytest.mark.browser, pytest.mark.emulator_only]

AXE = Path(__file__).parent / "vendor" / "axe.min.js"
agent_config, stack = kiosk_browser.agent_config, kiosk_browser.stack

RUN_AXE = """async () => {
  const r = await axe.run(document, {runOnly: {type: 'tag',
    values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']}});
  return r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => v.id + ' (' + v.impact + '): ' +
      v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', '));
}"""


@pytest.fixture
def axe_page(browser: Any, stack: Stack) -> Iterator[Any]:
    ctx = browser.new_context(locale="ja-JP", viewport=LANDSCAPE, bypass_csp=True)
    pg = ctx.new_page()
    pg.set_default_timeout(TIMEOUT_MS)
    pair(pg, stack.base_url)
    yield pg
    ctx.close()


def axe_problems(page: Any) -> list[str]:
    if not page.evaluate("typeof axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    found: list[str] = []
    for lang in ("ja", "en"):
        if page.evaluate("document.documentElement.lang") != lang:
            page.click("#lang")
            page.wait_for_function(f"() => document.documentElement.lang === {lang!r}")
        screen = page.evaluate("document.body.dataset.screen")
        found += [f"{screen} {lang}: {v}" for v in page.evaluate(RUN_AXE)]
    return found


def test_unattended_screens_have_no_serious_axe_violations(axe_page: Any, stack: Stack) -> None:
    page = axe_page
    problems: list[str] = []
    open_kiosk(page, stack)
    problems += axe_problems(page)
    stack.insert("yamada-taro")
    wait_screen(page, "entry")
    type_keys(page, "WRONG1")
    page.click("#entry-ok")
    page.wait_for_function("() => !document.getElementById('entry-error').hidden")
    problems += axe_problems(page)
    enter_password(page, "MYNA2026")
    wait_screen(page, "result")
    problems += axe_problems(page)
    page.click("#result-done")
    wait_screen(page, "awaiting_removal")
    problems += axe_problems(page)
    stack.remove()
    wait_screen(page, "idle")
    stack.insert("sign-pin-1-left")
    wait_screen(page, "lasttry")
    problems += axe_problems(page)
    page.click("#lasttry-cancel")
    wait_screen(page, "awaiting_removal")
    stack.remove()
    wait_screen(page, "idle")
    stack.insert("sign-pin-blocked")
    wait_screen(page, "error")
    problems += axe_problems(page)
    assert not problems, "\n".join(problems)


def test_staff_screens_have_no_serious_axe_violations(axe_page: Any, stack: Stack) -> None:
    from card.emulator import PERSONAS

    page = axe_page
    problems: list[str] = []
    open_kiosk(page, stack, "/staff")
    problems += axe_problems(page)
    stack.insert("yamada-taro")
    wait_screen(page, "entry")
    type_keys(page, PERSONAS["yamada-taro"].credentials.match_b)
    problems += axe_problems(page)
    page.click("#entry-ok")
    wait_screen(page, "confirmb")
    problems += axe_problems(page)
    page.click("#confirmb-send")
    wait_screen(page, "result")
    page.wait_for_function("() => document.getElementById('result-photo').naturalWidth > 0")
    problems += axe_problems(page)
    assert not problems, "\n".join(problems)
