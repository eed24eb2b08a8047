"""vnpy's anchor for bench/backtest.py: the double moving average on vnpy_ctastrategy's BacktestingEngine.

    .venv-bench/bin/python bench/peers/vnpy_double_ma.py --csv bars.csv [--fast 10] [--slow 30]

Runs in the bench-only environment (.venv-bench: bench/requirements-peers.txt), never the project's. Reads the
bench's CSV (datetime, open, high, low, close, volume, open_interest; exchange time) into vnpy BarData objects,
hands them to the engine as its history (vnpy would load them from its database; the bench skips the database so
the figure is the engine's own), replays them (BAR mode: a limit order is matched against the next bar, at the
better of its price and that bar's open) and computes vnpy's daily results and statistics.

The strategy is strategies/double_ma.py's rule and code, written as a CtaTemplate: the same running sums over a
deque (not ArrayManager/ta-lib: the same float arithmetic, so the crosses fall on the same bars), buy 1 lot at the
close when the fast average is above the slow one and nothing is held, sell what is held at the close when it is
below. No cancel, as in double_ma.

Prints one JSON line: bars, the phases' seconds (load: CSV to BarData; replay: run_backtesting; stats:
calculate_result + calculate_statistics; replay_cpu_s: the CPU seconds of replay and stats), net P&L, commission,
trade count.
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from collections import deque
from datetime import datetime

T0 = time.perf_counter()

from vnpy.trader.constant import Exchange, Interval  # noqa: E402
from vnpy.trader.object import BarData  # noqa: E402
from vnpy_ctastrategy import CtaTemplate  # noqa: E402
from vnpy_ctastrategy.backtesting import BacktestingEngine  # noqa: E402

SYMBOL = "rb8888"
EXCHANGE = Exchange.SHFE


class DoubleMaCta(CtaTemplate):
    """double_ma's rule on vnpy's template (pos is vnpy's filled position)."""

    parameters = ["fast", "slow", "volume"]
    fast = 10
    slow = 30
    volume = 1

    def on_init(self) -> None:
        self.closes: deque[float] = deque()  # the last `slow` closes
        self.window = min(self.fast, self.slow)  # the closes the fast average sums
        self.fast_sum = 0.0
        self.slow_sum = 0.0

    def on_bar(self, bar: BarData) -> None:
        slow_n = self.slow
        close = bar.close_price
        closes = self.closes
        closes.append(close)
        self.fast_sum += close
        self.slow_sum += close
        count = len(closes)
        if count > self.window:
            self.fast_sum -= closes[-self.window - 1]
            if count > slow_n:
                self.slow_sum -= closes.popleft()
                count -= 1
        if count < slow_n:
            return
        fast = self.fast_sum / self.fast
        slow = self.slow_sum / slow_n
        holding = self.pos > 0
        if fast > slow and not holding:
            self.buy(close, self.volume)
        elif fast < slow and holding:
            self.sell(close, self.pos)


def load_bars(path: str) -> list[BarData]:
    """The bench CSV as vnpy bars (naive exchange-time datetimes, as vnpy's daily results date them)."""
    bars = []
    parse = datetime.fromisoformat
    with open(path, newline="") as handle:
        rows = csv.reader(handle)
        next(rows)
        for stamp, open_, high, low, close, volume, interest in rows:
            bars.append(BarData(symbol=SYMBOL, exchange=EXCHANGE, datetime=parse(stamp), interval=Interval.MINUTE,
                                volume=float(volume), open_interest=float(interest), open_price=float(open_),
                                high_price=float(high), low_price=float(low), close_price=float(close),
                                gateway_name="DB"))
    return bars


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv", required=True)
    parser.add_argument("--fast", type=int, default=10)
    parser.add_argument("--slow", type=int, default=30)
    parser.add_argument("--size", type=float, default=10)
    parser.add_argument("--tick", type=float, default=1)
    parser.add_argument("--rate", type=float, default=0.0001)
    parser.add_argument("--capital", type=float, default=1_000_000)
    args = parser.parse_args()
    imported = time.perf_counter()

    bars = load_bars(args.csv)
    loaded = time.perf_counter()
    cpu_loaded = time.process_time()

    engine = BacktestingEngine()
    engine.output = lambda msg: None  # its progress prints are not part of the work
    engine.set_parameters(vt_symbol=f"{SYMBOL}.{EXCHANGE.value}", interval=Interval.MINUTE, start=bars[0].datetime,
                          end=bars[-1].datetime, rate=args.rate, slippage=0, size=args.size, pricetick=args.tick,
                          capital=int(args.capital))
    engine.add_strategy(DoubleMaCta, {"fast": args.fast, "slow": args.slow, "volume": 1})
    engine.history_data = bars
    engine.run_backtesting()
    replayed = time.perf_counter()

    engine.calculate_result()
    stats = engine.calculate_statistics(output=False)
    done = time.perf_counter()
    cpu_done = time.process_time()
    print(json.dumps({
        "engine": "vnpy", "bars": len(bars), "import_s": imported - T0, "load_s": loaded - imported,
        "replay_s": replayed - loaded, "stats_s": done - replayed, "replay_cpu_s": cpu_done - cpu_loaded,
        "net_pnl": float(stats["total_net_pnl"]), "commission": float(stats["total_commission"]),
        "trade_count": int(stats["total_trade_count"]),
    }))


if __name__ == "__main__":
    main()
