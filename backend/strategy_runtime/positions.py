"""A strategy's own positions and P&L, computed from the fills of its orders only.

A book is carried from one trading day to the next: it is stored as it stood when its day began
(`state()`), and a restarted server adds that day's journaled fills to it. Rebuilding it from one
day's fills would forget what the strategy carried overnight and let it open its lots again.

A book reconciled with the account during the day (`cap`) is stored as it then stands, with the keys
of the day's fills it already holds (`seen`): a restart adds only the fills after those.
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
        self._seen: set[str] = set()  # keys of the fills of `day` it holds: each is added once

    def state(self) -> dict[str, Any]:
        """What to store: JSON, the sides as they stand (the opening of `day` when saved at a roll) and
        the day's fills they already hold."""
        return {"day": self.day, "sides": [[symbol, direction.value, side.volume, side.cost, side.close_profit]
                                           for (symbol, direction), side in sorted(self._sides.items())],
                "seen": sorted(self._seen)}  # fmt: skip

    @classmethod
    def from_state(cls, name: str, state: dict[str, Any]) -> StrategyBook:
        book = cls(name, str(state["day"]))
        for symbol, direction, volume, cost, close_profit in state["sides"]:
            book._sides[(symbol, Direction(direction))] = _Side(int(volume), float(cost), float(close_profit))
        book._seen = {str(key) for key in state.get("seen", ())}
        return book

    def roll(self, day: str) -> None:
        """A new trading day: the sides as they stand are its opening; no fill of it is held yet."""
        self.day = day
        self._seen = set()

    def volume(self, local_symbol: str, direction: Direction) -> int:
        side = self._sides.get((local_symbol, direction))
        return side.volume if side else 0

    def held(self) -> list[tuple[str, Direction, int]]:
        """(local_symbol, position side, lots) of every side with lots."""
        return [(symbol, direction, side.volume) for (symbol, direction), side in sorted(self._sides.items())
                if side.volume > 0]  # fmt: skip

    def cap(self, local_symbol: str, direction: Direction, volume: int) -> bool:
        """Hold at most `volume` lots of a side (at the same average price): the account has no more.
        True when lots were taken away."""
        side = self._sides.get((local_symbol, direction))
        if side is None or side.volume <= max(0, volume):
            return False
        average = side.cost / side.volume
        side.volume = max(0, volume)
        side.cost = average * side.volume
        return True

    def add(self, trade: TradeData) -> None:
        key = f"{trade.exchange.value}:{trade.trade_id}:{trade.direction.value}"  # a fill's identity (CTP.md §3)
        if key in self._seen:
            return
        self._seen.add(key)
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
