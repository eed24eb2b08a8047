"""The lab's runs inside the server: a queue of at most LAB_MAX_RUNS at once, progress out, results stored.

A run is any `Work`: a callable that does the job (a backtest's child process, a sweep's grid), reports its
progress as a fraction and stops when its cancel flag is set. The registry knows nothing of backtests: it
queues, starts, times out, cancels, stores and announces. Backtests (views/lab.py) and sweeps (lab-sweep)
hand it their work and a summary of what was asked, under a kind of their own.

The server's loop never waits for a run. The work runs where its blocking waits on the child cannot hold
the loop: in a greenlet when the process is gevent-patched (run.py, uWSGI: the child's pipes and waits
yield), otherwise on an OS thread of its own (tests, scripts embedding the app). Whatever the work reports,
it reports through a Bridge: one consumer greenlet on the loop applies progress and endings in order, writes
the store from gevent's threadpool and emits the `backtest` events. So every change of a run's state
happens on the loop, one at a time, without locks.

Runs survive a restart in the store: the summary (status, progress, error, the request, headline figures)
and the result (the whole report). A run that was queued or running when the server stopped, for whatever
reason, is marked `error` ("interrupted by a restart") when the next one starts: nothing resumes a child.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import gevent
from gevent import monkey
from gevent.event import Event
from gevent.lock import Semaphore

from backend.bridge import Bridge
from lib.native import start_new_thread
from lib.offload import off_loop
from model import NotFound
from model.protocols import LabStore

log = logging.getLogger(__name__)

QUEUED, RUNNING, FINISHED, ERROR, CANCELLED = "queued", "running", "finished", "error", "cancelled"
ACTIVE = frozenset({QUEUED, RUNNING})
INTERRUPTED = "interrupted by a restart"
PROGRESS_EVERY = 0.25  # seconds: a run's progress goes out at most this often (status changes at once)
LISTED = 200  # runs a listing shows, newest first
RECOVER_LIMIT = 100_000  # runs looked at for interrupted ones at a start
MAX_QUEUED = 20  # runs waiting for a slot; each holds its data in memory until it starts


class QueueFull(Exception):
    """MAX_QUEUED runs already wait: the new one is refused rather than piling data up in memory."""


class RunFailed(Exception):
    """The work failed for a reason its user should read (bad code in the strategy, no data): the message is
    the run's `error`. Anything else a work raises is logged and shown as an internal error."""


@dataclass(frozen=True)
class Outcome:
    """What a work returns: the whole result (stored, served by id) and the headline figures (listed)."""

    result: dict[str, Any]
    headline: dict[str, Any] = field(default_factory=dict)


Progress = Callable[[float], None]
Work = Callable[[Progress, threading.Event], Outcome]


@dataclass(frozen=True)
class RunEvent:
    """The Socket.IO `backtest` event: {id, kind, status, progress}."""

    run_id: str
    kind: str
    status: str
    progress: float

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.run_id, "kind": self.kind, "status": self.status, "progress": self.progress}


@dataclass
class _Run:
    run_id: str
    kind: str
    created_at: float
    request: dict[str, Any]
    work: Work
    cancel: threading.Event
    status: str = QUEUED
    progress: float = 0.0
    error: str = ""
    started_at: float | None = None
    finished_at: float | None = None
    timed_out: bool = False
    headline: dict[str, Any] = field(default_factory=dict)
    result: dict[str, Any] | None = None
    sent_at: float = 0.0  # monotonic: when its progress last went out
    done: Event = field(default_factory=Event)
    timer: gevent.Greenlet | None = None  # its LAB_TIMEOUT
    writing: Semaphore = field(default_factory=Semaphore)  # its store writes, one at a time (_write)

    def summary(self) -> dict[str, Any]:
        return {**self.request, "status": self.status, "progress": self.progress, "error": self.error,
                "created_at": self.created_at, "started_at": self.started_at, "finished_at": self.finished_at,
                "stats": self.headline}  # fmt: skip


@dataclass(frozen=True)
class _Progressed:
    run: _Run
    fraction: float


@dataclass(frozen=True)
class _Ended:
    run: _Run
    outcome: Outcome | None
    error: str = ""


class RunRegistry:
    """Lab runs of one server: submit, read, list, cancel or delete, wait; stored in `store`, announced to
    `notify` (the Socket.IO `backtest` event's payload). At most `max_runs` run at once, others queue; a run
    longer than `timeout` seconds (0: no limit) is stopped and marked `error`."""

    def __init__(self, store: LabStore, notify: Callable[[dict[str, Any]], None], max_runs: int,
                 timeout: float = 0.0) -> None:  # fmt: skip
        if max_runs < 1:
            raise ValueError(f"max_runs must be at least 1, got {max_runs}")
        self.store = store
        self.notify = notify
        self.max_runs = max_runs
        self.timeout = timeout
        self._active: dict[str, _Run] = {}  # queued and running, and ended ones until their result is stored
        self._queue: collections.deque[_Run] = collections.deque()
        self._running = 0
        self._closing = False
        self._bridge = Bridge(self._apply, name="lab-runs", conflate_at=0)

    # --- lifetime -------------------------------------------------------------------------------------
    def recover(self) -> int:
        """Mark the runs a stopped server left queued or running as errors; return how many (call at start)."""
        marked = 0
        for record in self.store.list_lab_runs(None, RECOVER_LIMIT):
            if record.summary.get("status") in ACTIVE:
                summary = {**record.summary, "status": ERROR, "error": INTERRUPTED}
                self.store.save_lab_run(record.run_id, record.kind, record.created_at, summary, None)
                marked += 1
        if marked:
            log.warning("lab: %d run(s) marked as errors: %s", marked, INTERRUPTED)
        return marked

    def close(self, wait: float = 10.0) -> None:
        """Stop every run (their children killed) without recording anything: the next start marks them."""
        self._closing = True
        self._queue.clear()
        running = [run for run in self._active.values() if run.started_at is not None]  # cancelled ones too
        for run in running:
            run.cancel.set()
        with gevent.Timeout(wait, False):
            for run in running:
                run.done.wait()
        self._bridge.close(drain=False)

    # --- commands -------------------------------------------------------------------------------------
    def submit(self, kind: str, request: dict[str, Any], work: Work) -> str:
        """Queue a run (started at once when a slot is free); `request` is what was asked, kept in its summary."""
        if self._closing:
            raise RuntimeError("the lab is closing")
        if len(self._queue) >= MAX_QUEUED:
            raise QueueFull(f"{len(self._queue)} lab runs already wait for a slot (LAB_MAX_RUNS {self.max_runs}): "
                            "cancel some or wait")  # fmt: skip
        run = _Run(uuid.uuid4().hex, kind, time.time(), dict(request), work, threading.Event())
        self._active[run.run_id] = run
        self._queue.append(run)
        self._write(run)
        self._announce(run)
        self._start_next()
        return run.run_id

    def remove(self, run_id: str, wait: float = 10.0) -> str:
        """Cancel a queued or running run (answers once its child is gone, or after `wait`), or delete an ended
        one; NotFound (model) for an unknown id. Answers what it did: "cancelled" or "deleted"."""
        run = self._active.get(run_id)
        if run is not None and run.status not in ACTIVE and not run.done.wait(wait):
            return "cancelled"  # cancelled and still stopping: its ending is still to be stored; delete it after
        if run is None or run.status not in ACTIVE:
            self._offload(self.store.delete_lab_run, run_id)
            return "deleted"
        run.cancel.set()
        if run.status == QUEUED:
            self._queue.remove(run)
            self._end(run, None, "")
            return "cancelled"
        # What is answered is what is read from now on, however long its child takes to go (a sweep's driver
        # on a busy machine can take longer than `wait`): it keeps its slot until its ending comes.
        run.status = CANCELLED
        self._write(run)
        self._announce(run)
        run.done.wait(wait)
        return "cancelled"

    # --- reads ----------------------------------------------------------------------------------------
    def get(self, run_id: str) -> dict[str, Any]:
        """One run: its summary and, once it has ended, its whole result. NotFound for an unknown id."""
        run = self._active.get(run_id)
        if run is not None:
            return {"id": run.run_id, "kind": run.kind, **run.summary(), **(run.result or {})}
        record = self._offload(self.store.get_lab_run, run_id)
        return {"id": record.run_id, "kind": record.kind, **record.summary, **(record.result or {})}

    def listing(self, kind: str | None, limit: int = LISTED) -> list[dict[str, Any]]:
        """The latest runs of `kind` (None: all), newest first, summaries only; live ones as they stand."""
        records = self._offload(self.store.list_lab_runs, kind, limit)
        found = []
        for record in records:
            run = self._active.get(record.run_id)
            summary = run.summary() if run is not None else record.summary
            found.append({"id": record.run_id, "kind": record.kind, **summary})
        return found

    def status(self, run_id: str) -> str:
        """The state of a run this server holds (KeyError otherwise): for waits and tests."""
        return self._active[run_id].status

    def wait(self, run_id: str, timeout: float | None = None) -> bool:
        """Wait (yielding) until a run has ended and its result is stored; True when it has."""
        run = self._active.get(run_id)
        return True if run is None else run.done.wait(timeout)

    # --- running ----------------------------------------------------------------------------------------
    def _start_next(self) -> None:
        while self._queue and self._running < self.max_runs and not self._closing:
            run = self._queue.popleft()
            run.status, run.started_at = RUNNING, time.time()
            self._running += 1
            self._write(run)
            self._announce(run)
            if self.timeout > 0:
                run.timer = gevent.spawn_later(self.timeout, self._expire, run)
            _spawn(self._body, run)

    def _body(self, run: _Run) -> None:
        """The work, where it may block (a greenlet of a patched process, or an OS thread); its ending goes to
        the loop through the bridge, whatever happens."""
        last = [0.0]

        def progress(fraction: float) -> None:
            if fraction - last[0] >= 0.001 or fraction >= 1.0:  # a child reporting every bar: not every one
                last[0] = fraction
                self._bridge.put(_Progressed(run, min(max(float(fraction), 0.0), 1.0)))

        try:
            self._bridge.put(_Ended(run, run.work(progress, run.cancel)))
        except RunFailed as failure:
            self._bridge.put(_Ended(run, None, str(failure) or "failed"))
        except Exception as failure:  # a bug: logged with its trace, the run says so
            log.exception("lab run %s failed", run.run_id)
            self._bridge.put(_Ended(run, None, f"internal error: {type(failure).__name__}: {failure}"))

    def _expire(self, run: _Run) -> None:
        if run.status == RUNNING:
            run.timed_out = True
            run.cancel.set()

    def _apply(self, item: _Progressed | _Ended) -> None:
        """On the loop, in order: a progress report or an ending."""
        run = item.run
        if isinstance(item, _Progressed):
            if run.status == RUNNING:
                run.progress = round(item.fraction, 4)
                now = time.monotonic()
                if now - run.sent_at >= PROGRESS_EVERY:
                    run.sent_at = now
                    self._announce(run)
            return
        self._running -= 1
        if self._closing:
            run.done.set()
            return
        self._end(run, item.outcome, item.error)
        self._start_next()

    def _end(self, run: _Run, outcome: Outcome | None, error: str) -> None:
        before = run.status  # CANCELLED already when remove() said so: announced then, and kept
        if run.timer is not None:
            run.timer.kill(block=False)
        if before == CANCELLED:
            pass
        elif run.timed_out:
            run.status, run.error = ERROR, f"took longer than LAB_TIMEOUT ({self.timeout:g} s): stopped"
        elif run.cancel.is_set():
            run.status = CANCELLED
        elif outcome is None:
            run.status, run.error = ERROR, error
        else:
            run.status, run.progress = FINISHED, 1.0
            run.result, run.headline = outcome.result, dict(outcome.headline)
        run.finished_at = time.time()
        try:
            self._write(run)
        except Exception as failure:  # a result the store refuses (too large for a MongoDB document, say)
            log.exception("lab run %s: storing the result failed", run.run_id)
            run.status, run.error, run.result = ERROR, f"the result could not be stored: {failure}", None
            self._write(run)
        if run.status != before:
            self._announce(run)
        del self._active[run.run_id]
        run.done.set()

    # --- plumbing ---------------------------------------------------------------------------------------
    def _write(self, run: _Run) -> None:
        """One write of a run at a time, in the order asked, each of its state when its turn comes: a cancel's
        write and the run's ending (two greenlets, two pool threads) never land out of order."""
        with run.writing:
            self._offload(self.store.save_lab_run, run.run_id, run.kind, run.created_at, run.summary(), run.result)

    def _announce(self, run: _Run) -> None:
        try:
            self.notify(RunEvent(run.run_id, run.kind, run.status, run.progress).to_dict())
        except Exception:  # a socket layer failing must not stop a run's bookkeeping
            log.exception("lab run %s: announcing failed", run.run_id)

    @staticmethod
    def _offload(function: Callable[..., Any], *arguments: Any) -> Any:
        """Store I/O off the loop; NotFound (an unknown id, routine) raised here, not printed by the pool."""
        return off_loop(function, *arguments, expected=(NotFound,))



def _spawn(function: Callable[[_Run], None], run: _Run) -> None:
    """Where a run's work may block on its child without holding the loop (see the module's docstring)."""
    if monkey.is_module_patched("subprocess"):
        gevent.spawn(function, run)
    else:
        start_new_thread(function, (run,))
