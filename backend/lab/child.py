"""The only way the server, the CLI and sweeps run a backtest: user code in a child process.

`run_in_child` starts `python -m backend.lab.child` in a fresh scratch directory (removed after), sends
the job (the spec and the path of a bars file, data.Bars.to_file) as one JSON line on stdin and reads
JSON lines from a private copy of the child's stdout: progress (at most PROGRESS_RATE a second), then
the report or the error. The child sets the live workers' limits on itself and loads the bars, then
installs their guards (backend/strategy_runtime/guards.py: no new processes, writes only in its
scratch directory, nothing of the server's data directory or config readable), and only then runs
user code. Cancelling kills the child's process group; so does the timeout.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from backend.lab.data import Bars
from backend.lab.report import BadInput, Cancelled, LabError, Report
from backend.lab.spec import BacktestSpec
from backend.strategy_runtime.workdir import HIDDEN_ENV

CHECKOUT = Path(__file__).resolve().parents[2]
PROGRESS_RATE = 10.0  # progress lines a second, at most
MAX_STDERR = 20_000  # characters of the child's stderr kept to explain a crash
EXIT_GRACE = 5.0  # seconds the child has to exit once it has answered
__all__ = ["BadInput", "Cancelled", "LabError", "run_in_child", "stream_in_child"]


def _environment(scratch: Path, hidden: Iterable[Path]) -> dict[str, str]:
    """The child's variables: only what it needs; its HOME and TMPDIR are the scratch directory."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": os.environ.get("LANG", "C.UTF-8"),
        "HOME": str(scratch),
        "TMPDIR": str(scratch),
        "PYTHONPATH": str(CHECKOUT),
        "PYTHONSAFEPATH": "1",
        "PYTHONNOUSERSITE": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "CTPDESK_WORKER_MEMORY_MB": os.environ.get("CTPDESK_WORKER_MEMORY_MB", "1024"),
        HIDDEN_ENV: os.pathsep.join(str(path) for path in hidden),
    }


def run_in_child(spec: BacktestSpec, data_path: Path, progress: Callable[[float], None] | None = None,
                 cancel: threading.Event | None = None, timeout: float | None = None,
                 hidden: Iterable[Path] = ()) -> Report:  # fmt: skip
    """One backtest in a child process; LabError (the user's line, user_error style) when it fails.

    `hidden`: paths the child may not read at all (the server passes its data directory and config,
    strategy_runtime/workdir.hidden_paths); the bars file is read before the guards are installed."""
    job = json.dumps({"spec": spec.to_json(), "data_path": str(Path(data_path).resolve())}) + "\n"

    def write(stdin: Any) -> None:
        stdin.write(job.encode())

    return _run(write, progress, cancel, timeout, hidden)


def stream_in_child(spec: BacktestSpec, source: Callable[[], tuple[int, Iterable[Bars]]],
                    progress: Callable[[float], None] | None = None, cancel: threading.Event | None = None,
                    timeout: float | None = None, hidden: Iterable[Path] = (),
                    stats_only: bool = False) -> Report:  # fmt: skip
    """As run_in_child, with the bars sent piece by piece as they are read: the child runs the first while
    this process reads the next (the CLI parses its CSV so, on another core).

    `source()` gives (the number of bars in all, the pieces); it is called once the child is starting, in
    the thread that feeds it, so that opening and counting the data overlap the child's start-up. On the
    child's stdin after the job line: per piece a line {"n": bars} and the raw bytes of its seven columns
    (data.Bars' order), then {"n": 0}. An exception of `source` or of the pieces (a bad CSV line) ends the
    child and is raised here as it is. `stats_only`: the report's statistics without its rows (what the CLI
    prints: tens of MB less to encode and decode for a million bars)."""

    def write(stdin: Any) -> None:
        expected, pieces = source()
        job = {"spec": spec.to_json(), "stream": int(expected), "stats_only": stats_only}
        stdin.write(json.dumps(job).encode() + b"\n")
        for piece in pieces:
            if len(piece):
                stdin.write(b'{"n":%d}\n' % len(piece))
                for column in piece.columns():
                    stdin.write(memoryview(column).cast("B"))
        stdin.write(b'{"n":0}\n')

    return _run(write, progress, cancel, timeout, hidden)


def _run(write: Callable[[Any], None], progress: Callable[[float], None] | None, cancel: threading.Event | None,
         timeout: float | None, hidden: Iterable[Path]) -> Report:  # fmt: skip
    """Start the child in a scratch directory (removed after), feed its stdin from a thread, read its answer."""
    scratch = Path(tempfile.mkdtemp(prefix="ctpdesk-lab-"))
    try:
        process = subprocess.Popen(  # noqa: S603 - our own module, no shell
            [sys.executable, "-m", "backend.lab.child"], cwd=scratch, env=_environment(scratch, hidden),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
        )  # fmt: skip
        stderr: list[str] = []
        drain = threading.Thread(target=_drain, args=(process.stderr, stderr), daemon=True)
        drain.start()
        failed: list[BaseException] = []
        writer = threading.Thread(target=_feed, args=(process, write, failed), daemon=True)
        writer.start()
        try:
            return _talk(process, progress, cancel, timeout, (drain, stderr))
        except LabError:
            writer.join(EXIT_GRACE)
            if failed:  # the input broke off (a bad line of a CSV): that is the reason, not the child's end
                raise failed[0] from None
            raise
        finally:
            kill_group(process)
            writer.join(EXIT_GRACE)
            drain.join(EXIT_GRACE)
            for stream in (process.stdin, process.stdout, process.stderr):
                if stream is not None:
                    stream.close()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _feed(process: subprocess.Popen, write: Callable[[Any], None], failed: list[BaseException]) -> None:
    """The child's stdin: the job (and the bars, when streamed); a failure of the input ends the child."""
    try:
        write(process.stdin)
    except BrokenPipeError:
        pass  # the child ended first: its answer (or how it ended) says why
    except BaseException as error:  # noqa: BLE001 - handed to the caller's thread
        if process.poll() is None:  # the input itself failed (a bad line of a CSV): end the child, say why
            failed.append(error)
            kill_group(process)
    finally:
        try:
            process.stdin.close()  # type: ignore[union-attr]
        except OSError:
            pass


def _talk(process: subprocess.Popen, progress: Callable[[float], None] | None, cancel: threading.Event | None,
          timeout: float | None, errors: tuple[threading.Thread, list[str]]) -> Report:  # fmt: skip
    assert process.stdout is not None
    stopped: list[str] = []
    watcher = threading.Thread(target=_watch, args=(process, cancel, timeout, stopped), daemon=True)
    watcher.start()
    answer: dict[str, Any] | None = None
    for line in process.stdout:
        try:
            message = json.loads(line)
        except ValueError:
            continue
        kind = message.get("k")
        if kind == "progress" and progress is not None:
            progress(float(message.get("p", 0.0)))
        elif kind in ("report", "error"):
            answer = message
            break
    if stopped:
        raise Cancelled("cancelled") if stopped[0] == "cancel" else LabError(f"timed out after {timeout:g} s")
    if answer is None:
        process.wait(EXIT_GRACE)
        drain, stderr = errors
        drain.join(EXIT_GRACE)  # the rest of what it wrote before it ended
        tail = "".join(stderr).strip().splitlines()[-1:] or [f"exit code {process.returncode}"]
        raise LabError(f"the backtest process ended without a report: {tail[0][:500]}")
    if answer["k"] == "error":
        kind = BadInput if answer.get("input") else LabError
        raise kind(str(answer.get("message", "error")))
    return Report.from_json(answer["d"])


def _drain(stream: Any, kept: list[str]) -> None:
    """Read the child's stderr (the user's prints end there) so it never blocks; keep its tail."""
    size = 0
    for chunk in iter(lambda: stream.read(4096), b""):
        kept.append(chunk.decode(errors="replace"))
        size += len(kept[-1])
        while size > MAX_STDERR and len(kept) > 1:
            size -= len(kept.pop(0))


def _watch(process: subprocess.Popen, cancel: threading.Event | None, timeout: float | None,
           stopped: list[str]) -> None:  # fmt: skip
    deadline = None if timeout is None else time.monotonic() + timeout
    while process.poll() is None:
        if cancel is not None and cancel.is_set():
            stopped.append("cancel")
        elif deadline is not None and time.monotonic() > deadline:
            stopped.append("timeout")
        if stopped:
            kill_group(process)
            return
        if cancel is not None:
            cancel.wait(0.05)
        else:
            time.sleep(0.05)


def kill_group(process: subprocess.Popen) -> None:
    """SIGKILL to the process and every process of its group (its session: it was started in its own), then reap it."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    process.wait()


# --------------------------------------------------------------------------------------------- the child
def _child() -> int:
    """`python -m backend.lab.child`: the job on stdin, JSON lines on a private copy of stdout."""
    from backend.strategy_runtime.guards import protect, set_limits

    set_limits()
    out_fd = os.dup(1)
    os.dup2(2, 1)  # the user's prints (fd 1 and sys.stdout) go to stderr, never into the protocol
    sys.stdout = sys.stderr

    def send(message: dict[str, Any]) -> None:
        # ASCII escapes: encoded and decoded faster than UTF-8 text (a report is tens of MB)
        data = (json.dumps(message, separators=(",", ":"), check_circular=False) + "\n").encode()
        while data:
            data = data[os.write(out_fd, data) :]

    # imported before the guards (no module loads after them), and before the job is read: a streamed job
    # arrives once its data are opened and counted, meanwhile
    from backend.lab.engine import run_backtest

    stdin = sys.stdin.buffer
    feed = None
    try:
        job = json.loads(stdin.readline())
        spec = BacktestSpec.from_json(job["spec"])
        if "stream" in job:
            from backend.lab.data import empty_bars

            data = empty_bars(spec.local_symbol, spec.interval)
            feed = _stream_feed(data, stdin)
        else:
            data = _load_data(spec, Path(job["data_path"]))
    except (ValueError, KeyError, TypeError, OSError) as error:
        send({"k": "error", "message": f"bad job: {error}"})
        return 2
    protect([os.getcwd()])
    last = [0.0]

    def progress(share: float) -> None:
        now = time.monotonic()
        if now - last[0] >= 1 / PROGRESS_RATE:
            last[0] = now
            send({"k": "progress", "p": round(share, 4)})

    try:
        report = run_backtest(spec, data, progress, feed=feed, expected=job.get("stream"))
    except LabError as error:
        send({"k": "error", "message": str(error), "input": isinstance(error, BadInput)})
        return 1
    send({"k": "progress", "p": 1.0})
    if job.get("stats_only"):
        report = Report(stats=report.stats)
    send({"k": "report", "d": report.to_json()})
    return 0


def _stream_feed(bars: Bars, stdin: Any) -> Callable[[], bool]:
    """The engine's feed in a streamed run: the next piece of bars from stdin (see stream_in_child)."""

    def feed() -> bool:
        line = stdin.readline()
        count = int(json.loads(line)["n"]) if line else 0
        if count <= 0:
            return False
        for column in bars.columns():
            size = count * column.itemsize
            data = stdin.read(size)
            if len(data) != size:
                raise LabError("the bars ended in the middle of a piece")
            column.frombytes(data)
        return True

    return feed


def _load_data(spec: BacktestSpec, path: Path) -> Any:
    if spec.mode == "tick":
        from backend.lab import tick_mode  # lab-ticks' module: its own file format

        return tick_mode.load_ticks(path)  # type: ignore[attr-defined]
    from backend.lab.data import Bars

    return Bars.from_file(path)


if __name__ == "__main__":
    sys.exit(_child())
