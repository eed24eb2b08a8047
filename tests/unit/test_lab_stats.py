"""The lab's statistics on a hand-built equity path and hand-built fills (backend/lab/stats.py)."""

from __future__ import annotations

import math
import statistics

import pytest

from backend.lab.stats import compute_stats, daily_row

BALANCES = [110.0, 99.0, 121.0, 110.0, 100.0, 115.0]  # after each of six trading days, from a capital of 100


def days() -> list[dict]:
    return [daily_row(f"2026010{n + 1}", 1.0, 0.0, 0.5, 0.25, 1000.0, 2, balance, 0.0)
            for n, balance in enumerate(BALANCES)]  # fmt: skip


def fill(direction: str, offset: str, price: float, volume: int, commission: float) -> dict:
    return {"direction": direction, "offset": offset, "price": price, "volume": volume, "commission": commission}


TRADES = [
    fill("long", "open", 100, 2, 1.0), fill("short", "close", 110, 1, 1.0), fill("short", "close", 90, 1, 1.0),
    fill("short", "open", 50, 1, 0.5), fill("long", "close", 40, 1, 0.5),
    fill("long", "open", 10, 1, 0.0), fill("short", "close", 10.5, 1, 0.0),
]  # fmt: skip


def test_returns_sharpe_and_drawdown_of_a_hand_built_path():
    stats = compute_stats(days(), [], 100.0, 10)
    assert stats["total_return"] == pytest.approx(0.15)
    assert stats["annual_return"] == pytest.approx(0.15 / 6 * 240)
    returns = [110 / 100 - 1, 99 / 110 - 1, 121 / 99 - 1, 110 / 121 - 1, 100 / 110 - 1, 115 / 100 - 1]
    assert stats["sharpe_ratio"] == pytest.approx(statistics.mean(returns) / statistics.stdev(returns) * math.sqrt(240))
    # the deepest fall: from 121 (day 3) to 100 (day 5), 21/121, two trading days; 110 -> 99 was 10 %
    assert stats["max_drawdown"] == pytest.approx(21 / 121)
    assert stats["max_drawdown_money"] == pytest.approx(21.0)
    assert stats["max_drawdown_days"] == 2
    assert stats["return_drawdown_ratio"] == pytest.approx(0.15 / (21 / 121))
    assert stats["net_pnl"] == pytest.approx(15.0) and stats["end_balance"] == 115.0
    assert (stats["commission"], stats["slippage"], stats["turnover"]) == pytest.approx((3.0, 1.5, 6000.0))
    assert (stats["start_date"], stats["end_date"], stats["total_days"]) == ("20260101", "20260106", 6)


def test_win_rate_and_profit_factor_count_round_trips_after_fees():
    stats = compute_stats(days(), TRADES, 100.0, 10)
    # long 2 @100 closed @110 and @90: +100 - 100 - 3 yuan fees = -3; short @50 covered @40: +100 - 1 = 99;
    # long @10 sold @10.5: +5
    assert stats["round_trips"] == 3 and stats["trade_count"] == 7
    assert stats["win_rate"] == pytest.approx(2 / 3)
    assert stats["profit_factor"] == pytest.approx((99 + 5) / 3)


def test_no_round_trips_and_a_flat_path_give_zeros_not_errors():
    flat = [daily_row("20260101", 1.0, 0.0, 0.0, 0.0, 0.0, 0, 100.0, 0.0)] * 3
    stats = compute_stats(flat, [], 100.0, 10)
    assert (stats["sharpe_ratio"], stats["max_drawdown"], stats["win_rate"], stats["profit_factor"]) == (0, 0, 0, 0)
    only_wins = compute_stats(flat, TRADES[3:5], 100.0, 10)
    assert only_wins["win_rate"] == 1.0 and only_wins["profit_factor"] is None  # no loss to divide by: null
