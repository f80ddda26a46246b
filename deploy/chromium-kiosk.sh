#!/bin/sh
# myna-kiosk browser: Debian's chromium full-screen on the kiosk UI, with a fresh, empty profile
# on every start (nothing a previous visitor typed or saw survives a restart). What the visitor
# may do is set by the managed policy (deploy/chromium-policy.json in
# /etc/chromium/policies/managed/): no other URL, no downloads, printing, file dialogs,
# devtools, translation, incognito, sign-in, passwords or autofill. Flags cover only what no
# policy does. Run it under a supervisor that starts it again whenever it exits
# (deploy/myna-chromium.service, a systemd user service in the seat user's graphical session).
# Usage: chromium-kiosk.sh [URL]   (default http://127.0.0.1:8080; MYNA_KIOSK_URL overrides)
# Pairing: every launch writes a new one-time secret to MYNA_PAIRING_FILE (default
# /run/myna-pair/secret, group myna-pair: deploy/myna-pair.conf) and opens /pair?s=<secret>,
# so the kiosk server serves this browser and no other (kiosk_ui/pairing.py). The secret is in
# Chromium's command line: /proc must be mounted hidepid=invisible (deploy/README.md).
set -eu

URL=${1:-${MYNA_KIOSK_URL:-http://127.0.0.1:8080}}
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}

refuse() { echo "chromium-kiosk.sh: refusing $1: $URL" >&2; exit 2; }

# Parse the URL, then compare scheme, host and port exactly: a prefix match would accept
# http://127.0.0.1:8080@evil.example/ (user info) or http://127.0.0.1:8080.evil.example/.
case "$URL" in
    *[[:space:][:cntrl:]\\]*) refuse "a URL with spaces, control characters or backslashes" ;;
    http://*) ;;
    *) refuse "a URL that is not http://" ;;
esac
AUTHORITY=${URL#http://}
AUTHORITY=${AUTHORITY%%/*}
AUTHORITY=${AUTHORITY%%\?*}
AUTHORITY=${AUTHORITY%%#*}
HOST=${AUTHORITY%:*}
PORT=${AUTHORITY##*:}
case "$PORT" in
    ''|*[!0-9]*|0*) refuse "a URL without an exact port" ;;
esac
[ "$PORT" -le 65535 ] || refuse "a URL with a port out of range"
case "$HOST" in
    127.0.0.1|localhost|\[::1\]) ;;
    *) refuse "a non-loopback URL" ;;
esac

WAIT_S=${MYNA_KIOSK_WAIT_S:-30}
PAIRING_FILE=${MYNA_PAIRING_FILE:-/run/myna-pair/secret}

# Wait (up to WAIT_S seconds) for the UI server so the kiosk never shows an error page. Any HTTP
# answer means it is up (it refuses this unpaired request with 403).
i=0
while [ "$i" -lt "$WAIT_S" ] && command -v curl >/dev/null 2>&1; do
    curl -sS -o /dev/null --max-time 1 "$URL" 2>/dev/null && break
    i=$((i + 1))
    sleep 1
done

# A new secret for this launch, readable by the kiosk server's group only; pairing with it
# replaces any earlier pairing.
SECRET=$(head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
( umask 027 && printf '%s\n' "$SECRET" > "$PAIRING_FILE.tmp" && mv -f "$PAIRING_FILE.tmp" "$PAIRING_FILE" )

# The browser opens the pairing URL on the kiosk's own origin, then lands on the page asked for
# (the staff screen for /staff, the kiosk screen otherwise).
REST=${URL#http://"$AUTHORITY"}
case "${REST%%[?#]*}" in
    /staff|/staff/) PAIR_URL="http://$AUTHORITY/pair?s=$SECRET&next=/staff" ;;
    *) PAIR_URL="http://$AUTHORITY/pair?s=$SECRET" ;;
esac

# A browser killed together with this script (power cut, SIGKILL) leaves its profile behind:
# remove every profile of ours before making the new one.
RUNDIR=${XDG_RUNTIME_DIR:-/tmp}
find "$RUNDIR" -maxdepth 1 -name 'myna-chromium.*' -user "$(id -u)" -exec rm -rf {} + 2>/dev/null || true
PROFILE=$(mktemp -d "$RUNDIR/myna-chromium.XXXXXX")
trap 'rm -rf "$PROFILE"' EXIT INT TERM

# Not exec: the trap must remove the profile when chromium exits.
"$CHROMIUM" \
    --kiosk \
    --app="$PAIR_URL" \
    --user-data-dir="$PROFILE" \
    --no-first-run \
    --disable-background-networking \
    --disable-component-update \
    --password-store=basic \
    --disable-session-crashed-bubble \
    --noerrdialogs \
    --disable-pinch \
    --overscroll-history-navigation=0 \
    --autoplay-policy=no-user-gesture-required \
    --check-for-update-interval=31536000
