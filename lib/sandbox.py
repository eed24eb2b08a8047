"""Run a snippet of Python in a separate, limited interpreter and report what it printed.

Threat model. The people who may upload code are the desk's own operators: they hold the access
code and can already trade, change settings and run strategies. The sandbox protects the server
from *accidents* in their snippets, not from a determined attacker:

- an endless loop or a slow computation: a wall-clock timeout kills the whole process group (the
  child runs in a session of its own), and RLIMIT_CPU backs it up;
- a memory hog: RLIMIT_AS makes it a MemoryError in the snippet instead of the host's OOM killer;
- a flood of output: it is read in chunks up to a cap, then the child is killed;
- a huge file: RLIMIT_FSIZE (Python ignores SIGXFSZ, so the write fails with EFBIG); RLIMIT_CORE 0;
- leftovers: the snippet runs in a fresh scratch directory that is removed afterwards, even after a
  timeout;
- the server's secrets: the child gets only PATH and LANG (`-I` also ignores PYTHON* variables), so
  CTPDESK_ACCESS_CODE, MONGO_URI and the like are not visible;
- accidental damage: an audit hook (sys.addaudithook) refuses new processes (fork, exec, spawn,
  system, subprocess), signals to other processes, ctypes, sockets and raising the limits again;
  the file-access hook of lib/fileguard.py (the strategy workers use the same one) refuses writing
  or deleting outside the scratch directory, reading outside it and the Python installation (so
  config.yaml and the data directory are out of reach of `open` and sqlite3), and directory
  descriptors (with dir_fd, a relative path would get past the checks).

What it does not protect against: a determined attacker. The child runs as the server's own uid
(root in the container), so the kernel sees no boundary at all, and RLIMIT_NPROC (0: no processes
and no threads) is only enforced for a non-root uid. The audit hook lives in the same interpreter
as the code it polices: monkey-patching the modules the hook calls (os.path and friends), frame and
object introspection, or a C extension that is already importable can get around it; and nothing
bounds how many files (each under RLIMIT_FSIZE) it leaves in the scratch directory until it is
removed. Real isolation needs a separate
uid and a container (or a seccomp/namespace jail); this module is a seat belt against accidents,
not a security boundary.
"""

from __future__ import annotations

import os
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath

from lib import fileguard

MAX_CONCURRENT = 2  # snippets running at once; more callers wait for a slot
SLOT_WAIT = 10.0  # seconds a caller waits for a slot before SandboxBusy
FILE_LIMIT = 10 * 1024 * 1024  # bytes any one file the snippet writes may reach
OPEN_FILES = 64
TRUNCATED = "\n...[truncated]"
SNIPPET = "snippet.py"  # fixed: never built from user input
GUARD = os.path.abspath(fileguard.__file__)  # the file-access hook, shared with the strategy workers

_slots = threading.BoundedSemaphore(MAX_CONCURRENT)


class SandboxBusy(RuntimeError):
    """Every slot stayed taken for the whole wait."""


@dataclass(frozen=True)
class RunResult:
    output: str  # stdout and stderr merged, in order, capped
    exit_code: int  # negative: killed by that signal (the timeout kills with SIGKILL)
    timed_out: bool
    duration_ms: int


# The first lines of a limited child: resource limits it sets on itself before anything else runs.
# They are set there rather than in a preexec_fn because preexec_fn is not safe in a multi-threaded
# parent (the server has native threads), and the effect is the same: they are in place before any
# user code runs. The /run_code child (BOOTSTRAP) and the /check_code pylint child
# (limited_module_command, lib/lint.py) both start with them.
SET_LIMITS = r"""
import resource as _resource


def _set_limits(pairs):
    for _which, _value in pairs:
        _resource.setrlimit(getattr(_resource, _which), (_value, _value))
"""

# Runs in the child before the snippet: limits, then the audit hook, then exec of the snippet.
BOOTSTRAP = SET_LIMITS + r"""
import importlib.util, os, sys, sysconfig, traceback


def _install(memory, cpu, fsize, nofile, guard):
    _set_limits((("RLIMIT_AS", memory), ("RLIMIT_CPU", cpu), ("RLIMIT_FSIZE", fsize), ("RLIMIT_CORE", 0),
                 ("RLIMIT_NOFILE", nofile), ("RLIMIT_NPROC", 0)))
    spec = importlib.util.spec_from_file_location("ctpdesk_fileguard", guard)  # -I: lib/ is not on the path
    fileguard = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fileguard)
    scratch = os.getcwd()
    paths = sysconfig.get_paths()
    python = [paths[key] for key in ("stdlib", "platstdlib", "purelib", "platlib")]
    fileguard.install("sandbox", writable=[scratch],
                      readable=[scratch, *python, "/usr/share/zoneinfo", "/dev/null", "/dev/urandom"])
    refused = frozenset(("os.fork", "os.forkpty", "os.posix_spawn", "os.spawn", "os.exec", "os.system",
                         "subprocess.Popen", "os.kill", "os.killpg", "signal.pthread_kill", "resource.setrlimit",
                         "resource.prlimit", "gc.get_objects", "gc.get_referrers", "gc.get_referents"))

    def hook(event, args, refused=refused):
        if event in refused or event.startswith(("ctypes.", "socket.", "_posixsubprocess.")):
            raise PermissionError(f"sandbox: {event} is not allowed")
        if event == "object.__setattr__" and args[1] in ("__code__", "__defaults__", "__kwdefaults__"):
            raise PermissionError(f"sandbox: setting {args[1]} is not allowed")

    sys.addaudithook(hook)


with open(sys.argv[1], encoding="utf-8") as _file:
    _source = _file.read()
_install(*(int(value) for value in sys.argv[2:6]), sys.argv[6])
del _install, _set_limits, _resource, _file
sys.argv = sys.argv[1:2]
sys.path.insert(0, os.getcwd())  # the library modules written beside the snippet (-I leaves cwd out)
try:
    exec(compile(_source, sys.argv[0], "exec"), {"__name__": "__main__", "__builtins__": __builtins__})
except SystemExit:
    raise
except BaseException as _error:  # the snippet's traceback, without this bootstrap's frame
    _trace = None if isinstance(_error, SyntaxError) else _error.__traceback__.tb_next
    traceback.print_exception(type(_error), _error, _trace)
    sys.exit(1)
"""


def limited_module_command(module: str, args: Sequence[str], memory_bytes: int, cpu_seconds: int) -> list[str]:
    """The command line of `python -m <module> <args>` in a child that first limits its own address
    space (a MemoryError past it, not the host's OOM killer) and CPU time, and dumps no core."""
    code = SET_LIMITS + (
        "import runpy, sys\n"
        "_set_limits(((\"RLIMIT_AS\", int(sys.argv[1])), (\"RLIMIT_CPU\", int(sys.argv[2])), (\"RLIMIT_CORE\", 0)))\n"
        f"sys.argv = [{module!r}, *sys.argv[3:]]\n"
        "del _set_limits, _resource\n"
        f"runpy.run_module({module!r}, run_name=\"__main__\", alter_sys=True)\n"
    )
    return [sys.executable, "-c", code, str(memory_bytes), str(cpu_seconds), *args]


def run_snippet(
    text: str,
    timeout: float = 5.0,
    memory_mb: int = 256,
    max_output: int = 64_000,
    wait: float | None = None,
    library: Mapping[str, str] | None = None,
) -> RunResult:
    """Run `text` as a script in a limited child interpreter.

    `library` maps relative paths (chosen by the caller's code, never by the snippet's author) to
    module sources written beside the snippet, so the snippet can import them: a strategy file
    imports its base class this way. Waits up to `wait` seconds (default SLOT_WAIT) for a slot,
    then raises SandboxBusy.
    """
    if not _slots.acquire(timeout=max(SLOT_WAIT if wait is None else wait, 0.0)):
        raise SandboxBusy("busy: try again")
    try:
        scratch = tempfile.mkdtemp(prefix="ctpdesk-run-")
        try:
            _write_library(scratch, library or {})
            return _run(text, scratch, timeout, memory_mb, max_output)
        finally:
            _remove(scratch)
    finally:
        _slots.release()


def _write_library(scratch: str, library: Mapping[str, str]) -> None:
    for relative, source in library.items():
        parts = PurePosixPath(relative).parts
        if PurePosixPath(relative).is_absolute() or ".." in parts or not relative.endswith(".py"):
            raise ValueError(f"library paths are relative module files: {relative!r}")
        target = os.path.join(scratch, *parts)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "w", encoding="utf-8") as file:
            file.write(source)


def _run(text: str, scratch: str, timeout: float, memory_mb: int, max_output: int) -> RunResult:
    with open(os.path.join(scratch, SNIPPET), "w", encoding="utf-8") as file:
        file.write(text)
    limits = (memory_mb * 1024 * 1024, int(timeout) + 1, FILE_LIMIT, OPEN_FILES)
    command = [sys.executable, "-I", "-B", "-u", "-X", "utf8", "-c", BOOTSTRAP, SNIPPET, *map(str, limits), GUARD]
    env = {"PATH": os.environ.get("PATH", os.defpath), "LANG": os.environ.get("LANG", "C.UTF-8")}
    read_end, write_end = os.pipe()  # our own pipe: the same code works under gevent's patched subprocess
    started = time.monotonic()
    try:
        process = subprocess.Popen(  # noqa: S603 - a fixed command; the snippet is a file in the scratch dir
            command, cwd=scratch, env=env, stdin=subprocess.DEVNULL, stdout=write_end, stderr=write_end,
            start_new_session=True, close_fds=True,
        )  # fmt: skip
    except BaseException:
        os.close(read_end)
        raise
    finally:
        os.close(write_end)
    try:
        output, timed_out = _collect(process, read_end, started + timeout, max_output)
    finally:
        os.close(read_end)
        if process.poll() is None:
            _kill_group(process)
            process.wait()
    return RunResult(
        output=output,
        exit_code=process.returncode,
        timed_out=timed_out,
        duration_ms=round((time.monotonic() - started) * 1000),
    )


def _collect(process: subprocess.Popen[bytes], fd: int, deadline: float, cap: int) -> tuple[str, bool]:
    """Read the child's output until EOF, the deadline or the cap; kill it on the last two."""
    chunks: list[bytes] = []
    size, truncated, timed_out = 0, False, False
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                timed_out = True
                break
            if not selector.select(left):
                continue
            try:
                chunk = os.read(fd, 65536)
            except BlockingIOError:
                continue
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
            if size > cap:
                truncated = True
                break
    if timed_out or truncated:
        _kill_group(process)
    else:
        try:  # the output is closed; the process is normally exiting already
            process.wait(max(deadline - time.monotonic(), 0.001))
        except subprocess.TimeoutExpired:
            timed_out = True
            _kill_group(process)
    output = b"".join(chunks)[:cap].decode("utf-8", errors="replace")
    return output + (TRUNCATED if truncated else ""), timed_out


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL the child's whole session (its pid is the group id); it is not reaped yet, so the id is its."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _remove(path: str) -> None:
    """Remove the scratch directory, even if the snippet took the permissions off its own files."""
    try:
        os.chmod(path, 0o700)
    except OSError:
        pass
    for root, dirs, _files in os.walk(path):
        for name in dirs:
            try:
                os.chmod(os.path.join(root, name), 0o700)
            except OSError:
                pass
    shutil.rmtree(path, ignore_errors=True)
