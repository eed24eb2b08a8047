"""Pre-flight for the native CTP bindings.

Importing openctp_ctp (or openctp_tts) without the zh_CN.GB18030 locale aborts the whole process
with SIGABRT; no try/except can catch it. So the import is first tried in a short subprocess, and a
clear Python error naming the fix is raised instead of losing the server.
"""

from __future__ import annotations

import functools
import subprocess
import sys

LOCALE_FIX = "apt-get install -y locales && localedef -c -f GB18030 -i zh_CN zh_CN.GB18030"
BINDINGS = {"ctp": "openctp_ctp", "tts": "openctp_tts"}


class CtpBindingUnavailable(RuntimeError):
    """The native CTP binding cannot be imported in this process."""


@functools.cache
def _probe(module: str) -> tuple[int, str]:
    code = f"from {module} import tdapi, mdapi"
    try:
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    except subprocess.TimeoutExpired:
        return -1, "timed out importing the binding"
    return done.returncode, (done.stderr or "").strip()[-2000:]


def check_binding(module: str = "openctp_ctp") -> None:
    """Raise CtpBindingUnavailable unless `module` imports cleanly in a subprocess."""
    returncode, stderr = _probe(module)
    if returncode == 0:
        return
    if returncode in (-6, 134) or "locale" in stderr:
        raise CtpBindingUnavailable(
            f"importing {module} aborts the process: the zh_CN.GB18030 locale is missing. Fix (as root): {LOCALE_FIX}"
        )
    if "No module named" in stderr:
        raise CtpBindingUnavailable(f"{module} is not installed: pip install -r requirements.txt")
    raise CtpBindingUnavailable(f"importing {module} failed (exit {returncode}): {stderr}")


def binding_available(module: str = "openctp_ctp") -> tuple[bool, str]:
    """Return (ok, reason) without raising: for skip decisions and status pages."""
    try:
        check_binding(module)
    except CtpBindingUnavailable as error:
        return False, str(error)
    return True, ""


def load_binding(interface: str):
    """Import and return (tdapi, mdapi) for 'ctp' or 'tts' after the pre-flight."""
    try:
        module = BINDINGS[interface]
    except KeyError:
        raise CtpBindingUnavailable(f"unknown CTP interface {interface!r}") from None
    check_binding(module)
    imported = __import__(module, fromlist=["tdapi", "mdapi"])
    return imported.tdapi, imported.mdapi
