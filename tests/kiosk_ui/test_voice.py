"""Voice guidance: the fixed phrases rendered offline into real audio files (both languages,
the best Japanese voice installed), and the unattended page asking for the right file on each
screen change in real Chromium when voice is on, and for nothing when it is off."""

from __future__ import annotations

import shutil
import wave
from pathlib import Path
from typing import Any

import pytest

from kiosk_ui import voice
from kiosk_ui.messages import LANGS
from tests.kiosk_ui import test_kiosk_browser as kiosk_browser
from tests.kiosk_ui.test_kiosk_browser import Stack, enter_password, open_kiosk, wait_screen

pytestmark = [
    pytest.mark.browser,
    pytest.mark.emulator_only,
    pytest.mark.skipif(shutil.which("espeak-ng") is None,
                       reason="needs espeak-ng (scripts/install-system-deps.sh)"),
]

# The browser tests' fixtures (real agent + emulator + kiosk server, one Chromium page).
agent_config, stack, page = kiosk_browser.agent_config, kiosk_browser.stack, kiosk_browser.page


@pytest.fixture(scope="module")
def voice_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("voice")
    voice.build(out)
    return out


def test_every_phrase_is_real_audio_in_both_languages(voice_dir: Path) -> None:
    manifest = voice.load_manifest(voice_dir)
    assert manifest is not None and set(manifest) == set(LANGS)
    for lang in LANGS:
        assert set(manifest[lang]) == set(voice.PHRASES)
        for phrase, rel in manifest[lang].items():
            path = voice_dir / rel
            assert path.read_bytes()[:4] == b"RIFF" and path.read_bytes()[8:12] == b"WAVE"
            with wave.open(str(path), "rb") as w:
                assert w.getnchannels() == 1 and w.getsampwidth() == 2
                seconds = w.getnframes() / w.getframerate()
                frames = w.readframes(w.getnframes())
            assert 0.5 < seconds < 15, (lang, phrase, seconds)
            assert max(frames[1::2]) > 8  # not silence: the high bytes of the samples move


def test_japanese_uses_open_jtalk_with_an_hts_voice_when_installed(voice_dir: Path) -> None:
    import json

    engines = json.loads((voice_dir / voice.MANIFEST).read_text())["engines"]
    has_jtalk = (shutil.which("open_jtalk") is not None and voice.NAIST_JDIC.is_dir()
                 and voice.find_htsvoice() is not None)
    assert engines["ja"].startswith("open_jtalk" if has_jtalk else "espeak-ng")
    assert engines["en"] == "espeak-ng"


def test_phrases_are_catalogue_text_only() -> None:
    assert voice.phrase_text("ja", "idle").startswith("カードをかざしてください。")
    assert voice.phrase_text("en", "reading").endswith(".")
    # Nothing personal can be spoken: every phrase is fixed catalogue text, no placeholders.
    for lang in LANGS:
        for phrase in voice.PHRASES:
            assert "{" not in voice.phrase_text(lang, phrase)


@pytest.fixture
def kiosk_config(request: pytest.FixtureRequest, voice_dir: Path) -> dict[str, Any]:
    return {"VOICE_DIR": str(voice_dir)} if getattr(request, "param", True) else {}


def _voice_requests(page: Any) -> list[str]:
    """The voice files the page asks for, in order (a media element may ask for one file in
    several ranges: one entry per file in a row)."""
    asked: list[str] = []

    def seen(request: Any) -> None:
        name = request.url.split("/voice/", 1)[1] if "/voice/" in request.url else None
        if name and (not asked or asked[-1] != name):
            asked.append(name)

    page.on("request", seen)
    return asked


@pytest.mark.parametrize("kiosk_config", [True], indirect=True)
def test_voice_on_asks_for_each_screen_phrase(kiosk_config: dict[str, Any], page: Any,
                                              stack: Stack) -> None:
    asked = _voice_requests(page)
    open_kiosk(page, stack)
    page.wait_for_function("() => document.body.dataset.voice === 'on'")
    stack.insert("yamada-taro")
    wait_screen(page, "entry")
    enter_password(page, "MYNA2026")
    wait_screen(page, "result")
    page.click("#lang")  # English from here on
    # The screen changes before its phrase is asked for: wait for the request, not the screen.
    with page.expect_request("**/voice/en/remove.wav"):
        page.click("#result-done")
    wait_screen(page, "awaiting_removal")
    # The reading screen may come and go between two snapshots; the others are each asked for.
    assert [a for a in asked if a != "ja/reading.wav"] == [
        "ja/idle.wav", "ja/entry_sign_password.wav", "ja/result.wav", "en/remove.wav"]
    # The staff screen stays quiet even with voice built.
    staff_asked = _voice_requests(page)
    page.goto(stack.base_url + "/staff")
    page.wait_for_selector("#staff-signin", state="visible")
    assert page.evaluate("document.body.dataset.voice") is None and staff_asked == []


@pytest.mark.parametrize("kiosk_config", [False], indirect=True)
def test_voice_off_asks_for_nothing(kiosk_config: dict[str, Any], page: Any,
                                    stack: Stack) -> None:
    asked = _voice_requests(page)
    open_kiosk(page, stack)
    stack.insert("yamada-taro")
    enter_password(page, "MYNA2026")
    wait_screen(page, "result")
    page.click("#result-done")
    wait_screen(page, "awaiting_removal")
    assert page.evaluate("document.body.dataset.voice") is None
    status = page.evaluate("async () => (await fetch('/voice/ja/idle.wav')).status")
    assert status == 404 and asked == ["ja/idle.wav"]  # only the fetch this test made


def test_cli_builds_with_espeak(tmp_path: Path) -> None:
    from agent.cli.main import main

    assert main(["voice", "build", str(tmp_path), "--engine", "espeak-ng"]) == 0
    assert voice.load_manifest(tmp_path) is not None



@pytest.mark.parametrize(("volume", "expected"), [(0, None), (0.5, "0.50"), (1, "1.00")])
def test_an_explicit_volume_or_off_is_respected(voice_dir: Path, fake_agent: Any,
                                               volume: float, expected: str | None) -> None:
    from kiosk_ui import create_app
    from tests.kiosk_ui.fake_agent import TOKEN
    from tests.kiosk_ui.helpers import PAIRING_SECRET, paired_client

    client = paired_client(create_app({
        "TESTING": True, "AGENT_URL": fake_agent.url, "AGENT_TOKEN": TOKEN,
        "PAIRING_SECRET": PAIRING_SECRET, "VOICE_DIR": str(voice_dir), "VOICE_VOLUME": volume}))
    html = client.get("/").get_data(as_text=True)
    if expected is None:
        assert "data-voice" not in html
        assert client.get("/voice/ja/idle.wav").status_code == 404
    else:
        assert f'data-voice-volume="{expected}"' in html
        with client.get("/voice/ja/idle.wav") as answer:
            assert answer.status_code == 200 and answer.data[:4] == b"RIFF"
    assert client.get("/voice/ja/../manifest.wav").status_code == 404
    assert client.get("/voice/xx/idle.wav").status_code == 404
