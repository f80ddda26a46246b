"""``myna voice build DIR``: speak the kiosk's guidance phrases into audio files, offline.

Runs ``python -m kiosk_ui.voice`` in its own process (the agent imports nothing from the
kiosk UI, docs/architecture.md); deploy/ runs it once at install time and points the kiosk
server at DIR (``myna kiosk --voice-dir DIR``).
"""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    v = sub.add_parser("voice", help="voice guidance: speak the fixed phrases into audio files")
    vsub = v.add_subparsers(dest="voice_command", required=True)
    b = vsub.add_parser("build", help="write DIR/<lang>/<phrase>.wav and DIR/manifest.json")
    b.add_argument("directory")
    b.add_argument("--engine", choices=["auto", "open_jtalk", "espeak-ng"], default="auto")
    b.add_argument("--htsvoice", help="HTS voice file for Open JTalk (default: Mei if installed)")
    b.set_defaults(func=cmd_voice_build)


def cmd_voice_build(args: argparse.Namespace) -> int:
    import subprocess  # here, not at the top: building the parser must stay light

    cmd = [sys.executable, "-m", "kiosk_ui.voice", "build", args.directory,
           "--engine", args.engine]
    if args.htsvoice:
        cmd += ["--htsvoice", args.htsvoice]
    return subprocess.run(cmd, check=False).returncode  # noqa: S603 - our own module
