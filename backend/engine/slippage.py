"""Slippage (PUT /config's SLIPPAGE_BUY, _SHORT, _COVER, _SELL): a limit price moved towards the market.

Why one module: close_position moves the best opposite price by the cover or sell slippage, and the
strategy helpers move the strategy's own price by the slippage of the order's side. Both must move
prices the same way — by whole price ticks, never past the day's price band — so the rule is here
once and both call it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from backend.engine.constants import Direction, Offset, OrderType
from backend.engine.objects import OrderRequest, TickData
from lib.price_grid import on_tick, to_tick

SIDES = ("buy", "short", "cover", "sell")  # the SLIPPAGE_<SIDE> settings, lower case


def slippage_side(direction: Direction, offset: Offset) -> str:
    """Which setting applies: buy opens long, short opens short, cover closes short, sell closes long."""
    if offset is Offset.OPEN:
        return "buy" if direction is Direction.LONG else "short"
    return "cover" if direction is Direction.LONG else "sell"


def slipped_price(price: float, direction: Direction, ticks: float, price_tick: float, tick: TickData | None) -> float:
    """`price` moved `ticks` price ticks the way that makes an order on `direction` more marketable.

    A buying order (LONG) goes up, a selling one down; the result is on the tick grid (a fraction of
    a tick counts as a whole one: the move is at least what was asked) and no further than the day's
    limit (tick.limit_up / limit_down). Only the move is clipped: a price the risk check would refuse
    without slippage (not positive, off the grid, outside the band) is left as it is, so it is
    refused the same way with it.
    """
    if ticks <= 0 or price_tick <= 0 or price <= 0 or not on_tick(price, price_tick):
        return price
    if direction is Direction.LONG:
        moved = to_tick(price + ticks * price_tick, price_tick, "ceil")
        limit = tick.limit_up if tick is not None else 0.0
        return min(moved, max(price, limit)) if limit else moved
    moved = to_tick(price - ticks * price_tick, price_tick, "floor")
    limit = tick.limit_down if tick is not None else 0.0
    return max(moved, min(price, limit)) if limit else moved


def slip_order(
    request: OrderRequest, slippage: Mapping[str, float], price_tick: float, tick: TickData | None
) -> OrderRequest:
    """`request` with its limit price moved by the slippage of its side; a market order has no price to move."""
    if request.type is OrderType.MARKET:
        return request
    ticks = slippage.get(slippage_side(request.direction, request.offset), 0.0)
    return replace(request, price=slipped_price(request.price, request.direction, ticks, price_tick, tick))
