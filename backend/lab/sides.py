"""The strategy's lots of one side in a backtest: what its position Records are built from."""

from __future__ import annotations


class Side:
    """The strategy's lots of one side, as the engine tells them to it (positions in its callbacks).

    The Ledger is the account; this is the view a position Record needs, kept as fills arrive rather
    than rebuilt from the Ledger's rows after each fill: today's lots with their open prices (the
    Ledger's basis for them), yesterday's at the last settlement, and the average open price."""

    __slots__ = ("volume", "yesterday", "today", "today_cost", "open_cost", "close_profit")

    def __init__(self) -> None:
        self.volume = 0
        self.yesterday = 0
        self.today: list[list[float]] = []  # [open price, lots], oldest first (the Ledger closes them so)
        self.today_cost = 0.0  # open price x lots over `today`: their basis
        self.open_cost = 0.0  # open price x lots, average-cost (as the live strategy book)
        self.close_profit = 0.0  # money, against the average open price

    def open(self, price: float, lots: int) -> None:
        self.volume += lots
        self.today.append([price, lots])
        self.today_cost += price * lots
        self.open_cost += price * lots

    def close(self, price: float, today: int, yesterday: int, sign: int, size: int) -> None:
        lots = today + yesterday
        average = self.open_cost / self.volume if self.volume else price
        self.close_profit += (price - average) * lots * sign * size
        self.open_cost -= average * lots
        self.volume -= lots
        self.yesterday -= yesterday
        while today and self.today:
            take = min(today, self.today[0][1])
            self.today[0][1] -= take
            self.today_cost -= self.today[0][0] * take
            today -= take
            if not self.today[0][1]:
                self.today.pop(0)
        if not self.volume:
            self.open_cost = 0.0

    def settle(self) -> None:
        self.yesterday = self.volume
        self.today = []
        self.today_cost = 0.0
