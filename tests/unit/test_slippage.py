"""backend/engine/slippage.py: the one rule that moves a limit price by the configured slippage."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from backend.engine.constants import Direction, Exchange, Offset, OrderType
from backend.engine.objects import SHANGHAI, OrderRequest, TickData
from backend.engine.slippage import slip_order, slippage_side, slipped_price

LONG, SHORT = Direction.LONG, Direction.SHORT
BAND = TickData("rb2601", Exchange.SHFE, datetime(2026, 11, 23, 10, tzinfo=SHANGHAI), date(2026, 11, 23),
                last_price=3100.0, limit_up=3200.0, limit_down=3000.0)  # fmt: skip
FINE_BAND = TickData("m2601", Exchange.DCE, datetime(2026, 11, 23, 10, tzinfo=SHANGHAI), date(2026, 11, 23),
                     last_price=3.2, limit_up=3.6, limit_down=2.8)  # fmt: skip


@pytest.mark.parametrize(
    ("direction", "offset", "side"),
    [(LONG, Offset.OPEN, "buy"), (SHORT, Offset.OPEN, "short"), (LONG, Offset.CLOSE, "cover"),
     (SHORT, Offset.CLOSE, "sell"), (LONG, Offset.CLOSETODAY, "cover"), (SHORT, Offset.CLOSEYESTERDAY, "sell")],
)  # fmt: skip
def test_each_side_has_its_setting(direction: Direction, offset: Offset, side: str) -> None:
    assert slippage_side(direction, offset) == side


@pytest.mark.parametrize(
    ("price", "direction", "ticks", "tick", "band", "expected"),
    [
        (3100.0, LONG, 2, 1.0, BAND, 3102.0),  # buying: up
        (3100.0, SHORT, 3, 1.0, BAND, 3097.0),  # selling: down
        (3199.0, LONG, 2, 1.0, BAND, 3200.0),  # never past the upper limit
        (3001.0, SHORT, 5, 1.0, BAND, 3000.0),  # nor the lower one
        (3199.0, LONG, 2, 1.0, None, 3201.0),  # no tick yet: no band to clip to
        (3205.0, LONG, 2, 1.0, BAND, 3205.0),  # already outside the band: left for the risk check to refuse
        (3100.0, LONG, 1.5, 1.0, BAND, 3102.0),  # a fraction of a tick counts as a whole one
        (3100.0, SHORT, 0.5, 1.0, BAND, 3099.0),
        (3100.0, LONG, 0, 1.0, BAND, 3100.0),  # no slippage: the price as it is
        (0.0, LONG, 2, 1.0, BAND, 0.0),  # no price: left for the risk check to refuse
        (3100.5, LONG, 2, 1.0, BAND, 3100.5),  # off the grid: the same
        (3.2, LONG, 1, 0.2, FINE_BAND, 3.4),  # on the grid, without binary residue
        (3.2, SHORT, 2, 0.2, FINE_BAND, 2.8),
    ],
)
def test_the_price_moves_towards_the_market_inside_the_band(
    price: float, direction: Direction, ticks: float, tick: float, band: TickData | None, expected: float
) -> None:
    assert slipped_price(price, direction, ticks, tick, band) == expected


def test_an_order_moves_by_its_sides_setting_and_a_market_order_not_at_all() -> None:
    slippage = {"buy": 2.0, "short": 3.0, "cover": 4.0, "sell": 5.0}

    def order(direction: Direction, offset: Offset, kind: OrderType = OrderType.LIMIT) -> OrderRequest:
        return OrderRequest("rb2601", Exchange.SHFE, direction, offset, kind, 3100.0, 1)

    assert slip_order(order(LONG, Offset.OPEN), slippage, 1.0, BAND).price == 3102.0
    assert slip_order(order(SHORT, Offset.OPEN), slippage, 1.0, BAND).price == 3097.0
    assert slip_order(order(LONG, Offset.CLOSE), slippage, 1.0, BAND).price == 3104.0
    assert slip_order(order(SHORT, Offset.CLOSETODAY), slippage, 1.0, BAND).price == 3095.0
    assert slip_order(order(LONG, Offset.OPEN, OrderType.FAK), slippage, 1.0, BAND).price == 3102.0
    assert slip_order(order(LONG, Offset.OPEN, OrderType.MARKET), slippage, 1.0, BAND).price == 3100.0
