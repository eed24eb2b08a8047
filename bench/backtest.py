"""The lab's backtests beside vnpy's and backtrader's on the same bars, in the same run (issue 18).

    .venv/bin/python bench/backtest.py [--bars 1000000] [--seed 18] [--rounds 2] [--backtrader-rounds 1]
                                       [--sweep-bars 200000] [--skip-peers] [--skip-sweep] [--keep DIR]
                                       [--profile] [--json out.json]

(or `make bench-backtest`). What is measured, and how:

Data. One seeded random walk of 1-minute bars written once as CSV (datetime, open, high, low, close, volume,
open_interest): an rb-like future (multiplier 10, tick 1, prices in whole ticks around 3,600, mean-reverting
slowly so that ten years stay in rb's range), each bar's open the previous close, high/low a few ticks beyond,
volume 20-619 lots. The bars lie in rb's sessions (21:00-23:00, 09:00-10:15, 10:30-11:30, 13:30-15:00, exchange
time) of business days from 2014-01-02 on (lib/trading_calendar.py: weekends only, no holidays); a night bar is
stamped with its calendar day (the evening before its trading day), as a data vendor's CSV is. Every engine reads
that one file; the lab also gets it in its own binary form (backend.lab.data.Bars.to_file) for the sweep.

Strategy. strategies/double_ma.py, shipped and unchanged, with fast=10, slow=30, 1 lot: buy at the bar's close
when the fast average is above the slow one and nothing is held, sell what is held when it is below. The anchors
(bench/peers/) are the same rule in the same code, the same running sums over a deque (not ArrayManager /
backtrader indicators, so the crosses fall on the same bars), limit orders at the close, no cancel. Fees 0.0001
of the turnover on every fill. Each engine matches an order sent on bar N against bar N+1 (a buy fills when that
bar's low reaches the price, at the better of the price and the bar's open).

Engines.
  * ctpdesk: the lab (backend/lab) with the sim's rb terms (margin 7%, fees by money 0.0001 including close-today,
    price limits of 7% from the previous settlement, today/yesterday lots, daily settlement; orders refused when
    the money is not there).
  * vnpy 4.5 + vnpy_ctastrategy 1.4.1: BacktestingEngine in BAR mode, a CtaTemplate (bench/peers/vnpy_double_ma.py).
  * backtrader 1.9.78: Cerebro with a PandasData feed and a futures fee scheme (bench/peers/backtrader_double_ma.py).
  The anchors run in a bench-only environment, .venv-bench (bench/requirements-peers.txt), made on first use
  (or by `make bench-backtest`); never in the project's .venv.

Figures, bars a second (the bar count divided by the seconds):
  * replay only: from the bars in memory in the engine's own form to its statistics (ctpdesk: run_backtest
    in this process on Bars from bars_from_csv, the report included; vnpy: run_backtesting + calculate_result +
    calculate_statistics on a list of BarData; backtrader: cerebro.run on a PandasData feed of a DataFrame, which
    includes moving the frame into backtrader's lines, + the broker's value);
  * end to end: the wall time of one fresh process per engine, from its exec to the statistics printed, process
    start and imports included for all alike: `python -m backend.lab backtest` (the CLI: it parses the CSV and
    streams it to the lab's child process, which runs the strategy under the workers' limits meanwhile, and
    prints the statistics), and the anchors' scripts (parse the CSV into their objects, replay, statistics; vnpy's
    bars go straight to the engine, not through its database, its own way from a CSV, which would be slower).
  * bars per CPU-second: the same runs' bar count over the CPU seconds of the process and its children (for
    replay only, of the replay): the figure the other developers' load on the 2 cores moves least.
  Both taken from the same rounds: each round runs vnpy, ctpdesk end to end, ctpdesk replay in turn (the other
  developers share the machine's 2 cores), backtrader in its first --backtrader-rounds rounds (it takes minutes).
  Ranges over rounds are printed; the ratios use each engine's best round and, beside it, the range of the
  ratios of the same round (neighbours in time, under the same load).
  Net P&L of each (they agree when the rules agree: the rules differ only where ctpdesk is stricter, see the
  printed notes).

Sweep: a 16-point grid (fast 5/10/15/20 x slow 30/40/50/60) of double_ma through the lab's sweep (backend/lab/
sweep.py: a child process per point) on the first --sweep-bars bars with 1 and with 2 local workers; the speed-up
of 2 over 1 (target 1.8x), the cores the sweep used and those the rest of the machine used meanwhile, and whether
both rankings are the same.

Profile (--profile): cProfile of run_backtest on the bars, its 25 hottest functions by own time.

Machine load: `uptime`'s load before and after, and the CPU the rest of the machine used during each measured
run (/proc/stat busy time less this run's own), in cores.

Targets (issue 18): end to end at least 2.5x vnpy's bars a second with the stricter rules on; the sweep at
least 1.8x faster on 2 workers than on 1. The JSON summary is the last line of stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from lib.trading_calendar import is_business_day, next_business_day, previous_business_day  # noqa: E402

E2E_TARGET = 2.5  # ctpdesk end to end over vnpy end to end, bars a second
SWEEP_TARGET = 1.8  # a sweep on 2 local workers over 1
BENCH_VENV = ROOT / ".venv-bench"
PEERS = ROOT / "bench" / "peers"
STRATEGY = ROOT / "strategies" / "double_ma.py"
LOCAL_SYMBOL = "rb2605.SHFE"  # any rb contract: the sim's table gives every rb the same terms
PARAMS = {"fast": 10, "slow": 30, "volume": 1}
SWEEP_GRID = {"fast": [5, 10, 15, 20], "slow": [30, 40, 50, 60]}
FIRST_DAY = date(2014, 1, 2)
START_PRICE = 3600.0
STEP_TICKS = 3.0  # standard deviation of a bar's move, ticks
REVERSION = 2e-5  # share of the distance to START_PRICE a bar drifts back: ~1.5 years half-life
# rb's sessions, minutes of the day, half-open; the first lies on the evening before the trading day.
RB_SESSIONS = ((21 * 60, 23 * 60), (9 * 60, 10 * 60 + 15), (10 * 60 + 30, 11 * 60 + 30), (13 * 60 + 30, 15 * 60))
NIGHT_FROM = 18 * 60
# Issue 18's figures for the anchors on this machine (bars a second): the baseline columns.
ISSUE_FIGURES = {"vnpy": (168_000, 119_000), "backtrader": (18_000, 18_000)}
CLK_TCK = os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------------------------------------------- the data


def session_minutes(trading_day: date) -> list[datetime]:
    """The start of every 1-minute bar of an rb trading day, in exchange time (night bars on the evening before)."""
    evening = previous_business_day(trading_day)
    stamps = []
    for start, end in RB_SESSIONS:
        day = evening if start >= NIGHT_FROM else trading_day
        midnight = datetime(day.year, day.month, day.day)
        stamps.extend(midnight + timedelta(minutes=minute) for minute in range(start, end))
    return stamps


def write_bars(path: Path, count: int, seed: int) -> None:
    """`count` bars of the seeded walk as the bench's CSV (see the module docstring)."""
    rng = random.Random(seed)
    gauss, uniform = rng.gauss, rng.random
    price, interest = START_PRICE, 1_500_000
    day = FIRST_DAY if is_business_day(FIRST_DAY) else next_business_day(FIRST_DAY)
    written = 0
    with open(path, "w", encoding="ascii", newline="") as out:
        out.write("datetime,open,high,low,close,volume,open_interest\n")
        while written < count:
            lines = []
            for stamp in session_minutes(day)[: count - written]:
                close = price + round(gauss((START_PRICE - price) * REVERSION, STEP_TICKS))
                high = max(price, close) + int(uniform() * 3)
                low = min(price, close) - int(uniform() * 3)
                interest += int(uniform() * 41) - 20
                lines.append(f"{stamp:%Y-%m-%d %H:%M:%S},{price:.0f},{high:.0f},{low:.0f},{close:.0f},"
                             f"{20 + int(uniform() * 600)},{interest}\n")
                price = close
            out.write("".join(lines))
            written += len(lines)
            day = next_business_day(day)


# ----------------------------------------------------------------------------------------------- measuring


def machine_busy_seconds() -> float:
    """CPU seconds all processes of the machine have used (/proc/stat: everything but idle and iowait)."""
    with open("/proc/stat", encoding="ascii") as handle:
        values = [int(value) for value in handle.readline().split()[1:9]]
    return (sum(values) - values[3] - values[4]) / CLK_TCK


def own_cpu_seconds() -> float:
    """This process's CPU and that of its waited-for children."""
    mine, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return mine.ru_utime + mine.ru_stime + children.ru_utime + children.ru_stime


@dataclass
class Load:
    """What the rest of the machine did while a figure was taken."""

    wall: float = 0.0
    busy: float = 0.0
    own: float = 0.0

    def others_cores(self) -> float:
        return max(0.0, self.busy - self.own) / self.wall if self.wall else 0.0


class Measure:
    """`with Measure() as m:` times a block and notes the machine's other load over it."""

    def __enter__(self) -> Measure:
        self.load = Load()
        self._start = (time.perf_counter(), machine_busy_seconds(), own_cpu_seconds())
        return self

    def __exit__(self, *exc: object) -> None:
        wall, busy, own = self._start
        self.load = Load(time.perf_counter() - wall, machine_busy_seconds() - busy, own_cpu_seconds() - own)

    @property
    def seconds(self) -> float:
        return self.load.wall


@dataclass
class Run:
    """One engine's run: the phase seconds it reports, the process's wall time, its results."""

    engine: str
    bars: int
    replay_s: float
    wall_s: float | None
    net_pnl: float
    commission: float
    trade_count: int
    others_cores: float
    replay_cpu_s: float = 0.0  # CPU seconds of the replay (this process)
    e2e_cpu_s: float | None = None  # CPU seconds of the end-to-end process and its children
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def replay_rate(self) -> float:
        return self.bars / self.replay_s

    @property
    def e2e_rate(self) -> float | None:
        return self.bars / self.wall_s if self.wall_s else None

    @property
    def replay_cpu_rate(self) -> float | None:
        return self.bars / self.replay_cpu_s if self.replay_cpu_s else None

    @property
    def e2e_cpu_rate(self) -> float | None:
        return self.bars / self.e2e_cpu_s if self.e2e_cpu_s else None


# ------------------------------------------------------------------------------------------------- anchors


def ensure_bench_venv() -> Path:
    """The bench-only environment's python, made from bench/requirements-peers.txt when missing."""
    python = BENCH_VENV / "bin" / "python"
    stamp = BENCH_VENV / ".installed"
    if not stamp.exists():
        print(f"making {BENCH_VENV} (vnpy, backtrader: bench/requirements-peers.txt) ...", file=sys.stderr)
        subprocess.run(["python3", "-m", "venv", str(BENCH_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", "-r",
                        str(ROOT / "bench" / "requirements-peers.txt")], check=True)
        stamp.touch()
    return python


def run_peer(python: Path, script: str, csv_path: Path, scratch: Path) -> Run:
    """One anchor in a fresh process of the bench environment (HOME and cwd in the scratch dir: vnpy writes its
    settings folder there)."""
    env = {**os.environ, "HOME": str(scratch)}
    command = [str(python), str(PEERS / script), "--csv", str(csv_path), "--fast", str(PARAMS["fast"]),
               "--slow", str(PARAMS["slow"])]
    with Measure() as measure:
        done = subprocess.run(command, cwd=scratch, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{script} failed:\n{done.stderr[-3000:]}")
    out = json.loads(done.stdout.strip().splitlines()[-1])
    return Run(out["engine"], out["bars"], out["replay_s"] + out["stats_s"], measure.seconds, out["net_pnl"],
               out["commission"], out["trade_count"], measure.load.others_cores(), out["replay_cpu_s"],
               measure.load.own, {key: out[key] for key in ("import_s", "load_s", "replay_s", "stats_s")})


# ------------------------------------------------------------------------------------------------- ctpdesk


def lab_spec(params: dict[str, int]) -> Any:
    """The lab's spec of a double_ma run on the bench's contract (the sim's rb terms)."""
    from backend.lab.spec import BacktestSpec

    return BacktestSpec(code=STRATEGY.read_text(encoding="utf-8"), local_symbol=LOCAL_SYMBOL, interval="1m",
                        params=dict(params))


def ctpdesk_replay(csv_path: Path) -> Run:
    """run_backtest in this process on Bars already parsed: the replay-only figure (the report included)."""
    from backend.lab.data import bars_from_csv
    from backend.lab.engine import run_backtest

    with Measure() as parse:
        bars = bars_from_csv(csv_path, LOCAL_SYMBOL, "1m")
    spec = lab_spec(PARAMS)
    with Measure() as measure:
        report = run_backtest(spec, bars)
    stats = report.stats
    expired = sum(1 for order in report.orders if order["status"] == "cancelled")
    refused = sum(1 for order in report.orders if order["status"] == "rejected")
    return Run("ctpdesk", len(bars), measure.seconds, None, float(stats["net_pnl"]), float(stats["commission"]),
               int(stats["trade_count"]), measure.load.others_cores(), measure.load.own,
               extra={"expired_orders": expired, "refused_orders": refused, "parse_cpu_s": parse.load.own,
                      "run_cpu_s": measure.load.own})


def cli_command(csv_path: Path) -> list[str]:
    """The lab's command line for one double_ma backtest of the CSV (it prints the statistics)."""
    params = [part for name, value in PARAMS.items() for part in ("--param", f"{name}={value}")]
    return [sys.executable, "-m", "backend.lab", "backtest", "--strategy", str(STRATEGY), "--bars", str(csv_path),
            "--symbol", LOCAL_SYMBOL, "--interval", "1m", *params]


# The lines of the CLI's statistics table the bench reads: label (English part) -> key.
CLI_ROWS = {"net P&L": "net_pnl", "commission": "commission", "trades": "trade_count"}


def parse_cli_stats(text: str) -> dict[str, float]:
    """net P&L, commission and trades from `backend.lab backtest`'s printed table ("净盈亏 net P&L  -1,168.42")."""
    found = {}
    for line in text.splitlines():
        for label, key in CLI_ROWS.items():
            head, _, value = line.rpartition("  ")
            if head.rstrip().endswith(" " + label):
                found[key] = float(value.strip().replace(",", ""))
    missing = set(CLI_ROWS.values()) - set(found)
    if missing:
        raise RuntimeError(f"backend.lab backtest printed no {', '.join(sorted(missing))}:\n{text[-2000:]}")
    return found


def ctpdesk_end_to_end(csv_path: Path, bars: int) -> Run:
    """The lab's CLI in a fresh process, from its exec to the statistics printed: the end-to-end figure."""
    with Measure() as measure:
        done = subprocess.run(cli_command(csv_path), cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"backend.lab backtest failed:\n{done.stderr[-3000:]}")
    stats = parse_cli_stats(done.stdout)
    return Run("ctpdesk", bars, measure.seconds, measure.seconds, stats["net_pnl"], stats["commission"],
               int(stats["trade_count"]), measure.load.others_cores(), e2e_cpu_s=measure.load.own)


def profile_lab(csv_path: Path, top: int = 25) -> str:
    """cProfile of run_backtest on the bench's bars: where the lab's time goes (sorted by own time)."""
    import cProfile
    import io
    import pstats

    from backend.lab.data import bars_from_csv
    from backend.lab.engine import run_backtest

    bars = bars_from_csv(csv_path, LOCAL_SYMBOL, "1m")
    spec = lab_spec(PARAMS)
    profiler = cProfile.Profile()
    profiler.enable()
    run_backtest(spec, bars)
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(top)
    return out.getvalue()


def bench_sweep(csv_path: Path, count: int, scratch: Path,
                grid: dict[str, list[int]] = SWEEP_GRID) -> dict[str, Any]:  # fmt: skip
    """The grid (16 points) through the lab's local sweep on 1 and on 2 workers (each point a child process)."""
    from backend.lab.data import Bars, bars_from_csv
    from backend.lab.sweep import run_sweep

    whole = bars_from_csv(csv_path, LOCAL_SYMBOL, "1m")
    count = min(count, len(whole))
    bars = Bars(whole.local_symbol, whole.interval, *(column[:count] for column in whole.columns()))
    data_path = scratch / "sweep-bars.bin"
    bars.to_file(data_path)
    points = [{"fast": fast, "slow": slow} for fast in grid["fast"] for slow in grid["slow"]]
    spec = lab_spec({"volume": 1})
    runs: dict[int, dict[str, Any]] = {}
    ranked: dict[int, list[tuple]] = {}
    for workers in (1, 2):
        with Measure() as measure:
            report = run_sweep(spec, data_path, points, "net_pnl", workers=workers)
        failed = [point.error for point in report.ranked if point.error]
        if failed:
            raise RuntimeError(f"sweep point failed: {failed[0]}")
        ranked[workers] = [(point.params["fast"], point.params["slow"], round(point.stats["net_pnl"], 2))
                           for point in report.ranked]
        runs[workers] = {"seconds": round(measure.seconds, 3), "points_per_s": len(points) / measure.seconds,
                         "bars_per_s": len(points) * count / measure.seconds,
                         "others_cores": round(measure.load.others_cores(), 2),
                         "own_cores": round(measure.load.own / measure.seconds, 2)}
    best = ranked[1][0]
    return {"points": len(points), "bars": count, "grid": grid, "workers": runs,
            "speedup": runs[1]["seconds"] / runs[2]["seconds"], "target": SWEEP_TARGET,
            "same_results": ranked[1] == ranked[2], "best": {"fast": best[0], "slow": best[1], "net_pnl": best[2]}}


def print_sweep(sweep: dict[str, Any]) -> None:
    grid = sweep["grid"]
    print(f"sweep: {sweep['points']} points (fast {grid['fast']} x slow {grid['slow']}) of double_ma on "
          f"{sweep['bars']:,} bars each, the lab's local sweep (a child process per point)")
    for workers, run in sweep["workers"].items():
        print(f"  {workers} worker(s): {run['seconds']:8.2f} s  {run['points_per_s']:6.2f} points/s  "
              f"{run['bars_per_s']:12,.0f} bars/s  cores used {run['own_cores']:.2f}, "
              f"by others {run['others_cores']:.2f}")
    verdict = "met" if sweep["speedup"] >= SWEEP_TARGET else "MISSED"
    best = sweep["best"]
    print(f"  speed-up 2 workers / 1: {sweep['speedup']:.2f}x  target >= {SWEEP_TARGET:g}x {verdict}; same ranking "
          f"on both: {sweep['same_results']}; best by net P&L: fast={best['fast']} slow={best['slow']} "
          f"{best['net_pnl']:,.2f}")


# --------------------------------------------------------------------------------------------------- report


def span(values: list[float], digits: str = ",.0f") -> str:
    """best (min-max) of a list of rates, or the one value."""
    if not values:
        return "-"
    if len(values) == 1:
        return format(values[0], digits)
    return f"{max(values):{digits}} ({min(values):{digits}}-{max(values):{digits}})"


def summarise(engine: str, runs: list[Run]) -> dict[str, Any]:
    """One engine's figures over its rounds (rates in bars a second)."""
    replay = [run.replay_rate for run in runs]
    e2e = [rate for run in runs if (rate := run.e2e_rate) is not None]
    replay_cpu = [rate for run in runs if (rate := run.replay_cpu_rate) is not None]
    e2e_cpu = [rate for run in runs if (rate := run.e2e_cpu_rate) is not None]
    last = runs[-1]
    return {"engine": engine, "bars": last.bars, "replay_per_s": max(replay),
            "replay_range": [min(replay), max(replay)],
            "e2e_per_s": max(e2e) if e2e else None, "e2e_range": [min(e2e), max(e2e)] if e2e else None,
            "replay_per_cpu_s": max(replay_cpu) if replay_cpu else None,
            "e2e_per_cpu_s": max(e2e_cpu) if e2e_cpu else None,
            "net_pnl": round(last.net_pnl, 2), "commission": round(last.commission, 2),
            "trade_count": last.trade_count, "others_cores": [round(run.others_cores, 2) for run in runs],
            "phases_s": [{key: round(value, 3) for key, value in run.extra.items() if key.endswith("_s")}
                         for run in runs],
            "rounds": len(runs)}


def print_table(summaries: list[dict[str, Any]], runs: dict[str, list[Run]]) -> None:
    print(f"{'engine':12} {'bars/s replay only (range)':>30} {'bars/s end to end (range)':>30} "
          f"{'per CPU-s: replay / e2e':>24} {'issue 18: replay / e2e':>24} {'net P&L':>14} {'fees':>12} "
          f"{'fills':>7}  others' cores")
    for summary in summaries:
        engine = summary["engine"]
        replay = span([run.replay_rate for run in runs[engine]])
        e2e = span([rate for run in runs[engine] if (rate := run.e2e_rate) is not None])
        issue = ISSUE_FIGURES.get(engine)
        issue_text = f"{issue[0]:,} / {issue[1]:,}" if issue else ""
        cores = ", ".join(f"{value:.2f}" for value in summary["others_cores"])
        cpu_text = " / ".join(f"{value:,.0f}" if value else "-"
                              for value in (summary["replay_per_cpu_s"], summary["e2e_per_cpu_s"]))
        print(f"{engine:12} {replay:>30} {e2e:>30} {cpu_text:>24} {issue_text:>24} {summary['net_pnl']:14,.2f} "
              f"{summary['commission']:12,.2f} {summary['trade_count']:7,}  {cores}")


def paired(numerator: list[Run], denominator: list[Run], attribute: str) -> list[float]:
    """Ratios of the same round's rates (neighbours in time, under the same load)."""
    pairs = zip(numerator, denominator, strict=True)
    return [getattr(top, attribute) / getattr(bottom, attribute) for top, bottom in pairs
            if getattr(top, attribute) and getattr(bottom, attribute)]


def ratio_line(label: str, best: float, pairs: list[float], target: float | None) -> dict[str, Any]:
    verdict = "" if target is None else (" met" if best >= target else " MISSED")
    pair_text = f"  (same-round ratios {min(pairs):.2f}-{max(pairs):.2f})" if len(pairs) > 1 else ""
    target_text = f"  target >= {target:g}x{verdict}" if target is not None else ""
    print(f"{label:44} {best:6.2f}x{pair_text}{target_text}")
    return {"best": round(best, 3), "same_round": [round(value, 3) for value in pairs], "target": target,
            "met": None if target is None else best >= target}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bars", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=18)
    parser.add_argument("--rounds", type=int, default=2, help="rounds of vnpy / ctpdesk (alternating)")
    parser.add_argument("--backtrader-rounds", type=int, default=1, help="rounds backtrader takes part in")
    parser.add_argument("--sweep-bars", type=int, default=200_000, help="bars of each sweep point")
    parser.add_argument("--skip-peers", action="store_true", help="ctpdesk only (no .venv-bench)")
    parser.add_argument("--skip-sweep", action="store_true")
    parser.add_argument("--keep", type=Path, help="write (and reuse) the CSV in this folder")
    parser.add_argument("--profile", action="store_true", help="print cProfile's hot spots of run_backtest")
    parser.add_argument("--json", type=Path, help="also write the JSON summary to this file")
    args = parser.parse_args()

    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench-backtest-") as scratch_name:
        scratch = Path(scratch_name)
        folder = args.keep or scratch
        folder.mkdir(parents=True, exist_ok=True)
        csv_path = folder / f"bars-{args.bars}-{args.seed}.csv"
        if not csv_path.exists():
            with Measure() as made:
                write_bars(csv_path, args.bars, args.seed)
            print(f"wrote {args.bars:,} bars to {csv_path} in {made.seconds:.1f} s", file=sys.stderr)
        python = None if args.skip_peers else ensure_bench_venv()

        runs: dict[str, list[Run]] = {"vnpy": [], "ctpdesk": [], "backtrader": []}
        for round_number in range(args.rounds):
            if python:
                runs["vnpy"].append(run_peer(python, "vnpy_double_ma.py", csv_path, scratch))
            e2e = ctpdesk_end_to_end(csv_path, args.bars)
            replay = ctpdesk_replay(csv_path)
            replay.wall_s, replay.e2e_cpu_s = e2e.wall_s, e2e.e2e_cpu_s
            replay.others_cores = max(replay.others_cores, e2e.others_cores)
            replay.extra["e2e_net_pnl"] = e2e.net_pnl
            runs["ctpdesk"].append(replay)
            if python and round_number < args.backtrader_rounds:
                runs["backtrader"].append(run_peer(python, "backtrader_double_ma.py", csv_path, scratch))
            print(f"round {round_number + 1}/{args.rounds} done", file=sys.stderr)
        sweep = None if args.skip_sweep else bench_sweep(csv_path, args.sweep_bars, scratch)
        profile = profile_lab(csv_path) if args.profile else None
    load_after = os.getloadavg()

    order = [engine for engine in ("ctpdesk", "vnpy", "backtrader") if runs[engine]]
    summaries = [summarise(engine, runs[engine]) for engine in order]
    print(f"double_ma fast={PARAMS['fast']} slow={PARAMS['slow']}, 1 lot, on {args.bars:,} synthetic 1-minute bars "
          f"(seed {args.seed}); bars a second, best of {args.rounds} round(s) (range)")
    print_table(summaries, runs)
    ratios: dict[str, Any] = {}
    if runs["vnpy"]:
        desk, vnpy = summaries[0], summaries[order.index("vnpy")]
        ratios["e2e_vs_vnpy"] = ratio_line("ctpdesk / vnpy, end to end", desk["e2e_per_s"] / vnpy["e2e_per_s"],
                                           paired(runs["ctpdesk"], runs["vnpy"], "e2e_rate"), E2E_TARGET)
        ratios["e2e_cpu_vs_vnpy"] = ratio_line("ctpdesk / vnpy, end to end per CPU-second",
                                               desk["e2e_per_cpu_s"] / vnpy["e2e_per_cpu_s"],
                                               paired(runs["ctpdesk"], runs["vnpy"], "e2e_cpu_rate"), None)
        ratios["replay_vs_vnpy"] = ratio_line("ctpdesk / vnpy, replay only",
                                              desk["replay_per_s"] / vnpy["replay_per_s"],
                                              paired(runs["ctpdesk"], runs["vnpy"], "replay_rate"), None)
    if runs["backtrader"]:
        desk, bt = summaries[0], summaries[order.index("backtrader")]
        ratios["e2e_vs_backtrader"] = ratio_line("ctpdesk / backtrader, end to end",
                                                 desk["e2e_per_s"] / bt["e2e_per_s"], [], None)
    pnl = {summary["engine"]: summary["net_pnl"] for summary in summaries}
    print("net P&L: " + ", ".join(f"{engine} {value:,.2f}" for engine, value in pnl.items())
          + f" (ctpdesk's CLI run: {runs['ctpdesk'][-1].extra['e2e_net_pnl']:,.2f})")
    desk = runs["ctpdesk"][-1]
    if runs["vnpy"]:
        print(f"  where they differ: ctpdesk's orders are day orders, as at the exchange: "
              f"{desk.extra['expired_orders']} sent on a trading day's last bar (14:59) expired unfilled at its close "
              f"(the anchors fill them at the next session's first bar, 21:00, and the strategy re-enters at a later "
              f"price); "
              f"{runs['vnpy'][-1].trade_count - desk.trade_count} fills fewer; {desk.extra['refused_orders']} "
              f"orders refused (margin, limits); fees agree (rb's close-today rate is its close rate, 0.0001)")
    phases = (f"  ctpdesk's phases, CPU s: bars_from_csv {desk.extra['parse_cpu_s']:.2f} (the CLI parses in its "
              f"process while its child runs), run_backtest {desk.extra['run_cpu_s']:.2f} (the child)")
    if runs["vnpy"]:
        vnpy_phases = runs["vnpy"][-1].extra
        phases += (f"; vnpy's, wall s: import {vnpy_phases['import_s']:.2f}, CSV to BarData "
                   f"{vnpy_phases['load_s']:.2f}, replay {vnpy_phases['replay_s']:.2f}")
    print(phases)
    if sweep:
        print_sweep(sweep)
    print(f"machine load (uptime 1/5/15 min): before {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f},"
          f" after {load_after[0]:.2f} {load_after[1]:.2f} {load_after[2]:.2f}; 'others' cores': CPU the rest of "
          f"the machine used during each run, in cores of 2")
    if profile:
        print(profile)
    summary = {"bars": args.bars, "seed": args.seed, "params": PARAMS, "engines": summaries, "ratios": ratios,
               "ctpdesk_cli_net_pnl": round(runs["ctpdesk"][-1].extra["e2e_net_pnl"], 2),
               "ctpdesk_expired_orders": desk.extra["expired_orders"],
               "ctpdesk_refused_orders": desk.extra["refused_orders"],
               "sweep": sweep, "load_before": [round(v, 2) for v in load_before],
               "load_after": [round(v, 2) for v in load_after]}
    line = json.dumps(summary)
    if args.json:
        args.json.write_text(line + "\n", encoding="utf-8")
    print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
