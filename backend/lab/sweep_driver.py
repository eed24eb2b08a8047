"""`python -m backend.lab.sweep_driver`: one sweep in a process of its own, for the server.

The server does not run a sweep's pool of waiting threads, nor a dask client (tornado, its own threads and
event loop), inside its gevent loop: it starts this driver (sweep_process.py) and reads its lines. The driver
runs no user code either; each point is still a sandboxed child (run_in_child) here or on a dask worker.

Protocol, plain JSON both ways: the job as one line on stdin `{"version": 1, "spec", "data_path", "points",
"target", "workers", "scheduler", "point_timeout", "hidden"}`; on stdout one line per event:
`{"progress": share}`, then `{"report": SweepReport JSON}` or `{"error": message}`. SIGTERM cancels: running
children are killed, dask futures cancelled, and the report of what finished is still written (with
`cancelled: true`). So does the end of stdin, which the server holds open while it listens: a server that dies
(its end of the pipe closed by the system) leaves no sweep running on without it.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any, TextIO

from backend.lab.report import LabError
from backend.lab.spec import BacktestSpec
from backend.lab.sweep import SweepError, finite_json, run_sweep
from backend.lab.sweep_dask import ClusterError

VERSION = 1


class Lines:
    """JSON lines to the server, one at a time (progress comes from the pool's threads)."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._lock = threading.Lock()

    def send(self, message: dict[str, Any]) -> None:
        with self._lock:
            self._stream.write(json.dumps(message, allow_nan=False, default=_plain) + "\n")
            self._stream.flush()


def _plain(value: Any) -> Any:
    return str(value)


def run_job(job: dict[str, Any], lines: Lines, cancel: threading.Event) -> int:
    if job.get("version") != VERSION:
        lines.send({"error": f"sweep job version {job.get('version')!r}, this driver speaks {VERSION}"})
        return 2
    try:
        report = run_sweep(BacktestSpec.from_json(job["spec"]), Path(job["data_path"]), job["points"],
                           job["target"], job.get("workers"), job.get("scheduler") or None,
                           lambda share: lines.send({"progress": share}), cancel,
                           job.get("point_timeout"), job.get("hidden", []))  # fmt: skip
    except (SweepError, ClusterError, LabError, ValueError, KeyError) as error:
        lines.send({"error": str(error) or type(error).__name__})
        return 1
    lines.send({"report": finite_json(report.to_json())})
    return 0


def main() -> int:
    protocol = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # a stray print (a library's) never enters the protocol
    cancel = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: cancel.set())
    job = json.loads(sys.stdin.readline())
    threading.Thread(target=_cancel_at_end_of_input, args=(cancel,), daemon=True, name="lab-sweep-input").start()
    return run_job(job, Lines(protocol), cancel)


def _cancel_at_end_of_input(cancel: threading.Event) -> None:
    """The server closes stdin when it stops listening, or the system does when the server dies: cancel."""
    sys.stdin.read()
    cancel.set()


if __name__ == "__main__":
    sys.exit(main())
