"""A backtest's results: statistics, trades, orders, daily rows and the equity curve; JSON both ways."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

MAX_EQUITY_POINTS = 2000


class LabError(Exception):
    """A backtest that could not run: bad input, or the user's code raised (the message says where)."""


class BadInput(LabError):
    """The run's input does not fit (no bars in the range, another interval or symbol, unknown terms, params
    the strategy does not declare): the caller's mistake, not the strategy's (the CLI exits 2 on it)."""


class Cancelled(LabError):
    """The run was cancelled (in-process: cancelled() answered True; a child: it was killed)."""


@dataclass(frozen=True)
class Report:
    stats: dict[str, float | int | str]  # API.md's names (+ start/end dates, capital, end_balance)
    trades: list[dict] = field(default_factory=list)  # API.md trade fields
    orders: list[dict] = field(default_factory=list)  # API.md order fields
    daily: list[dict] = field(default_factory=list)  # per trading day, see stats.daily_row
    equity: list[list] = field(default_factory=list)  # [start_ms, balance, drawdown], <= MAX_EQUITY_POINTS
    logs: list[dict] = field(default_factory=list)  # the strategy's info/warning/error lines (bounded)

    def to_json(self) -> dict[str, Any]:
        """The fields as they are (no deep copy: a run's report has tens of thousands of rows)."""
        return {"stats": self.stats, "trades": self.trades, "orders": self.orders, "daily": self.daily,
                "equity": self.equity, "logs": self.logs}  # fmt: skip

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Report:
        return cls(stats=dict(data["stats"]), trades=list(data.get("trades", [])),
                   orders=list(data.get("orders", [])), daily=list(data.get("daily", [])),
                   equity=[list(point) for point in data.get("equity", [])],
                   logs=list(data.get("logs", [])))  # fmt: skip
