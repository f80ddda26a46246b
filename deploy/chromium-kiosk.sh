#!/bin/sh
# myna-kiosk browser: Debian's chromium full-screen on the kiosk UI, with a fresh, empty profile
# on every start (nothing a previous visitor typed or saw survives a restart), no first-run UI,
# no background traffic, no translation or password prompts. Run it in the seat user's
# graphical session (XDG autostart: deploy/myna-chromium.desktop) after myna-kiosk.service.
# Usage: chromium-kiosk.sh [URL]   (default http://127.0.0.1:8080; MYNA_KIOSK_URL overrides)
set -eu

URL=${1:-${MYNA_KIOSK_URL:-http://127.0.0.1:8080}}
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}

case "$URL" in
    http://127.0.0.1:*|http://localhost:*|http://\[::1\]:*) ;;
    *) echo "chromium-kiosk.sh: refusing non-loopback URL: $URL" >&2; exit 2 ;;
esac

WAIT_S=${MYNA_KIOSK_WAIT_S:-30}

# Wait (up to WAIT_S seconds) for the UI server so the kiosk never shows an error page.
i=0
while [ "$i" -lt "$WAIT_S" ] && command -v curl >/dev/null 2>&1; do
    curl -fsS -o /dev/null --max-time 1 "$URL" 2>/dev/null && break
    i=$((i + 1))
    sleep 1
done

PROFILE=$(mktemp -d "${XDG_RUNTIME_DIR:-/tmp}/myna-chromium.XXXXXX")
trap 'rm -rf "$PROFILE"' EXIT INT TERM

# Not exec: the trap must remove the profile when chromium exits.
"$CHROMIUM" \
    --kiosk \
    --app="$URL" \
    --user-data-dir="$PROFILE" \
    --no-first-run \
    --no-default-browser-check \
    --disable-background-networking \
    --disable-component-update \
    --disable-sync \
    --disable-translate \
    --disable-features=Translate,PasswordManagerOnboarding,AutofillServerCommunication,MediaRouter \
    --password-store=basic \
    --disable-session-crashed-bubble \
    --noerrdialogs \
    --disable-infobars \
    --disable-pinch \
    --overscroll-history-navigation=0 \
    --check-for-update-interval=31536000 \
    --lang=ja \
    --incognito
