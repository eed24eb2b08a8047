"""Lint strategy code with pylint, in a subprocess.

Never in the server process: pylint imports and caches a lot (astroid's module cache grows with
every run), may take seconds on a big file and can recurse deeply on odd code. A child process
bounds all of that: a wall-clock timeout kills its whole process group, a semaphore bounds how
many run at once, and its environment carries none of the server's secrets. The code goes to a
fixed file name in a fresh temporary directory, so no path is ever built from user input.
pylint only parses the code (astroid infers statically); it never executes it.

Static inference still computes: astroid folds `(0,) * 10**8` into a tuple of a hundred million
items, so three such lines made the child use 1.6-2.3 GB (issue 16), two at a time. The child
therefore limits its own address space (MEMORY_MB by default; pylint needs under 80 MB on a
200,000-character strategy) and CPU time before pylint is imported (lib/sandbox.py's
limited_module_command, the limits the /run_code child sets too): past the limit astroid gets a
MemoryError, which is LintMemory here, not a machine out of memory.
"""

from __future__ import annotations

import json
import os
import re
import resource
import signal
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from lib.sandbox import limited_module_command

PROJECT_ROOT = str(Path(__file__).resolve().parents[1])  # so `from backend.strategy import Strategy` resolves
MAX_CONCURRENT = 2  # pylint runs at once; more callers wait for a slot
SLOT_WAIT = 10.0  # seconds a caller waits for a slot before LintBusy
FILE_NAME = "strategy.py"  # fixed: never built from user input
MEMORY_MB = 512  # the child's address space (LINT_MEMORY_MB)
_OUT_OF_MEMORY = re.compile(rb"^MemoryError\b", re.MULTILINE)  # a traceback's last line, in pylint's stderr
# Strategy code is short and rarely documented: docstring nags would drown the useful messages.
RCFILE = """\
[MAIN]
jobs=1
persistent=no
load-plugins=
unsafe-load-any-extension=no

[MESSAGES CONTROL]
disable=missing-module-docstring,missing-class-docstring,missing-function-docstring,too-few-public-methods

[FORMAT]
max-line-length=120

[CLASSES]
# A strategy sets its state up in on_init (the worker calls it once, before any other callback), not in
# __init__: attributes first assigned there are not "defined outside __init__" (W0201).
defining-attr-methods=__init__,__new__,setUp,asyncSetUp,__post_init__,on_init
"""

_slots = threading.BoundedSemaphore(MAX_CONCURRENT)


class LintError(RuntimeError):
    """pylint could not produce a report."""


class LintBusy(LintError):
    """Every slot stayed taken for the whole wait."""


class LintTimeout(LintError):
    """pylint ran past the timeout (or its CPU time limit) and was killed."""


class LintMemory(LintError):
    """Checking the code needs more memory than the child may have."""


@dataclass(frozen=True)
class LintMessage:
    line: int
    column: int
    code: str  # the message id, e.g. "E0602"
    error: str  # its symbol, e.g. "undefined-variable"
    message: str
    type: str  # "error", "warning", "convention", "refactor", "fatal" or "info"


def lint(text: str, timeout: float = 30.0, wait: float | None = None, memory_mb: int = MEMORY_MB) -> list[LintMessage]:
    """pylint's messages for `text`, by line; a syntax error is an E0001 message at its line.

    Waits up to `wait` seconds (default SLOT_WAIT) for a slot, then raises LintBusy; LintTimeout
    when pylint runs past `timeout` seconds (it is killed); LintMemory when it needs more than
    `memory_mb` MB of address space (0: no limit).
    """
    if not _slots.acquire(timeout=max(SLOT_WAIT if wait is None else wait, 0.0)):
        raise LintBusy("busy: try again")
    try:
        with tempfile.TemporaryDirectory(prefix="ctpdesk-lint-") as workdir:
            return _parse(_run(text, workdir, timeout, memory_mb))
    finally:
        _slots.release()


def _run(text: str, workdir: str, timeout: float, memory_mb: int) -> str:
    Path(workdir, FILE_NAME).write_text(text, encoding="utf-8")
    rcfile = Path(workdir, "pylintrc")
    rcfile.write_text(RCFILE, encoding="utf-8")
    arguments = ["--output-format=json", "--score=n", "--persistent=n", f"--rcfile={rcfile}", FILE_NAME]
    memory = memory_mb * 1024 * 1024 if memory_mb > 0 else resource.RLIM_INFINITY
    command = limited_module_command("pylint", arguments, memory, int(timeout) + 1)
    env = {
        "PATH": os.environ.get("PATH", os.defpath),
        "LANG": os.environ.get("LANG", "C.UTF-8"),
        "HOME": workdir,  # pylint's cache and any dotfiles land in the throwaway directory
        "PYTHONPATH": PROJECT_ROOT,
    }
    process = subprocess.Popen(  # noqa: S603 - a fixed command on a fixed file name
        command, cwd=workdir, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        start_new_session=True,
    )  # fmt: skip
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(process)
        process.communicate()
        raise LintTimeout(f"pylint took longer than {timeout:g} s") from None
    except BaseException:
        _kill_group(process)
        process.communicate()
        raise
    if _OUT_OF_MEMORY.search(stderr):  # pylint reports astroid's MemoryError as a fatal message, or dies of it
        raise LintMemory(f"the code needs more memory than the checker allows ({memory_mb} MB)")
    if process.returncode == -signal.SIGXCPU:
        raise LintTimeout(f"pylint used more than {int(timeout) + 1} s of CPU time")
    if process.returncode & 32 or not stdout.strip():  # 32: pylint's usage error
        tail = stderr.decode("utf-8", errors="replace").strip()[-500:]
        raise LintError(f"pylint failed (exit {process.returncode}): {tail}")
    return stdout.decode("utf-8", errors="replace")


def _parse(report: str) -> list[LintMessage]:
    try:
        rows = json.loads(report)
    except ValueError:
        raise LintError("pylint's report is not JSON") from None
    messages = [
        LintMessage(
            line=int(row.get("line") or 0),
            column=int(row.get("column") or 0),
            code=str(row.get("message-id", "")),
            error=str(row.get("symbol", "")),
            message=str(row.get("message", "")),
            type=str(row.get("type", "")),
        )
        for row in rows
    ]
    return sorted(messages, key=lambda item: (item.line, item.column, item.code))


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL pylint's whole session (its pid is the group id; it is not reaped yet)."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
