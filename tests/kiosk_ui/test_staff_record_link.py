"""``myna demo --receiver`` in real headless Chromium: the signed-in staff screen's record panel
links the record id to the demo receiver's page for that record, and the link goes once the
member signs out."""

from __future__ import annotations

import ssl
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.kiosk_ui.helpers import PAIRING_SECRET, kiosk_server, staff_sign_in
from tests.kiosk_ui.test_kiosk_browser import LANDSCAPE, TIMEOUT_MS, Stack, pair
from tests.kiosk_ui.test_staff_browser import show_face_result

pytestmark = [
    pytest.mark.browser,
    pytest.mark.emulator_only,
    pytest.mark.slow,
    pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="needs /usr/bin/chromium"),
]


@pytest.fixture
def demo(tmp_path: Path, trust_dir: Path) -> Iterator[tuple[Stack, Any]]:
    from agent.cli.demo import demo_agent
    from agent.cli.demo_receiver import demo_receiver
    from kiosk_ui import create_app

    with demo_receiver(tmp_path, trust_dir) as rx, \
            demo_agent(tmp_path, extra_sections=rx.agent_sections) as agent:
        app = create_app({"AGENT_URL": agent.url,
                          "AGENT_TOKEN_FILE": str(agent.config.token_path), "DEMO": True,
                          "PAIRING_SECRET": PAIRING_SECRET})
        with kiosk_server(app) as base_url:
            yield Stack(agent, base_url), rx


def test_the_record_panel_links_to_the_receivers_page(browser: Any, demo: Any) -> None:
    stack, rx = demo
    ctx = browser.new_context(locale="ja-JP", viewport=LANDSCAPE)
    page = ctx.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    try:
        pair(page, stack.base_url)
        page.goto(stack.base_url + "/staff")
        staff_sign_in(page)
        show_face_result(page, stack)
        record_id = stack.agent.service.snapshot()["record_id"]
        assert record_id
        link = page.wait_for_selector("#rec-ref a")
        href = link.get_attribute("href")
        assert href == f"{rx.url}/records/{record_id}" and link.text_content() == record_id
        assert link.get_attribute("rel") == "noopener noreferrer"
        # The page behind the link: the receiver's verdict once the outbox has delivered it.
        ca = ssl.create_default_context(cafile=rx.agent_sections["handoff"]["ca_file"])
        deadline, page_text = time.monotonic() + 60, ""
        while time.monotonic() < deadline and "accepted" not in page_text:
            try:
                with urllib.request.urlopen(href, context=ca, timeout=10) as res:  # noqa: S310
                    page_text = res.read().decode()
            except urllib.error.HTTPError as e:
                assert e.code == 404  # not delivered yet
                time.sleep(0.2)
        assert record_id in page_text and "accepted" in page_text
        page.click("#staff-signout")
        page.wait_for_function("() => document.body.dataset.staff === 'signed-out'")
        assert page.evaluate("document.body.dataset.recordViewer") is None
    finally:
        ctx.close()
