"""The kiosk as people use it, in real Chromium against the real agent and the emulator:
the keyboard, time to type, language through a visit, guidance for a card left behind.
Time-based behaviour runs on Playwright's clock (``page.clock``), never on sleeps."""

from __future__ import annotations

from typing import Any

import pytest

from tests.kiosk_ui import test_kiosk_browser as kiosk_browser
from tests.kiosk_ui.test_kiosk_browser import (
    Stack,
    open_kiosk,
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
