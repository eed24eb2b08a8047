"""A child process that reports on stdout and is then killed with SIGKILL: how the crash tests die."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def killed_after_report(script: str, *args: str, what: str = "the child") -> dict[str, Any]:
    """Run `script` (python -c) with `args`; once it printed its one-line JSON report, SIGKILL it.

    The report is what the child saw acknowledged before dying; the caller checks it survived.
    """
    process = subprocess.Popen([sys.executable, "-c", script, *args], cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        line = process.stdout.readline() if process.stdout else ""
        assert line, f"{what} died first: {process.stderr.read() if process.stderr else ''}"
        process.send_signal(signal.SIGKILL)
        assert process.wait(timeout=30) == -signal.SIGKILL
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)
        for stream in (process.stdout, process.stderr):
            if stream:
                stream.close()
    return json.loads(line)
