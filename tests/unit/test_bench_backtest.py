"""bench/backtest.py keeps running: its bars, its lab sweep and its whole run on a few thousand bars.

No speed is asserted here (speed belongs in bench/); the anchors (vnpy, backtrader) need the bench-only
.venv-bench and are left out (--skip-peers).
"""

from __future__ import annotations

import csv
import gc
import importlib.util
import json
import subprocess
import sys
from datetime import datetime, time
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "bench" / "backtest.py"
RB_SESSIONS = ((time(21), time(23)), (time(9), time(10, 15)), (time(10, 30), time(11, 30)), (time(13, 30), time(15)))


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_backtest", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="ascii") as handle:
        return list(csv.DictReader(handle))


def test_the_bars_are_a_seeded_walk_in_rb_sessions(tmp_path: Path) -> None:
    bench = _bench()
    bench.write_bars(tmp_path / "a.csv", 1500, seed=7)
    bench.write_bars(tmp_path / "b.csv", 1500, seed=7)
    bench.write_bars(tmp_path / "c.csv", 1500, seed=8)
    rows = _rows(tmp_path / "a.csv")
    assert len(rows) == 1500
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    assert (tmp_path / "a.csv").read_bytes() != (tmp_path / "c.csv").read_bytes()
    stamps = [datetime.fromisoformat(row["datetime"]) for row in rows]
    assert stamps == sorted(set(stamps))
    assert all(any(start <= stamp.time() < end for start, end in RB_SESSIONS) for stamp in stamps)
    assert stamps[0] == datetime(2014, 1, 1, 21, 0)  # the night of 2014-01-02's trading day
    assert all(stamp.weekday() < 5 for stamp in stamps)  # Friday's night is Monday's trading day: no weekend bar
    assert 345 * 4 < len(rows) <= 345 * 5  # 345 one-minute bars a trading day
    previous = None
    for row in rows:
        o, h, lo, c = (float(row[key]) for key in ("open", "high", "low", "close"))
        assert lo <= min(o, c) and h >= max(o, c) and all(price == int(price) for price in (o, h, lo, c))
        assert int(row["volume"]) >= 20
        if previous is not None:
            assert o == previous  # each bar opens at the last close: a limit at the close fills on the next bar
        previous = c


def test_the_sweep_runs_the_grid_on_one_and_two_workers_with_the_same_results(tmp_path: Path) -> None:
    bench = _bench()
    bench.write_bars(tmp_path / "bars.csv", 2000, seed=18)
    sweep = bench.bench_sweep(tmp_path / "bars.csv", 2000, tmp_path, grid={"fast": [5], "slow": [20, 30]})
    assert sweep["points"] == 2 and sweep["bars"] == 2000 and set(sweep["workers"]) == {1, 2}
    assert sweep["same_results"] is True
    assert sweep["best"]["fast"] == 5 and sweep["best"]["slow"] in (20, 30)
    gc.collect()  # anything the children left to the collector warns inside this test


@pytest.mark.slow
def test_the_bench_runs_end_to_end_and_prints_its_json_last(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--bars", "2000", "--rounds", "1", "--skip-peers", "--skip-sweep",
         "--keep", str(tmp_path), "--json", str(tmp_path / "out.json")],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary == json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))
    (desk,) = summary["engines"]
    assert desk["engine"] == "ctpdesk" and desk["bars"] == 2000
    assert desk["replay_per_s"] > 0 and desk["e2e_per_s"] > 0
    assert desk["trade_count"] > 0 and desk["commission"] > 0
    assert summary["ctpdesk_cli_net_pnl"] == desk["net_pnl"]  # the CLI's child and run_backtest agree
    assert "ctpdesk" in done.stdout and "bars/s" in done.stdout
