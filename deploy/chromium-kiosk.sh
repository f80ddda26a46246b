#!/bin/sh
# myna-kiosk browser: Debian's chromium full-screen on the kiosk UI, with a fresh, empty profile
# on every start (nothing a previous visitor typed or saw survives a restart), no first-run UI,
# no background traffic, no translation or password prompts. Run it in the seat user's
# graphical session (XDG autostart: deploy/myna-chromium.desktop) after myna-kiosk.service.
# Usage: chromium-kiosk.sh [URL]   (default http://127.0.0.1:8080; MYNA_KIOSK_URL overrides)
# Pairing: every launch writes a new one-time secret to MYNA_PAIRING_FILE (default
# /run/myna-pair/secret, group myna-pair: deploy/myna-pair.conf) and opens /pair?s=<secret>,
# so the kiosk server serves this browser and no other (kiosk_ui/pairing.py). The secret is in
# Chromium's command line: /proc must be mounted hidepid=invisible (deploy/README.md).
set -eu

URL=${1:-${MYNA_KIOSK_URL:-http://127.0.0.1:8080}}
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}

case "$URL" in
    http://127.0.0.1:*|http://localhost:*|http://\[::1\]:*) ;;
    *) echo "chromium-kiosk.sh: refusing non-loopback URL: $URL" >&2; exit 2 ;;
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

PROFILE=$(mktemp -d "${XDG_RUNTIME_DIR:-/tmp}/myna-chromium.XXXXXX")
trap 'rm -rf "$PROFILE"' EXIT INT TERM

# Not exec: the trap must remove the profile when chromium exits.
"$CHROMIUM" \
    --kiosk \
    --app="${URL%/}/pair?s=$SECRET" \
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
