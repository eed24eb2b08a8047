"""A bar-based double moving average: long when the fast average crosses above the slow one.

Upload it with POST /code (or the desk's editor), then PUT /strategy name=double_ma operation=start.
By default it trades the main contract (主力: the most open interest) of `params["product"]`;
list local_symbols in `instruments` to choose (the counter's contract list is at GET /contract).
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
        self.closes = deque(maxlen=self.params["slow"])
        self.info(f"double MA on {self.instruments} with {self.params}")

    def on_bar(self, bar):
        self.closes.append(bar.close_price)
        if len(self.closes) < self.params["slow"]:
            return
        closes = list(self.closes)
        fast = sum(closes[-self.params["fast"]:]) / self.params["fast"]
        slow = sum(closes) / len(closes)
        held = self.positions.get(f"{bar.local_symbol}.long")
        holding = held is not None and held.volume > 0
        if fast > slow and not holding:
            self.buy(bar.close_price, self.params["volume"], bar)
        elif fast < slow and holding:
            self.sell(bar.close_price, held.volume, bar)


ext = DoubleMa("double_ma")
