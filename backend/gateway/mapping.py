"""CTP wire values <-> engine enums, as tables. Only the gateway knows CTP's characters."""

from __future__ import annotations

from backend.engine.constants import Direction, Exchange, Offset, OrderType, Product, Status

DIRECTION_ENGINE2CTP = {Direction.LONG: "0", Direction.SHORT: "1"}
DIRECTION_CTP2ENGINE = {value: key for key, value in DIRECTION_ENGINE2CTP.items()}
# PosiDirection of a position row: '2' long, '3' short ('1' net is not used by futures accounts).
POSITION_CTP2ENGINE = {"2": Direction.LONG, "3": Direction.SHORT}

OFFSET_ENGINE2CTP = {
    Offset.OPEN: "0",
    Offset.CLOSE: "1",
    Offset.CLOSETODAY: "3",
    Offset.CLOSEYESTERDAY: "4",
}
OFFSET_CTP2ENGINE = {value: key for key, value in OFFSET_ENGINE2CTP.items()}
OFFSET_CTP2ENGINE["2"] = Offset.CLOSE  # ForceClose: a broker's forced close is still a close

# order type -> (OrderPriceType, TimeCondition, VolumeCondition); CTP.md §3.
ORDER_TYPE_ENGINE2CTP = {
    OrderType.LIMIT: ("2", "3", "1"),
    OrderType.MARKET: ("1", "1", "1"),
    OrderType.FAK: ("2", "1", "1"),
    OrderType.FOK: ("2", "1", "3"),
}
ORDER_TYPE_CTP2ENGINE = {value: key for key, value in ORDER_TYPE_ENGINE2CTP.items()}

# OrderStatus -> engine status; exchange rejects (OrderSubmitStatus '4') are handled apart.
STATUS_CTP2ENGINE = {
    "0": Status.ALLTRADED,
    "1": Status.PARTTRADED,
    "2": Status.CANCELLED,  # part traded, no longer queueing: finished
    "3": Status.NOTTRADED,
    "4": Status.CANCELLED,  # nothing traded, no longer queueing: finished
    "5": Status.CANCELLED,
    "a": Status.SUBMITTING,
    "b": Status.SUBMITTING,  # not touched (conditional orders)
    "c": Status.SUBMITTING,  # touched
}
SUBMIT_STATUS_REJECTED = ("4",)  # InsertRejected

PRODUCT_CTP2ENGINE = {
    "1": Product.FUTURES,
    "2": Product.OPTION,
    "3": Product.COMBINATION,
    "4": Product.SPOT,
}


def exchange_from_ctp(code: str) -> Exchange | None:
    """None for exchanges the desk does not trade (TTS adds stock exchanges): skipped, never a crash."""
    try:
        exchange = Exchange(code)
    except ValueError:
        return None
    return None if exchange is Exchange.OTHER else exchange


def product_from_ctp(code: str) -> Product:
    return PRODUCT_CTP2ENGINE.get(code, Product.OTHER)
