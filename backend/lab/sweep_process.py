"""A sweep in its own driver process (sweep_driver.py): what the server calls, so that neither the pool of
waiting threads nor a dask client lives inside its gevent loop.

`run_sweep_in_process` takes the arguments of `run_sweep` and answers the same SweepReport; progress comes
from the driver's lines, `cancel` terminates the driver (which kills its children or cancels its dask
futures and still reports what finished), and a driver that does not stop is killed with its process group.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from backend.lab.child import CHECKOUT, kill_group
from backend.lab.data import Bars
from backend.lab.plans import data_file, headline
from backend.lab.report import LabError
from backend.lab.runs import Outcome, Work
from backend.lab.spec import BacktestSpec
from backend.lab.sweep import Progress, SweepReport
from backend.lab.sweep_driver import VERSION
from backend.lab.ticks import Ticks
from backend.strategy_runtime.workdir import hidden_paths

POLL = 0.2  # seconds between looks at the cancel flag while the driver runs
STOP_GRACE = 10.0  # seconds a cancelled driver has to report what finished before it is killed
ERROR_TAIL = 2000  # characters of the driver's own output kept for an error message


def run_sweep_in_process(spec: BacktestSpec, data_path: Path | str, points: list[dict[str, Any]], target: str,
                         workers: int | None = None, scheduler: str | None = None,
                         progress: Progress | None = None, cancel: threading.Event | None = None,
                         point_timeout: float | None = None,
                         hidden: Iterable[Path | str] = ()) -> SweepReport:  # fmt: skip
    """As run_sweep, in a driver process; LabError with the driver's message when the sweep cannot run."""
    job = {"version": VERSION, "spec": spec.to_json(), "data_path": str(data_path), "points": points,
           "target": target, "workers": workers, "scheduler": scheduler, "point_timeout": point_timeout,
           "hidden": [str(path) for path in hidden]}  # fmt: skip
    cancel = cancel or threading.Event()
    with tempfile.TemporaryFile() as errors:
        driver = subprocess.Popen([sys.executable, "-m", "backend.lab.sweep_driver"], cwd=CHECKOUT,
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors,
                                  start_new_session=True)  # fmt: skip
        watcher = threading.Thread(target=_watch, args=(driver, cancel), daemon=True, name="lab-sweep-watch")
        watcher.start()
        outcome: dict[str, Any] | None = None
        try:
            outcome = _converse(driver, json.dumps(job), progress)
        finally:
            _end(driver, answered=outcome is not None)
            watcher.join()
            if driver.stdout is not None:
                driver.stdout.close()
        if "report" in outcome:
            return SweepReport.from_json(outcome["report"])
        if "error" in outcome:
            raise LabError(outcome["error"])
        errors.seek(0)
        tail = errors.read().decode(errors="replace")[-ERROR_TAIL:]
        raise LabError(f"the sweep ended without a report (exit {driver.returncode}): {tail}")


def _converse(driver: subprocess.Popen, job: str, progress: Progress | None) -> dict[str, Any]:
    """Send the job, relay progress, answer the last line ({report} or {error}); {} when it gave none."""
    assert driver.stdin is not None and driver.stdout is not None
    try:
        driver.stdin.write(job.encode() + b"\n")  # and stdin stays open: its end tells the driver to stop
        driver.stdin.flush()
    except BrokenPipeError:
        return {}
    for raw in driver.stdout:
        message = json.loads(raw)
        if "progress" in message:
            if progress is not None:
                progress(float(message["progress"]))
            continue
        return message
    return {}


def _watch(driver: subprocess.Popen, cancel: threading.Event) -> None:
    """Terminate the driver when the sweep is cancelled (it reports what finished), kill it if it lingers."""
    while driver.poll() is None:
        if cancel.wait(POLL):
            _stop(driver)
            return


def _end(driver: subprocess.Popen, answered: bool) -> None:
    """A driver that answered exits by itself; one we stopped listening to is stopped."""
    _close_input(driver)
    if not answered:
        _stop(driver)
        return
    _wait_or_kill(driver)


def _close_input(driver: subprocess.Popen) -> None:
    if driver.stdin is not None and not driver.stdin.closed:
        try:
            driver.stdin.close()
        except BrokenPipeError:
            pass


def _stop(driver: subprocess.Popen) -> None:
    if driver.poll() is not None:
        return
    driver.terminate()
    _wait_or_kill(driver)


def _wait_or_kill(driver: subprocess.Popen) -> None:
    """STOP_GRACE for the driver to end; then its whole process group is killed."""
    try:
        driver.wait(STOP_GRACE)
    except subprocess.TimeoutExpired:
        kill_group(driver)


# --- the server's run of a sweep (backend/lab/runs.py's Work) -----------------------------------------------
def sweep_work(spec: BacktestSpec, data: Bars | Ticks, points: list[dict[str, Any]], target: str, data_dir: Path,
               workers: int | None = None, scheduler: str | None = None) -> Work:  # fmt: skip
    """The registry's work for a sweep: the bars (or, in tick mode, the ticks) to a file of the data directory's
    `lab/` (as backtest_work), the driver on it (no child may read the data directory or config.yaml), the
    ranked runs back."""
    hidden = hidden_paths(data_dir, CHECKOUT)

    def work(progress: Progress, cancel: threading.Event) -> Outcome:
        with data_file(data, data_dir) as path:
            report = run_sweep_in_process(spec, path, points, target, workers, scheduler, progress, cancel,
                                          hidden=hidden)  # fmt: skip
        return Outcome(sweep_result(report), sweep_headline(report))

    return work


def sweep_result(report: SweepReport) -> dict[str, Any]:
    """What GET /optimise?id= serves: the runs ranked by the target, each with its params and statistics."""
    runs = [{"rank": rank, **point.to_json()} for rank, point in enumerate(report.ranked, start=1)]
    return {"target": report.target, "where": report.where, "workers": report.workers, "runs": runs}


def sweep_headline(report: SweepReport) -> dict[str, Any]:
    """What the list of sweeps shows: the best run's params and headline figures, how many ran and failed."""
    failed = sum(point.error is not None for point in report.ranked)
    best = next((point for point in report.ranked if point.stats is not None), None)
    found: dict[str, Any] = {"points": len(report.ranked), "failed": failed}
    if best is not None:
        found.update(headline(best.stats or {}), best_params=best.params)
        found[report.target] = (best.stats or {}).get(report.target)
    return found
