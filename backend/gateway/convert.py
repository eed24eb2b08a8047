"""CTP structs -> engine objects. Runs inside callbacks: copies what it needs, nothing more."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from typing import Any

from backend.engine.constants import Direction, Exchange, OrderType, Status
from backend.engine.objects import SHANGHAI, AccountData, ContractData, OrderData, PositionData, TradeData
from backend.gateway.mapping import (
    DIRECTION_CTP2ENGINE,
    OFFSET_CTP2ENGINE,
    ORDER_TYPE_CTP2ENGINE,
    POSITION_CTP2ENGINE,
    STATUS_CTP2ENGINE,
    SUBMIT_STATUS_REJECTED,
    exchange_from_ctp,
    product_from_ctp,
)
from backend.gateway.ticks import exchange_moment, parse_clock, parse_day, price


def order_id(front_id: int, session_id: int, order_ref: str) -> str:
    """The order's identity: underscores, since SessionID can be negative; OrderRef stripped."""
    return f"{int(front_id)}_{int(session_id)}_{int(str(order_ref).strip() or 0)}"


def copy_fields(struct: Any, names: tuple[str, ...]) -> dict[str, Any]:
    return {name: getattr(struct, name) for name in names}


def _stamp(trading_day: str, day: str, clock: str) -> datetime | None:
    """An order's or a trade's moment: its calendar date worked out from its trading day and clock, as a
    tick's is (lib.trading_calendar), whatever the front put into InsertDate or TradeDate. Fronts differ
    on those at night as they do on ActionDay, and one rule puts every fill on the bar of the ticks
    around it. Without a trading day, the date given."""
    parsed_clock = parse_clock(clock, 0)
    if parsed_clock is None:
        return None
    session_day = parse_day(trading_day)
    if session_day is not None:
        return exchange_moment(session_day, parsed_clock)
    given = parse_day(day)
    return datetime.combine(given, parsed_clock, SHANGHAI) if given is not None else None


def contract_from(struct: Any) -> ContractData | None:
    exchange = exchange_from_ctp(struct.ExchangeID)
    if exchange is None:
        return None
    expire = parse_day(struct.ExpireDate)
    return ContractData(
        symbol=struct.InstrumentID,
        exchange=exchange,
        name=struct.InstrumentName,
        product=product_from_ctp(struct.ProductClass),
        size=int(struct.VolumeMultiple) or 1,
        pricetick=price(struct.PriceTick),
        min_volume=int(struct.MinLimitOrderVolume) or 1,
        max_volume=int(struct.MaxLimitOrderVolume) or 1000,
        max_market_volume=int(struct.MaxMarketOrderVolume),
        long_margin_ratio=price(struct.LongMarginRatio),
        short_margin_ratio=price(struct.ShortMarginRatio),
        expire_date=expire if isinstance(expire, date) else None,
        is_trading=bool(struct.IsTrading),
        product_id=struct.ProductID,
    )


ORDER_NAMES = (
    "FrontID", "SessionID", "OrderRef", "InstrumentID", "ExchangeID", "Direction", "CombOffsetFlag",
    "OrderPriceType", "TimeCondition", "VolumeCondition", "LimitPrice", "VolumeTotalOriginal", "VolumeTraded",
    "OrderStatus", "OrderSubmitStatus", "StatusMsg", "OrderSysID", "TradingDay", "InsertDate", "InsertTime",
    "OrderLocalID",
)  # fmt: skip


def order_from(values: dict[str, Any], exchange: Exchange, strategy: str | None = None) -> OrderData:
    submit = values["OrderSubmitStatus"]
    status = STATUS_CTP2ENGINE.get(values["OrderStatus"], Status.SUBMITTING)
    if submit in SUBMIT_STATUS_REJECTED:
        status = Status.REJECTED
    kind = ORDER_TYPE_CTP2ENGINE.get(
        (values["OrderPriceType"], values["TimeCondition"], values["VolumeCondition"]), OrderType.LIMIT
    )
    return OrderData(
        order_id=order_id(values["FrontID"], values["SessionID"], values["OrderRef"]),
        symbol=values["InstrumentID"],
        exchange=exchange,
        direction=DIRECTION_CTP2ENGINE.get(values["Direction"], Direction.LONG),
        offset=OFFSET_CTP2ENGINE.get(values["CombOffsetFlag"][:1], OFFSET_CTP2ENGINE["1"]),
        type=kind,
        price=price(values["LimitPrice"]),
        volume=int(values["VolumeTotalOriginal"]),
        traded=int(values["VolumeTraded"]),
        status=status,
        status_msg=values["StatusMsg"],
        time=_stamp(values.get("TradingDay", ""), values["InsertDate"], values["InsertTime"]),
        strategy=strategy,
        local_order_id=values["OrderLocalID"].strip(),
        sys_id=values["OrderSysID"].strip(),
    )


TRADE_NAMES = (
    "TradeID", "OrderSysID", "ExchangeID", "InstrumentID", "Direction", "OffsetFlag", "Price", "Volume",
    "TradingDay", "TradeDate", "TradeTime", "OrderRef",
)  # fmt: skip


def trade_from(values: dict[str, Any], exchange: Exchange, order: str) -> TradeData:
    return TradeData(
        trade_id=values["TradeID"].strip(),
        order_id=order,
        symbol=values["InstrumentID"],
        exchange=exchange,
        direction=DIRECTION_CTP2ENGINE.get(values["Direction"], Direction.LONG),
        offset=OFFSET_CTP2ENGINE.get(values["OffsetFlag"], OFFSET_CTP2ENGINE["1"]),
        price=price(values["Price"]),
        volume=int(values["Volume"]),
        time=_stamp(values.get("TradingDay", ""), values["TradeDate"], values["TradeTime"]),
    )


def account_from(struct: Any) -> AccountData:
    return AccountData(
        accountid=struct.AccountID,
        balance=price(struct.Balance),
        available=price(struct.Available),
        margin=price(struct.CurrMargin),
        frozen=price(struct.FrozenMargin) + price(struct.FrozenCash) + price(struct.FrozenCommission),
        commission=price(struct.Commission),
        position_profit=price(struct.PositionProfit),
        close_profit=price(struct.CloseProfit),
        pre_balance=price(struct.PreBalance),
    )


POSITION_NAMES = (
    "InstrumentID", "ExchangeID", "PosiDirection", "PositionDate", "Position", "TodayPosition", "YdPosition",
    "LongFrozen", "ShortFrozen", "PositionCost", "PositionProfit", "UseMargin",
)  # fmt: skip


class PositionAggregator:
    """Sums position rows per (symbol, side) over one whole response (SHFE sends today/history apart)."""

    def __init__(self) -> None:
        self._rows: dict[tuple[str, Direction], dict[str, float]] = defaultdict(lambda: defaultdict(float))
        self._exchanges: dict[str, str] = {}

    def add(self, values: dict[str, Any]) -> None:
        direction = POSITION_CTP2ENGINE.get(values["PosiDirection"])
        if direction is None:
            return
        row = self._rows[(values["InstrumentID"], direction)]
        row["volume"] += int(values["Position"])
        row["today"] += int(values["TodayPosition"])
        # Closing a long freezes sell (short) volume, closing a short freezes long volume.
        row["frozen"] += int(values["ShortFrozen"] if direction is Direction.LONG else values["LongFrozen"])
        row["cost"] += price(values["PositionCost"])
        row["profit"] += price(values["PositionProfit"])
        row["margin"] += price(values["UseMargin"])
        self._exchanges[values["InstrumentID"]] = values["ExchangeID"]

    def result(self, sizes: dict[str, int]) -> tuple[PositionData, ...]:
        positions = []
        for (symbol, direction), row in sorted(self._rows.items()):
            exchange = exchange_from_ctp(self._exchanges.get(symbol, ""))
            if exchange is None:
                continue
            volume = int(row["volume"])
            size = sizes.get(symbol, 1) or 1
            positions.append(
                PositionData(
                    symbol=symbol,
                    exchange=exchange,
                    direction=direction,
                    volume=volume,
                    td_volume=int(row["today"]),
                    yd_volume=volume - int(row["today"]),
                    frozen=int(row["frozen"]),
                    price=row["cost"] / (volume * size) if volume else 0.0,
                    position_profit=row["profit"],
                    margin=row["margin"],
                )
            )
        return tuple(positions)
