"""Close-today / close-yesterday: turn one close request into the orders the exchange accepts (CTP.md §4).

SHFE and INE keep today's and yesterday's lots apart: today's close only with CloseToday, yesterday's
with Close or CloseYesterday. A close that asks for more lots of one kind than are free is refused
by the counter ("close yesterday volume short", 51), so the request is split here, after taking away
the lots that working close orders have already promised. Elsewhere one Close does for both.

What is frozen comes from the pending orders alone, not from `PositionData.frozen`: the engine fills
that field from the same orders, and only the orders tell which kind of lot (today or yesterday)
they hold.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from backend.engine.constants import TODAY_YESTERDAY_EXCHANGES, Direction, Offset
from backend.engine.objects import OrderData, OrderRequest, PositionData
from lib.close_split import CLOSE_PATTERNS, TODAY, check_pattern, split_lots


class ClosePositionError(ValueError):
    """The close asks for more lots than the position has free."""


def close_order_side(position_direction: Direction) -> Direction:
    """The order side that closes a position: a long is closed by selling (SHORT), a short by buying."""
    return Direction.SHORT if position_direction is Direction.LONG else Direction.LONG


@dataclass(frozen=True, slots=True)
class _Frozen:
    """Lots of one position promised to working close orders, by kind."""

    today: int = 0
    yesterday: int = 0

    @property
    def total(self) -> int:
        return self.today + self.yesterday


def _frozen(position: PositionData, pending: Iterable[OrderData]) -> _Frozen:
    """Remaining volume of the active close orders of this position (CloseToday holds today's lots)."""
    side = close_order_side(position.direction)
    today = yesterday = 0
    for order in pending:
        if not order.is_active or order.offset is Offset.OPEN or order.direction is not side:
            continue
        if order.local_symbol != position.local_symbol:
            continue
        remaining = max(0, order.volume - order.traded)
        if order.offset is Offset.CLOSETODAY:
            today += remaining
        else:
            yesterday += remaining
    return _Frozen(today, yesterday)


def _free(position: PositionData, frozen: _Frozen) -> tuple[int, int]:
    """(today's, yesterday's) lots still free on SHFE/INE."""
    return max(0, position.td_volume - frozen.today), max(0, position.yd_volume - frozen.yesterday)


def closable(position: PositionData, pending: Iterable[OrderData]) -> int:
    """Lots of `position` a new close order may still take."""
    frozen = _frozen(position, pending)
    if position.exchange in TODAY_YESTERDAY_EXCHANGES:
        return sum(_free(position, frozen))
    return max(0, position.volume - frozen.total)


def check_close(request: OrderRequest, position: PositionData, pending: Iterable[OrderData]) -> None:
    """Refuse (ClosePositionError) one close order the exchange would refuse for want of free lots.

    On SHFE/INE CloseToday takes today's lots only, and Close or CloseYesterday yesterday's only;
    elsewhere any close takes any lot. Lots promised to working close orders are not free.
    """
    _check(request, position, CLOSE_PATTERNS[0])
    frozen = _frozen(position, pending)
    if position.exchange not in TODAY_YESTERDAY_EXCHANGES:
        _require(request, position, max(0, position.volume - frozen.total), frozen.total, "")
    elif request.offset is Offset.CLOSETODAY:
        _require(request, position, _free(position, frozen)[0], frozen.today, " of today's lots")
    else:
        hint = "" if request.offset is Offset.CLOSEYESTERDAY else (
            f"; {position.exchange.value} closes today's lots only with close_today (or POST /close_position)")
        _require(request, position, _free(position, frozen)[1], frozen.yesterday, " of yesterday's lots", hint)


def lots_closed(offset: Offset, exchange: object, volume: int, yd_volume: int) -> tuple[int, int]:
    """(today's lots, yesterday's lots) a closing fill of `volume` consumed from a position.

    SHFE/INE say which kind in the offset (a plain Close is yesterday's); elsewhere the counter
    takes yesterday's lots first, whichever close offset the order carried.
    """
    if exchange in TODAY_YESTERDAY_EXCHANGES:
        return (volume, 0) if offset is Offset.CLOSETODAY else (0, volume)
    yesterday = min(volume, yd_volume)
    return volume - yesterday, yesterday


def split_close(
    request: OrderRequest, position: PositionData, pending: Iterable[OrderData], pattern: str
) -> list[OrderRequest]:
    """The orders that carry out `request` (a close of `position`), in the order to send them.

    On SHFE/INE a plain Close is split by `pattern` ("today": today's lots first, then yesterday's;
    "yesterday": the reverse); an explicit CloseToday / CloseYesterday takes only that kind. Elsewhere
    the answer is the request itself with Offset.CLOSE.
    """
    _check(request, position, pattern)
    pending = list(pending)
    if position.exchange not in TODAY_YESTERDAY_EXCHANGES:
        check_close(request, position, pending)
        return [replace(request, offset=Offset.CLOSE)]
    if request.offset in (Offset.CLOSETODAY, Offset.CLOSEYESTERDAY):
        check_close(request, position, pending)
        return [request]
    frozen = _frozen(position, pending)
    today, yesterday = _free(position, frozen)
    _require(request, position, today + yesterday, frozen.total, "")
    return [replace(request, offset=Offset.CLOSETODAY if kind == TODAY else Offset.CLOSEYESTERDAY, volume=lots)
            for kind, lots in split_lots(request.volume, today, yesterday, pattern)]  # fmt: skip


def _check(request: OrderRequest, position: PositionData, pattern: str) -> None:
    """Caller mistakes, not market conditions: a plain ValueError."""
    check_pattern(pattern)
    if request.offset is Offset.OPEN:
        raise ValueError(f"split_close needs a close request, got an open of {request.local_symbol}")
    if request.local_symbol != position.local_symbol or request.direction is not close_order_side(position.direction):
        raise ValueError(
            f"a {request.direction.value} order of {request.local_symbol} does not close "
            f"the {position.direction.value} position of {position.local_symbol}"
        )
    if request.volume <= 0:
        raise ClosePositionError(f"close {request.volume} {position.local_symbol}: the volume must be positive")


def _require(request: OrderRequest, position: PositionData, free: int, frozen: int, kind: str, hint: str = "") -> None:
    if request.volume <= free:
        return
    held = f" ({frozen} frozen by working close orders)" if frozen else ""
    raise ClosePositionError(
        f"close {request.volume} {position.local_symbol} {position.direction.value}: "
        f"only {free}{kind} available{held}{hint}"
    )
