"""A child process that reports on stdout and is then killed with SIGKILL: how the crash tests die."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parents[2]
Report = TypeVar("Report")


def killed_after(script: str, args: list[str], read: Callable[[subprocess.Popen], Report], text: bool = True) -> Report:
    """Run `script` (python -c) with `args`, let `read` take what it reports, then SIGKILL it.

    What `read` returns is what the child had acknowledged before dying; the caller checks it survived.
    """
    process = subprocess.Popen([sys.executable, "-c", script, *args], cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=text)  # fmt: skip
    try:
        report = read(process)
        process.send_signal(signal.SIGKILL)
        assert process.wait(timeout=30) == -signal.SIGKILL
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)
        for stream in (process.stdout, process.stderr):
            if stream:
                stream.close()
    return report


def killed_after_report(script: str, *args: str, what: str = "the child") -> dict[str, Any]:
    """The same, for a child that prints one JSON line once it has done its work."""

    def read(process: subprocess.Popen) -> dict[str, Any]:
        line = process.stdout.readline() if process.stdout else ""
        assert line, f"{what} died first: {process.stderr.read() if process.stderr else ''}"
        return json.loads(line)

    return killed_after(script, list(args), read)
