"""A bar-based double moving average: long when the fast average crosses above the slow one.

Upload it with POST /code (or the desk's editor), then PUT /strategy name=double_ma operation=start.
By default it trades the main contract (主力: the most open interest) of `params["product"]`;
list local_symbols in `instruments` to choose (the counter's contract list is at GET /contract).
The averages are kept as running sums (add the new close, take off the one leaving the window), so a
bar costs the same whatever the windows: backtests over years of 1-minute bars stay quick.
"""

from collections import deque

from backend.strategy import Strategy


class DoubleMa(Strategy):
    instruments = []  # empty: trade the main contract (主力) of `product` (or list local_symbols here)
    bar_interval = "1m"
    params = {"product": "rb", "exchange": "SHFE", "fast": 5, "slow": 20, "volume": 1}

    def on_init(self):
        if not self.instruments:
            self.subscribe(self.main_contract(self.params["product"]))
        self.closes = deque()  # the last `slow` closes
        self.fast_n, self.slow_n = self.params["fast"], self.params["slow"]
        self.window = min(self.fast_n, self.slow_n)  # the closes the fast average sums
        self.fast_sum = 0.0  # the sum of the last `window` closes
        self.slow_sum = 0.0  # the sum of all of them
        self.info(f"double MA on {self.instruments} with {self.params}")

    def on_bar(self, bar):
        slow_n = self.slow_n
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
        fast = self.fast_sum / self.fast_n
        slow = self.slow_sum / slow_n
        held = self.positions.get(f"{bar.local_symbol}.long")
        holding = held is not None and held.volume > 0
        if fast > slow and not holding:
            self.buy(close, self.params["volume"], bar)
        elif fast < slow and holding:
            self.sell(close, held.volume, bar)


ext = DoubleMa("double_ma")
