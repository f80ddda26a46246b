"""``python -m kiosk_ui``: serve the kiosk UI (used by ``myna kiosk`` and ``myna demo``).

Runs as its own process so the UI never shares memory with the agent (design §3).
"""

from __future__ import annotations

import argparse
import logging
import sys

from PIL import Image

from kiosk_ui import create_app, viewmodel
from kiosk_ui.http_server import KioskServer, inherited_socket, is_loopback, listening_socket

LOOPBACK = ("127.0.0.1", "::1", "localhost")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m kiosk_ui")
    p.add_argument("--agent-url", default="http://127.0.0.1:8765")
    p.add_argument("--token-file", default="~/.local/state/myna/agent.token")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument(
        "--pairing-file",
        default=None,
        help="file the browser launcher writes each launch's one-time pairing secret to",
    )
    p.add_argument(
        "--pairing-state",
        default=None,
        help="file (0600) that keeps the pairing across restarts of this server (digests only)",
    )
    p.add_argument("--staff-calls-state", default=None,
                   help="file (0600) that keeps open calls for staff across restarts")
    p.add_argument("--voice-dir", default=None,
                   help="voice guidance files built by `myna voice build DIR` (default: none)")
    p.add_argument("--demo", action="store_true", help="serve the demo panel at /demo")
    p.add_argument("--demo-persona", default="yamada-taro", help="persona preselected on /demo")
    args = p.parse_args(argv)
    if args.host not in LOOPBACK:
        # design §5: localhost-only binding (the agent's config refuses the same, api.host).
        p.error("--host must be a loopback address (127.0.0.1, ::1 or localhost)")
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # A full task queue is expected under a flood (the bounds hold); it is not an error.
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    # Pillow's own bomb guard for this whole process, tighter than its default (card images
    # are small; viewmodel also bounds each image before decoding it).
    Image.MAX_IMAGE_PIXELS = viewmodel.MAX_PIXELS
    app = create_app(
        {
            "AGENT_URL": args.agent_url,
            "AGENT_TOKEN_FILE": args.token_file,
            "DEMO": args.demo,
            "DEMO_PERSONA": args.demo_persona,
            **({"PAIRING_FILE": args.pairing_file} if args.pairing_file else {}),
            **({"PAIRING_STATE": args.pairing_state} if args.pairing_state else {}),
            **({"VOICE_DIR": args.voice_dir} if args.voice_dir else {}),
            **({"STAFF_CALLS_STATE": args.staff_calls_state} if args.staff_calls_state else {}),
        }
    )
    sock = inherited_socket()  # systemd socket activation: the port held since boot
    if sock is None:
        sock = listening_socket(args.host, args.port)
    elif not is_loopback(sock):
        p.error("the socket handed over by systemd must be on a loopback address")
    server = KioskServer(app, sock)
    # The one line a launcher (myna demo, systemd's journal) reads to learn the URL: stderr,
    # not a WARNING log record, which would look like a problem to a person reading it.
    host = sock.getsockname()[0]
    url = f"http://{f'[{host}]' if ':' in host else host}:{server.port}"
    made_up = app.config["PAIRING_SECRET_MADE_UP"]
    if made_up:
        # No launcher handed a secret: the person who started this server pairs a browser.
        print(f"pair a browser: {url}/pair?s={made_up}", file=sys.stderr, flush=True)
    print(f"kiosk UI on {url}", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
