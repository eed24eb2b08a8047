"""Inside the worker: events -> the strategy's state and callbacks."""

from __future__ import annotations

from typing import Any

from backend.strategy import Record, Strategy, record


class Dispatcher:
    def __init__(self, strategy: Strategy, state: dict[str, Any]) -> None:
        self.strategy = strategy
        from types import MappingProxyType

        strategy.contracts = MappingProxyType({c["local_symbol"]: record(c) for c in state.get("contracts", [])})
        if state.get("account"):
            strategy.account = record(state["account"])
        for position in state.get("positions", []):
            strategy.positions[f"{position['local_symbol']}.{position['direction']}"] = record(position)
        for order in state.get("active_orders", []):
            strategy.active_orders[order["order_id"]] = record(order)

    def dispatch(self, message: dict[str, Any]) -> None:
        handler = getattr(self, f"_on_{message['k']}", None)
        if handler is not None:
            handler(message["d"])

    def _on_tick(self, data: dict[str, Any]) -> None:
        tick = record(data)
        self.strategy.ticks[tick.local_symbol] = tick
        self.strategy.on_tick(tick)

    def _on_bar(self, data: dict[str, Any]) -> None:
        if data.get("interval") == self.strategy.bar_interval:
            self.strategy.on_bar(record(data))

    def _on_order(self, data: dict[str, Any]) -> None:
        order = record(data)
        if data.get("status") in ("submitting", "nottraded", "parttraded"):
            self.strategy.active_orders[order.order_id] = order
        else:
            self.strategy.active_orders.pop(order.order_id, None)
        self.strategy.on_order(order)

    def _on_trade(self, data: dict[str, Any]) -> None:
        self.strategy.on_trade(record(data))

    def _on_position(self, data: dict[str, Any]) -> None:
        position: Record = record(data)
        self.strategy.positions[f"{position.local_symbol}.{position.direction}"] = position
        self.strategy.on_position(position)

    def _on_account(self, data: dict[str, Any]) -> None:
        self.strategy.account = record(data)
        self.strategy.on_account(self.strategy.account)
