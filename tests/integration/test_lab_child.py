"""A backtest in its child process (backend/lab/child.py) and from the command line (python -m backend.lab).

The child runs the user's code with the live workers' limits and guards: it may write only in its
scratch directory, its errors come back with the user's line, cancelling kills it; and what it
reports is what run_backtest reports in-process, as is what the command line prints.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from backend.lab.__main__ import format_stats
from backend.lab.child import Cancelled, run_in_child, stream_in_child
from backend.lab.data import Bars, csv_chunks, make_bars
from backend.lab.engine import run_backtest
from backend.lab.report import LabError
from backend.lab.spec import BacktestSpec

ROOT = Path(__file__).resolve().parents[2]
START = 1767574800000  # 2026-01-05 09:00 +08:00, a Monday


def minute_bars(count: int) -> Bars:
    """A zigzag of `count` 1-minute bars from Monday 09:00 on, 240 a day (09:00-13:00 for simplicity)."""
    rows = []
    for n in range(count):
        day, minute = divmod(n, 240)
        start = START + day * 86_400_000 + minute * 60_000
        price = 3500 + (n % 40 if (n // 40) % 2 == 0 else 40 - n % 40)
        rows.append((start, price, price + 2, price - 2, price + 1, 100))
    return make_bars("rb2605.SHFE", "1m", rows)


def strategy(body: str, init: str = "pass") -> str:
    return f'''
from backend.strategy import Strategy


class Probe(Strategy):
    instruments = ["rb2605.SHFE"]
    params = {{"path": ""}}

    def on_init(self):
        {init}

    def on_bar(self, bar):
        {body}


ext = Probe("probe")
'''


@pytest.fixture()
def data(tmp_path: Path) -> Path:
    path = tmp_path / "bars.bin"
    minute_bars(2000).to_file(path)
    return path


def double_ma() -> BacktestSpec:
    code = (ROOT / "strategies" / "double_ma.py").read_text(encoding="utf-8")
    return BacktestSpec(code=code, local_symbol="rb2605.SHFE", params={"fast": 5, "slow": 12})


def test_the_childs_report_is_the_in_process_report(data: Path):
    seen: list[float] = []
    report = run_in_child(double_ma(), data, progress=seen.append)
    here = run_backtest(double_ma(), Bars.from_file(data))
    assert report.stats == here.stats and report.trades == here.trades and report.daily == here.daily
    assert report.stats["trade_count"] > 10 and seen and seen[-1] == 1.0


def test_the_child_writes_only_in_its_scratch_directory(data: Path, tmp_path: Path):
    outside = tmp_path / "escaped.txt"
    inside = strategy("pass", 'open("cache.txt", "w").write("ok")')  # its own directory: allowed
    assert run_in_child(BacktestSpec(code=inside, local_symbol="rb2605.SHFE"), data).stats["total_days"] > 0
    escape = strategy("pass", 'open(self.params["path"], "w").write("no")')
    spec = BacktestSpec(code=escape, local_symbol="rb2605.SHFE", params={"path": str(outside)})
    with pytest.raises(LabError, match=r"PermissionError: .*\(line 10, in on_init\)"):
        run_in_child(spec, data)
    assert not outside.exists()


def test_a_user_error_comes_back_with_its_line_and_no_process_may_be_started(data: Path):
    spec = BacktestSpec(code=strategy("x = {}['missing']"), local_symbol="rb2605.SHFE")
    with pytest.raises(LabError) as raised:
        run_in_child(spec, data)
    assert str(raised.value).startswith("KeyError: 'missing' (line 13, in on_bar)")
    forking = strategy("pass", "import os; os.system('true')")
    with pytest.raises(LabError, match=r"PermissionError: os.system is not allowed in a strategy \(line 10"):
        run_in_child(BacktestSpec(code=forking, local_symbol="rb2605.SHFE"), data)


def test_cancelling_kills_the_child(data: Path):
    slow = strategy("time.sleep(0.01)", "global time\n        import time")  # 2000 bars: 20 s unless cancelled
    cancel = threading.Event()
    with pytest.raises(Cancelled):
        run_in_child(BacktestSpec(code=slow, local_symbol="rb2605.SHFE"), data,
                     progress=lambda share: cancel.set(), cancel=cancel)  # fmt: skip


def csv_text(bars: Bars) -> str:
    rows = ["datetime,open,high,low,close,volume"]
    rows += [f"{bars.start_ms[i]},{bars.open[i]},{bars.high[i]},{bars.low[i]},{bars.close[i]},{int(bars.volume[i])}"
             for i in range(len(bars))]  # fmt: skip
    return "\n".join(rows) + "\n"


def test_bars_streamed_to_the_child_give_the_same_report_and_a_bad_piece_ends_it():
    bars = minute_bars(2000)
    seen: list[float] = []
    streamed = stream_in_child(double_ma(), lambda: csv_chunks(csv_text(bars), "rb2605.SHFE", "1m", rows=300),
                               progress=seen.append)  # fmt: skip
    here = run_backtest(double_ma(), bars)
    assert streamed.stats == here.stats and streamed.trades == here.trades and seen[-1] == 1.0
    brief = stream_in_child(double_ma(), lambda: csv_chunks(csv_text(bars), "rb2605.SHFE", "1m", rows=700),
                            stats_only=True)  # what the CLI asks for
    assert brief.stats == here.stats and brief.trades == brief.orders == brief.daily == []

    def broken():
        yield minute_bars(300)
        raise ValueError("line 302: a price or volume is not a finite number")

    with pytest.raises(ValueError, match="line 302"):
        stream_in_child(double_ma(), lambda: (2000, broken()))

    def no_header() -> tuple[int, Any]:  # the source itself fails (as a CSV without its header line)
        raise ValueError("the CSV is empty (a header line is needed)")

    with pytest.raises(ValueError, match="header line"):
        stream_in_child(double_ma(), no_header)


def test_the_command_line_prints_the_reports_statistics(tmp_path: Path):
    bars = minute_bars(2000)
    csv = tmp_path / "bars.csv"
    csv.write_text(csv_text(bars), encoding="utf-8")
    out = tmp_path / "report.json"
    done = subprocess.run(
        [sys.executable, "-m", "backend.lab", "backtest", "--strategy", str(ROOT / "strategies" / "double_ma.py"),
         "--bars", str(csv), "--symbol", "rb2605.SHFE", "--param", "fast=5", "--param", "slow=12", "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    expected = run_backtest(double_ma(), bars)
    assert done.stdout.strip() == format_stats(expected.stats)
    assert json.loads(out.read_text(encoding="utf-8"))["stats"] == expected.stats


@pytest.mark.parametrize(("flags", "first"), [([], "closetoday"), (["--close-pattern", "yesterday"], "closeyesterday")])
def test_the_command_line_closes_in_the_close_pattern_it_is_given(tmp_path: Path, flags: list[str], first: str):
    """Monday's lot is yesterday's on Tuesday beside one bought then: a plain close of 1 takes --close-pattern's."""
    body = ("if self.n in (0, 240):\n            self.buy(bar.close_price + 5, 1, bar)\n"
            "        elif self.n == 241:\n            self.sell(bar.close_price - 5, 1, bar)\n        self.n += 1")
    (tmp_path / "closer.py").write_text(strategy(body, "self.n = 0"), encoding="utf-8")
    (tmp_path / "bars.csv").write_text(csv_text(minute_bars(300)), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "backend.lab", "backtest", "--strategy", str(tmp_path / "closer.py"),
         "--bars", str(tmp_path / "bars.csv"), "--symbol", "rb2605.SHFE", "--json", str(tmp_path / "out.json"),
         *flags], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    trades = json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))["trades"]
    assert [(trade["offset"], trade["volume"]) for trade in trades] == [("open", 1), ("open", 1), (first, 1)]


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--param", "fast=x"], "params.fast: expected integer"),
        (["--param", "speed=3"], "params.speed: not a parameter"),
        (["--symbol", "zz2605.SHFE"], "no product 'zz'"),
        (["--terms", "{\"size\": 0}"], "terms.size"),
        (["--bars", "/nonexistent.csv"], "--bars"),
        (["--start", "2030-01-01"], "no bars in the range"),
    ],
)
def test_bad_command_line_input_is_one_line_and_exit_2(tmp_path: Path, args: list[str], said: str):
    csv = tmp_path / "bars.csv"
    csv.write_text("datetime,open,high,low,close,volume\n2026-01-05 09:00,1,1,1,1,1\n", encoding="utf-8")
    base = {"--strategy": str(ROOT / "strategies" / "double_ma.py"), "--bars": str(csv), "--symbol": "rb2605.SHFE"}
    for flag, value in zip(args[::2], args[1::2], strict=True):
        base[flag] = value
    argv = [part for pair in base.items() for part in pair]
    done = subprocess.run([sys.executable, "-m", "backend.lab", "backtest", *argv], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, check=False)  # fmt: skip
    assert done.returncode == 2 and said in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_hidden_paths_are_out_of_reach_and_a_timeout_kills_the_child(data: Path, tmp_path: Path):
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "config.yaml").write_text("access_code: x\n", encoding="utf-8")
    peek = strategy("pass", 'open(self.params["path"]).read()')
    spec = BacktestSpec(code=peek, local_symbol="rb2605.SHFE", params={"path": str(secret / "config.yaml")})
    with pytest.raises(LabError, match=r"PermissionError: .*\(line 10, in on_init\)"):
        run_in_child(spec, data, hidden=[secret])
    slow = strategy("time.sleep(0.01)", "global time\n        import time")
    with pytest.raises(LabError, match="timed out after 0.5 s"):
        run_in_child(BacktestSpec(code=slow, local_symbol="rb2605.SHFE"), data, timeout=0.5)


def _children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _eventually(condition: Callable[[], Any], seconds: float) -> Any:
    """The condition's first true value within `seconds` (looked at every 20 ms), else its last."""
    deadline = time.monotonic() + seconds
    while not (value := condition()) and time.monotonic() < deadline:
        time.sleep(0.02)
    return value


def _spinning(pid: int) -> bool:
    try:
        return (Path(f"/proc/{pid}/cwd") / "spinning").exists()  # the child's scratch dir: its user code wrote it
    except OSError:
        return False


def test_a_child_whose_parent_was_killed_ends_too(data: Path, tmp_path: Path):
    """kill -9 of the server (here: the process that called run_in_child) must not leave a backtest spinning."""
    spinning = strategy('open("spinning", "w").close()\n        while True: pass')
    job = tmp_path / "job.py"
    job.write_text(
        "import sys\nfrom pathlib import Path\nfrom backend.lab.child import run_in_child\n"
        "from backend.lab.spec import BacktestSpec\n"
        f"run_in_child(BacktestSpec(code={spinning!r}, local_symbol='rb2605.SHFE'), Path({str(data)!r}))\n"
    )
    root = Path(__file__).resolve().parents[2]
    parent = subprocess.Popen([sys.executable, str(job)], cwd=root, env={**os.environ, "PYTHONPATH": str(root)})
    try:
        children = _eventually(lambda: _children_of(parent.pid), 30)
        assert children, "the backtest child never started"
        assert _eventually(lambda: any(map(_spinning, children)), 30), "the strategy never reached its loop"
    finally:
        parent.kill()
        parent.wait()
    _eventually(lambda: not any(_alive(pid) for pid in children), 10)
    left = [pid for pid in children if _alive(pid)]
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert not left, "the child outlived its parent"
