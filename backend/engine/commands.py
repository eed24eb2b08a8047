"""What may be asked of the account, as typed commands: the one way orders and cancels come in.

Views, the desk and strategies build these and hand them to `MainEngine.execute`; every command of a
kind takes the same path and passes the same local checks there (the place pre-trade risk limits sit),
whoever sent it. Closes are split by the converter, the only authority on today's and yesterday's
lots, and each piece is then sent as a SendOrder.
"""

from __future__ import annotations

from dataclasses import dataclass

from backend.engine.constants import Direction, Offset, OrderType
from backend.engine.objects import OrderRequest


@dataclass(frozen=True, slots=True)
class SendOrder:
    """One order as given; `wait` seconds for the counter's first answer (0: return at once)."""

    request: OrderRequest
    wait: float = 0.0
    forced: bool = False  # the kill switch's own: past the risk rules (never past the local checks)


@dataclass(frozen=True, slots=True)
class ClosePosition:
    """Close a position: `direction` is the position's side; no volume closes all that is free, no
    price takes the best opposite price moved by the configured slippage.

    A plain Close becomes the orders the exchange accepts (on SHFE/INE today's lots by CloseToday,
    yesterday's by CloseYesterday, in CLOSE_PATTERN's order); an explicit CloseToday/CloseYesterday
    takes only its kind. This is how every close is sent: POST /order_solve with offset close, the
    Positions row, strategies' sell/cover and the kill switch.
    """

    local_symbol: str
    direction: Direction
    volume: int | None = None
    price: float | None = None
    strategy: str | None = None
    wait: float = 2.0
    forced: bool = False
    type: OrderType = OrderType.LIMIT
    offset: Offset = Offset.CLOSE


@dataclass(frozen=True, slots=True)
class CancelOrder:
    """Cancel one order; with `strategy`, only if that strategy sent it."""

    order_id: str
    wait: float = 0.0
    strategy: str | None = None
    forced: bool = False


@dataclass(frozen=True, slots=True)
class CancelAll:
    """Cancel every working order (of one strategy, when given)."""

    strategy: str | None = None


Command = SendOrder | ClosePosition | CancelOrder | CancelAll
