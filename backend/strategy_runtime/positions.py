"""A strategy's own positions and P&L, computed from the fills of its orders only.

A book is carried from one trading day to the next: it is stored as it stood when its day began
(`state()`), and a restarted server adds that day's journaled fills to it. Rebuilding it from one
day's fills would forget what the strategy carried overnight and let it open its lots again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from backend.engine.constants import Direction, Offset
from backend.engine.objects import TradeData


@dataclass
class _Side:
    volume: int = 0
    cost: float = 0.0  # price x volume of the open lots (average cost)
    close_profit: float = 0.0  # in price points x lots; times the contract size when reported


class StrategyBook:
    def __init__(self, name: str, day: str = "") -> None:
        self.name = name
        self.day = day  # the trading day whose fills it holds on top of its opening state
        self._sides: dict[tuple[str, Direction], _Side] = {}

    def state(self) -> dict[str, Any]:
        """What to store: JSON, the sides as they stand (the opening of `day` when saved at a roll)."""
        return {"day": self.day, "sides": [[symbol, direction.value, side.volume, side.cost, side.close_profit]
                                           for (symbol, direction), side in sorted(self._sides.items())]}  # fmt: skip

    @classmethod
    def from_state(cls, name: str, state: dict[str, Any]) -> StrategyBook:
        book = cls(name, str(state["day"]))
        for symbol, direction, volume, cost, close_profit in state["sides"]:
            book._sides[(symbol, Direction(direction))] = _Side(int(volume), float(cost), float(close_profit))
        return book

    def add(self, trade: TradeData) -> None:
        if trade.offset is Offset.OPEN:
            side = self._sides.setdefault((trade.local_symbol, trade.direction), _Side())
            side.volume += trade.volume
            side.cost += trade.price * trade.volume
            return
        held = Direction.SHORT if trade.direction is Direction.LONG else Direction.LONG
        side = self._sides.setdefault((trade.local_symbol, held), _Side())
        closed = min(side.volume, trade.volume)
        average = side.cost / side.volume if side.volume else trade.price
        sign = 1 if held is Direction.LONG else -1
        side.close_profit += (trade.price - average) * closed * sign
        side.cost -= average * closed
        side.volume -= closed

    def positions(
        self, local_symbol: str | None = None, sizes: dict[str, int] | None = None,
        prices: dict[str, float] | None = None,
    ) -> list[dict[str, Any]]:
        """Its positions; with contract sizes and latest prices, its P&L in money too."""
        sizes, prices = sizes or {}, prices or {}
        rows = []
        for (symbol, direction), side in sorted(self._sides.items()):
            if local_symbol is not None and symbol != local_symbol:
                continue
            size = sizes.get(symbol, 1)
            average = side.cost / side.volume if side.volume else 0.0
            last = prices.get(symbol)
            sign = 1 if direction is Direction.LONG else -1
            profit = (last - average) * side.volume * size * sign if last and side.volume else 0.0
            rows.append({"local_symbol": symbol, "direction": direction.value, "volume": side.volume,
                         "price": average, "position_profit": profit, "close_profit": side.close_profit * size,
                         "strategy": self.name})  # fmt: skip
        return rows

    def all_positions(self, sizes: dict[str, int] | None = None, prices: dict[str, float] | None = None) -> list:
        return self.positions(None, sizes, prices)
