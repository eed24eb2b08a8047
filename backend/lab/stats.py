"""The statistics quants expect, from a backtest's daily rows and fills (API.md "The lab").

Conventions (docs/lab.md): a year is 240 trading days; returns are daily, on the balance after each
settlement (the first against the capital); Sharpe = mean / sample standard deviation x sqrt(240)
with a risk-free rate of 0; max_drawdown is the deepest fall from a running peak of the daily
balance as a share of that peak (max_drawdown_money in yuan), and max_drawdown_days the trading days
from that peak to the trough; win rate and profit factor count round trips (a side from flat back to
flat) by their net P&L after fees. Pure arithmetic in a fixed order: the same rows give the same
figures wherever they are computed (a sweep's worker or the server).
"""

from __future__ import annotations

import math
from typing import Any

ANNUAL_DAYS = 240
MAX_EQUITY_POINTS = 2000


def daily_row(day: str, close_price: float, net_pnl: float, commission: float, slippage: float, turnover: float,
              trade_count: int, balance: float, drawdown: float) -> dict[str, Any]:  # fmt: skip
    """One trading day: its settlement (the day's last close), P&L after fees, and the balance after it."""
    return {"date": day, "close_price": close_price, "net_pnl": net_pnl, "commission": commission,
            "slippage": slippage, "turnover": turnover, "trade_count": trade_count, "balance": balance,
            "drawdown": drawdown}  # fmt: skip


def _drawdown(balances: list[float], capital: float) -> tuple[float, float, int]:
    """(deepest fall as a share of its peak, in money, trading days from that peak to the trough)."""
    peak, peak_at = capital, -1
    worst = worst_money = 0.0
    days = 0
    for index, balance in enumerate(balances):
        if balance >= peak:
            peak, peak_at = balance, index
            continue
        share = (peak - balance) / peak if peak > 0 else 0.0
        if share > worst:
            worst, worst_money, days = share, peak - balance, index - peak_at
    return worst, worst_money, days


def round_trips(trades: list[dict[str, Any]], size: int) -> list[float]:
    """Net P&L of each round trip: a position side from flat back to flat, FIFO on open prices, after fees."""
    open_lots: dict[str, list[list[float]]] = {"long": [], "short": []}  # side -> [[price, lots], ...]
    running: dict[str, float] = {"long": 0.0, "short": 0.0}
    trips: list[float] = []
    for trade in trades:
        if trade["offset"] == "open":
            side = trade["direction"]
            open_lots[side].append([float(trade["price"]), float(trade["volume"])])
            running[side] -= float(trade.get("commission", 0.0))
            continue
        side = "long" if trade["direction"] == "short" else "short"
        sign = 1.0 if side == "long" else -1.0
        left = float(trade["volume"])
        running[side] -= float(trade.get("commission", 0.0))
        queue = open_lots[side]
        while left > 0 and queue:
            take = min(left, queue[0][1])
            running[side] += (float(trade["price"]) - queue[0][0]) * take * size * sign
            queue[0][1] -= take
            left -= take
            if queue[0][1] <= 0:
                queue.pop(0)
        if not queue:
            trips.append(running[side])
            running[side] = 0.0
    return trips


def compute_stats(daily: list[dict[str, Any]], trades: list[dict[str, Any]], capital: float,
                  size: int) -> dict[str, Any]:  # fmt: skip
    """API.md's statistics (+ start_date, end_date, total_days, capital, end_balance, max_drawdown_money)."""
    balances = [row["balance"] for row in daily]
    end_balance = balances[-1] if balances else capital
    days = len(daily)
    total_return = end_balance / capital - 1
    returns, previous = [], capital
    for balance in balances:
        returns.append(balance / previous - 1 if previous > 0 else 0.0)
        previous = balance
    sharpe = 0.0
    if len(returns) > 1:
        mean = math.fsum(returns) / len(returns)
        variance = math.fsum((r - mean) ** 2 for r in returns) / (len(returns) - 1)
        sharpe = mean / math.sqrt(variance) * math.sqrt(ANNUAL_DAYS) if variance > 0 else 0.0
    worst, worst_money, worst_days = _drawdown(balances, capital)
    trips = round_trips(trades, size)
    wins = [pnl for pnl in trips if pnl > 0]
    losses = [pnl for pnl in trips if pnl < 0]
    gross_loss = -math.fsum(losses)
    return {
        "start_date": daily[0]["date"] if daily else "",
        "end_date": daily[-1]["date"] if daily else "",
        "total_days": days,
        "capital": capital,
        "end_balance": end_balance,
        "total_return": total_return,
        "annual_return": total_return / days * ANNUAL_DAYS if days else 0.0,
        "sharpe_ratio": sharpe,
        "max_drawdown": worst,
        "max_drawdown_money": worst_money,
        "max_drawdown_days": worst_days,
        "return_drawdown_ratio": total_return / worst if worst > 0 else 0.0,
        "win_rate": len(wins) / len(trips) if trips else 0.0,
        "profit_factor": math.fsum(wins) / gross_loss if gross_loss > 0 else (None if wins else 0.0),
        "round_trips": len(trips),
        "trade_count": len(trades),
        "turnover": math.fsum(row["turnover"] for row in daily),
        "commission": math.fsum(row["commission"] for row in daily),
        "slippage": math.fsum(row["slippage"] for row in daily),
        "net_pnl": end_balance - capital,
    }
