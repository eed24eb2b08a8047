"""A sweep on a dask.distributed cluster (`DASK_SCHEDULER=tcp://host:8786`): one task per point.

Each task runs its point's backtest with `run_in_child` on the worker's machine, so user code runs there in
its own sandboxed process exactly as it does here; the task itself is ours (`run_point`), and what it gets
and gives back is plain data (the spec's JSON, the params, the statistics). The bars go to the cluster once:
scattered to every worker (`broadcast`), each worker writes them once to a file named by their digest in its
own directory, and every point on that worker reads that file.

The workers must run the same ctpdesk checkout as the client (they import backend.lab and start
`python -m backend.lab.child`): same code, same bars, same params give the same statistics wherever they run.
Cancel sets a cluster-wide Event the running tasks watch (they kill their child) and cancels the futures not
yet started.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from backend.lab.child import run_in_child
from backend.lab.report import LabError
from backend.lab.spec import BacktestSpec

if TYPE_CHECKING:
    from backend.lab.sweep import PointResult, _Meter

CONNECT_TIMEOUT = 30.0  # seconds to reach the scheduler
WORKERS_TIMEOUT = 60.0  # seconds to wait for at least one worker
POLL = 0.25  # seconds between looks at the cancel flag while points run
STOP_CHECK = 0.5  # seconds between a task's looks at the cluster-wide stop flag


class ClusterError(RuntimeError):
    """The cluster cannot run the sweep (no scheduler at the address, no workers)."""


def run_on_cluster(spec: BacktestSpec, data_path: Path, points: list[dict[str, Any]], scheduler: str,
                   meter: _Meter, cancel: threading.Event,
                   timeout: float | None) -> tuple[list[PointResult], int]:  # fmt: skip
    """The points' results (in the order they finished) and the number of workers the cluster had."""
    from distributed import Client, Event

    try:
        client = Client(scheduler, timeout=CONNECT_TIMEOUT, set_as_default=False)
    except (OSError, TimeoutError) as error:
        raise ClusterError(f"dask scheduler {scheduler}: {error}") from None
    with client:
        try:
            client.wait_for_workers(1, timeout=WORKERS_TIMEOUT)
        except TimeoutError:
            raise ClusterError(f"dask scheduler {scheduler}: no worker within {WORKERS_TIMEOUT:g} s") from None
        workers = len(client.scheduler_info(n_workers=-1)["workers"])
        payload = data_path.read_bytes()
        bars = client.scatter(payload, broadcast=True, hash=False)  # once per worker, not once per point
        run = uuid.uuid4().hex
        stop = Event(f"ctpdesk-lab-stop-{run}", client=client)
        futures = {
            client.submit(run_point, spec.to_json(), params, bars, hashlib.sha256(payload).hexdigest(), stop.name,
                          timeout, key=f"ctpdesk-lab-{run}-{index}", pure=False): index
            for index, params in enumerate(points)
        }  # fmt: skip
        try:
            return _collect(client, futures, points, meter, cancel, stop), workers
        finally:
            client.cancel(list(futures), force=True)
            stop.clear()


def _collect(client: Any, futures: dict[Any, int], points: list[dict[str, Any]], meter: _Meter,
             cancel: threading.Event, stop: Any) -> list[PointResult]:  # fmt: skip
    from distributed import wait

    from backend.lab.sweep import PointResult

    results: list[PointResult] = []
    pending = set(futures)
    while pending:
        if cancel.is_set():
            stop.set()  # running tasks kill their children
            break
        try:
            done, pending = wait(pending, timeout=POLL, return_when="FIRST_COMPLETED")
        except TimeoutError:
            continue
        for future in done:
            index = futures[future]
            outcome = future.result()  # our own fault on the worker (not the user's) raises here
            results.append(PointResult(index, points[index], outcome.get("stats"), outcome.get("error"),
                                       outcome["worker"]))  # fmt: skip
            meter.finished(index)
    return results


def run_point(spec_json: dict[str, Any], params: dict[str, Any], bars: bytes, digest: str, stop_name: str,
              timeout: float | None) -> dict[str, Any]:  # fmt: skip
    """The task on a worker: the point's backtest in a child on this machine; {stats} or {error}, and where."""
    from distributed import Event, get_worker

    from backend.lab.sweep import point_spec

    worker = get_worker()
    path = _bars_file(Path(worker.local_directory), digest, bars)
    stop = Event(stop_name)  # bound to this worker's client here, in the task's thread
    cancel = threading.Event()
    watch = _StopWatch(stop, cancel)
    try:
        report = run_in_child(point_spec(BacktestSpec.from_json(spec_json), params), path, progress=watch,
                              cancel=cancel, timeout=timeout)  # fmt: skip
    except LabError as error:
        return {"error": str(error), "worker": worker.address}
    return {"stats": dict(report.stats), "worker": worker.address}


class _StopWatch:
    """The child's progress callback: looks at the cluster-wide stop flag at most every STOP_CHECK seconds."""

    def __init__(self, stop: Any, cancel: threading.Event) -> None:
        self._stop = stop
        self._cancel = cancel
        self._next = time.monotonic() + STOP_CHECK

    def __call__(self, _share: float) -> None:
        if time.monotonic() < self._next:
            return
        self._next = time.monotonic() + STOP_CHECK
        if self._stop.is_set():
            self._cancel.set()


def _bars_file(directory: Path, digest: str, bars: bytes) -> Path:
    """The bars as a file on this worker, written once (atomically: tasks may run side by side)."""
    path = directory / f"ctpdesk-lab-bars-{digest}.bin"
    if not path.exists():
        handle, scratch = tempfile.mkstemp(dir=directory, prefix="ctpdesk-lab-bars-", suffix=".part")
        with os.fdopen(handle, "wb") as out:
            out.write(bars)
        os.replace(scratch, path)
    return path
