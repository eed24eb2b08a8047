"""Trading: /order_solve, /close_position, /account."""

from __future__ import annotations

from flask import Blueprint

from backend.engine.commands import CancelOrder, ClosePosition, SendOrder
from backend.engine.constants import Exchange, Offset, Status
from backend.engine.engine import LOG_HISTORY
from backend.engine.objects import OrderRequest, split_local_symbol
from backend.engine.oms import position_side
from views.auth_required import token_required
from views.desk import desk
from views.envelope import ApiError, envelope
from views.errors import engine_errors
from views.params import parse
from views.schemas import CancelRequest, ClosePositionRequest, OrderFields

blueprint = Blueprint("trading", __name__)
ANSWER_WAIT = 3.0  # seconds a send or a cancel waits for the counter's answer


@blueprint.get("/order_solve")
@token_required
def overview():
    engine = desk().engine
    oms = engine.oms
    return envelope({
        "position_list": [position.to_dict() for position in oms.position_list()],
        "active_order_list": [order.to_dict() for order in oms.active_orders()],
        "trade_list": [trade.to_dict() for trade in oms.trades.values()],
        "order_list": [order.to_dict() for order in oms.orders.values()],
        "log_history": [record.to_dict() for record in list(engine.logs)[-LOG_HISTORY:]],
    })  # fmt: skip


@blueprint.post("/order_solve")
@token_required
def send_order():
    """One order as given; a plain close is split where the exchange needs it (SHFE/INE today's and
    yesterday's lots), and then `data` is the list of the orders sent, as POST /close_position answers."""
    request = parse(OrderFields)
    engine = desk().engine
    with engine_errors():
        engine.require_connected()  # before the instrument lookup: no contracts are known before a login
        contract = engine.oms.contract(_qualified(request.local_symbol, request.exchange))
        if request.offset is Offset.CLOSE:
            held = position_side(request.direction, request.offset)
            orders = engine.execute(ClosePosition(contract.local_symbol, held, request.volume, request.price,
                                                  wait=ANSWER_WAIT, type=request.type))  # fmt: skip
        else:
            order_request = OrderRequest(contract.symbol, contract.exchange, request.direction, request.offset,
                                         request.type, request.price, request.volume)  # fmt: skip
            orders = [engine.execute(SendOrder(order_request, ANSWER_WAIT))]
    if len(orders) == 1:  # one order: `data` is that order, as always
        order = orders[0]
        if order.status is Status.REJECTED:
            raise ApiError(f"rejected: {order.status_msg}", 400, order.to_dict())
        return envelope(order.to_dict(), "order accepted" if order.status is not Status.SUBMITTING else "order sent")
    data = [order.to_dict() for order in orders]
    rejected = [order for order in orders if order.status is Status.REJECTED]
    if rejected:
        raise ApiError(f"rejected: {rejected[0].status_msg}", 400, data)
    kinds = ", ".join(f"{order.offset.value} {order.volume}" for order in orders)
    return envelope(data, f"close split into {len(orders)} orders ({kinds})")


def _qualified(local_symbol: str, exchange: str | None) -> str:
    symbol, known = split_local_symbol(local_symbol)
    if known or not exchange:
        return local_symbol
    try:
        return f"{symbol}.{Exchange(exchange.upper()).value}"
    except ValueError:
        raise ApiError(f"exchange: unknown exchange {exchange}", 400) from None


@blueprint.delete("/order_solve")
@token_required
def cancel_order():
    request = parse(CancelRequest)
    with engine_errors():
        order = desk().engine.execute(CancelOrder(request.order_id, ANSWER_WAIT))
    return envelope(order.to_dict(), "cancelled" if not order.is_active else "cancel sent")


@blueprint.post("/close_position")
@token_required
def close_position():
    request = parse(ClosePositionRequest)
    with engine_errors():
        desk().engine.require_connected()
        orders = desk().engine.execute(ClosePosition(request.local_symbol, request.direction, request.volume,
                                                     request.price))  # fmt: skip
    rejected = [order for order in orders if order.status is Status.REJECTED]
    data = [order.to_dict() for order in orders]
    if rejected:
        raise ApiError(f"rejected: {rejected[0].status_msg}", 400, data)
    return envelope(data, "close orders sent")


@blueprint.get("/account")
@token_required
def account():
    engine = desk().engine
    if engine.oms.account is None:
        raise ApiError("no account yet: log in first", 503)
    return envelope(engine.oms.account.to_dict())
