"""A sweep on a dask.distributed cluster (`DASK_SCHEDULER=tcp://host:8786`): one task per point.

Each task runs its point's backtest with `run_in_child` on the worker's machine, so user code runs there in
its own sandboxed process exactly as it does here; the task itself is ours (`run_point`), and what it gets
and gives back is plain data (the spec's JSON, the params, the statistics). The bars go to the cluster once:
scattered to every worker (`broadcast`), each worker writes them once to a file of the sweep in its own
directory, every point on that worker reads that file, and the files are removed when the sweep ends.

The workers must run the same ctpdesk checkout as the client (they import backend.lab and start
`python -m backend.lab.child`): same code, same bars, same params give the same statistics wherever they run.
Cancel sets a cluster-wide Event the running tasks watch (they kill their child) and cancels the futures not
yet started.
"""

from __future__ import annotations

import json
import os
import queue
import tempfile
import threading
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
BARS_PREFIX = "ctpdesk-lab-bars-"  # the bars' file in a worker's directory: this, the sweep's id, .bin
STOP_CHECK = 0.5  # seconds between a task's looks at the cluster-wide stop flag


class ClusterError(RuntimeError):
    """The cluster cannot run the sweep (no scheduler at the address, no workers)."""


def run_on_cluster(spec: BacktestSpec, data_path: Path, points: list[dict[str, Any]], scheduler: str,
                   meter: _Meter, cancel: threading.Event, timeout: float | None,
                   hidden: list[str]) -> tuple[list[PointResult], int]:  # fmt: skip
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
        # the bars and the spec (the strategy's code) go once per worker, not once per point
        run = uuid.uuid4().hex
        bars = client.scatter(payload, broadcast=True, hash=False)
        shared_spec = client.scatter(json.dumps(spec.to_json()), broadcast=True, hash=False)
        stop = Event(f"ctpdesk-lab-stop-{run}", client=client)
        futures = {
            client.submit(run_point, shared_spec, params, bars, run, stop.name, timeout, hidden,
                          key=f"ctpdesk-lab-{run}-{index}", pure=False): index
            for index, params in enumerate(points)
        }  # fmt: skip
        stopped = True
        try:
            results = _collect(futures, points, meter, cancel, stop)
            stopped = cancel.is_set()  # _collect set the stop flag then
            return results, workers
        except BaseException:
            stop.set()  # our fault, or an interrupt: the points still running kill their children
            raise
        finally:
            client.cancel(list(futures), force=True)
            _forget_bars(client, run)
            if not stopped:
                stop.clear()  # every point ended: nothing looks at it any more, the scheduler forgets it
            # (a stopped sweep leaves it set: the points still running look at it every STOP_CHECK)


def _forget_bars(client: Any, run: str) -> None:
    try:
        client.run(remove_bars, run)
    except (OSError, TimeoutError):  # a worker gone meanwhile: its directory goes with it
        pass


def _collect(futures: dict[Any, int], points: list[dict[str, Any]], meter: _Meter, cancel: threading.Event,
             stop: Any) -> list[PointResult]:  # fmt: skip
    """Each future as it finishes (its done-callback hands it over), looking at `cancel` in between."""
    from backend.lab.sweep import PointResult

    finished: queue.SimpleQueue[Any] = queue.SimpleQueue()
    for future in futures:
        future.add_done_callback(finished.put)
    results: list[PointResult] = []
    while len(results) < len(futures):
        if cancel.is_set():
            stop.set()  # running tasks kill their children
            break
        try:
            future = finished.get(timeout=POLL)
        except queue.Empty:
            continue
        index = futures[future]
        outcome = future.result()  # our own fault on the worker (not the user's) raises here
        results.append(PointResult(index, points[index], outcome.get("stats"), outcome.get("error"),
                                   outcome["worker"]))  # fmt: skip
        meter.finished(index)
    return results


def run_point(spec_text: str, params: dict[str, Any], bars: bytes, run: str, stop_name: str,
              timeout: float | None, hidden: list[str]) -> dict[str, Any]:  # fmt: skip
    """The task on a worker: the point's backtest in a child on this machine; {stats} or {error}, and where."""
    from distributed import Event, get_client, get_worker

    from backend.lab.sweep import point_spec

    worker = get_worker()
    path = _bars_file(Path(worker.local_directory), run, bars)
    stop = Event(stop_name, client=get_client())  # the worker's client, looked up here in the task's thread
    cancel = threading.Event()
    watcher = threading.Thread(target=_watch_stop, args=(stop, cancel), daemon=True, name="lab-point-stop")
    watcher.start()
    try:
        report = run_in_child(point_spec(BacktestSpec.from_json(json.loads(spec_text)), params), path,
                              cancel=cancel, timeout=timeout, hidden=[Path(item) for item in hidden])  # fmt: skip
    except LabError as error:
        return {"error": str(error), "worker": worker.address}
    finally:
        cancel.set()  # ends the watcher
        watcher.join()
    return {"stats": dict(report.stats), "worker": worker.address}


def _watch_stop(stop: Any, cancel: threading.Event) -> None:
    """Cancel the point's child when the sweep's cluster-wide stop flag is set (or the point ended)."""
    while not cancel.is_set():
        if stop.wait(STOP_CHECK):
            cancel.set()


def _bars_file(directory: Path, run: str, bars: bytes) -> Path:
    """The sweep's bars as a file on this worker, written once (atomically: tasks may run side by side)."""
    path = directory / f"{BARS_PREFIX}{run}.bin"
    if not path.exists():
        handle, scratch = tempfile.mkstemp(dir=directory, prefix=BARS_PREFIX, suffix=".part")
        with os.fdopen(handle, "wb") as out:
            out.write(bars)
        os.replace(scratch, path)
    return path


def remove_bars(run: str, dask_worker: Any = None) -> None:
    """On every worker (client.run hands it in) at the sweep's end: the sweep's bars file; a point still running
    has read it already."""
    (Path(dask_worker.local_directory) / f"{BARS_PREFIX}{run}.bin").unlink(missing_ok=True)
