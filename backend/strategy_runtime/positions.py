"""A strategy's own positions and P&L, computed from the fills of its orders only."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from backend.engine.constants import Direction, Offset
from backend.engine.objects import TradeData


@dataclass
class _Side:
    volume: int = 0
    cost: float = 0.0  # price x volume of the open lots (average cost)
    close_profit: float = 0.0  # in price points x lots (the engine's contract size is not known here)


class StrategyBook:
    def __init__(self, name: str) -> None:
        self.name = name
        self._sides: dict[tuple[str, Direction], _Side] = {}

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

    def positions(self, local_symbol: str | None = None) -> list[dict[str, Any]]:
        return [
            {"local_symbol": symbol, "direction": direction.value, "volume": side.volume,
             "price": side.cost / side.volume if side.volume else 0.0, "close_profit_points": side.close_profit,
             "strategy": self.name}
            for (symbol, direction), side in sorted(self._sides.items())
            if local_symbol is None or symbol == local_symbol
        ]  # fmt: skip

    def all_positions(self) -> list[dict[str, Any]]:
        return self.positions()
