"""Prices on an instrument's tick grid: snapping and checking, without float residue."""

from __future__ import annotations

import math


def tick_decimals(price_tick: float) -> int:
    text = f"{price_tick:.10f}".rstrip("0")
    return len(text.split(".")[1]) if "." in text else 0


def to_tick(price: float, price_tick: float, mode: str = "round") -> float:
    """Snap a price to the tick grid (round, floor or ceil); always a float, even for a whole tick
    given as an int (the sim's product table), so a price serialises the same whatever its tick."""
    steps = price / price_tick
    if mode == "floor":
        count = math.floor(steps + 1e-9)
    elif mode == "ceil":
        count = math.ceil(steps - 1e-9)
    else:
        count = round(steps)
    return float(round(count * price_tick, tick_decimals(price_tick)))


def on_tick(price: float, price_tick: float) -> bool:
    steps = price / price_tick
    return abs(steps - round(steps)) < 1e-6
