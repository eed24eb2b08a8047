#!/bin/sh
# openctp_ctp aborts the process (SIGABRT) on import when zh_CN.GB18030 is missing.
# Install the locale when we can (root on Debian/Ubuntu); otherwise say exactly what to run.
if locale -a 2>/dev/null | grep -qi '^zh_CN\.gb18030$'; then
    exit 0
fi
FIX="apt-get install -y locales && localedef -c -f GB18030 -i zh_CN zh_CN.GB18030"
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing the zh_CN.GB18030 locale (needed by openctp_ctp)"
    if ! command -v localedef >/dev/null 2>&1 || [ ! -d /usr/share/i18n/locales ] || [ ! -f /usr/share/i18n/locales/zh_CN ]; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq locales >/dev/null
    fi
    localedef -c -f GB18030 -i zh_CN zh_CN.GB18030 || true
    locale -a 2>/dev/null | grep -qi '^zh_CN\.gb18030$' && exit 0
    echo "could not install the zh_CN.GB18030 locale; run as root: $FIX" >&2
    exit 1
fi
echo "NOTE: the zh_CN.GB18030 locale is missing; the real CTP interface (openctp_ctp) cannot be used" >&2
echo "      and its tests are skipped. Fix, as root: $FIX" >&2
exit 0
