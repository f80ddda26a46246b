"""How the tests and bench/ui.py start Debian's Chromium headless (test-stack.md: no sandbox as
root, and no background networking, which this machine's closed network would refuse)."""

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
