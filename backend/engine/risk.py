"""Local checks before an order reaches the counter, each with a message a trader understands."""

from __future__ import annotations

from backend.engine.constants import NO_FOK_EXCHANGES, NO_MARKET_ORDER_EXCHANGES, OrderType
from backend.engine.objects import ContractData, OrderRequest, TickData
from lib.price_grid import on_tick


class OrderRefused(ValueError):
    """The order was refused locally; `field` names the request field at fault."""

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field


def check_order(request: OrderRequest, contract: ContractData, tick: TickData | None) -> None:
    """Raise OrderRefused unless the counter could plausibly accept the order."""
    name = contract.local_symbol
    if request.volume <= 0:
        raise OrderRefused("volume must be a positive whole number of lots", "volume")
    if request.type is OrderType.MARKET:
        if contract.exchange in NO_MARKET_ORDER_EXCHANGES:
            raise OrderRefused(
                f"{contract.exchange.value} does not accept market orders: send a limit order "
                "(or FAK at the price you accept)", "type",
            )  # fmt: skip
        limit = contract.max_market_volume or contract.max_volume
        if request.volume > limit:
            raise OrderRefused(f"{name}: at most {limit} lots per market order", "volume")
    else:
        if request.type is OrderType.FOK and contract.exchange in NO_FOK_EXCHANGES:
            raise OrderRefused(f"{contract.exchange.value} does not accept FOK orders", "type")
        _check_price(request.price, contract, tick)
    if not contract.min_volume <= request.volume <= contract.max_volume:
        raise OrderRefused(f"{name}: volume must be between {contract.min_volume} and {contract.max_volume}", "volume")


def _check_price(price: float, contract: ContractData, tick: TickData | None) -> None:
    name = contract.local_symbol
    if price <= 0:
        raise OrderRefused("price must be positive for a limit order", "price")
    if not on_tick(price, contract.pricetick):
        raise OrderRefused(
            f"{name}: price {price:g} is not a multiple of the price tick {contract.pricetick:g}", "price"
        )
    if tick is not None and tick.limit_up and price > tick.limit_up + 1e-9:
        raise OrderRefused(f"{name}: price {price:g} is above today's upper limit {tick.limit_up:g}", "price")
    if tick is not None and tick.limit_down and price < tick.limit_down - 1e-9:
        raise OrderRefused(f"{name}: price {price:g} is below today's lower limit {tick.limit_down:g}", "price")
