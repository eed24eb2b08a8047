#!/bin/sh
# Debian packages some tests run for real: nginx and supervisor (tests/e2e/test_deploy.py) and
# Chromium with a CJK font (tests/e2e/test_browser_desk.py, driven by Playwright with the system browser: no browser downloads).
# Install them when we can (root with apt-get); otherwise say which tests will skip.
# Never fails the build: without them only those tests skip, each with its reason.
PATH="$PATH:/usr/sbin:/sbin"
MISSING=""
command -v nginx >/dev/null 2>&1 || MISSING="$MISSING nginx"
command -v supervisord >/dev/null 2>&1 || MISSING="$MISSING supervisor"
[ -x /usr/bin/chromium ] || MISSING="$MISSING chromium"
# Chinese instrument names in the browser tests' screenshots need a CJK font.
[ -e /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] || MISSING="$MISSING fonts-wqy-microhei"
[ -z "$MISSING" ] && exit 0
FIX="apt-get install -y$MISSING"
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing$MISSING (for the deployment and browser tests)"
    # The tests run their own nginx and supervisord on free loopback ports: keep the packages'
    # services from starting during the install (Debian's policy-rc.d), unless a policy is in place.
    POLICY=/usr/sbin/policy-rc.d
    OURS=""
    if [ ! -e "$POLICY" ]; then
        printf '#!/bin/sh\nexit 101\n' >"$POLICY" && chmod 755 "$POLICY" && OURS=1
    fi
    LOG=$(mktemp)
    if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $MISSING; } >"$LOG" 2>&1; then
        tail -n 20 "$LOG" >&2
        echo "NOTE: could not install$MISSING; the tests needing them will skip. Fix, as root: $FIX" >&2
    fi
    rm -f "$LOG"
    [ -n "$OURS" ] && rm -f "$POLICY"
    exit 0
fi
if [ "$(id -u)" != "0" ]; then
    WHY="not root"
else
    WHY="no apt-get"
fi
echo "NOTE:$MISSING missing ($WHY, so not installed here): the deployment test (nginx, supervisor) and" >&2
echo "      the browser tests (chromium) skip without them. Fix, as root on Debian/Ubuntu: $FIX" >&2
exit 0
