"""``python -m kiosk_ui``: serve the kiosk UI (used by ``myna kiosk`` and ``myna demo``).

Runs as its own process so the UI never shares memory with the agent (design §3).
"""

from __future__ import annotations

import argparse
import logging
import sys

from PIL import Image
from werkzeug.serving import make_server

from kiosk_ui import create_app, viewmodel

LOOPBACK = ("127.0.0.1", "::1", "localhost")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m kiosk_ui")
    p.add_argument("--agent-url", default="http://127.0.0.1:8765")
    p.add_argument("--token-file", default="~/.local/state/myna/agent.token")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--demo", action="store_true", help="serve the demo panel at /demo")
    p.add_argument("--demo-persona", default="yamada-taro", help="persona preselected on /demo")
    args = p.parse_args(argv)
    if args.host not in LOOPBACK:
        # design §5: localhost-only binding (the agent's config refuses the same, api.host).
        p.error("--host must be a loopback address (127.0.0.1, ::1 or localhost)")
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # Request lines carry no identity (none is ever in a URL) but are noise on a kiosk.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    # Pillow's own bomb guard for this whole process, tighter than its default (card images
    # are small; viewmodel also bounds each image before decoding it).
    Image.MAX_IMAGE_PIXELS = viewmodel.MAX_PIXELS
    app = create_app(
        {
            "AGENT_URL": args.agent_url,
            "AGENT_TOKEN_FILE": args.token_file,
            "DEMO": args.demo,
            "DEMO_PERSONA": args.demo_persona,
        }
    )
    server = make_server(args.host, args.port, app, threaded=True)
    # The one line a launcher (myna demo, systemd's journal) reads to learn the URL: stderr,
    # not a WARNING log record, which would look like a problem to a person reading it.
    print(f"kiosk UI on http://{args.host}:{server.server_port}", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
