"""A sweep on a real dask.distributed cluster (a `dask scheduler` and two `dask worker` processes on
loopback) ranks exactly what the same sweep ranks locally: the same params, every statistic equal."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from backend.lab.spec import BacktestSpec
from backend.lab.sweep import grid, run_sweep
from backend.strategy_runtime.params import declared_params
from tests.lab_bars import DOUBLE_MA, TROUBLED, random_walk_bars

ROOT = Path(__file__).resolve().parents[2]
DASK = Path(sys.executable).with_name("dask")
START_WITHIN = 30.0  # seconds for the scheduler to write its address, and for both workers to join


class Process:
    """One dask process in its own session (killed with its children, the backtests, at the end); its output
    is read line by line by a thread, which also notices its address (scheduler or worker) when it is printed."""

    def __init__(self, arguments: list[str]) -> None:
        self.popen = subprocess.Popen([str(DASK), *arguments], cwd=ROOT, stdin=subprocess.DEVNULL,
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
                                      env={**os.environ, "PYTHONPATH": str(ROOT)})  # fmt: skip
        self.lines: list[str] = []
        self.address = ""
        self.listening = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.popen.stdout is not None
        with self.popen.stdout:
            for raw in self.popen.stdout:
                line = raw.decode(errors="replace").rstrip()
                self.lines.append(line)
                found = re.search(r"(?:Scheduler|Start worker) at:\s+(tcp://\S+)", line)
                if found and not self.address:
                    self.address = found.group(1)
                    self.listening.set()
        self.listening.set()  # ended without an address: the waiter looks at the output

    def kill(self) -> None:
        try:
            os.killpg(self.popen.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.popen.wait()
        self._reader.join()


@dataclass(frozen=True)
class Cluster:
    address: str
    workers: list[Process]
    directory: Path  # the workers' local directories are under it


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """A scheduler and two single-thread workers on ephemeral loopback ports, no dashboards; always killed."""
    tmp_path = tmp_path_factory.mktemp("dask")
    started: list[Process] = []
    try:
        scheduler = Process(["scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard"])
        started.append(scheduler)
        if not scheduler.listening.wait(START_WITHIN) or not scheduler.address:
            pytest.fail("dask scheduler did not start: " + "\n".join(scheduler.lines[-30:]))
        for name in ("w1", "w2"):
            started.append(Process(["worker", scheduler.address, "--nthreads", "1", "--no-nanny", "--no-dashboard",
                                    "--host", "127.0.0.1", "--name", name, "--local-directory",
                                    str(tmp_path / name)]))  # fmt: skip
        from distributed import Client

        with Client(scheduler.address, timeout=START_WITHIN, set_as_default=False) as client:
            client.wait_for_workers(2, timeout=START_WITHIN)
        yield Cluster(scheduler.address, started[1:], tmp_path)
    finally:
        for process in reversed(started):
            process.kill()


@pytest.fixture(scope="module")
def bars(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("bars") / "bars.bin"
    random_walk_bars(3000).to_file(path)
    return path


def test_a_sweep_on_two_dask_workers_ranks_what_the_local_sweep_ranks(cluster: Cluster, bars: Path) -> None:
    code = DOUBLE_MA
    spec = BacktestSpec(code=code, local_symbol="rb2601.SHFE")
    points = grid({"fast": [3, 5], "slow": [10, 20, 30, 40]}, declared_params(code))

    copies: list[int] = []  # the bars files on the workers, each time a point finishes

    def count_copies(_share: float) -> None:
        copies.append(len(list(cluster.directory.rglob("ctpdesk-lab-bars-*.bin"))))

    local = run_sweep(spec, bars, points, "net_pnl", workers=2)
    remote = run_sweep(spec, bars, points, "net_pnl", scheduler=cluster.address, progress=count_copies)

    def ranked(report):
        return [(point.index, point.params, point.stats, point.error) for point in report.ranked]

    assert len(remote.ranked) == 8 and all(point.error is None for point in remote.ranked)
    assert any(point.stats["trade_count"] > 0 for point in remote.ranked)  # the sweep traded: figures to compare
    assert ranked(remote) == ranked(local)
    assert {point.worker for point in local.ranked} == {"local"}
    assert len({point.worker for point in remote.ranked}) == 2  # both workers took points
    assert (remote.where, remote.workers, remote.cancelled) == (cluster.address, 2, False)
    assert max(copies) == 2 and len(copies) == 8  # one file per worker, however many points each ran
    assert list(cluster.directory.rglob("ctpdesk-lab-bars-*")) == []  # removed at the end


def _children(process: Process) -> list[psutil.Process]:
    try:
        return psutil.Process(process.popen.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


@pytest.mark.timeout(60)
def test_cancel_on_the_cluster_kills_the_running_children(cluster: Cluster, bars: Path) -> None:
    """fast=6 never ends: the sweep returns, and the workers are left without children, only through cancel."""
    points = grid({"fast": [3, 6, 5, 7]}, declared_params(TROUBLED))
    cancel = threading.Event()

    def progress(share: float) -> None:
        if share >= 0.25:  # one point is done (on the cluster progress counts finished points)
            cancel.set()

    report = run_sweep(BacktestSpec(code=TROUBLED, local_symbol="rb2601.SHFE"), bars, points, "net_pnl",
                       scheduler=cluster.address, progress=progress, cancel=cancel)  # fmt: skip
    assert report.cancelled and 1 <= len(report.ranked) < 4
    assert 6 not in [point.params["fast"] for point in report.ranked]
    gone = threading.Event()
    for _ in range(100):  # the workers' watchers see the stop flag within STOP_CHECK: look for 10 s at most
        if not any(_children(worker) for worker in cluster.workers):
            gone.set()
            break
        gone.wait(0.1)
    assert gone.is_set(), [child.cmdline() for worker in cluster.workers for child in _children(worker)]


def test_with_dask_scheduler_set_the_servers_sweeps_run_on_the_cluster(cluster: Cluster, tmp_path: Path) -> None:
    from tests.integration.lab_apps import SYMBOL, WAIT, make_lab
    from tests.integration.test_lab_api import CROSS, bars_csv

    lab = make_lab(tmp_path / "app", DASK_SCHEDULER=cluster.address)
    try:
        lab.upload(CROSS)
        lab.import_bars(bars_csv(1))
        asked = {"strategy": "cross", "local_symbol": SYMBOL, "grid": {"fast": [3, 4, 5, 6]}, "target": "net_pnl"}
        run_id = lab.ok("POST", "/optimise", json=asked)["id"]
        assert lab.lab.wait(run_id, WAIT), lab.lab.status(run_id)
        found = lab.ok("GET", "/optimise", query_string={"id": run_id})
    finally:
        lab.close()
    assert (found["status"], found["where"], found["workers"]) == ("finished", cluster.address, 2), found["error"]
    assert len(found["runs"]) == 4 and all(run["error"] is None for run in found["runs"])
    assert {run["worker"] for run in found["runs"]} <= {worker.address for worker in cluster.workers}
