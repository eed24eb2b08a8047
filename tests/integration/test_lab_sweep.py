"""Local sweeps: every point a backtest in its own child process, a bounded number at once.

The ranking does not depend on how many children ran side by side; a point whose strategy raises reports
its error while the others finish; cancelling kills the running children and stops the rest."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import psutil
import pytest

from backend.lab.spec import BacktestSpec
from backend.lab.sweep import SweepError, finite_json, grid, run_sweep
from backend.strategy_runtime.params import declared_params
from tests.lab_bars import DOUBLE_MA, TROUBLED, random_walk_bars

ROOT = Path(__file__).resolve().parents[2]
SYMBOL = "rb2601.SHFE"


@pytest.fixture(scope="module")
def bars(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sweep") / "bars.bin"
    random_walk_bars(2000).to_file(path)
    return path


def _ranked(report) -> list[tuple]:
    return [(point.index, point.params, point.stats, point.error) for point in report.ranked]


def test_one_or_two_children_at_a_time_rank_the_same(bars: Path) -> None:
    spec = BacktestSpec(code=DOUBLE_MA, local_symbol=SYMBOL, params={"volume": 2})
    points = grid({"fast": [3, 5], "slow": [10, 20, 30]}, declared_params(DOUBLE_MA))
    seen: list[float] = []

    one = run_sweep(spec, bars, points, "sharpe_ratio", workers=1, progress=seen.append)
    two = run_sweep(spec, bars, points, "sharpe_ratio", workers=2)

    assert _ranked(one) == _ranked(two)
    assert sorted(point.index for point in one.ranked) == list(range(6))
    assert all(point.error is None and point.stats["trade_count"] > 0 for point in one.ranked)
    values = [point.stats["sharpe_ratio"] for point in one.ranked]
    assert values == sorted(values, reverse=True)
    assert seen == sorted(seen) and seen[-1] == 1.0
    assert (one.workers, two.workers, one.where, one.cancelled) == (1, 2, "local", False)


def test_the_sweeps_own_params_stay_under_the_points(bars: Path) -> None:
    spec = BacktestSpec(code=DOUBLE_MA, local_symbol=SYMBOL, params={"volume": 3, "fast": 9})
    report = run_sweep(spec, bars, [{"fast": 3, "slow": 10}], "net_pnl", workers=1)
    (point,) = report.ranked
    assert point.params == {"fast": 3, "slow": 10}
    alone = run_sweep(BacktestSpec(code=DOUBLE_MA, local_symbol=SYMBOL, params={"volume": 3, "fast": 3,
                                                                                 "slow": 10}),
                      bars, [{}], "net_pnl", workers=1)  # fmt: skip
    assert alone.ranked[0].stats == point.stats


def test_a_point_whose_strategy_raises_reports_it_and_the_others_finish(bars: Path) -> None:
    points = grid({"fast": [3, 4, 5]}, declared_params(TROUBLED))
    report = run_sweep(BacktestSpec(code=TROUBLED, local_symbol=SYMBOL), bars, points, "net_pnl", workers=2)
    assert [point.params["fast"] for point in report.ranked][-1] == 4
    failed = report.ranked[-1]
    assert failed.stats is None and "four is unlucky" in failed.error
    assert all(point.error is None and point.stats for point in report.ranked[:2])


@pytest.mark.timeout(60)
def test_cancel_kills_the_running_children_and_runs_no_more(bars: Path) -> None:
    """fast=6 never ends: the sweep can only return because cancel killed its child."""
    points = grid({"fast": [3, 6, 5, 7]}, declared_params(TROUBLED))
    cancel = threading.Event()

    def progress(share: float) -> None:
        if share >= 0.25:  # the first point (fast=3) is done; fast=6 hangs beside it
            cancel.set()

    report = run_sweep(BacktestSpec(code=TROUBLED, local_symbol=SYMBOL), bars, points, "net_pnl", workers=2,
                       progress=progress, cancel=cancel)  # fmt: skip
    assert report.cancelled
    assert 3 in [point.params["fast"] for point in report.ranked]
    assert 6 not in [point.params["fast"] for point in report.ranked]
    assert len(report.ranked) < 4


def test_a_bad_target_or_no_points_is_refused_before_anything_runs(bars: Path) -> None:
    spec = BacktestSpec(code=DOUBLE_MA, local_symbol=SYMBOL)
    with pytest.raises(SweepError, match="target: one of"):
        run_sweep(spec, bars, [{"fast": 3}], "profit")
    with pytest.raises(SweepError, match="grid: no points"):
        run_sweep(spec, bars, [], "net_pnl")


def _csv(bars, path: Path) -> Path:
    with open(path, "w", encoding="utf-8") as out:
        out.write("datetime,open,high,low,close,volume,open_interest\n")
        for row in zip(*bars.columns(), strict=True):
            out.write(",".join(str(value) for value in row) + "\n")
    return path


def _command(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "backend.lab", "optimise", *arguments], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, env={**os.environ, "DASK_SCHEDULER": ""})  # fmt: skip


def test_the_command_line_prints_and_writes_what_run_sweep_ranks(tmp_path: Path) -> None:
    bars = random_walk_bars(1500)
    csv = _csv(bars, tmp_path / "bars.csv")
    done = _command("--strategy", str(ROOT / "strategies" / "double_ma.py"), "--bars", str(csv), "--symbol", SYMBOL,
                    "--grid", "fast=3:5:2", "--grid", "slow=10,20", "--target", "net_pnl", "--workers", "2",
                    "--json", str(tmp_path / "out.json"))  # fmt: skip
    assert done.returncode == 0, done.stderr
    written = json.loads((tmp_path / "out.json").read_text())
    bars.to_file(tmp_path / "bars.bin")
    points = [{"fast": 3, "slow": 10}, {"fast": 3, "slow": 20}, {"fast": 5, "slow": 10}, {"fast": 5, "slow": 20}]
    expected = run_sweep(BacktestSpec(code=DOUBLE_MA, local_symbol=SYMBOL), tmp_path / "bars.bin", points, "net_pnl",
                         workers=2)  # fmt: skip
    assert written == finite_json(expected.to_json())
    lines = done.stdout.splitlines()
    assert lines[0].startswith("4 points, 1500 bars, 2 local workers") and lines[0].endswith("ranked by net_pnl")
    assert lines[1].split() == ["#", "fast", "slow", "net_pnl", "sharpe_ratio", "max_drawdown", "trade_count"]
    best = expected.ranked[0]
    assert lines[2].split()[:3] == ["1", str(best.params["fast"]), str(best.params["slow"])]


@pytest.mark.parametrize(("arguments", "message"), [
    (["--grid", "fastt=1,2"], "grid.fastt: not a parameter of this strategy"),
    (["--grid", "fast=1.5,2"], "grid.fast: expected integer"),
    (["--grid", "fast"], "--grid fast: name=start:stop:step or name=v1,v2,..."),
    (["--grid", "fast=1,2", "--target", "money"], "target: one of total_return"),
])  # fmt: skip
def test_the_command_line_refuses_a_bad_grid_or_target_with_exit_2(tmp_path: Path, arguments: list[str],
                                                                    message: str) -> None:  # fmt: skip
    csv = _csv(random_walk_bars(30), tmp_path / "bars.csv")
    done = _command("--strategy", str(ROOT / "strategies" / "double_ma.py"), "--bars", str(csv), "--symbol", SYMBOL,
                    *arguments)  # fmt: skip
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.startswith("error: ") and message in done.stderr


SERVER = """
import sys
from pathlib import Path

from backend.lab.spec import BacktestSpec
from backend.lab.sweep_process import run_sweep_in_process
from tests.lab_bars import TROUBLED

run_sweep_in_process(BacktestSpec(code=TROUBLED, local_symbol="rb2601.SHFE"), Path(sys.argv[1]), [{"fast": 6}],
                     "net_pnl", workers=1)
"""


@pytest.mark.timeout(60)
def test_a_sweep_driver_whose_server_dies_kills_its_children_and_ends(bars: Path) -> None:
    """fast=6 never ends: only the driver noticing the end of its input (the server gone) stops that child."""
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(bars)], cwd=ROOT,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})  # fmt: skip
    try:
        found: dict[psutil.Process, str] = {}
        waited = threading.Event()
        for _ in range(300):  # the driver, then its child: 30 s at most
            found = {process: _command_line(process) for process in psutil.Process(server.pid).children(True)}
            if any("backend.lab.child" in command for command in found.values()):
                break
            waited.wait(0.1)
    finally:
        server.kill()
        server.wait()
    assert any("backend.lab.sweep_driver" in command for command in found.values())
    assert any("backend.lab.child" in command for command in found.values())
    _, alive = psutil.wait_procs(list(found), timeout=20)
    for process in alive:  # a failure must not leave them spinning
        process.kill()
    assert alive == []


def _command_line(process: psutil.Process) -> str:
    try:
        return " ".join(process.cmdline())
    except psutil.NoSuchProcess:  # gone meanwhile
        return ""
