"""A tick-based momentum strategy: after N rising ticks buy at the ask; after N falling ones, sell.

It trades at the opposite best price so orders fill at once (on the sim too), and never holds more
than `max_lots`. Upload with POST /code, start with PUT /strategy name=tick_momentum operation=start.
"""

from backend.strategy import Strategy


class TickMomentum(Strategy):
    instruments = []  # empty: trade the main contract (主力) of `product` (or list local_symbols here)
    params = {"product": "m", "exchange": "DCE", "run": 3, "max_lots": 2}

    def on_init(self):
        if not self.instruments:
            self.subscribe(self.main_contract(self.params["product"]))
        self.info(f"tick momentum on {self.instruments} with {self.params}")
        self.last = None
        self.streak = 0

    def on_tick(self, tick):
        if self.last is not None and tick.last_price != self.last:
            rising = tick.last_price > self.last
            self.streak = self.streak + 1 if (rising and self.streak >= 0) or (not rising and self.streak <= 0) else 0
            self.streak = self.streak if rising else -abs(self.streak)
        self.last = tick.last_price
        held = self.positions.get(f"{tick.local_symbol}.long")
        lots = held.volume if held is not None else 0
        if self.streak >= self.params["run"] and lots < self.params["max_lots"] and tick.ask_price_1:
            self.buy(tick.ask_price_1, 1, tick)
            self.streak = 0
        elif self.streak <= -self.params["run"] and lots > 0 and tick.bid_price_1:
            self.sell(tick.bid_price_1, lots, tick)
            self.streak = 0

    def on_trade(self, trade):
        self.info(f"filled {trade.direction} {trade.offset} {trade.volume} @ {trade.price}")


ext = TickMomentum("tick_momentum")
