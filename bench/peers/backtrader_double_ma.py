"""backtrader's anchor for bench/backtest.py: the double moving average on backtrader's Cerebro.

    .venv-bench/bin/python bench/peers/backtrader_double_ma.py --csv bars.csv [--fast 10] [--slow 30]

Runs in the bench-only environment (.venv-bench: bench/requirements-peers.txt). Reads the bench's CSV with
pandas into a PandasData feed and runs Cerebro (preloaded, vectorised indicators off: the strategy keeps its own
sums). Orders are limit orders at the bar's close, matched by backtrader's broker against the next bar (at the
open when the open is better, else at the limit when the bar reaches it), as vnpy and the lab do.

The contract: a futures-like commission scheme (stocklike off, multiplier `--size`, margin `--margin` of the
price), fees `--rate` of the turnover (price x multiplier x lots; backtrader's own percentage scheme leaves out
the multiplier, so the scheme below puts it in).

The strategy is strategies/double_ma.py's rule and code, the same running sums over a deque: buy 1 lot at the close
when the fast average is above the slow one and nothing is held, sell the position when below. No cancel.

Prints one JSON line: bars, the phases' seconds (load: CSV to a DataFrame; replay: cerebro.run, which also feeds
the DataFrame's rows to the lines; stats: the broker's value and the trade counts; replay_cpu_s: the CPU seconds
of replay and stats), net P&L, commission, trades.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import deque

T0 = time.perf_counter()

import backtrader as bt  # noqa: E402
import pandas as pd  # noqa: E402


class FuturesFees(bt.CommInfoBase):
    """Fees as a share of the turnover, multiplier included (a China futures fee by money)."""

    params = (("stocklike", False), ("commtype", bt.CommInfoBase.COMM_PERC), ("percabs", True))

    def _getcommission(self, size, price, pseudoexec):
        return abs(size) * self.p.commission * price * self.p.mult


class DoubleMaBt(bt.Strategy):
    """double_ma's rule on backtrader (self.position.size is the filled position)."""

    params = (("fast", 10), ("slow", 30), ("volume", 1))

    def __init__(self) -> None:
        self.closes: deque[float] = deque()  # the last `slow` closes
        self.window = min(self.p.fast, self.p.slow)  # the closes the fast average sums
        self.fast_sum = 0.0
        self.slow_sum = 0.0
        self.commission = 0.0
        self.fills = 0

    def notify_order(self, order) -> None:
        if order.status == order.Completed:
            self.commission += order.executed.comm
            self.fills += 1

    def next(self) -> None:
        slow_n = self.p.slow
        close = self.data.close[0]
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
        fast = self.fast_sum / self.p.fast
        slow = self.slow_sum / slow_n
        held = self.position.size
        if fast > slow and not held > 0:
            self.buy(price=close, size=self.p.volume, exectype=bt.Order.Limit)
        elif fast < slow and held > 0:
            self.sell(price=close, size=held, exectype=bt.Order.Limit)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv", required=True)
    parser.add_argument("--fast", type=int, default=10)
    parser.add_argument("--slow", type=int, default=30)
    parser.add_argument("--size", type=float, default=10)
    parser.add_argument("--rate", type=float, default=0.0001)
    parser.add_argument("--margin", type=float, default=0.07)
    parser.add_argument("--capital", type=float, default=1_000_000)
    args = parser.parse_args()
    imported = time.perf_counter()

    frame = pd.read_csv(args.csv, parse_dates=["datetime"], index_col="datetime")
    loaded = time.perf_counter()
    cpu_loaded = time.process_time()

    cerebro = bt.Cerebro(stdstats=False)
    cerebro.adddata(bt.feeds.PandasData(dataname=frame, openinterest="open_interest"))
    cerebro.addstrategy(DoubleMaBt, fast=args.fast, slow=args.slow)
    cerebro.broker.setcash(args.capital)
    cerebro.broker.addcommissioninfo(FuturesFees(commission=args.rate, mult=args.size, automargin=args.margin))
    strategy = cerebro.run()[0]
    replayed = time.perf_counter()

    net_pnl = cerebro.broker.getvalue() - args.capital
    done = time.perf_counter()
    cpu_done = time.process_time()
    print(json.dumps({
        "engine": "backtrader", "bars": len(frame), "import_s": imported - T0, "load_s": loaded - imported,
        "replay_s": replayed - loaded, "stats_s": done - replayed, "replay_cpu_s": cpu_done - cpu_loaded,
        "net_pnl": net_pnl,
        "commission": strategy.commission, "trade_count": strategy.fills,
    }))


if __name__ == "__main__":
    main()
