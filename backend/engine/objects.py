"""Immutable engine objects: state snapshots (`XxxData`) and commands (`XxxRequest`).

Field names are those of shared/API.md. Each type serialises itself with an explicit `to_dict`
(enums to their values, datetimes to ISO 8601); nothing here knows CTP or Flask.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from backend.engine.constants import (
    ACTIVE_STATUSES,
    Direction,
    Exchange,
    Interval,
    Offset,
    OrderType,
    Product,
    Status,
)
from lib.slot_builder import slot_builder

SHANGHAI = ZoneInfo("Asia/Shanghai")


def make_local_symbol(symbol: str, exchange: Exchange | str) -> str:
    """The one place a local_symbol ("rb2601.SHFE") is built (Exchange is a StrEnum: formats as its value)."""
    return f"{symbol}.{exchange}"


def split_local_symbol(local_symbol: str) -> tuple[str, str]:
    """("rb2601", "SHFE") from "rb2601.SHFE"; ("rb2601", "") for a bare symbol."""
    symbol, _, exchange = local_symbol.partition(".")
    return symbol, exchange


class _Listed:
    """Objects of one instrument: the local_symbol is derived from symbol and exchange in one place."""

    __slots__ = ()

    @property
    def local_symbol(self) -> str:
        return make_local_symbol(self.symbol, self.exchange)  # type: ignore[attr-defined]


def _iso(value: datetime | date | None) -> str | None:
    return value.isoformat() if value is not None else None


def epoch_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


@dataclass(frozen=True, slots=True)
class TickData:
    symbol: str
    exchange: Exchange
    datetime: datetime
    trading_day: date
    name: str = ""
    last_price: float = 0.0
    volume: int = 0  # cumulative for the trading day
    turnover: float = 0.0
    open_interest: float = 0.0
    open_price: float = 0.0
    high_price: float = 0.0
    low_price: float = 0.0
    pre_close: float = 0.0
    pre_settlement_price: float = 0.0
    limit_up: float = 0.0
    limit_down: float = 0.0
    average_price: float = 0.0
    bid_price_1: float = 0.0
    bid_price_2: float = 0.0
    bid_price_3: float = 0.0
    bid_price_4: float = 0.0
    bid_price_5: float = 0.0
    ask_price_1: float = 0.0
    ask_price_2: float = 0.0
    ask_price_3: float = 0.0
    ask_price_4: float = 0.0
    ask_price_5: float = 0.0
    bid_volume_1: int = 0
    bid_volume_2: int = 0
    bid_volume_3: int = 0
    bid_volume_4: int = 0
    bid_volume_5: int = 0
    ask_volume_1: int = 0
    ask_volume_2: int = 0
    ask_volume_3: int = 0
    ask_volume_4: int = 0
    ask_volume_5: int = 0
    # Derived once: every consumer of every tick (OMS, bars, push) keys on it.
    local_symbol: str = field(init=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "local_symbol", make_local_symbol(self.symbol, self.exchange))

    def to_dict(self) -> dict[str, Any]:
        data = {name: getattr(self, name) for name in self.__dataclass_fields__}
        data.update(
            exchange=self.exchange.value,
            datetime=_iso(self.datetime),
            trading_day=_iso(self.trading_day),
        )
        return data


# new_tick(symbol, exchange, datetime, trading_day, name, last_price, volume, turnover, ..., local_symbol)
new_tick = slot_builder(TickData)  # every slot in order, the derived local_symbol too (no __post_init__)


@dataclass(frozen=True, slots=True)
class BarData(_Listed):
    symbol: str
    exchange: Exchange
    interval: Interval
    datetime: datetime  # the start of the bar
    open_price: float
    high_price: float
    low_price: float
    close_price: float
    volume: int = 0
    turnover: float = 0.0
    open_interest: float = 0.0

    def to_row(self) -> list[Any]:
        """[ts_ms, open, high, low, close, volume]: the /bar wire format."""
        return [
            epoch_ms(self.datetime),
            self.open_price,
            self.high_price,
            self.low_price,
            self.close_price,
            self.volume,
        ]

    def to_dict(self) -> dict[str, Any]:
        return {
            "local_symbol": self.local_symbol,
            "symbol": self.symbol,
            "exchange": self.exchange.value,
            "interval": self.interval.value,
            "datetime": _iso(self.datetime),
            "open_price": self.open_price,
            "high_price": self.high_price,
            "low_price": self.low_price,
            "close_price": self.close_price,
            "volume": self.volume,
            "turnover": self.turnover,
            "open_interest": self.open_interest,
        }


@dataclass(frozen=True, slots=True)
class SharedData:
    """One point of an instrument's intraday (分时) series: its latest tick when a minute ended (SHARED_FUNC)."""

    local_symbol: str
    datetime: datetime  # the tick's own time
    last_price: float
    average_price: float
    volume: int  # cumulative for the trading day, as the tick's
    open_interest: float

    @classmethod
    def of(cls, tick: TickData) -> SharedData:
        return cls(tick.local_symbol, tick.datetime, tick.last_price, tick.average_price, tick.volume,
                   tick.open_interest)  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        return {
            "local_symbol": self.local_symbol,
            "datetime": _iso(self.datetime),
            "last_price": self.last_price,
            "average_price": self.average_price,
            "volume": self.volume,
            "open_interest": self.open_interest,
        }


@dataclass(frozen=True, slots=True)
class OrderData(_Listed):
    order_id: str  # "{front}_{session}_{ref}"
    symbol: str
    exchange: Exchange
    direction: Direction
    offset: Offset
    type: OrderType
    price: float
    volume: int
    traded: int = 0
    status: Status = Status.SUBMITTING
    status_msg: str = ""
    time: datetime | None = None
    strategy: str | None = None
    local_order_id: str = ""
    sys_id: str = ""  # the exchange's OrderSysID once accepted
    error_id: int = 0

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    def to_dict(self) -> dict[str, Any]:
        return {
            "order_id": self.order_id,
            "local_order_id": self.local_order_id,
            "symbol": self.symbol,
            "exchange": self.exchange.value,
            "local_symbol": self.local_symbol,
            "direction": self.direction.value,
            "offset": self.offset.value,
            "type": self.type.value,
            "price": self.price,
            "volume": self.volume,
            "traded": self.traded,
            "status": self.status.value,
            "status_msg": self.status_msg,
            "time": _iso(self.time),
            "strategy": self.strategy,
        }


@dataclass(frozen=True, slots=True)
class TradeData(_Listed):
    trade_id: str
    order_id: str
    symbol: str
    exchange: Exchange
    direction: Direction
    offset: Offset
    price: float
    volume: int
    time: datetime | None = None
    strategy: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "trade_id": self.trade_id,
            "order_id": self.order_id,
            "symbol": self.symbol,
            "exchange": self.exchange.value,
            "local_symbol": self.local_symbol,
            "direction": self.direction.value,
            "offset": self.offset.value,
            "price": self.price,
            "volume": self.volume,
            "time": _iso(self.time),
            "strategy": self.strategy,
        }


@dataclass(frozen=True, slots=True)
class PositionData(_Listed):
    symbol: str
    exchange: Exchange
    direction: Direction
    volume: int = 0
    yd_volume: int = 0  # live yesterday volume (Position - TodayPosition)
    td_volume: int = 0
    frozen: int = 0  # lots promised to working close orders
    price: float = 0.0  # average holding price
    position_profit: float = 0.0
    margin: float = 0.0

    @property
    def available(self) -> int:
        return max(0, self.volume - self.frozen)

    def to_dict(self) -> dict[str, Any]:
        return {
            "local_symbol": self.local_symbol,
            "symbol": self.symbol,
            "exchange": self.exchange.value,
            "direction": self.direction.value,
            "volume": self.volume,
            "yd_volume": self.yd_volume,
            "td_volume": self.td_volume,
            "frozen": self.frozen,
            "available": self.available,
            "price": self.price,
            "position_profit": self.position_profit,
            "margin": self.margin,
        }


@dataclass(frozen=True, slots=True)
class AccountData:
    accountid: str
    balance: float = 0.0
    available: float = 0.0
    margin: float = 0.0
    frozen: float = 0.0
    commission: float = 0.0
    position_profit: float = 0.0
    close_profit: float = 0.0
    pre_balance: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


@dataclass(frozen=True, slots=True)
class ContractData(_Listed):
    symbol: str
    exchange: Exchange
    name: str
    product: Product
    size: int
    pricetick: float
    min_volume: int = 1
    max_volume: int = 1000
    max_market_volume: int = 0
    long_margin_ratio: float = 0.0
    short_margin_ratio: float = 0.0
    expire_date: date | None = None
    is_trading: bool = True
    product_id: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "local_symbol": self.local_symbol,
            "symbol": self.symbol,
            "exchange": self.exchange.value,
            "name": self.name,
            "product": self.product.value,
            "size": self.size,
            "pricetick": self.pricetick,
            "min_volume": self.min_volume,
            "max_volume": self.max_volume,
            "long_margin_ratio": self.long_margin_ratio,
            "short_margin_ratio": self.short_margin_ratio,
            "expire_date": _iso(self.expire_date),
            "is_trading": self.is_trading,
        }


@dataclass(frozen=True, slots=True)
class LogData:
    message: str
    levelname: str = "INFO"
    owner: str = "engine"  # "engine", "gateway" or a strategy's name
    name: str = "ctpdesk"
    created: datetime = field(default_factory=lambda: datetime.now(SHANGHAI))

    def to_dict(self) -> dict[str, Any]:
        return {
            "created": _iso(self.created),
            "levelname": self.levelname,
            "owner": self.owner,
            "name": self.name,
            "message": self.message,
        }


@dataclass(frozen=True, slots=True)
class OrderRequest(_Listed):
    symbol: str
    exchange: Exchange
    direction: Direction
    offset: Offset
    type: OrderType
    price: float
    volume: int
    strategy: str | None = None


@dataclass(frozen=True, slots=True)
class CancelRequest:
    order_id: str
    symbol: str = ""
    exchange: Exchange = Exchange.OTHER
    sys_id: str = ""


def order_from_dict(stored: dict[str, Any]) -> OrderData:
    """An order as the journal stored it (to_dict() plus sys_id)."""
    return OrderData(
        order_id=stored["order_id"], symbol=stored["symbol"], exchange=Exchange(stored["exchange"]),
        direction=Direction(stored["direction"]), offset=Offset(stored["offset"]), type=OrderType(stored["type"]),
        price=stored["price"], volume=stored["volume"], traded=stored["traded"], status=Status(stored["status"]),
        status_msg=stored.get("status_msg", ""), strategy=stored.get("strategy"),
        time=datetime.fromisoformat(stored["time"]) if stored.get("time") else None,
        local_order_id=stored.get("local_order_id", ""), sys_id=stored.get("sys_id", ""),
    )  # fmt: skip


def trade_from_dict(stored: dict[str, Any]) -> TradeData:
    """A fill as the journal stored it."""
    return TradeData(
        trade_id=stored["trade_id"], order_id=stored["order_id"], symbol=stored["symbol"],
        exchange=Exchange(stored["exchange"]), direction=Direction(stored["direction"]),
        offset=Offset(stored["offset"]), price=stored["price"], volume=stored["volume"],
        time=datetime.fromisoformat(stored["time"]) if stored.get("time") else None, strategy=stored.get("strategy"),
    )  # fmt: skip
