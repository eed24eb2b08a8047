#!/bin/sh
# The desk's JavaScript libraries (ui/package-lock.json) into ui/node_modules, served by views/ui.py.
# `npm ci` installs exactly the lockfile; it runs again only when the lockfile changed.
set -e
cd "$(dirname "$0")/../ui"
STAMP=node_modules/.ctpdesk-installed
if [ -f "$STAMP" ] && [ ! package-lock.json -nt "$STAMP" ]; then
    exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
        echo "installing Node.js and npm from Debian (for the desk's JavaScript libraries)"
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
    else
        echo "npm is missing: install Node.js and npm (as root on Debian/Ubuntu: apt-get install -y nodejs npm)," >&2
        echo "then run this again. The API works without them; the browser desk at / needs them." >&2
        exit 1
    fi
fi
# --ignore-scripts: no library of the desk needs one; the only one in the lockfile is the install-time
# analytics of swagger-ui-dist's @scarf/scarf (also off by ui/package.json's scarfSettings)
npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
touch "$STAMP"
