"""The limits and guards of a process that runs user code: strategy workers and the lab's backtest children.

Both run the Strategy classes users upload, so both set the same resource limits on themselves before
any user code runs, install the same audit hooks (no new processes; files only in their own working
directory, lib/fileguard.py), and report an exception of the user's code the same way: with the line
of the user's file it came from (user_error).
"""

from __future__ import annotations

import os
import resource
import sys
import traceback

from backend.strategy_runtime.workdir import HIDDEN_ENV
from lib import fileguard

REFUSED_EVENTS = frozenset({
    "os.fork", "os.forkpty", "os.posix_spawn", "os.spawn", "os.exec", "os.system", "subprocess.Popen", "pty.spawn",
    "resource.setrlimit",  # the limits were set before user code ran: they stay
})  # fmt: skip
USER_FRAMES = 5  # the user's frames an error's traceback keeps (the innermost)
MAX_ERROR = 4000  # characters of the error sent to the server


def guard(event: str, args: tuple) -> None:
    if event in REFUSED_EVENTS:
        raise PermissionError(f"{event} is not allowed in a strategy")


def protect(writable: list[str] | None = None) -> None:
    """The audit hooks, before any user code: no new processes; files only in the strategy's own directory.

    The server starts the worker in that directory, so the working directory is what may be written;
    what it may not even read (the data directory, config.yaml) comes in HIDDEN_ENV.
    """
    sys.addaudithook(guard)
    hidden = [path for path in os.environ.get(HIDDEN_ENV, "").split(os.pathsep) if path]
    fileguard.install("strategy", writable=writable or [os.getcwd()], hidden=hidden)


def set_limits() -> None:
    """Set by the process itself before any user code runs (the server passes the memory limit)."""
    memory = int(os.environ.get("CTPDESK_WORKER_MEMORY_MB", "1024")) * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_FSIZE, (16 * 1024 * 1024, 16 * 1024 * 1024))


def user_error(error: BaseException, filename: str) -> str:
    """The error as the strategy's author needs it: what, where in their file, and how it got there.

    "ZeroDivisionError: division by zero (line 12, in on_tick)", then the innermost USER_FRAMES
    frames of their own file with their lines of code; the worker's and the library's frames (the
    dispatcher, the base class) are left out: they say nothing about the user's code.
    """
    frames = [frame for frame in traceback.extract_tb(error.__traceback__) if frame.filename == filename]
    kind = type(error).__name__
    head = f"{kind}: {error}" if str(error) else kind
    if isinstance(error, SyntaxError) and error.filename == filename:
        head = f"{kind}: {error.msg} (line {error.lineno})"
    elif frames:
        head += f" (line {frames[-1].lineno}, in {frames[-1].name})"
    lines = [head]
    if frames:
        lines.append("Traceback (your code, most recent call last):")
        for frame in frames[-USER_FRAMES:]:
            lines.append(f"  line {frame.lineno}, in {frame.name}")
            if frame.line:
                lines.append(f"    {frame.line.strip()[:200]}")
    return "\n".join(lines)[:MAX_ERROR]
