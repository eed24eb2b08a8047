"""The lab's command line: `python -m backend.lab backtest ...` (and lab-sweep's `optimise ...`).

    python -m backend.lab backtest --strategy strategies/double_ma.py --bars rb.csv --symbol rb2605.SHFE \
        --param fast=10 --param slow=30 --json out.json

prints the statistics as an aligned table and exits 0; bad input is one line on stderr and exit 2,
an error of the strategy's code (with its line) exit 1. The strategy runs in a child process with the
live workers' limits and guards (child.py), exactly as a backtest started from the desk.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from backend.lab.data import Bars, bars_from_csv, csv_chunks
from backend.lab.report import BadInput, LabError, Report
from backend.lab.spec import BacktestSpec
from backend.lab.terms import Terms, sim_terms, terms_from, with_symbol
from backend.strategy_runtime.params import ParamsError, check_params, declared_params
from lib.close_split import CLOSE_PATTERNS

# (key, Chinese label, English label, format)
STAT_ROWS: tuple[tuple[str, str, str, str], ...] = (
    ("start_date", "首个交易日", "start date", "s"),
    ("end_date", "最后交易日", "end date", "s"),
    ("total_days", "交易日数", "trading days", "d"),
    ("capital", "起始资金", "capital", "money"),
    ("end_balance", "结束资金", "end balance", "money"),
    ("net_pnl", "净盈亏", "net P&L", "money"),
    ("total_return", "总收益率", "total return", "pct"),
    ("annual_return", "年化收益", "annual return", "pct"),
    ("sharpe_ratio", "夏普比率", "Sharpe ratio", "f"),
    ("max_drawdown", "最大回撤", "max drawdown", "pct"),
    ("max_drawdown_days", "最长回撤天数", "max drawdown days", "d"),
    ("return_drawdown_ratio", "收益回撤比", "return/drawdown", "f"),
    ("win_rate", "胜率", "win rate", "pct"),
    ("profit_factor", "盈亏比", "profit factor", "f"),
    ("trade_count", "成交笔数", "trades", "d"),
    ("turnover", "成交额", "turnover", "money"),
    ("commission", "手续费", "commission", "money"),
    ("slippage", "滑点", "slippage", "money"),
)


CSV_PIECE = 20_000  # bars a piece: the child starts on the first (30 ms to parse) while the rest is read


class InputError(ValueError):
    """Bad command-line input: one line, exit 2."""


def _value(text: str) -> Any:
    """A --param value: JSON when it parses (10, 0.5, true, "x"), else the text itself."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def _params(pairs: list[str]) -> dict[str, Any]:
    params = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise InputError(f"--param {pair!r}: expected NAME=VALUE")
        params[key.strip()] = _value(value)
    return params


def _terms(text: str | None, local_symbol: str) -> Terms | None:
    """--terms: `sim` (or nothing: the sim's table), a JSON object or a JSON file, over the sim's terms."""
    if text is None or text == "sim":
        return None
    raw = Path(text).read_text(encoding="utf-8") if not text.lstrip().startswith("{") else text
    try:
        given = json.loads(raw)
    except ValueError as error:
        raise InputError(f"--terms: not JSON ({error})") from None
    try:
        base = with_symbol(sim_terms(local_symbol), local_symbol)
    except KeyError:
        base = None
    given = {"local_symbol": local_symbol, "exchange": local_symbol.rpartition(".")[2], **given}
    try:
        return terms_from(given, base)
    except ValueError as error:
        raise InputError(f"--terms: {error}") from None


def format_stats(stats: dict[str, Any]) -> str:
    """The statistics as an aligned two-column table, Chinese and English labels."""
    labels = [f"{zh} {en}" for _, zh, en, _ in STAT_ROWS]
    width = max(_display_width(label) for label in labels)
    lines = []
    for (key, _, _, kind), label in zip(STAT_ROWS, labels, strict=True):
        lines.append(label + " " * (width - _display_width(label) + 2) + _format(stats.get(key), kind))
    return "\n".join(lines)


def _display_width(text: str) -> int:
    return sum(2 if ord(char) > 0x2E7F else 1 for char in text)


def _format(value: Any, kind: str) -> str:
    if value is None:
        return "-"
    if kind == "pct":
        return f"{value * 100:,.2f}%"
    if kind == "money":
        return f"{value:,.2f}"
    if kind == "f":
        return f"{value:.4f}" if isinstance(value, float) and math.isfinite(value) else str(value)
    return str(value)


def _moment_ms(flag: str, text: str | None) -> int | None:
    """--start/--end: a date or date and time in exchange time (the bars before --start only warm up)."""
    if text is None:
        return None
    from backend.bar_csv import parse_moment

    try:
        return int(parse_moment(text).timestamp() * 1000)
    except ValueError:
        raise InputError(f"{flag} {text!r}: a date such as 2026-01-05 or 2026-01-05 21:00") from None


def backtest_spec(args: argparse.Namespace) -> BacktestSpec:
    """The spec of `backtest`'s arguments; InputError naming the bad one."""
    try:
        code = Path(args.strategy).read_text(encoding="utf-8")
    except OSError as error:
        raise InputError(f"--strategy: {error.strerror}: {args.strategy}") from None
    if "." not in args.symbol:
        raise InputError(f"--symbol {args.symbol!r}: a local_symbol such as rb2605.SHFE")
    params = _params(args.param)
    try:  # checked here too (the child checks again): a bad --param is bad input, not the strategy's error
        check_params(declared_params(code), params)
    except ParamsError as error:
        raise InputError(str(error)) from None
    terms = _terms(args.terms, args.symbol)
    if terms is None:
        try:
            sim_terms(args.symbol)
        except KeyError as error:
            raise InputError(f"--symbol: {error.args[0]}; give --terms") from None
    # getattr: commands that share this function (optimise) may not take a range
    start = _moment_ms("--start", getattr(args, "start", None))
    end = _moment_ms("--end", getattr(args, "end", None))
    try:
        return BacktestSpec(code=code, local_symbol=args.symbol, interval=args.interval,
                            params=params, capital=args.capital, terms=terms,
                            fill_share=args.fill_share, slippage_ticks=args.slippage_ticks,
                            start_ms=start, end_ms=end, close_pattern=args.close_pattern)  # fmt: skip
    except ValueError as error:
        raise InputError(str(error)) from None


def run_backtest_command(args: argparse.Namespace) -> int:
    spec = backtest_spec(args)
    path = Path(args.bars)
    if not path.is_file():
        raise InputError(f"--bars: no such file: {args.bars}")
    from backend.lab.child import stream_in_child

    def source() -> tuple[int, Iterator[Bars]]:
        return csv_chunks(path, args.symbol, args.interval, rows=CSV_PIECE)

    with _bars_errors(args):  # the child starts while the CSV is read, then runs the first bars while this reads on
        report: Report = stream_in_child(spec, source, stats_only=not args.json)
    print(format_stats(report.stats))
    if args.json:
        Path(args.json).write_text(json.dumps(report.to_json(), ensure_ascii=False), encoding="utf-8")
    return 0


def _run_arguments(parser: argparse.ArgumentParser, param_help: str) -> None:
    """What one backtest needs, for `backtest` and for every point of `optimise` alike."""
    parser.add_argument("--strategy", required=True, help="the strategy's .py file (defines ext = X('name'))")
    parser.add_argument("--bars", required=True, help="CSV: datetime, open, high, low, close, volume[, open_interest]")
    parser.add_argument("--symbol", required=True, help="local_symbol, e.g. rb2605.SHFE")
    parser.add_argument("--interval", default="1m", help="the bars' interval (the strategy's bar_interval)")
    parser.add_argument("--terms", help="sim (default), or contract terms as JSON or a JSON file")
    parser.add_argument("--param", action="append", default=[], help=param_help)
    parser.add_argument("--capital", type=float, default=1_000_000.0)
    parser.add_argument("--fill-share", type=float, default=1.0, help="share of a bar's volume that may fill")
    parser.add_argument("--slippage-ticks", type=float, default=0.0)
    parser.add_argument("--close-pattern", choices=CLOSE_PATTERNS, default="today",
                        help="SHFE/INE: which lots a plain close takes first (the desk's CLOSE_PATTERN)")
    parser.add_argument("--start", help="backtest the bars from this moment on (earlier ones answer load_bars)")
    parser.add_argument("--end", help="and before this moment (exchange time, e.g. 2026-03-01)")


def _add_backtest(commands: Any) -> None:
    parser = commands.add_parser("backtest", help="backtest a strategy file on a CSV of bars")
    _run_arguments(parser, "NAME=VALUE, repeatable")
    parser.add_argument("--json", help="write the whole report (stats, trades, orders, daily, equity) here")
    parser.set_defaults(run=run_backtest_command)


# ------------------------------------------------------------------------------------------- lab-sweep
OPTIMISE_COLUMNS = ("net_pnl", "sharpe_ratio", "max_drawdown", "trade_count")  # beside the target in the table


def _add_optimise(commands: Any) -> None:
    """`optimise`: `backtest`'s arguments, a --grid per parameter and the --target to rank by."""
    parser = commands.add_parser("optimise", help="a grid of params of a strategy file, ranked by a statistic")
    _run_arguments(parser, "NAME=VALUE under every point, repeatable")
    parser.add_argument("--grid", action="append", default=[], required=True,
                        help="NAME=START:STOP:STEP (stop included) or NAME=V1,V2,...; repeatable")  # fmt: skip
    parser.add_argument("--target", default="sharpe_ratio", help="the statistic to rank by (default sharpe_ratio)")
    parser.add_argument("--workers", type=int, help="children at once (default: the CPU count)")
    parser.add_argument("--scheduler", default=os.environ.get("DASK_SCHEDULER") or None,
                        help="a dask.distributed scheduler, tcp://host:8786 (default: $DASK_SCHEDULER; none: local)")
    parser.add_argument("--top", type=int, default=20, help="rows of the table (default 20; 0: all)")
    parser.add_argument("--json", help="write the whole sweep (every point, its params and statistics) here")
    parser.set_defaults(run=run_optimise_command)


def run_optimise_command(args: argparse.Namespace) -> int:
    """Run the sweep, print the ranked table; exit 1 when no point ran (the first error explains)."""
    from backend.lab.sweep import SweepError, check_target, finite_json, grid, grid_option, run_sweep
    from backend.lab.sweep_dask import ClusterError

    spec = backtest_spec(args)
    try:
        check_target(args.target)
        points = grid(dict(grid_option(text) for text in args.grid), declared_params(spec.code))
    except SweepError as error:
        raise InputError(str(error)) from None
    if args.workers is not None and args.workers < 1:
        raise InputError("--workers: at least 1")
    bars = _csv_bars(args)
    with tempfile.TemporaryDirectory(prefix="ctpdesk-lab-cli-") as folder:
        data_path = Path(folder) / "bars.bin"
        bars.to_file(data_path)
        started = time.monotonic()
        try:
            sweep = run_sweep(spec, data_path, points, args.target, workers=args.workers, scheduler=args.scheduler)
        except ClusterError as error:
            raise LabError(str(error)) from None
        seconds = time.monotonic() - started
    plural = "" if sweep.workers == 1 else "s"
    where = f"{sweep.workers} local worker{plural}"
    if args.scheduler:
        where = f"dask {sweep.where}, {sweep.workers} worker{plural}"
    print(f"{len(points)} points, {len(bars)} bars, {where}, {seconds:.1f} s; ranked by {args.target}")
    print(format_sweep(sweep, args.top))
    if args.json:
        Path(args.json).write_text(json.dumps(finite_json(sweep.to_json()), ensure_ascii=False, allow_nan=False),
                                   encoding="utf-8")  # fmt: skip
    failed = [point for point in sweep.ranked if point.error is not None]
    if failed and len(failed) == len(sweep.ranked):
        raise LabError(f"every point failed; the first: {failed[0].error}")
    return 0


def _csv_bars(args: argparse.Namespace) -> Any:
    with _bars_errors(args):
        return bars_from_csv(Path(args.bars), args.symbol, args.interval)


@contextmanager
def _bars_errors(args: argparse.Namespace) -> Iterator[None]:
    """A CSV that cannot be read, or a bad line of it, as the --bars error the user is shown."""
    try:
        yield
    except OSError as error:
        raise InputError(f"--bars: {error.strerror}: {args.bars}") from None
    except ValueError as error:
        raise InputError(f"--bars: {error}") from None


def format_sweep(sweep: Any, top: int = 0) -> str:
    """The ranked points as a table: rank, the grid's params, the target and a few headline statistics."""
    points = sweep.ranked[:top] if top > 0 else sweep.ranked
    names = list(dict.fromkeys(name for point in sweep.ranked for name in point.params))
    columns = [sweep.target, *(name for name in OPTIMISE_COLUMNS if name != sweep.target)]
    rows = [["#", *names, *columns]]
    for rank, point in enumerate(points, start=1):
        figures = [_cell(point.stats.get(name)) for name in columns] if point.stats else ["-"] * len(columns)
        row = [str(rank), *(json.dumps(point.params.get(name)) for name in names), *figures]
        if point.error is not None:
            row.append("error: " + point.error.splitlines()[0][:120])
        rows.append(row)
    widths = [max(len(row[i]) for row in rows if i < len(row)) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.rjust(widths[i]) if i < len(widths) else cell for i, cell in enumerate(row))
             for row in rows]  # fmt: skip
    if len(points) < len(sweep.ranked):
        lines.append(f"... {len(sweep.ranked) - len(points)} more (--top 0 for all, --json for everything)")
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.4f}" if math.isfinite(value) else str(value)
    return "-" if value is None else str(value)


# ------------------------------------------------------------------------------------------------------
class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # one line, exit 2 (argparse prints its usage too)
        raise InputError(message)


def main(argv: list[str] | None = None) -> int:
    parser = _Parser(prog="python -m backend.lab", description="The strategy lab: backtests and sweeps.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    _add_backtest(commands)
    _add_optimise(commands)
    try:
        args = parser.parse_args(argv)
        return int(args.run(args))
    except (InputError, BadInput) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except LabError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
